//! Helpers shared by the integration tests that run the `convlab` binary as a user would.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary, run as a user on a fresh machine would: `HOME`, `XDG_CACHE_HOME` and
/// `CONVLAB_DATA` point into an empty folder of this test process, so nothing the developer has
/// downloaded (`~/.cache/convlab`) or configured is found.
pub fn command() -> Command {
    let home = fresh_home();
    let mut c = Command::new(env!("CARGO_BIN_EXE_convlab"));
    c.env("HOME", home).env("XDG_CACHE_HOME", home.join(".cache")).env("CONVLAB_DATA", home.join("data"));
    c
}

/// An empty home folder for this test process, made once.
fn fresh_home() -> &'static Path {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("convlab-home-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

/// Runs the binary with `args` (see [`command`]).
pub fn convlab(args: &[&str]) -> Output {
    command().args(args).output().unwrap()
}

/// A file the repository ships for the tests, e.g. `fixtures/torch/linear.safetensors`.
pub fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(path)
}

/// Everything the command printed.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A fresh scratch folder per test: `<tmp>/convlab-<group>-<pid>-<name>`.
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("convlab-{group}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The command fails with a message containing `expect`, and does not panic.
pub fn fails_cleanly(args: &[&str], expect: &str) {
    let o = convlab(args);
    let t = text(&o);
    assert!(!o.status.success(), "{args:?} should fail: {t}");
    assert!(!t.contains("panicked"), "{args:?} panicked: {t}");
    assert!(t.to_lowercase().contains(&expect.to_lowercase()), "{args:?}: expected `{expect}` in: {t}");
}
