//! A trained model measured on a data set: mean loss, accuracy, and for classes the confusion
//! matrix and each class's accuracy (`convlab eval`).

use super::confusion::counts;
use super::{class_names, Subject};
use crate::data::{Dataset, Targets};
use crate::error::Result;
use crate::optim::OptimizerConfig;
use crate::train::run::{default_loss, target_of};
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
    /// For class targets.
    pub accuracy: Option<f64>,
    /// Row-major `classes × classes` counts, rows the true class; empty for real targets.
    pub confusion: Vec<u32>,
    pub classes: usize,
    /// Classes with at least one sample.
    pub per_class: Vec<ClassAccuracy>,
}

/// Evaluates `subject`'s model on `ds` with the run's loss (or the one the targets imply).
pub fn evaluate(subject: &Subject, ds: &Dataset) -> Result<Evaluation> {
    let loss = subject.config.as_ref().and_then(|c| c.training.loss).unwrap_or_else(|| default_loss(&ds.targets));
    let optimizer = OptimizerConfig::parse("sgd(lr=0)")?.build();
    let mut trainer = Trainer::new(subject.model.clone(), optimizer, loss, 256.min(ds.len().max(1)), 0, 0)?;
    let (mean_loss, accuracy) = trainer.evaluate(&ds.x, target_of(ds), ds.len())?;
    let mut e =
        Evaluation { samples: ds.len(), loss: mean_loss, accuracy, confusion: vec![], classes: 0, per_class: vec![] };
    if let Targets::Classes { .. } = &ds.targets {
        let (confusion, c) = counts(&subject.model, ds)?;
        let names = class_names(ds);
        for i in 0..c {
            let samples: u32 = confusion[i * c..(i + 1) * c].iter().sum();
            if samples > 0 {
                e.per_class.push(ClassAccuracy {
                    name: names.get(i).cloned().unwrap_or(i.to_string()),
                    accuracy: confusion[i * c + i] as f64 / samples as f64,
                    samples,
                });
            }
        }
        (e.confusion, e.classes) = (confusion, c);
    }
    Ok(e)
}
