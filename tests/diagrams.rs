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
