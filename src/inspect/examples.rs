//! `plot examples --hardest K --easiest K`: images with their true class and predicted
//! probability, ranked by the probability given to the true class (so by the loss: it is
//! −log of that probability, for cross-entropy and for a binary classifier's BCE alike).
//! Ties (a well-fitted model gives many samples p = 1.00) are broken by a seeded shuffle, so
//! data sorted by class does not show its first samples only.

use super::{check_outputs, class_labels, outputs, task_of};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{Model, Task};
use crate::plot::{image_grid, Colormap, Figure, ImagePanel};

/// Sample indices sorted from hardest (lowest p(true class)) to easiest, with that probability
/// and the predicted class, from the model's outputs `out` (`k` a sample).
pub(crate) fn ranked(out: &[f32], k: usize, task: &Task, labels: &[u32], seed: u64) -> Vec<(usize, f32, usize)> {
    let mut r: Vec<(usize, f32, usize)> = out
        .chunks_exact(k)
        .zip(labels)
        .enumerate()
        .map(|(i, (row, &l))| (i, task.probabilities(row).get(l as usize).copied().unwrap_or(0.0), task.predicted(row)))
        .collect();
    let mut rng = crate::rng::Rng::new(seed);
    let tie: Vec<u64> = (0..r.len()).map(|_| rng.next_u64()).collect();
    r.sort_by(|a, b| a.1.total_cmp(&b.1).then(tie[a.0].cmp(&tie[b.0])));
    r
}

/// `#12 true 3 · p(true)=0.07 (says 5)`: a ranked sample, its true class, the probability given to
/// it and, when wrong, the predicted class.
pub(crate) fn caption(task: &Task, labels: &[u32], (i, p, pred): (usize, f32, usize)) -> String {
    let truth = labels[i] as usize;
    let says = if pred != truth { format!(" (says {})", task.name(pred)) } else { String::new() };
    format!("#{i} true {} · p(true)={}{says}", task.name(truth), probability(p))
}

/// Two decimals, or two significant digits below 0.01, so the hardest examples' tiny
/// probabilities read 0.0031, not an all-alike 0.00.
fn probability(p: f32) -> String {
    if p > 0.0 && p < 0.005 {
        crate::plot::parts::format_sig(p as f64, 2)
    } else {
        format!("{p:.2}")
    }
}

pub fn figure(model: &Model<f32>, ds: &Dataset, hardest: usize, easiest: usize, seed: u64) -> Result<Figure> {
    figure_of(model, ds, &outputs(model, ds, ds.len()), hardest, easiest, seed)
}

/// [`figure`] from the model's outputs on all of `ds`, computed once by a caller that needs
/// them for other figures too (the report).
pub fn figure_of(
    model: &Model<f32>,
    ds: &Dataset,
    out: &[f32],
    hardest: usize,
    easiest: usize,
    seed: u64,
) -> Result<Figure> {
    check_outputs(model, ds, out)?;
    let task = task_of(model, ds);
    let Some(labels) = class_labels(&task, ds) else {
        return Err(Error::data(format!(
            "{} has real-valued targets for a model that is not a classifier; easy and hard examples need classes",
            ds.name
        )));
    };
    let r = ranked(out, model.output().len(), &task, &labels, seed);
    let dims = &ds.sample_shape;
    let (c, h, w) = match dims[..] {
        [c, h, w] => (c, h, w),
        [c, l] => (c, 1, l),
        _ => {
            return Err(Error::data(format!(
                "{}: samples of shape {dims:?} cannot be drawn; examples need images (C, H, W) or signals (C, L)",
                ds.name
            )))
        }
    };
    let pick: Vec<&(usize, f32, usize)> =
        r.iter().take(hardest).chain(r.iter().rev().take(easiest).collect::<Vec<_>>().into_iter().rev()).collect();
    if pick.is_empty() {
        return Err(Error::config("ask for at least one example (--hardest K or --easiest K)"));
    }
    let panels: Vec<ImagePanel> = pick
        .iter()
        .map(|&&r| ImagePanel {
            label: caption(&task, &labels, r),
            height: h,
            width: w,
            channels: c,
            values: ds.sample(r.0).to_vec(),
        })
        .collect();
    let title = format!("{hardest} hardest and {easiest} easiest of {} (p = probability of the true class)", ds.name);
    // Rows of 4 keep captions readable at 100 %; the hardest fill the first rows.
    Ok(image_grid(&panels, panels.len().clamp(1, 4), Colormap::Gray, &title))
}

#[cfg(test)]
mod tests {
    use super::probability;

    #[test]
    fn tiny_probabilities_keep_two_significant_digits() {
        assert_eq!(probability(0.00314), "0.0031");
        assert_eq!(probability(2.5e-7), "2.5e-7");
        assert_eq!(
            (probability(0.0), probability(0.07), probability(0.996)),
            ("0.00".into(), "0.07".into(), "1.00".into())
        );
    }
}
