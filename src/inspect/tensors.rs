//! `plot tensors`: inputs, predictions and targets of a set of samples side by side, as the
//! lab's `plot_named_tensors({'X', 'ŷ', 'y'})`. The samples are a seeded, stratified draw
//! (see [`super::samples::pick`]); X gets its own colour scale when its range and that of
//! y/ŷ differ more than tenfold.

use super::{probabilities, task_of};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plot::{named_tensors_grouped, Figure, Panel};

/// How the colour scales are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scales {
    /// X on its own scale when its range differs from y/ŷ's more than tenfold.
    #[default]
    Auto,
    /// One scale for all.
    Shared,
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().filter(|x| x.is_finite()).fold(0.0, |m, x| m.max(x.abs()))
}

pub fn figure(model: &Model<f32>, ds: &Dataset, count: usize, seed: u64, scales: Scales) -> Result<Figure> {
    let mut picked = super::samples::pick(ds, count, seed);
    picked.sort_unstable();
    let n = picked.len();
    if n == 0 {
        return Err(Error::data(format!("{} has no samples to show", ds.name)));
    }
    let k = model.output().len();
    let x: Vec<f32> = picked.iter().flat_map(|&i| ds.sample(i).iter().copied()).collect();
    let out = model.predict(&x, n);
    // Probabilities for classifiers; raw outputs for regression.
    let probs = if task_of(model, ds).is_classifier() { probabilities(&out, k) } else { out };
    let y = match &ds.targets {
        Targets::Classes { labels, num_classes } => {
            let c = (*num_classes).max(k);
            let mut onehot = vec![0f32; n * c];
            picked.iter().enumerate().for_each(|(r, &i)| onehot[r * c + labels[i] as usize] = 1.0);
            Panel::new("y", n, c, onehot)
        }
        Targets::Values { values, width } => Panel::new(
            "y",
            n,
            *width,
            picked.iter().flat_map(|&i| values[i * width..(i + 1) * width].to_vec()).collect(),
        ),
    };
    let mut panels = vec![];
    // Wide inputs (images) would swamp the picture; show X only for short signals.
    if ds.sample_len() <= 64 {
        panels.push(Panel::new("X", n, ds.sample_len(), x));
    }
    let (xr, yr) = (max_abs(panels.first().map_or(&[][..], |p| &p.values)), max_abs(&y.values).max(max_abs(&probs)));
    let apart = xr > 0.0 && yr > 0.0 && (xr / yr > 10.0 || yr / xr > 10.0);
    let own_x = scales == Scales::Auto && apart && !panels.is_empty();
    panels.push(Panel::new("ŷ", n, k, probs));
    panels.push(y);
    let groups: Vec<usize> = (0..panels.len()).map(|i| usize::from(own_x && i > 0)).collect();
    let note = if own_x { ", X on its own scale" } else { "" };
    Ok(named_tensors_grouped(&panels, &groups, &format!("{n} samples of {} (seed {seed}{note})", ds.name)))
}
