//! The study commands as a user runs them: `simulate` + `recover` on tutorial 000, and
//! `sweep` (parallel, sharded and merged), with clear errors on bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab")).args(args).env("CONVLAB_DATA", "/nonexistent").output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(args: &[&str]) -> String {
    let o = convlab(args);
    let t = text(&o);
    assert!(o.status.success(), "{args:?} failed: {t}");
    t
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("convlab-study-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fails_cleanly(args: &[&str], expect: &str) {
    let o = convlab(args);
    let t = text(&o);
    assert!(!o.status.success(), "{args:?} should fail: {t}");
    assert!(!t.contains("panicked"), "{args:?} panicked: {t}");
    assert!(t.to_lowercase().contains(&expect.to_lowercase()), "{args:?}: expected `{expect}` in: {t}");
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn recover_finds_the_effective_map_of_tutorial_000() {
    let d = scratch("recover");
    let sim = d.join("sim");
    let t = ok(&["simulate", "--out", s(&sim)]);
    assert!(t.contains("45 parameters") && t.contains("seed 1337"), "{t}");
    let t = ok(&["recover", s(&sim), "--replicates", "2"]);
    assert!(t.contains("Raw correlation") && t.contains("not identifiable"), "{t}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sim.join("recover/recover.json")).unwrap()).unwrap();
    let summary = &json["summary"];
    assert!(summary["map_r"].as_f64().unwrap() > 0.999, "{summary}");
    // At the noise floor: within 10 % of what the truth itself scores.
    assert!(summary["test_mse"].as_f64().unwrap() < 1.1 * summary["oracle_test_mse"].as_f64().unwrap());
    let reps = json["replicates"].as_array().unwrap();
    assert_eq!(reps.len(), 2);
    assert!((reps[0]["map"]["bias"][0].as_f64().unwrap() + 0.5).abs() < 0.1);
    for f in ["report.md", "raw-weights.png", "effective-map.png", "filters-matched.png", "predictions.png"] {
        assert!(sim.join("recover").join(f).exists(), "{f}");
    }
}

#[test]
fn simulate_and_recover_refuse_bad_input() {
    let d = scratch("bad-sim");
    let sim = d.join("sim");
    ok(&["simulate", "--out", s(&sim), "--n", "50"]);
    // A truth that does not fit the spec: 3 filters where the spec has 4.
    let other = d.join("other");
    ok(&[
        "simulate",
        "--model",
        "conv1d(3,k=3,p=1,bias=false) flatten linear(1)",
        "--input",
        "2,5",
        "--n",
        "5",
        "--out",
        s(&other),
    ]);
    let truth = other.join("truth.safetensors");
    fails_cleanly(&["simulate", "--truth", s(&truth), "--out", s(&d.join("x"))], "does not fit");
    fails_cleanly(&["recover", s(&sim), "--truth", s(&truth)], "does not fit");
    fails_cleanly(&["recover", s(&d.join("nowhere"))], "convlab simulate");
    fails_cleanly(&["recover", s(&sim), "--model", "conv1d(4,k=3) flatten linear(2)"], "linear(1)");
    fails_cleanly(&["recover", s(&sim), "--replicates", "0"], "at least 1");
    fails_cleanly(&["simulate", "--model", "conv1d(4,k=3) flatten linear(1)", "--out", s(&d.join("y"))], "--input");
}
