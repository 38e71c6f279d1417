//! `plot confusion`: the confusion matrix of a classifier on a data set, with counts. A binary
//! classifier (one BCE logit) has a 2×2 matrix.

use super::{check_outputs, class_labels, outputs, task_of};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plot::{confusion_matrix, Figure};

/// Counts `[true][predicted]`, row-major, over `c` classes.
pub fn counts(model: &Model<f32>, ds: &Dataset) -> Result<(Vec<u32>, usize)> {
    counts_of(model, ds, &outputs(model, ds, ds.len()))
}

/// [`counts`] from the model's outputs `out` on all of `ds`.
pub fn counts_of(model: &Model<f32>, ds: &Dataset, out: &[f32]) -> Result<(Vec<u32>, usize)> {
    check_outputs(model, ds, out)?;
    let task = task_of(model, ds);
    let Some(labels) = class_labels(&task, ds) else {
        return Err(Error::data(format!(
            "{} has real-valued targets for a model that is not a classifier ({} loss); a confusion matrix needs classes",
            ds.name,
            task.loss.name()
        )));
    };
    let k = model.output().len();
    let data_classes = match &ds.targets {
        Targets::Classes { num_classes, .. } => *num_classes,
        Targets::Values { .. } => 2,
    };
    let c = data_classes.max(task.classes);
    let mut m = vec![0u32; c * c];
    for (row, &l) in out.chunks_exact(k).zip(&labels) {
        m[l as usize * c + task.predicted(row)] += 1;
    }
    Ok((m, c))
}

pub fn figure(model: &Model<f32>, ds: &Dataset) -> Result<Figure> {
    figure_of(model, ds, &outputs(model, ds, ds.len()))
}

/// [`figure`] from the model's outputs `out` on all of `ds`, computed once by a caller that
/// needs them for other figures too (the report).
pub fn figure_of(model: &Model<f32>, ds: &Dataset, out: &[f32]) -> Result<Figure> {
    let (m, c) = counts_of(model, ds, out)?;
    let task = task_of(model, ds);
    let names: Vec<String> = (0..c).map(|i| task.name(i)).collect();
    Ok(confusion_matrix(&m, c, &names, &format!("confusion matrix, {}", ds.name)))
}
