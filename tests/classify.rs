//! Classifiers from the command line: every model file records its task, so it predicts class
//! probabilities and names on its own; `predict` over several inputs and as JSON Lines; and a
//! binary classifier (one BCE logit) measured and drawn as a classifier.

use std::path::{Path, PathBuf};

mod common;
use common::{convlab, fails_cleanly, text};

fn scratch(name: &str) -> PathBuf {
    common::scratch("classify", name)
}

/// A grey PNG of `w`×`h` pixels from a function of (x, y).
fn png(path: &Path, w: u32, h: u32, pixel: impl Fn(u32, u32) -> u8) {
    let data: Vec<u8> = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| pixel(x, y)).collect();
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.write_header().unwrap().write_image_data(&data).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

fn ok(args: &[&str]) -> String {
    let o = convlab(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// The digits lab's two runs (a 10-class CNN and a one-vs-rest detector of 3s), made once.
fn lab_digits() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch("lab");
        ok(&["lab", "digits", "--out", d.to_str().unwrap()]);
        d
    })
    .clone()
}

/// Rows of the built-in digits as an npz file (X only matters; y is what the file format wants).
fn digits_npz(dir: &Path, rows: usize) -> PathBuf {
    use convlab::data::npy::{NpyArray, NpyData};
    let path = dir.join("rows.npz");
    let (train, _) = convlab::train::run::load_data("digits", None, 0.2, 0).unwrap();
    let x: Vec<f32> = train.x[..rows * 64].to_vec();
    let y: Vec<i64> = match &train.targets {
        convlab::data::Targets::Classes { labels, .. } => labels[..rows].iter().map(|&l| l as i64).collect(),
        _ => unreachable!("digits has classes"),
    };
    let x = NpyArray { shape: vec![rows, 8, 8], data: NpyData::F32(x) };
    let y = NpyArray { shape: vec![rows], data: NpyData::I64(y) };
    convlab::data::npz_write::write_npz(&path, &[("X", &x), ("y", &y)]).unwrap();
    path
}

