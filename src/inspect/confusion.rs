//! `plot confusion`: the confusion matrix of a classifier on a data set, with counts.

use super::{class_names, outputs};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plot::{confusion_matrix, Figure};
use crate::train::argmax;

/// Counts `[true][predicted]`, row-major, over `c` classes.
pub fn counts(model: &Model<f32>, ds: &Dataset) -> Result<(Vec<u32>, usize)> {
    let Targets::Classes { labels, num_classes } = &ds.targets else {
        return Err(Error::data(format!("{} has real-valued targets; a confusion matrix needs classes", ds.name)));
    };
    let k = model.output().len();
    let c = (*num_classes).max(k);
    let mut m = vec![0u32; c * c];
    for (row, &l) in outputs(model, ds, ds.len()).chunks_exact(k).zip(labels) {
        m[l as usize * c + argmax(row)] += 1;
    }
    Ok((m, c))
}

pub fn figure(model: &Model<f32>, ds: &Dataset) -> Result<Figure> {
    let (m, c) = counts(model, ds)?;
    let mut names = class_names(ds);
    for i in names.len()..c {
        names.push(i.to_string());
    }
    Ok(confusion_matrix(&m, c, &names, &format!("confusion matrix, {}", ds.name)))
}
