//! SGD with PyTorch's semantics: weight decay is added to the gradient before momentum, the
//! momentum buffer starts as the first gradient, dampening applies from the second step.

use crate::engine::{flush_subnormal, Float};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

#[derive(Clone, Debug)]
pub struct Sgd<T> {
    pub config: SgdConfig,
    /// Momentum buffer; empty until the first step.
    pub buffer: Vec<T>,
}

impl<T: Float> Sgd<T> {
    pub fn new(config: SgdConfig) -> Self {
        Sgd { config, buffer: vec![] }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        let k = self.begin(params.len());
        k.update(params, grads, &mut self.buffer);
    }

    /// Starts a step (creates the momentum buffer on the first): the scalars of `update`.
    pub fn begin(&mut self, len: usize) -> SgdStep<T> {
        let c = self.config;
        let first = self.buffer.is_empty();
        if c.momentum != 0.0 && first {
            self.buffer = vec![T::ZERO; len];
        }
        SgdStep {
            lr: T::from_f64(c.lr),
            wd: T::from_f64(c.weight_decay),
            mom: T::from_f64(c.momentum),
            damp: T::from_f64(1.0 - c.dampening),
            first,
            decay: c.weight_decay != 0.0,
            momentum: c.momentum != 0.0,
            nesterov: c.nesterov,
        }
    }
}

/// One step's scalars; `update` applies them to any range of the parameters.
#[derive(Clone, Copy, Debug)]
pub struct SgdStep<T> {
    lr: T,
    wd: T,
    mom: T,
    damp: T,
    first: bool,
    decay: bool,
    momentum: bool,
    nesterov: bool,
}

impl<T: Float> SgdStep<T> {
    /// Updates `params` and the momentum `buffer` (same range; empty without momentum).
    pub fn update(&self, params: &mut [T], grads: &[T], buffer: &mut [T]) {
        let k = *self;
        for (i, (p, &g)) in params.iter_mut().zip(grads).enumerate() {
            let mut d = g;
            if k.decay {
                d += k.wd * *p;
            }
            if k.momentum {
                let b = &mut buffer[i];
                *b = flush_subnormal(if k.first { d } else { k.mom * *b + k.damp * d });
                d = if k.nesterov { d + k.mom * *b } else { *b };
            }
            *p -= k.lr * d;
        }
    }
}
