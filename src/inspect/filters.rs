//! `plot filters`: every conv layer's kernels (rows = output channels, columns = input
//! channels; 1-D kernels as strips) and linear weights as heatmaps, on a diverging scale.

use crate::error::{Error, Result};
use crate::layers::Op;
use crate::model::Model;
use crate::plot::{heatmap_grid, kernel_grid, Colormap, Figure, Panel, Scale};

/// Diverging maps get one symmetric scale centred on zero; sequential ones span min to max.
pub fn scale_for(cmap: Colormap) -> Scale {
    match cmap {
        Colormap::Bwr | Colormap::Seismic => Scale::Symmetric,
        _ => Scale::MinMax,
    }
}

/// One figure per layer with weights, top to bottom.
pub fn figures(model: &Model<f32>, cmap: Colormap) -> Vec<Figure> {
    let mut out = vec![];
    for (i, l) in model.layers.iter().enumerate() {
        let w = model.layer_params(i);
        match &l.op {
            Op::Conv(c) => {
                let (o, ci, kh, kw) = (c.out_channels, c.geom.c, c.geom.wh.kernel, c.geom.ww.kernel);
                let title = format!("layer {i}: {} kernels", l.text);
                if ci == 1 && o > 4 {
                    // One input channel: a compact grid, 8 per row, like the lab's plot_matrix_grid.
                    let k = kh * kw;
                    let panels: Vec<Panel> = (0..o)
                        .map(|j| Panel::new(format!("out {j}"), kh, kw, w[j * k..(j + 1) * k].to_vec()))
                        .collect();
                    out.push(heatmap_grid(&panels, 8, cmap, scale_for(cmap), &title));
                } else {
                    out.push(kernel_grid(&w[..c.weight_len()], o, ci, kh, kw, cmap, &title));
                }
            }
            Op::Linear(lin) => {
                let (o, n) = (lin.out_features, lin.in_features);
                let w = &w[..lin.weight_len()];
                let title = format!("layer {i}: {} weights", l.text);
                // A wide read-out (e.g. 1568 inputs) reads better as one map per output, shaped
                // like the flattened feature maps it reads.
                let src = model.layers[..i].iter().rev().find(|p| !matches!(p.op, Op::Flatten)).map(|p| p.output);
                let panels = match src {
                    Some(d) if n > 64 && d.len() == n && d.h * d.w > 1 => (0..o)
                        .map(|j| Panel::new(format!("out {j}"), d.c * d.h, d.w, w[j * n..(j + 1) * n].to_vec()))
                        .collect(),
                    _ => vec![Panel::new(format!("{o} outputs × {n} inputs"), o, n, w.to_vec())],
                };
                let cols = panels.len().min(10);
                out.push(heatmap_grid(&panels, cols, cmap, scale_for(cmap), &title));
            }
            _ => {}
        }
    }
    out
}

pub fn figure(model: &Model<f32>, cmap: Colormap) -> Result<Figure> {
    let f = figures(model, cmap);
    if f.is_empty() {
        return Err(Error::model_file(format!("the model `{}` has no conv or linear weights to show", model.spec)));
    }
    Ok(Figure::stack(&f))
}
