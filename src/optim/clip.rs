//! Gradient clipping by global norm (`--clip-grad-norm`), PyTorch's
//! `torch.nn.utils.clip_grad_norm_(params, max_norm)` with `norm_type=2`: the 2-norm of all the
//! gradients together, and every gradient scaled by `max_norm / (norm + 1e-6)` when that is
//! below 1.
//!
//! The squares are summed in one fixed order in f64, so the result does not depend on the
//! number of threads; PyTorch sums per tensor in float32, which agrees to float32 rounding.

use crate::engine::Float;

/// PyTorch's guard against a zero norm.
const EPS: f32 = 1e-6;

/// Scales `grads` in place so that their global 2-norm is at most `max_norm`; returns the
/// norm before clipping.
pub fn clip_grad_norm<T: Float>(grads: &mut [T], max_norm: f64) -> f64 {
    let total = grads.iter().map(|&g| g.to_f64() * g.to_f64()).sum::<f64>().sqrt();
    // The coefficient in float32, as PyTorch computes it on float32 tensors.
    let coef = (max_norm as f32 / (total as f32 + EPS)).min(1.0);
    if coef < 1.0 {
        let c = T::from_f64(coef as f64);
        grads.iter_mut().for_each(|g| *g *= c);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_to_the_norm_computed_by_hand() {
        // |(3, 4)| = 5; max_norm 1 scales by 1 / (5 + 1e-6).
        let mut g = vec![3.0f32, 0.0, 4.0];
        let norm = clip_grad_norm(&mut g, 1.0);
        assert_eq!(norm, 5.0);
        let c = 1.0f32 / (5.0 + 1e-6);
        assert_eq!(g, [3.0 * c, 0.0, 4.0 * c]);
        let after = (g[0] as f64).hypot(g[2] as f64);
        assert!((after - 1.0).abs() < 1e-6, "{after}");
    }

    #[test]
    fn gradients_within_the_norm_are_left_alone() {
        let mut g = vec![0.3f32, -0.4];
        assert!((clip_grad_norm(&mut g, 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(g, [0.3, -0.4]);
        let mut zero = vec![0.0f32; 4];
        assert_eq!(clip_grad_norm(&mut zero, 0.0), 0.0);
        assert_eq!(zero, [0.0; 4]);
    }
}
