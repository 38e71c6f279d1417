//! `plot evolution LAYER`: a conv layer's kernels over the epochs as a film strip, from the
//! snapshots training records with `--snapshot-every N`.

use crate::error::{Error, Result};
use crate::plot::{film_strip, Figure, Panel};
use crate::train::snapshots::{Snapshots, FILE};
use std::path::Path;

/// `layer` is the layer index (`0`) or tensor name (`0.weight`).
pub fn figure(run: &Path, layer: &str) -> Result<Figure> {
    let path = run.join(FILE);
    if !path.exists() {
        return Err(Error::model_file(format!(
            "{} has no kernel snapshots; train with --snapshot-every N to record them",
            run.display()
        )));
    }
    let snaps = Snapshots::load(&path)?;
    let name = if layer.contains('.') { layer.to_string() } else { format!("{layer}.weight") };
    // Snapshots hold every trainable tensor; only conv kernels make a film strip.
    let frames = if snaps.is_kernel(&name) { snaps.of(&name) } else { vec![] };
    if frames.is_empty() {
        let mut known: Vec<&str> = snaps.entries.iter().map(|e| e.1.as_str()).filter(|n| snaps.is_kernel(n)).collect();
        known.sort();
        known.dedup();
        return Err(Error::model_file(format!(
            "no kernel snapshots of layer `{layer}` (a conv layer's weight); recorded layers with kernels: {}",
            known.join(", ")
        )));
    }
    let panels: Vec<Panel> = frames
        .iter()
        .map(|(_, shape, v)| {
            // Each output channel's C×kh×kw kernel as a tile (inputs side by side); tiles in a
            // near-square grid with one white (zero) cell between them.
            let (o, c, kh, kw) = match shape[..] {
                [o, c, kh, kw] => (o, c, kh, kw),
                [o, c, k] => (o, c, 1, k),
                _ => (1, 1, 1, v.len()),
            };
            let cols = (o as f64).sqrt().ceil() as usize;
            let rows = o.div_ceil(cols);
            let (tw, th) = (c * kw + 1, kh + 1);
            let (width, height) = (cols * tw - 1, rows * th - 1);
            let mut block = vec![0f32; width * height];
            for oi in 0..o {
                let (r0, c0) = (oi / cols * th, oi % cols * tw);
                for ci in 0..c {
                    for i in 0..kh {
                        for j in 0..kw {
                            block[(r0 + i) * width + c0 + ci * kw + j] = v[((oi * c + ci) * kh + i) * kw + j];
                        }
                    }
                }
            }
            Panel::new("", height, width, block)
        })
        .collect();
    let labels: Vec<String> = frames.iter().map(|(e, _, _)| format!("epoch {e}")).collect();
    Ok(film_strip(&panels, &labels, &format!("layer {name} over training")))
}
