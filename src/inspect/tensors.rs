//! `plot tensors`: inputs, predictions and targets of a set of samples side by side, as the
//! lab's `plot_named_tensors({'X', 'ŷ', 'y'})`.

use super::{outputs, probabilities, task_of};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plot::{named_tensors, Figure, Panel};

pub fn figure(model: &Model<f32>, ds: &Dataset, count: usize) -> Result<Figure> {
    let n = count.min(ds.len());
    if n == 0 {
        return Err(Error::data(format!("{} has no samples to show", ds.name)));
    }
    let k = model.output().len();
    let out = outputs(model, ds, n);
    // Probabilities for classifiers; raw outputs for regression.
    let probs = if task_of(model, ds).is_classifier() { probabilities(&out, k) } else { out };
    let mut panels = vec![];
    // Wide inputs (images) would swamp the picture; show X only for short signals.
    if ds.sample_len() <= 64 {
        panels.push(Panel::new("X", n, ds.sample_len(), ds.x[..n * ds.sample_len()].to_vec()));
    }
    panels.push(Panel::new("ŷ", n, k, probs));
    let y = match &ds.targets {
        Targets::Classes { labels, num_classes } => {
            let c = (*num_classes).max(k);
            let mut onehot = vec![0f32; n * c];
            labels[..n].iter().enumerate().for_each(|(i, &l)| onehot[i * c + l as usize] = 1.0);
            Panel::new("y", n, c, onehot)
        }
        Targets::Values { values, width } => Panel::new("y", n, *width, values[..n * width].to_vec()),
    };
    panels.push(y);
    Ok(named_tensors(&panels, &format!("first {n} samples of {}", ds.name)))
}
