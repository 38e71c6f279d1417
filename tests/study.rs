//! The study commands as a user runs them: `simulate` + `recover` on tutorial 000, and
//! `sweep` (parallel, sharded and merged), with clear errors on bad input.

use std::path::PathBuf;

mod common;
use common::{convlab, fails_cleanly, text};

fn scratch(name: &str) -> PathBuf {
    common::scratch("study", name)
}

fn ok(args: &[&str]) -> String {
    let o = convlab(args);
    let t = text(&o);
    assert!(o.status.success(), "{args:?} failed: {t}");
    t
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
    // The README's next command: the tutorial's own model, in a folder of its own.
    ok(&["recover", s(&sim), "--model", "sim1d", "--replicates", "1", "--epochs", "20"]);
    assert!(sim.join("recover-sim1d/recover.json").exists() && sim.join("recover/recover.json").exists());
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

/// A small pattern-lab sweep: 2 grid points × 4 seeds × 40 epochs.
const SMALL: [&str; 10] =
    ["sweep", "--lab", "pattern1d", "--seeds", "4", "--grid", "filters=3,4", "--epochs", "40", "--quiet"];

fn small(extra: &[&str]) -> String {
    let mut args = SMALL.to_vec();
    args.extend_from_slice(extra);
    ok(&args)
}

#[test]
fn sweep_results_do_not_depend_on_cores_or_shards() {
    let d = scratch("sweep");
    let (one, two, shards, merged) = (d.join("one"), d.join("two"), d.join("shards"), d.join("merged"));
    let t = small(&["--jobs", "1", "--out", s(&one)]);
    assert!(t.contains("filters=3") && t.contains("filters=4") && t.contains("train_accuracy >= 1"), "{t}");
    small(&["--jobs", "2", "--out", s(&two)]);
    for i in 0..3 {
        small(&["--shard", &format!("{i}/3"), "--out", s(&shards)]);
    }
    let t = ok(&["sweep", "merge", s(&shards), "--out", s(&merged)]);
    assert!(t.contains("merged 3 shards (8 runs)"), "{t}");
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    for f in ["runs.jsonl", "summary.json", "summary.txt"] {
        assert_eq!(read(one.join(f)), read(two.join(f)), "{f}: 1 vs 2 cores");
        assert_eq!(read(one.join(f)), read(merged.join(f)), "{f}: unsharded vs merged");
    }
    // One line per run after the header; seed 0 with 4 filters is the lab's own run.
    let runs = read(one.join("runs.jsonl"));
    assert_eq!(runs.lines().count(), 9);
    let summary: serde_json::Value = serde_json::from_str(&read(one.join("summary.json"))).unwrap();
    assert_eq!(summary["points"].as_array().unwrap().len(), 2);
    assert!(one.join("final-loss.png").exists() && one.join("sweep.toml").exists());
    // The written sweep.toml replays the sweep.
    let replay = d.join("replay");
    ok(&["sweep", "--config", s(&one.join("sweep.toml")), "--out", s(&replay), "--quiet"]);
    assert_eq!(read(one.join("runs.jsonl")), read(replay.join("runs.jsonl")));
}

#[test]
fn sweep_refuses_bad_input() {
    let d = scratch("sweep-bad");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--grid", "filters="], "empty value list");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--grid", "filterz=3"], "filterz");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--shard", "4/4"], "0 ≤ I < N");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--seeds", "0"], "at least 1");
    fails_cleanly(&["sweep", "--lab", "nolab"], "unknown lab");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--success", "accuracy = 1"], "METRIC OP VALUE");
    fails_cleanly(
        &["sweep", "--data", "sim1d", "--model", "sim1d", "--success", "train_accuracy >= 1"],
        "needs accuracy",
    );
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--grid", "filters=0"], "at least 1");
    // Merging: a missing shard, a shard of another sweep, an unfinished shard.
    let sh = d.join("shards");
    small(&["--shard", "0/2", "--out", s(&sh)]);
    fails_cleanly(&["sweep", "merge", s(&sh)], "shard 1/2 is missing");
    let other = d.join("other");
    ok(&[
        "sweep",
        "--lab",
        "pattern1d",
        "--seeds",
        "3",
        "--epochs",
        "40",
        "--shard",
        "1/2",
        "--out",
        s(&other),
        "--quiet",
    ]);
    let f0 = sh.join("runs-shard-0-of-2.jsonl");
    let f1 = other.join("runs-shard-1-of-2.jsonl");
    fails_cleanly(&["sweep", "merge", s(&f0), s(&f1)], "another sweep");
    small(&["--shard", "1/2", "--out", s(&sh)]);
    let text = std::fs::read_to_string(sh.join("runs-shard-1-of-2.jsonl")).unwrap();
    let cut: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(sh.join("runs-shard-1-of-2.jsonl"), cut.join("\n")).unwrap();
    fails_cleanly(&["sweep", "merge", s(&sh)], "did not finish");
    fails_cleanly(&["sweep", "merge", s(&d.join("nothing"))], "does not exist");

    // Hostile headers: no panic, no loop over 2^63 runs, a message naming the file.
    let f0_text = std::fs::read_to_string(&f0).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut lines: Vec<String> = f0_text.lines().map(String::from).collect();
        let mut h: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        f(&mut h);
        lines[0] = h.to_string();
        let p = d.join("edited").join("runs-shard-0-of-2.jsonl");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, lines.join("\n")).unwrap();
        p
    };
    for (what, f) in [
        ("count 0", &(|h: &mut serde_json::Value| h["shard"]["count"] = 0.into()) as &dyn Fn(&mut serde_json::Value)),
        ("index ≥ count", &|h: &mut serde_json::Value| h["shard"]["index"] = 5.into()),
        ("huge count", &|h: &mut serde_json::Value| h["shard"]["count"] = u64::MAX.into()),
        ("2^63 runs", &|h: &mut serde_json::Value| h["runs"] = (1u64 << 63).into()),
    ] {
        let p = edit(f);
        let o = convlab(&["sweep", "merge", s(&p)]);
        let t = common::text(&o);
        assert!(!o.status.success() && t.contains("impossible") && t.contains("runs-shard-0-of-2"), "{what}: {t}");
    }
    // A run that is not the shard's is named.
    let foreign = f0_text.replacen("\"run\":0,", "\"run\":1,", 1);
    let p = d.join("edited").join("runs-shard-0-of-2.jsonl");
    std::fs::write(&p, foreign).unwrap();
    fails_cleanly(&["sweep", "merge", s(&p), s(&f1)], "holds run 1, which does not belong to shard 0/2");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--jobs", "100000"], "--jobs 100000 is more than the limit");
    fails_cleanly(&["recover", s(&d), "--jobs", "100000"], "--jobs 100000 is more than the limit");
    // Grids whose product of values (times seeds) is astronomical: refused before building them.
    let values: Vec<String> = (1..=40).map(|v| (v as f64 / 1000.0).to_string()).collect();
    let lr = format!("lr={}", values.join(","));
    let wd = format!("weight_decay={}", values.join(","));
    let m = format!("momentum={}", values.join(","));
    let args = ["sweep", "--lab", "pattern1d", "--grid", &lr, "--grid", &wd, "--grid", &m, "--seeds", "1000"];
    fails_cleanly(&args, "more than 1048576 runs");
    fails_cleanly(&["sweep", "--lab", "pattern1d", "--seeds", "100000000"], "runs");
}

