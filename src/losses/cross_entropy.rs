//! Cross-entropy over class indices: `logsumexp(x) - x[target]` per sample; its derivative is
//! `softmax(x) - onehot(target)`.

use crate::engine::Float;

/// `x` is n×k logits, `labels` n class indices (checked to be < k by the caller).
pub fn compute<T: Float>(
    x: &[T],
    k: usize,
    labels: &[u32],
    mut items: Option<&mut [T]>,
    mut grad: Option<(&mut [T], T)>,
) -> f64 {
    let mut sum = 0.0;
    for (i, (row, &label)) in x.chunks_exact(k).zip(labels).enumerate() {
        let max = row.iter().copied().fold(T::NEG_INFINITY, T::max);
        let z: T = row.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + z.ln();
        let l = lse - row[label as usize];
        sum += l.to_f64();
        if let Some(items) = items.as_deref_mut() {
            items[i] = l;
        }
        if let Some((g, scale)) = grad.as_mut() {
            let inv_z = T::ONE / z;
            for (j, (gv, &v)) in g[i * k..(i + 1) * k].iter_mut().zip(row).enumerate() {
                let p = (v - max).exp() * inv_z;
                let onehot = if j == label as usize { T::ONE } else { T::ZERO };
                *gv = *scale * (p - onehot);
            }
        }
    }
    sum
}
