//! `plot samples` (and `convlab data show`): a grid of data samples with their labels.

use super::class_names;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::plot::{image_grid, Colormap, Figure, ImagePanel};

pub fn figure(ds: &Dataset, count: usize) -> Result<Figure> {
    let n = count.min(ds.len());
    if n == 0 {
        return Err(Error::data(format!("{} has no samples", ds.name)));
    }
    let (c, h, w) = match ds.sample_shape[..] {
        [c, h, w] => (c, h, w),
        [c, l] => (c, 1, l),
        [f] => (1, 1, f),
        _ => {
            return Err(Error::data(format!(
                "{}: samples of shape {:?} cannot be drawn; only images (C, H, W), signals (C, L) and vectors (F) can",
                ds.name, ds.sample_shape
            )))
        }
    };
    let names = class_names(ds);
    let panels: Vec<ImagePanel> = (0..n)
        .map(|i| {
            let label = match &ds.targets {
                Targets::Classes { labels, .. } => {
                    format!("y={}", names.get(labels[i] as usize).cloned().unwrap_or(labels[i].to_string()))
                }
                Targets::Values { values, width } => {
                    format!(
                        "y={}",
                        values[i * width..(i + 1) * width]
                            .iter()
                            .map(|v| format!("{v:.2}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }
            };
            ImagePanel { label, height: h, width: w, channels: c, values: ds.sample(i).to_vec() }
        })
        .collect();
    Ok(image_grid(&panels, n.clamp(1, 8), Colormap::Gray, &format!("first {n} samples of {}", ds.name)))
}
