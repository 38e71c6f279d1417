//! Losses over a model's n×k output, with PyTorch's `mean`, `sum` and `none` reductions.

pub mod bce;
pub mod cross_entropy;
pub mod mse;

use crate::engine::Float;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    Mse,
    BceWithLogits,
    CrossEntropy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Mean,
    Sum,
    None,
}

/// What the outputs are compared with.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a, T> {
    /// One class index per sample (cross-entropy).
    Classes(&'a [u32]),
    /// One value per output (MSE, BCE).
    Values(&'a [T]),
}

impl Loss {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "mse" => Ok(Loss::Mse),
            "bce" | "bce_with_logits" | "bcewithlogits" => Ok(Loss::BceWithLogits),
            "cross_entropy" | "ce" | "crossentropy" => Ok(Loss::CrossEntropy),
            _ => Err(Error::config(format!("unknown loss `{text}`; use mse, bce_with_logits or cross_entropy"))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::BceWithLogits => "bce_with_logits",
            Loss::CrossEntropy => "cross_entropy",
        }
    }

    /// How many terms a `mean` divides by for n samples of k outputs.
    pub fn count(&self, n: usize, k: usize) -> usize {
        match self {
            Loss::CrossEntropy => n,
            _ => n * k,
        }
    }

    /// Checks that the target fits the loss and the n×k output.
    pub fn check<T: Float>(&self, n: usize, k: usize, target: Target<T>) -> Result<()> {
        match (self, target) {
            (Loss::CrossEntropy, Target::Classes(labels)) => {
                if labels.len() != n {
                    return Err(Error::shape(format!("{} labels for {n} samples", labels.len())));
                }
                if let Some(bad) = labels.iter().find(|&&l| l as usize >= k) {
                    return Err(Error::shape(format!(
                        "label {bad} is outside the model's {k} outputs; the last layer needs at least {} outputs (e.g. linear({}))",
                        bad + 1,
                        bad + 1
                    )));
                }
                Ok(())
            }
            (Loss::CrossEntropy, Target::Values(_)) => {
                Err(Error::shape("cross_entropy needs class labels, not real-valued targets"))
            }
            (_, Target::Values(v)) if v.len() != n * k => Err(Error::shape(format!(
                "{} needs one target per output: {} targets for {n} samples × {k} outputs",
                self.name(),
                v.len()
            ))),
            (_, Target::Values(_)) => Ok(()),
            (_, Target::Classes(_)) => {
                Err(Error::shape(format!("{} needs real-valued targets, not class labels", self.name())))
            }
        }
    }

    /// Sum of the per-term losses; writes `scale · ∂(sum)/∂x` into `grad` when given.
    /// The training step's path: no allocation, no reduction bookkeeping.
    pub fn sum_and_grad<T: Float>(&self, x: &[T], k: usize, target: Target<T>, grad: Option<(&mut [T], T)>) -> f64 {
        self.terms(x, k, target, None, grad)
    }

    fn terms<T: Float>(
        &self,
        x: &[T],
        k: usize,
        target: Target<T>,
        items: Option<&mut [T]>,
        grad: Option<(&mut [T], T)>,
    ) -> f64 {
        match (self, target) {
            (Loss::Mse, Target::Values(t)) => mse::compute(x, t, items, grad),
            (Loss::BceWithLogits, Target::Values(t)) => bce::compute(x, t, items, grad),
            (Loss::CrossEntropy, Target::Classes(l)) => cross_entropy::compute(x, k, l, items, grad),
            _ => panic!("loss and target kinds differ; call Loss::check first"),
        }
    }

    /// The loss as PyTorch returns it: one value for mean/sum, one per term for none.
    pub fn forward<T: Float>(&self, x: &[T], k: usize, target: Target<T>, reduction: Reduction) -> Vec<T> {
        let n = x.len() / k;
        let count = self.count(n, k);
        let mut items = vec![T::ZERO; count];
        let sum = self.terms(x, k, target, Some(&mut items), None);
        match reduction {
            Reduction::None => items,
            Reduction::Sum => vec![T::from_f64(sum)],
            Reduction::Mean => vec![T::from_f64(sum / count as f64)],
        }
    }

    /// Gradient with respect to `x` given the gradient of the reduced loss.
    pub fn backward<T: Float>(
        &self,
        x: &[T],
        k: usize,
        target: Target<T>,
        reduction: Reduction,
        grad_output: &[T],
    ) -> Vec<T> {
        let n = x.len() / k;
        let mut grad = vec![T::ZERO; x.len()];
        self.terms(x, k, target, None, Some((&mut grad, T::ONE)));
        match reduction {
            Reduction::Mean => {
                let s = grad_output[0] / T::from_f64(self.count(n, k) as f64);
                grad.iter_mut().for_each(|g| *g *= s);
            }
            Reduction::Sum => grad.iter_mut().for_each(|g| *g *= grad_output[0]),
            Reduction::None => {
                let per_sample = *self == Loss::CrossEntropy;
                for (i, g) in grad.iter_mut().enumerate() {
                    *g *= grad_output[if per_sample { i / k } else { i }];
                }
            }
        }
        grad
    }
}
