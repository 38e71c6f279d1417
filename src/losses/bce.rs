//! Binary cross-entropy on logits, in the stable form
//! `max(x, 0) - x·t + ln(1 + e^{-|x|})`, whose derivative is `σ(x) - t`.

use crate::engine::Float;
use crate::layers::activation::sigmoid;

pub fn compute<T: Float>(x: &[T], t: &[T], mut items: Option<&mut [T]>, mut grad: Option<(&mut [T], T)>) -> f64 {
    let mut sum = 0.0;
    for (i, (&xv, &tv)) in x.iter().zip(t).enumerate() {
        let l = xv.max(T::ZERO) - xv * tv + (-xv.abs()).exp().ln_1p();
        sum += l.to_f64();
        if let Some(items) = items.as_deref_mut() {
            items[i] = l;
        }
        if let Some((g, scale)) = grad.as_mut() {
            g[i] = *scale * (sigmoid(xv) - tv);
        }
    }
    sum
}
