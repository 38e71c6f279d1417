//! `plot filters`: every conv layer's kernels (rows = output channels, columns = input
//! channels; 1-D kernels as strips) and linear weights as heatmaps, on a diverging scale.

use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::layers::Op;
use crate::model::Model;
use crate::plot::{heatmap_grid, kernel_grid, weight_grid, weight_matrix, Colormap, Figure, Panel, Scale};

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
                match flattened_input(model, i) {
                    // Each output's weights in the shape of the maps it reads: class templates.
                    Some(d) if d.len() == n && d.c * d.h * d.w == n && n > d.c => {
                        let rows: Vec<String> = (0..o).map(|j| output_name(model, j, o)).collect();
                        let cols: Vec<String> = (0..d.c).map(|c| format!("ch {c}")).collect();
                        let title = format!("{title}, shaped as the {d} maps they read");
                        out.push(weight_grid(w, (o, d.c, d.h, d.w), &rows, &cols, cmap, &title));
                    }
                    _ => out.push(weight_matrix(w, o, n, cmap, &title)),
                }
            }
            _ => {}
        }
    }
    out
}

/// The (C, H, W) or (C, L) maps a `flatten` right before layer `i` turned into a vector.
fn flattened_input(model: &Model<f32>, i: usize) -> Option<Dims> {
    let prev = model.layers.get(i.checked_sub(1)?)?;
    if !matches!(prev.op, Op::Flatten) {
        return None;
    }
    let d = if i >= 2 { model.layers[i - 2].output } else { model.input };
    (d.rank != crate::engine::Rank::Flat).then_some(d)
}

/// The name of output `j` of a layer with `o` outputs: its class on the last layer of a
/// classifier, else `out j`.
fn output_name(model: &Model<f32>, j: usize, o: usize) -> String {
    match &model.task {
        Some(t) if t.is_classifier() && o == model.output().len() && o > 1 => t.name(j),
        _ => format!("out {j}"),
    }
}

pub fn figure(model: &Model<f32>, cmap: Colormap) -> Result<Figure> {
    let f = figures(model, cmap);
    if f.is_empty() {
        return Err(Error::model_file(format!("the model `{}` has no conv or linear weights to show", model.spec)));
    }
    Ok(Figure::stack(&f))
}
