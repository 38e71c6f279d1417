//! A trained model measured on a data set: mean loss, accuracy, and for a classifier (also a
//! binary one: one BCE logit) the confusion matrix and each class's accuracy (`convlab eval`).

use super::confusion::counts;
use super::{class_labels, task_of, Subject};
use crate::data::Dataset;
use crate::error::Result;
use crate::optim::OptimizerConfig;
use crate::train::run::target_of;
use crate::train::Trainer;

/// One class's share of correct predictions.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassAccuracy {
    pub name: String,
    pub accuracy: f64,
    pub samples: u32,
}

/// What `evaluate` measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub samples: usize,
    pub loss: f64,
    /// For a classifier.
    pub accuracy: Option<f64>,
    /// Row-major `classes × classes` counts, rows the true class; empty for regression.
    pub confusion: Vec<u32>,
    pub classes: usize,
    /// Classes with at least one sample.
    pub per_class: Vec<ClassAccuracy>,
}

/// Evaluates `subject`'s model on `ds` with its task's loss (or the one the targets imply).
pub fn evaluate(subject: &Subject, ds: &Dataset) -> Result<Evaluation> {
    let task = task_of(&subject.model, ds);
    let loss = task.loss;
    let optimizer = OptimizerConfig::parse("sgd(lr=0)")?.build();
    let mut trainer = Trainer::new(subject.model.clone(), optimizer, loss, 256.min(ds.len().max(1)), 0, 0)?;
    let (mean_loss, accuracy) = trainer.evaluate(&ds.x, target_of(ds), ds.len())?;
    let mut e =
        Evaluation { samples: ds.len(), loss: mean_loss, accuracy, confusion: vec![], classes: 0, per_class: vec![] };
    if class_labels(&task, ds).is_some() {
        let (confusion, c) = counts(&subject.model, ds)?;
        for i in 0..c {
            let samples: u32 = confusion[i * c..(i + 1) * c].iter().sum();
            if samples > 0 {
                e.per_class.push(ClassAccuracy {
                    name: task.name(i),
                    accuracy: confusion[i * c + i] as f64 / samples as f64,
                    samples,
                });
            }
        }
        (e.confusion, e.classes) = (confusion, c);
    }
    Ok(e)
}