#[test]
fn a_lab_run_and_its_model_file_alone_predict_classes_with_names() {
    let lab = lab_digits();
    let d = scratch("alone");
    let run = lab.join("lab-digits");
    // The model file on its own, away from its run folder.
    let file = d.join("model.safetensors");
    std::fs::copy(run.join("model.safetensors"), &file).unwrap();
    let img = d.join("one.png");
    png(&img, 8, 8, |x, _| if (3..5).contains(&x) { 255 } else { 0 });
    for model in [&run, &file] {
        let o = convlab(&["predict", model.to_str().unwrap(), img.to_str().unwrap()]);
        let t = text(&o);
        assert!(o.status.success() && t.starts_with("class ") && t.contains("top 5 of 10 classes"), "{t}");
        assert!(!t.contains("raw"), "{t}");
        let line = &json_lines(&ok(&["predict", model.to_str().unwrap(), img.to_str().unwrap(), "--json"]))[0];
        let probs: Vec<f64> = line["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
        assert_eq!(probs.len(), 10);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{line}");
        let class = line["class"].as_u64().unwrap() as usize;
        assert!(probs.iter().all(|&p| p <= probs[class]), "{line}");
        assert_eq!(line["name"], class.to_string(), "digits are named 0-9");
        assert_eq!(line["file"], img.to_str().unwrap());
    }
    let summary = ok(&["summary", file.to_str().unwrap()]);
    assert!(summary.contains("task: 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), cross_entropy"), "{summary}");
}

#[test]
fn image_folders_name_their_classes_after_the_folders() {
    let d = scratch("folders");
    for (class, bar) in [("horizontal", true), ("vertical", false)] {
        std::fs::create_dir_all(d.join("img").join(class)).unwrap();
        for i in 0..6u32 {
            let path = d.join("img").join(class).join(format!("{i}.png"));
            png(&path, 6, 6, |x, y| if (if bar { y } else { x }) == i { 255 } else { 0 });
        }
    }
    let run = d.join("run");
    let data = format!("images:{}", d.join("img").display());
    ok(&["train", "--data", &data, "--epochs", "1", "--out", run.to_str().unwrap(), "--quiet"]);
    let file = d.join("alone.safetensors");
    std::fs::copy(run.join("model.safetensors"), &file).unwrap();
    let img = d.join("img/vertical/2.png");
    let line = &json_lines(&ok(&["predict", file.to_str().unwrap(), img.to_str().unwrap(), "--json"]))[0];
    let (class, name) = (line["class"].as_u64().unwrap(), line["name"].as_str().unwrap());
    assert_eq!(name, ["horizontal", "vertical"][class as usize], "{line}");
}

#[test]
fn predict_takes_many_inputs_and_writes_json_lines() {
    let lab = lab_digits();
    let d = scratch("many");
    let run = lab.join("lab-digits");
    let r = run.to_str().unwrap();
    let npz = digits_npz(&d, 12);
    let n = npz.to_str().unwrap();
    // Every row by default, one line each; the same numbers as the JSON.
    let lines: Vec<String> = ok(&["predict", r, n]).lines().map(String::from).collect();
    assert_eq!(lines.len(), 12, "{lines:?}");
    let json = json_lines(&ok(&["predict", r, n, "--json"]));
    assert_eq!(json.len(), 12);
    for (i, (line, j)) in lines.iter().zip(&json).enumerate() {
        let keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, ["class", "name", "outputs", "probabilities", "row"], "{j}");
        assert_eq!(j["row"], i);
        assert_eq!(j["outputs"].as_array().unwrap().len(), 10);
        let p = j["probabilities"][j["class"].as_u64().unwrap() as usize].as_f64().unwrap();
        assert_eq!(*line, format!("row {i}: class {}, probability {p:.4}", j["class"]), "{j}");
    }
    // A slice of rows gives the same answers as those rows of the whole.
    let part = json_lines(&ok(&["predict", r, n, "--rows", "3:6", "--json"]));
    assert_eq!(part, json[3..6]);
    assert_eq!(json_lines(&ok(&["predict", r, n, "--row", "7", "--json"])), json[7..8]);
    // Several images: one line each, named by file.
    let (a, b) = (d.join("a.png"), d.join("b.png"));
    png(&a, 8, 8, |x, y| ((x + y) * 16) as u8);
    png(&b, 8, 8, |x, _| (x * 30) as u8);
    let out = ok(&["predict", r, a.to_str().unwrap(), b.to_str().unwrap()]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() == 2 && lines[0].starts_with(&format!("{}: class ", a.display())), "{out}");
    let json = json_lines(&ok(&["predict", r, a.to_str().unwrap(), b.to_str().unwrap(), "--json"]));
    assert_eq!((&json[0]["file"], &json[1]["file"]), (&a.to_str().unwrap().into(), &b.to_str().unwrap().into()));
    // Mistakes are explained.
    let big = d.join("big.png");
    png(&big, 28, 28, |_, _| 0);
    fails_cleanly(&["predict", r, n, "--rows", "10:14"], "the rows are 0..12");
    fails_cleanly(&["predict", r, n, "--rows", "12"], "the rows are 0..12");
    fails_cleanly(&["predict", r, big.to_str().unwrap()], "the model takes 1×8×8");
    fails_cleanly(&["predict", r, a.to_str().unwrap(), "--rows", "0:2"], "--rows 0:2 chooses rows of an .npz");
    fails_cleanly(&["predict", r, n, a.to_str().unwrap()], "one .npz file on its own");
    fails_cleanly(&["predict", r], "required");
}

