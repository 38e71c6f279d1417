//! SGD with PyTorch's semantics: weight decay is added to the gradient before momentum, the
//! momentum buffer starts as the first gradient, dampening applies from the second step.

use crate::engine::Float;

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
        let c = self.config;
        let (lr, wd, mom) = (T::from_f64(c.lr), T::from_f64(c.weight_decay), T::from_f64(c.momentum));
        let damp = T::from_f64(1.0 - c.dampening);
        let first = self.buffer.is_empty();
        if c.momentum != 0.0 && first {
            self.buffer = vec![T::ZERO; params.len()];
        }
        for i in 0..params.len() {
            let mut d = grads[i];
            if c.weight_decay != 0.0 {
                d += wd * params[i];
            }
            if c.momentum != 0.0 {
                let b = &mut self.buffer[i];
                *b = if first { d } else { mom * *b + damp * d };
                d = if c.nesterov { d + mom * *b } else { *b };
            }
            params[i] -= lr * d;
        }
    }
}
