//! Mean squared error: `(x - t)²` per element.

use crate::engine::Float;

/// Adds `(x - t)²` of each element to the returned sum; writes `scale · 2(x - t)` into `grad`
/// and the per-element loss into `items` when given.
pub fn compute<T: Float>(x: &[T], t: &[T], mut items: Option<&mut [T]>, mut grad: Option<(&mut [T], T)>) -> f64 {
    let two = T::from_f64(2.0);
    let mut sum = 0.0;
    for (i, (&xv, &tv)) in x.iter().zip(t).enumerate() {
        let d = xv - tv;
        sum += (d * d).to_f64();
        if let Some(items) = items.as_deref_mut() {
            items[i] = d * d;
        }
        if let Some((g, scale)) = grad.as_mut() {
            g[i] = *scale * two * d;
        }
    }
    sum
}
