//! Helpers shared by the integration tests that run the `convlab` binary as a user would.
#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary with `args`; named data sets are never found in `$CONVLAB_DATA`.
pub fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab")).args(args).env("CONVLAB_DATA", "/nonexistent").output().unwrap()
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