#[test]
fn merge_refuses_to_replace_a_sweep_without_force() {
    let d = scratch("sweep-force");
    let sh = d.join("shards");
    for i in 0..2 {
        let shard = format!("{i}/2");
        ok(&[
            "sweep",
            "--lab",
            "pattern1d",
            "--seeds",
            "2",
            "--epochs",
            "5",
            "--shard",
            &shard,
            "--out",
            s(&sh),
            "--quiet",
        ]);
    }
    let out = d.join("merged");
    ok(&["sweep", "merge", s(&sh), "--out", s(&out)]);
    fails_cleanly(&["sweep", "merge", s(&sh), "--out", s(&out)], "--force");
    ok(&["sweep", "merge", s(&sh), "--out", s(&out), "--force"]);
}

#[test]
fn simulate_refuses_non_finite_and_huge_parameters() {
    let d = scratch("sim-hostile");
    let out = d.join("sim");
    fails_cleanly(&["simulate", "--bias", "nan", "--out", s(&out)], "--bias must be a finite number");
    fails_cleanly(&["simulate", "--noise", "inf", "--out", s(&out)], "--noise must be a finite");
    fails_cleanly(&["simulate", "--n", "18446744073709551615", "--out", s(&out)], "CONVLAB_MAX_DATA_BYTES");
    fails_cleanly(&["data", "show", "pattern1d(n=18446744073709551615)"], "CONVLAB_MAX_DATA_BYTES");
    fails_cleanly(&["data", "show", "sim1d(length=9223372036854775807,kernel=1)"], "CONVLAB_MAX_DATA_BYTES");
}

#[test]
fn a_lab_sweep_and_a_config_sweep_get_distinct_default_folders() {
    let d = scratch("sweep-defaults");
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cluster/sweep.toml");
    for args in [
        vec!["sweep", "--lab", "pattern1d", "--seeds", "1", "--epochs", "5", "--quiet"],
        vec!["sweep", "--config", s(&config), "--seeds", "1", "--epochs", "5", "--quiet"],
    ] {
        let o = common::command().args(&args).current_dir(&d).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    assert!(d.join("sweeps/pattern1d/summary.json").exists());
    assert!(d.join("sweeps/sweep/summary.json").exists());
}

#[test]
fn the_shards_of_a_sweep_run_side_by_side_in_one_folder() {
    let d = scratch("shards-together");
    let out = d.join("sweep");
    let spawn = |shard: &str| {
        common::command()
            .args(["sweep", "--lab", "pattern1d", "--seeds", "16", "--epochs", "3000", "--quiet", "--jobs", "1"])
            .args(["--shard", shard, "--out", s(&out)])
            .output()
    };
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| spawn("0/2").unwrap());
        let b = sc.spawn(|| spawn("1/2").unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success() && b.status.success(), "{} {}", text(&a), text(&b));
    ok(&["sweep", "merge", s(&out)]);
}
