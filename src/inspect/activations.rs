//! `plot activations --index I`: the input sample and every layer's feature maps for it.

use super::check_index;
use crate::data::Dataset;
use crate::engine::Rank;
use crate::error::Result;
use crate::layers::Mode;
use crate::model::{Model, Workspace};
use crate::plot::{heatmap_grid, Colormap, Figure, Panel, Scale};

/// Panels for one C×H×W (or C×L, or F) tensor: one per channel.
fn panels(values: &[f32], dims: crate::engine::Dims, prefix: &str) -> Vec<Panel> {
    match dims.rank {
        Rank::Flat => vec![Panel::new(format!("{prefix} ({} values)", dims.c), 1, dims.c, values.to_vec())],
        _ => (0..dims.c)
            .map(|c| {
                Panel::new(
                    format!("{prefix} ch {c}"),
                    dims.h,
                    dims.w,
                    values[c * dims.h * dims.w..(c + 1) * dims.h * dims.w].to_vec(),
                )
            })
            .collect(),
    }
}

pub fn figure(model: &Model<f32>, ds: &Dataset, index: usize, cmap: Colormap) -> Result<Figure> {
    check_index(ds, index)?;
    let mut ws = Workspace::new(model, 1, false);
    ws.forward(model, ds.sample(index), 1, Mode::Eval, Default::default());
    let mut figs = vec![heatmap_grid(
        &panels(ds.sample(index), model.input, "input"),
        8,
        Colormap::Gray,
        Scale::MinMax,
        &format!("sample {index} of {}", ds.name),
    )];
    for (i, l) in model.layers.iter().enumerate() {
        if matches!(l.op, crate::layers::Op::Flatten) {
            continue;
        }
        let p = panels(ws.activation(i, model), l.output, &format!("{i}"));
        figs.push(heatmap_grid(
            &p,
            8,
            cmap,
            super::filters::scale_for(cmap),
            &format!("layer {i}: {} → {}", l.text, l.output),
        ));
    }
    Ok(Figure::stack(&figs))
}
