//! The gradient methods: the backward pass from one output to the input (and to one layer's
//! output, for Grad-CAM), and gradient, saliency, smoothgrad and input × gradient built on it.

use super::channels_and_positions;
use crate::engine::{Dims, Float};
use crate::layers::Mode;
use crate::model::{Model, Workspace};
use crate::rng::Rng;

/// One sample forward and back from `output[target]`, in evaluation mode.
pub struct Backprop<T> {
    pub outputs: Vec<T>,
    /// `∂ output[target] / ∂ input`, in the input's layout.
    pub input_grad: Vec<T>,
    /// The asked-for layer's output and `∂ output[target]` / ∂ that output.
    pub layer: Option<(Vec<T>, Vec<T>)>,
}

/// Back-propagates `output[target]` of sample `x` (unit upstream gradient on that output),
/// keeping the input gradient and, when `layer` is given, that layer's activation and gradient.
pub fn backprop<T: Float>(model: &Model<T>, x: &[T], target: usize, layer: Option<usize>) -> Backprop<T> {
    // Unfused, so a ReLU that a max-pool follows has its own output gradient.
    let mut ws = Workspace::new(model, 1, true).unfused(model);
    ws.forward(model, x, 1, Mode::Eval, Default::default());
    let outputs = ws.output(model).to_vec();
    let upstream = ws.output_grad_mut(model);
    upstream.fill(T::ZERO);
    upstream[target] = T::ONE;
    ws.backward(model, x, Mode::Eval);
    let input_grad = ws.input_grad(model).expect("the workspace keeps the input gradient").to_vec();
    let layer = layer.map(|i| (ws.activation(i, model).to_vec(), ws.layer_grad(i, model).to_vec()));
    Backprop { outputs, input_grad, layer }
}

/// `∂ output[target] / ∂ input`.
pub fn gradient(model: &Model<f32>, x: &[f32], target: usize) -> Vec<f32> {
    backprop(model, x, target, None).input_grad
}

/// Max over channels of |g| at each position.
pub fn saliency_of(g: &[f32], input: Dims) -> Vec<f32> {
    let (c, p) = channels_and_positions(input);
    (0..p).map(|i| (0..c).map(|k| g[k * p + i].abs()).fold(0.0, f32::max)).collect()
}

/// The mean saliency over `samples` copies of `x` with Gaussian noise of σ = `noise` × (max − min
/// of x) added, drawn from `seed`. With zero noise it is the saliency.
pub fn smoothgrad(model: &Model<f32>, x: &[f32], target: usize, samples: usize, noise: f32, seed: u64) -> Vec<f32> {
    let (lo, hi) = x.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let sigma = (noise * (hi - lo)) as f64;
    let mut rng = Rng::new(seed);
    let mut sum = vec![0f64; channels_and_positions(model.input).1];
    let mut noisy = x.to_vec();
    for _ in 0..samples {
        for (n, &v) in noisy.iter_mut().zip(x) {
            *n = v + (sigma * rng.normal()) as f32;
        }
        let s = saliency_of(&gradient(model, &noisy, target), model.input);
        sum.iter_mut().zip(&s).for_each(|(a, &b)| *a += b as f64);
    }
    sum.iter().map(|&v| (v / samples as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saliency_takes_the_largest_magnitude_over_channels() {
        // 2 channels × 3 positions.
        let g = [1.0, -4.0, 0.5, -2.0, 3.0, 0.0];
        assert_eq!(saliency_of(&g, Dims::signal(2, 3)), [2.0, 4.0, 0.5]);
        // A flat input is one channel: its values are its positions.
        assert_eq!(saliency_of(&g, Dims::flat(6)), [1.0, 4.0, 0.5, 2.0, 3.0, 0.0]);
    }
}
