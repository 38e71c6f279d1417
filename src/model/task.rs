//! What a model's outputs mean: the loss it was trained with and, for a classifier, how many
//! classes it tells apart and their names. Model files record it (see [`super::io`]), so a
//! model file alone predicts class probabilities, without its run folder.
//!
//! A classifier is cross-entropy over its outputs, or one logit with BCE (two classes: the
//! logit's sign decides, as in training's accuracy). Anything else (MSE, BCE over several
//! outputs) is read as raw values.

use crate::error::{Error, Result};
use crate::layers::activation::sigmoid;
use crate::losses::Loss;

#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub loss: Loss,
    /// Classes the outputs stand for: one per output for cross-entropy, 2 for one BCE logit,
    /// 0 for regression.
    pub classes: usize,
    /// One name per class, or empty (classes are then named by their number).
    pub class_names: Vec<String>,
}

impl Task {
    /// The task of a model with `outputs` outputs trained with `loss`; `names` (a data set's
    /// class names, possibly fewer than the outputs) are padded with numbers.
    pub fn new(loss: Loss, outputs: usize, names: Option<&[String]>) -> Task {
        let classes = match loss {
            Loss::CrossEntropy => outputs,
            Loss::BceWithLogits if outputs == 1 => 2,
            _ => 0,
        };
        let class_names = match names {
            Some(n) if classes > 0 => {
                (0..classes).map(|i| n.get(i).cloned().unwrap_or_else(|| i.to_string())).collect()
            }
            _ => vec![],
        };
        Task { loss, classes, class_names }
    }

    /// As `new`, with names the user gave, which must be one per class.
    pub fn with_names(loss: Loss, outputs: usize, names: &[String]) -> Result<Task> {
        let task = Task::new(loss, outputs, None);
        if names.is_empty() {
            return Ok(task);
        }
        if task.classes == 0 {
            return Err(Error::config(format!(
                "class names need a classifier: {} over {outputs} outputs is not one (use cross_entropy, or bce_with_logits with one output)",
                loss.name()
            )));
        }
        if names.len() != task.classes {
            return Err(Error::config(format!(
                "{} class names for {} classes; give one name per class, in class order",
                names.len(),
                task.classes
            )));
        }
        Ok(Task { class_names: names.to_vec(), ..task })
    }

    pub fn is_classifier(&self) -> bool {
        self.classes > 0
    }

    /// One logit read by its sign.
    pub fn is_binary(&self) -> bool {
        self.loss == Loss::BceWithLogits && self.classes == 2
    }

    /// The name of class `class` (its number when unnamed).
    pub fn name(&self, class: usize) -> String {
        self.class_names.get(class).cloned().unwrap_or_else(|| class.to_string())
    }

    /// Every class's name.
    pub fn names(&self) -> Vec<String> {
        (0..self.classes).map(|c| self.name(c)).collect()
    }

    /// The probability of each class for one sample's outputs: softmax, or (1 − σ, σ) of one
    /// logit. Empty when the model is not a classifier.
    pub fn probabilities(&self, row: &[f32]) -> Vec<f32> {
        if self.is_binary() {
            let p = sigmoid(row[0]);
            return vec![1.0 - p, p];
        }
        if !self.is_classifier() {
            return vec![];
        }
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f32 = row.iter().map(|v| (v - max).exp()).sum();
        row.iter().map(|v| (v - max).exp() / z).collect()
    }

    /// The predicted class of one sample's outputs: the largest output, or logit > 0.
    pub fn predicted(&self, row: &[f32]) -> usize {
        if self.is_binary() {
            usize::from(row[0] > 0.0)
        } else {
            crate::train::argmax(row)
        }
    }

    /// Checks that the task fits a model with `outputs` outputs (a file's metadata could claim
    /// anything).
    pub fn check(&self, outputs: usize) -> Result<()> {
        let expected = Task::new(self.loss, outputs, None).classes;
        if self.classes != expected {
            return Err(Error::model_file(format!(
                "its task claims {} classes, but a model with {outputs} outputs and the {} loss has {expected}",
                self.classes,
                self.loss.name()
            )));
        }
        if !self.class_names.is_empty() && self.class_names.len() != self.classes {
            return Err(Error::model_file(format!(
                "its task names {} classes but has {}",
                self.class_names.len(),
                self.classes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_and_one_bce_logit_are_classifiers_and_the_rest_are_not() {
        let names: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let ce = Task::new(Loss::CrossEntropy, 3, Some(&names));
        assert_eq!((ce.classes, ce.names()), (3, vec!["a".to_string(), "b".into(), "2".into()]));
        assert_eq!(ce.predicted(&[0.1, 2.0, -1.0]), 1);
        let p = ce.probabilities(&[0.0, 0.0, 0.0]);
        assert!(p.iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-6), "{p:?}");
        let bin = Task::new(Loss::BceWithLogits, 1, None);
        assert!(bin.is_binary() && bin.classes == 2);
        assert_eq!((bin.predicted(&[0.5]), bin.predicted(&[-0.5]), bin.predicted(&[0.0])), (1, 0, 0));
        let p = bin.probabilities(&[0.0]);
        assert_eq!(p, vec![0.5, 0.5]);
        let p = bin.probabilities(&[2.0]);
        assert!((p[1] - sigmoid(2.0)).abs() < 1e-7 && (p[0] + p[1] - 1.0).abs() < 1e-6, "{p:?}");
        for (loss, k) in [(Loss::Mse, 1), (Loss::Mse, 4), (Loss::BceWithLogits, 3)] {
            let t = Task::new(loss, k, Some(&names));
            assert!(!t.is_classifier() && t.class_names.is_empty() && t.probabilities(&[1.0; 4]).is_empty());
        }
    }

    #[test]
    fn given_names_must_fit_the_classes_and_a_claimed_task_the_model() {
        let two: Vec<String> = ["no", "yes"].map(String::from).to_vec();
        assert_eq!(Task::with_names(Loss::BceWithLogits, 1, &two).unwrap().name(1), "yes");
        let e = Task::with_names(Loss::CrossEntropy, 3, &two).unwrap_err().to_string();
        assert!(e.contains("2 class names for 3 classes"), "{e}");
        let e = Task::with_names(Loss::Mse, 1, &two).unwrap_err().to_string();
        assert!(e.contains("need a classifier"), "{e}");
        let ce = Task::new(Loss::CrossEntropy, 10, None);
        assert!(ce.check(10).is_ok());
        assert!(ce.check(9).unwrap_err().to_string().contains("claims 10 classes"));
        let bad = Task { class_names: two, ..ce };
        assert!(bad.check(10).unwrap_err().to_string().contains("names 2 classes"));
    }
}
