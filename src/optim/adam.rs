//! Adam and AdamW with PyTorch's semantics: Adam adds weight decay to the gradient, AdamW
//! shrinks the weights directly; eps is added after the bias-corrected square root.

use crate::engine::Float;

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
        let c = self.config;
        if self.m.is_empty() {
            self.m = vec![T::ZERO; params.len()];
            self.v = vec![T::ZERO; params.len()];
        }
        self.step += 1;
        // Scalars in f64, as Python computes them, then rounded once.
        let t = self.step as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        let step_size = T::from_f64(c.lr / bias1);
        let (b1w, b2, b2w) = (T::from_f64(1.0 - c.beta1), T::from_f64(c.beta2), T::from_f64(1.0 - c.beta2));
        let (wd, eps, b2s) = (T::from_f64(c.weight_decay), T::from_f64(c.eps), T::from_f64(bias2_sqrt));
        let shrink = T::from_f64(1.0 - c.lr * c.weight_decay);
        for i in 0..params.len() {
            let mut g = grads[i];
            if c.weight_decay != 0.0 {
                if c.decoupled {
                    params[i] *= shrink;
                } else {
                    g += wd * params[i];
                }
            }
            // torch's lerp_(g, w) with w = 1 - beta1 < 0.5: m + w·(g - m)
            let m = self.m[i] + b1w * (g - self.m[i]);
            let v = self.v[i] * b2 + b2w * g * g;
            self.m[i] = m;
            self.v[i] = v;
            let denom = v.sqrt() / b2s + eps;
            params[i] -= step_size * (m / denom);
        }
    }
}
