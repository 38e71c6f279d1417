//! `plot activations --index I`: the input sample and every layer's feature maps for it.

use super::{check_index, task_of};
use crate::data::Dataset;
use crate::engine::Rank;
use crate::error::Result;
use crate::layers::Mode;
use crate::model::{Model, Workspace};
use crate::plot::{heatmap_grid, plural, Colormap, Figure, Panel, Scale};

/// How wide a row of layers may be: a slide's width at 100 %.
const FLOW_WIDTH: u32 = 1600;

/// Panels for one C×H×W (or C×L, or F) tensor: one per channel.
fn panels(values: &[f32], dims: crate::engine::Dims, prefix: &str) -> Vec<Panel> {
    match dims.rank {
        Rank::Flat => vec![Panel::new(format!("{prefix} ({})", plural(dims.c, "value")), 1, dims.c, values.to_vec())],
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

/// The output layer of a classifier: one cell per class, titled by its name (up to 20).
fn output_panels(model: &Model<f32>, ds: &Dataset, out: &[f32]) -> Option<Vec<Panel>> {
    let task = task_of(model, ds);
    (task.is_classifier() && out.len() > 1 && out.len() <= 20)
        .then(|| out.iter().enumerate().map(|(j, &v)| Panel::new(task.name(j), 1, 1, vec![v])).collect())
}

/// "true y=1, predicted 1 (p=0.97)" for a classifier; "true y=0.50, output 0.47" otherwise.
fn verdict(model: &Model<f32>, ds: &Dataset, index: usize, out: &[f32]) -> String {
    let truth = super::samples::label(ds, index);
    let task = task_of(model, ds);
    if task.is_classifier() {
        let pred = task.predicted(out);
        let p = task.probabilities(out).get(pred).copied().unwrap_or(f32::NAN);
        format!("true {truth}, predicted {} (p={p:.2})", task.name(pred))
    } else {
        let shown: Vec<String> = out.iter().take(4).map(|v| format!("{v:.2}")).collect();
        format!("true {truth}, output {}{}", shown.join(","), if out.len() > 4 { ",…" } else { "" })
    }
}

pub fn figure(model: &Model<f32>, ds: &Dataset, index: usize, cmap: Colormap) -> Result<Figure> {
    check_index(ds, index)?;
    let mut ws = Workspace::new(model, 1, false);
    ws.forward(model, ds.sample(index), 1, Mode::Eval, Default::default());
    let last = model.layers.len().saturating_sub(1);
    let out = if model.layers.is_empty() { vec![] } else { ws.activation(last, model).to_vec() };
    let mut figs = vec![heatmap_grid(
        &panels(ds.sample(index), model.input, "input"),
        8,
        Colormap::Gray,
        Scale::MinMax,
        &format!("sample {index} of {}: {}", ds.name, verdict(model, ds, index, &out)),
    )];
    for (i, l) in model.layers.iter().enumerate() {
        if matches!(l.op, crate::layers::Op::Flatten) {
            continue;
        }
        let values = ws.activation(i, model);
        let p = match (i == last).then(|| output_panels(model, ds, values)).flatten() {
            Some(p) => p,
            None if i == last && l.output.rank == Rank::Flat => {
                vec![Panel::new(plural(values.len(), "output"), 1, values.len(), values.to_vec())]
            }
            None => panels(values, l.output, &format!("{i}")),
        };
        figs.push(heatmap_grid(
            &p,
            p.len().clamp(1, if i == last { 20 } else { 8 }),
            cmap,
            super::filters::scale_for(cmap),
            &format!("layer {i}: {} → {}", l.text, l.output),
        ));
    }
    // The sample on top; the layers in reading order, narrow ones side by side.
    let layers = figs.split_off(1);
    Ok(Figure::stack(&[figs.remove(0), Figure::flow(&layers, FLOW_WIDTH)]))
}
