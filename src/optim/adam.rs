//! Adam and AdamW with PyTorch's semantics: Adam adds weight decay to the gradient, AdamW
//! shrinks the weights directly; eps is added after the bias-corrected square root.

use crate::engine::{flush_subnormal, Float};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: decay the weights directly instead of through the gradient.
    pub decoupled: bool,
}

#[derive(Clone, Debug)]
pub struct Adam<T> {
    pub config: AdamConfig,
    pub step: u64,
    pub m: Vec<T>,
    pub v: Vec<T>,
}

impl<T: Float> Adam<T> {
    pub fn new(config: AdamConfig) -> Self {
        Adam { config, step: 0, m: vec![], v: vec![] }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        let k = self.begin(params.len());
        k.update(params, grads, &mut self.m, &mut self.v);
    }

    /// Starts a step (counts it, creates the moments on the first): the scalars of `update`.
    pub fn begin(&mut self, len: usize) -> AdamStep<T> {
        let c = self.config;
        if self.m.is_empty() {
            self.m = vec![T::ZERO; len];
            self.v = vec![T::ZERO; len];
        }
        self.step += 1;
        // Scalars in f64, as Python computes them, then rounded once.
        let t = self.step as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        AdamStep {
            step_size: T::from_f64(c.lr / bias1),
            b1w: T::from_f64(1.0 - c.beta1),
            b2: T::from_f64(c.beta2),
            b2w: T::from_f64(1.0 - c.beta2),
            wd: T::from_f64(c.weight_decay),
            eps: T::from_f64(c.eps),
            b2s: T::from_f64(bias2_sqrt),
            shrink: T::from_f64(1.0 - c.lr * c.weight_decay),
            decay: c.weight_decay != 0.0,
            decoupled: c.decoupled,
        }
    }
}

/// One step's scalars; `update` applies them to any range of the parameters.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep<T> {
    step_size: T,
    b1w: T,
    b2: T,
    b2w: T,
    wd: T,
    eps: T,
    b2s: T,
    shrink: T,
    decay: bool,
    decoupled: bool,
}

impl<T: Float> AdamStep<T> {
    /// Updates `params` and the moments `m`, `v` (same ranges) from `grads`.
    pub fn update(&self, params: &mut [T], grads: &[T], m: &mut [T], v: &mut [T]) {
        let k = *self;
        for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
            let mut g = g;
            if k.decay {
                if k.decoupled {
                    *p *= k.shrink;
                } else {
                    g += k.wd * *p;
                }
            }
            // torch's lerp_(g, w) with w = 1 - beta1 < 0.5: m + w·(g - m)
            *m = flush_subnormal(*m + k.b1w * (g - *m));
            *v = flush_subnormal(*v * k.b2 + k.b2w * g * g);
            let denom = v.sqrt() / k.b2s + k.eps;
            *p -= k.step_size * (*m / denom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the gradient stays zero the moments decay by beta each step; they must reach zero
    /// rather than linger as subnormals (about a hundred cycles per operation on x86).
    #[test]
    fn decaying_moments_flush_to_zero_instead_of_going_subnormal() {
        let config = AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false };
        let mut adam = Adam::<f32>::new(config);
        let mut p = [1.0f32];
        adam.step(&mut p, &[1.0]);
        for _ in 0..2000 {
            adam.step(&mut p, &[0.0]);
            for v in [adam.m[0], adam.v[0]] {
                assert!(v == 0.0 || v.is_normal(), "subnormal moment {v:e}");
            }
        }
        assert_eq!(adam.m[0], 0.0, "0.9^2000 is far below the smallest normal f32");
    }
}
