//! The diagram picture kinds from the CLI: `plot model` (architecture), `plot histograms`
//! (weights over the epochs) and `plot maximize` (what each filter looks for).

use std::path::{Path, PathBuf};

mod common;
use common::{convlab, text};

fn scratch(name: &str) -> PathBuf {
    common::scratch("diagrams", name)
}

/// A PNG's width and height, read from its header.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG", "{} is not a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn model_diagrams_from_a_preset_a_spec_and_with_clear_errors() {
    let d = scratch("model");
    let png = d.join("simplecnn.png");
    let o = convlab(&["plot", "model", "simplecnn", "--out", png.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let (w, h) = png_size(&png);
    assert!(w >= 280 && h > 10 * 60, "{w}×{h}");
    let svg = d.join("spec.svg");
    let spec = "conv1d(4,k=3) relu flatten linear(2)";
    let o = convlab(&["plot", "model", spec, "--input", "2,16", "--out", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let doc = std::fs::read_to_string(&svg).unwrap();
    assert!(doc.contains("conv1d(4,k=3)") && doc.contains("output 4×14") && doc.contains("28 parameters"), "{doc}");
    let o = convlab(&["plot", "model", spec, "--out", svg.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("--input"), "{}", text(&o));
    let o = convlab(&["plot", "model", "conv2d(k=3", "--input", "1,8,8", "--out", svg.to_str().unwrap()]);
    assert!(!o.status.success() && !text(&o).contains("panicked"), "{}", text(&o));
}

/// A short digits run with a snapshot every epoch.
fn digits_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let args = ["train", "--data", "digits", "--epochs", "2", "--snapshot-every", "1", "--quiet", "--out"];
    let o = convlab(&[&args[..], &[run.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", text(&o));
    run
}

#[test]
fn histograms_of_every_tensor_and_evolution_still_only_of_kernels() {
    let d = scratch("histograms");
    let run = digits_run(&d);
    let r = run.to_str().unwrap();
    let svg = d.join("h.svg");
    let o = convlab(&["plot", "histograms", r, "--out", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let doc = std::fs::read_to_string(&svg).unwrap();
    // digits: conv 0 (16×1×3×3), conv 3, linear 6: a panel for each weight and bias.
    for panel in
        ["0.weight  (144 values)", "0.bias  (16 values)", "3.weight", "3.bias", "6.weight", "6.bias  (10 values)"]
    {
        assert!(doc.contains(panel), "no panel {panel}");
    }
    assert!(doc.contains("gradients are not recorded"));
    let png = d.join("h.png");
    assert!(convlab(&["plot", "histograms", r, "--out", png.to_str().unwrap()]).status.success());
    let (w, h) = png_size(&png);
    assert!(w > 1000 && h > 300, "{w}×{h}");
    // The linear layer is snapshotted now, but it is no film strip of kernels.
    let o = convlab(&["plot", "evolution", r, "6", "--out", png.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("0.weight, 3.weight"), "{}", text(&o));
    assert!(convlab(&["plot", "evolution", r, "3", "--out", png.to_str().unwrap()]).status.success());
    // A run without snapshots says how to get them.
    let bare = d.join("bare");
    let o = convlab(&["train", "--data", "digits", "--epochs", "1", "--quiet", "--out", bare.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = convlab(&["plot", "histograms", bare.to_str().unwrap(), "--out", png.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("--snapshot-every"), "{}", text(&o));
}

#[test]
fn maximize_draws_one_panel_per_filter_and_explains_a_wrong_layer() {
    let d = scratch("maximize");
    let run = digits_run(&d);
    let r = run.to_str().unwrap();
    let svg = d.join("m.svg");
    let o = convlab(&["plot", "maximize", r, "--layer", "3", "--steps", "5", "--out", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let doc = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(doc.matches("filter ").count(), 32, "digits' layer 3 has 32 filters"); // conv2d(32,...)
    let o = convlab(&["plot", "maximize", r, "--layer", "6", "--out", svg.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("conv layers are: 0, 3"), "{}", text(&o));
    let o = convlab(&["plot", "maximize", r, "--layer", "0", "--steps", "0", "--out", svg.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("--steps"), "{}", text(&o));
    // The centre unit by default, cropped to its receptive field; the whole plane's mean on request.
    let doc = std::fs::read_to_string(svg_ok(r, &d, &["--layer", "0", "--steps", "5"])).unwrap();
    assert!(doc.contains("centre unit") && doc.contains("field: rows") && doc.contains("values 0–"), "title");
    let doc = std::fs::read_to_string(svg_ok(r, &d, &["--layer", "0", "--steps", "5", "--objective", "mean"])).unwrap();
    assert!(doc.contains("mean output") && !doc.contains("field:"), "mean objective title");
    let o = convlab(&["plot", "maximize", r, "--layer", "0", "--objective", "max", "--out", svg.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("use centre"), "{}", text(&o));
    let o = convlab(&["plot", "maximize", r, "--layer", "0", "--tv=-1", "--out", svg.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("--tv"), "{}", text(&o));
}

/// `plot maximize RUN ARGS` into an SVG in `d`, which must succeed.
fn svg_ok(run: &str, d: &Path, args: &[&str]) -> PathBuf {
    let svg = d.join("ok.svg");
    let mut all = vec!["plot", "maximize", run];
    all.extend(args);
    all.extend(["--out", svg.to_str().unwrap()]);
    let o = convlab(&all);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    svg
}
