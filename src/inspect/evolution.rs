//! `plot evolution LAYER`: a conv layer's kernels over the epochs as a film strip, from the
//! snapshots training records with `--snapshot-every N`.

use crate::plot::{film_strip, Figure, Panel};
use crate::train::snapshots::{Snapshots, FILE};
use std::path::Path;

/// `layer` is the layer index (`0`) or tensor name (`0.weight`).
pub fn figure(run: &Path, layer: &str) -> Result<Figure, String> {
    let path = run.join(FILE);
    if !path.exists() {
        return Err(format!("{} has no kernel snapshots; train with --snapshot-every N to record them", run.display()));
    }
    let snaps = Snapshots::load(&path)?;
    let name = if layer.contains('.') { layer.to_string() } else { format!("{layer}.weight") };
    let frames = snaps.of(&name);
    if frames.is_empty() {
        let mut known: Vec<&str> = snaps.entries.iter().map(|e| e.1.as_str()).collect();
        known.dedup();
        return Err(format!("no snapshots of layer `{layer}`; recorded layers: {}", known.join(", ")));
    }
    let panels: Vec<Panel> = frames
        .iter()
        .map(|(_, shape, v)| {
            // O×C×kh×kw (or O×C×k) as a block: output channels down, input channels across.
            let (o, c, kh, kw) = match shape[..] {
                [o, c, kh, kw] => (o, c, kh, kw),
                [o, c, k] => (o, c, 1, k),
                _ => (1, 1, 1, v.len()),
            };
            let mut block = vec![0f32; o * kh * c * kw];
            for oi in 0..o {
                for ci in 0..c {
                    for i in 0..kh {
                        for j in 0..kw {
                            block[(oi * kh + i) * (c * kw) + ci * kw + j] = v[((oi * c + ci) * kh + i) * kw + j];
                        }
                    }
                }
            }
            Panel::new("", o * kh, c * kw, block)
        })
        .collect();
    let labels: Vec<String> = frames.iter().map(|(e, _, _)| format!("epoch {e}")).collect();
    Ok(film_strip(&panels, &labels, &format!("layer {name} over training")))
}