#[test]
fn a_binary_classifier_is_measured_and_drawn_as_a_classifier() {
    let lab = lab_digits();
    let run = lab.join("lab-digits-kernel-3");
    let r = run.to_str().unwrap();
    let eval = ok(&["eval", r]);
    assert!(eval.contains("accuracy") && eval.contains("per-class accuracy"), "{eval}");
    assert!(eval.contains("  not 3 ") && eval.contains("  3 "), "{eval}");
    // A 2×2 matrix whose counts are every test sample, and whose diagonal is the accuracy.
    let rows: Vec<Vec<usize>> = eval
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .skip(2)
        // Row names are class names ("not 3" has a space, and a digit): the counts are the last two.
        .map(|l| {
            let mut v: Vec<usize> = l.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            v.split_off(v.len().saturating_sub(2))
        })
        .collect();
    assert!(rows.len() == 2 && rows.iter().all(|r| r.len() == 2), "{eval}");
    let total: usize = rows.iter().flatten().sum();
    let samples: usize = eval.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(total, samples, "{eval}");
    let accuracy = format!("accuracy {:.2}%", 100.0 * (rows[0][0] + rows[1][1]) as f64 / total as f64);
    assert!(eval.contains(&accuracy), "{accuracy} in {eval}");
    // The model file alone predicts the two classes.
    let npz = digits_npz(&scratch("binary"), 4);
    let json =
        json_lines(&ok(&["predict", run.join("model.safetensors").to_str().unwrap(), npz.to_str().unwrap(), "--json"]));
    for j in &json {
        let logit = j["outputs"][0].as_f64().unwrap();
        let p: Vec<f64> = j["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!((p[1] - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-6 && (p[0] + p[1] - 1.0).abs() < 1e-6, "{j}");
        assert_eq!(j["class"], u64::from(logit > 0.0), "{j}");
        assert_eq!(j["name"], if logit > 0.0 { "3" } else { "not 3" }, "{j}");
    }
    // Pictures: a confusion matrix and examples, and no scatter of logits against 0/1.
    let d = scratch("binary-plots");
    for kind in ["confusion", "examples"] {
        ok(&["plot", kind, r, "--out", d.join(format!("{kind}.png")).to_str().unwrap()]);
    }
    fails_cleanly(&["plot", "scatter", r, "--out", d.join("s.png").to_str().unwrap()], "is a classifier");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("Confusion matrix") && html.contains("Hardest and easiest"), "report sections");
    assert!(!html.contains("Predictions against targets"), "no prediction scatter for a classifier");
}

#[test]
fn imports_record_the_task_given_and_older_files_fall_back_to_their_run() {
    let d = scratch("import");
    // A state dict as PyTorch saves it (convlab writes the same names).
    let mut m = convlab::model::Model::<f32>::new("flatten linear(2)", convlab::engine::Dims::image(1, 2, 2)).unwrap();
    m.init(5);
    let state = d.join("state.safetensors");
    std::fs::write(&state, convlab::model::io::to_bytes(&m, &[]).unwrap()).unwrap();
    let img = d.join("x.png");
    png(&img, 2, 2, |x, y| (x * 200 + y * 50) as u8);
    let (s, i) = (state.to_str().unwrap(), img.to_str().unwrap());
    let named = d.join("named.safetensors");
    let o = ok(&[
        "import",
        s,
        "--model",
        "flatten linear(2)",
        "--input",
        "1,2,2",
        "--out",
        named.to_str().unwrap(),
        "--loss",
        "cross_entropy",
        "--class-names",
        "left,right",
    ]);
    assert!(o.contains("a classifier of 2 classes"), "{o}");
    let j = &json_lines(&ok(&["predict", named.to_str().unwrap(), i, "--json"]))[0];
    assert_eq!(j["name"], ["left", "right"][j["class"].as_u64().unwrap() as usize], "{j}");
    fails_cleanly(
        &[
            "import",
            s,
            "--model",
            "flatten linear(2)",
            "--input",
            "1,2,2",
            "--out",
            "x.safetensors",
            "--loss",
            "ce",
            "--class-names",
            "a,b,c",
        ],
        "3 class names for 2 classes",
    );
    // Without --loss nothing is recorded: raw outputs, and a note saying why.
    let bare = d.join("bare.safetensors");
    ok(&["import", s, "--model", "flatten linear(2)", "--input", "1,2,2", "--out", bare.to_str().unwrap()]);
    let o = convlab(&["predict", bare.to_str().unwrap(), i, "--json"]);
    let j = &json_lines(&String::from_utf8_lossy(&o.stdout))[0];
    assert!(j.get("class").is_none() && j["outputs"].as_array().unwrap().len() == 2, "{j}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("printed raw"), "{}", text(&o));
    // The same file in a run folder whose config.toml names the loss: classes, as before.
    let run = d.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::copy(&bare, run.join("model.safetensors")).unwrap();
    let config = "data = \"digits\"\nmodel = \"flatten linear(2)\"\nloss = \"cross_entropy\"\n";
    std::fs::write(run.join("config.toml"), config).unwrap();
    let j = &json_lines(&ok(&["predict", run.to_str().unwrap(), i, "--json"]))[0];
    assert_eq!(j["probabilities"].as_array().map(|p| p.len()), Some(2), "{j}");
}
