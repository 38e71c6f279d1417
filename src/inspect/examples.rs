//! `plot examples --hardest K --easiest K`: images with their true class and predicted
//! probability, ranked by the probability given to the true class.

use super::{class_names, outputs, probabilities};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plot::{image_grid, Colormap, Figure, ImagePanel};
use crate::train::argmax;

/// Sample indices sorted from hardest (lowest p(true class)) to easiest, with that probability.
fn ranked(model: &Model<f32>, ds: &Dataset) -> Result<Vec<(usize, f32, usize)>> {
    let Targets::Classes { labels, .. } = &ds.targets else {
        return Err(Error::data(format!("{} has real-valued targets; easy and hard examples need classes", ds.name)));
    };
    let k = model.output().len();
    let p = probabilities(&outputs(model, ds, ds.len()), k);
    let mut r: Vec<(usize, f32, usize)> =
        p.chunks_exact(k).zip(labels).enumerate().map(|(i, (row, &l))| (i, row[l as usize], argmax(row))).collect();
    r.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(r)
}

pub fn figure(model: &Model<f32>, ds: &Dataset, hardest: usize, easiest: usize) -> Result<Figure> {
    let r = ranked(model, ds)?;
    let names = class_names(ds);
    let Targets::Classes { labels, .. } = &ds.targets else { unreachable!("checked in ranked") };
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
    let name = |i: usize| names.get(i).cloned().unwrap_or(i.to_string());
    let panels: Vec<ImagePanel> = pick
        .iter()
        .map(|&&(i, p, pred)| ImagePanel {
            label: format!(
                "#{i} true {} · p={p:.2}{}",
                name(labels[i] as usize),
                if pred != labels[i] as usize { format!(" (says {})", name(pred)) } else { String::new() }
            ),
            height: h,
            width: w,
            channels: c,
            values: ds.sample(i).to_vec(),
        })
        .collect();
    let title = format!("{hardest} hardest and {easiest} easiest of {} (p = probability of the true class)", ds.name);
    Ok(image_grid(&panels, panels.len().clamp(1, 8), Colormap::Gray, &title))
}
