//! Linear (fully connected): `y = x Wᵀ + b` over the whole batch in one matrix product.

use crate::engine::gemm::{matmul, Mat};
use crate::engine::simd::{f32s, f32s_mut};
use crate::engine::{row_dots, Float};

#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub bias: bool,
}

impl Linear {
    pub fn weight_len(&self) -> usize {
        self.in_features * self.out_features
    }
    pub fn flops(&self) -> usize {
        2 * self.weight_len()
    }

    pub fn forward<T: Float>(&self, p: &[T], x: &[T], y: &mut [T], n: usize) {
        let (i_n, o_n) = (self.in_features, self.out_features);
        let (w, b) = p.split_at(self.weight_len());
        let y = &mut y[..n * o_n];
        if let (true, Some(xf), Some(wf), Some(bf)) = (row_dots::AVAILABLE, f32s(x), f32s(w), f32s(b)) {
            let yf = f32s_mut(y).expect("y has the element type of x");
            return row_dots::forward(yf, xf, wf, self.bias.then_some(bf), (n, i_n, o_n));
        }
        if self.bias {
            for row in y.chunks_exact_mut(o_n) {
                row.copy_from_slice(&b[..o_n]);
            }
        }
        matmul(y, Mat::rows(x, n, i_n), Mat::rows(w, o_n, i_n).t(), self.bias);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(&self, p: &[T], x: &[T], dy: &[T], dx: Option<&mut [T]>, dp: &mut [T], n: usize) {
        let (i_n, o_n) = (self.in_features, self.out_features);
        let (dw, db) = dp.split_at_mut(self.weight_len());
        matmul(dw, Mat::rows(dy, n, o_n).t(), Mat::rows(x, n, i_n), true);
        if self.bias && o_n < 8 {
            // Few outputs: each column summed in a register (the same order, sample by
            // sample), not through memory, where every add waited on the one before.
            for (j, b) in db.iter_mut().enumerate() {
                *b = dy[j..n * o_n].iter().step_by(o_n).fold(*b, |acc, &g| acc + g);
            }
        } else if self.bias {
            for row in dy[..n * o_n].chunks_exact(o_n) {
                for (b, &g) in db.iter_mut().zip(row) {
                    *b += g;
                }
            }
        }
        if let Some(dx) = dx {
            matmul(&mut dx[..n * i_n], Mat::rows(dy, n, o_n), Mat::rows(&p[..self.weight_len()], o_n, i_n), false);
        }
    }
}
