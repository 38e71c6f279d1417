//! The weight gradient of a Winograd-path convolution (3×3, stride 1, padding 1; see
//! `winograd::suits`) straight from the channels-last padded input the forward pass builds
//! (`winograd::to_hwc`), without im2col's columns or the GEMM's packing:
//!
//! ```text
//! dW[i][j][o][c] += Σ_(oh, ow) dY[o][oh][ow] · X[oh + i][ow + j][c]
//! ```
//!
//! Channels-last, X's 16 channels at one position are one vector, so for one kernel row i the
//! three taps j of 8 output channels are 24 register accumulators: per output position, three
//! vector loads of X and eight broadcasts of dY feed 24 FMAs. Each weight sums the positions
//! in order from zero, then adds the sum to the accumulator `acc`, in the generic code and in
//! the AVX-512 kernel alike (the tests hold them equal to the bit).

use super::im2col::Geometry;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
use super::simd::{f32s, f32s_mut};
use super::Float;

/// Length of the accumulator: 9 taps × O × C, laid out `[i·3 + j][o][c]`.
pub fn acc_len(g: &Geometry, out_c: usize) -> usize {
    9 * out_c * g.c
}

/// Adds one sample's weight gradient into `acc` (`acc_len`, `[tap][o][c]`), from its
/// channels-last padded input `xh` and its output gradient `dy` (O × H × W).
pub fn accumulate<T: Float>(g: &Geometry, out_c: usize, xh: &[T], dy: &[T], acc: &mut [T]) {
    debug_assert!(super::winograd::suits(g, out_c));
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (Some(xh), Some(dy), Some(acc)) = (f32s(xh), f32s(dy), f32s_mut(acc)) {
        return avx512::accumulate(g, out_c, xh, dy, acc);
    }
    accumulate_generic(g, out_c, xh, dy, acc)
}

fn accumulate_generic<T: Float>(g: &Geometry, out_c: usize, xh: &[T], dy: &[T], acc: &mut [T]) {
    let (c_n, wp, plane) = (g.c, g.w + 2, g.out_h * g.out_w);
    for tap in 0..9 {
        let (i, j) = (tap / 3, tap % 3);
        for c0 in (0..c_n).step_by(16) {
            for o in 0..out_c {
                let dyo = &dy[o * plane..][..plane];
                let mut sum = [T::ZERO; 16];
                for oh in 0..g.out_h {
                    for ow in 0..g.out_w {
                        let d = dyo[oh * g.out_w + ow];
                        let x = &xh[((oh + i) * wp + ow + j) * c_n + c0..][..16];
                        for (s, &xv) in sum.iter_mut().zip(x) {
                            *s = d.mul_add(xv, *s);
                        }
                    }
                }
                let a = &mut acc[(tap * out_c + o) * c_n + c0..][..16];
                for (a, s) in a.iter_mut().zip(&sum) {
                    *a += *s;
                }
            }
        }
    }
}

/// Adds `acc` (`[tap][o][c]`) into dW (O × C × 3 × 3).
pub fn add_to_weights<T: Float>(g: &Geometry, out_c: usize, acc: &[T], dw: &mut [T]) {
    for o in 0..out_c {
        for c in 0..g.c {
            for tap in 0..9 {
                dw[(o * g.c + c) * 9 + tap] += acc[(tap * out_c + o) * g.c + c];
            }
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use super::Geometry;
    use std::arch::x86_64::*;

    /// Output channels per register block.
    const OB: usize = 8;

    /// `super::accumulate` for f32: C a multiple of 16, O of 8 (as `winograd::suits` has it).
    pub fn accumulate(g: &Geometry, out_c: usize, xh: &[f32], dy: &[f32], acc: &mut [f32]) {
        let (c_n, wp, plane) = (g.c, g.w + 2, g.out_h * g.out_w);
        assert!(c_n.is_multiple_of(16) && out_c.is_multiple_of(OB));
        assert!(xh.len() >= super::super::winograd::hwc_len(g) && dy.len() >= out_c * plane);
        assert!(acc.len() >= super::acc_len(g, out_c));
        // SAFETY: X is read at rows oh + i ≤ H + 1 and columns ow + j ≤ W + 1 of the
        // (H+2) × (W+2) padded plane, dY inside O planes, acc inside its length (asserted).
        unsafe {
            for i in 0..3 {
                for c0 in (0..c_n).step_by(16) {
                    for o0 in (0..out_c).step_by(OB) {
                        let mut a = [[_mm512_setzero_ps(); OB]; 3];
                        for oh in 0..g.out_h {
                            let row = xh.as_ptr().add(((oh + i) * wp) * c_n + c0);
                            let d = dy.as_ptr().add(o0 * plane + oh * g.out_w);
                            for ow in 0..g.out_w {
                                let x: [__m512; 3] = std::array::from_fn(|j| _mm512_loadu_ps(row.add((ow + j) * c_n)));
                                for oo in 0..OB {
                                    let b = _mm512_set1_ps(*d.add(oo * plane + ow));
                                    for (aj, xj) in a.iter_mut().zip(&x) {
                                        aj[oo] = _mm512_fmadd_ps(b, *xj, aj[oo]);
                                    }
                                }
                            }
                        }
                        for (j, aj) in a.iter().enumerate() {
                            for (oo, v) in aj.iter().enumerate() {
                                let p = acc.as_mut_ptr().add(((3 * i + j) * out_c + o0 + oo) * c_n + c0);
                                _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), *v));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul, Mat};
    use crate::engine::im2col::im2col;
    use crate::engine::{winograd, Window};

    fn run<T: Float>(g: &Geometry, o: usize, x: &[T], dy: &[T], generic: bool) -> Vec<T> {
        let mut xh = vec![T::ZERO; winograd::hwc_len(g)];
        winograd::to_hwc(g, x, &mut xh);
        let mut acc = vec![T::ZERO; acc_len(g, o)];
        // Two samples' worth: the second adds onto the first.
        for _ in 0..2 {
            if generic {
                accumulate_generic(g, o, &xh, dy, &mut acc);
            } else {
                accumulate(g, o, &xh, dy, &mut acc);
            }
        }
        let mut dw = vec![T::ZERO; o * g.c * 9];
        add_to_weights(g, o, &acc, &mut dw);
        dw
    }

    fn case<T: Float>(c: usize, h: usize, w: usize, o: usize) -> (Geometry, Vec<T>, Vec<T>) {
        let win = Window::simple(3, 1, 1);
        let g = Geometry::new(c, h, w, win, win).unwrap();
        let x = (0..c * h * w).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
        let dy = (0..o * h * w).map(|i| T::from_f64((i as f64 * 0.23).cos())).collect();
        (g, x, dy)
    }

    /// Against twice dY·colsᵀ (im2col + GEMM): rounding in f32, exact to 1e-12 in f64.
    fn check<T: Float>() {
        for (c, h, w, o) in [(16, 14, 14, 32), (32, 6, 10, 64)] {
            let (g, x, dy) = case::<T>(c, h, w, o);
            let got = run(&g, o, &x, &dy, false);
            let mut cols = vec![T::ZERO; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            let mut want = vec![T::ZERO; o * g.col_rows()];
            matmul(&mut want, Mat::rows(&dy, o, g.col_cols()), Mat::rows(&cols, g.col_rows(), g.col_cols()).t(), false);
            let tol = if std::mem::size_of::<T>() == 4 { 1e-4 } else { 1e-11 };
            for (k, (a, e)) in got.iter().zip(&want).enumerate() {
                let e2 = e.to_f64() * 2.0;
                assert!((a.to_f64() - e2).abs() <= tol * (1.0 + e2.abs()), "{c}x{h}x{w}→{o} at {k}: {a} vs {e2}");
            }
        }
    }

    #[test]
    fn weight_gradient_matches_im2col_and_gemm() {
        check::<f32>();
        check::<f64>();
    }

    #[test]
    fn the_vector_kernel_equals_the_generic_code() {
        for (c, h, w, o) in [(16, 14, 14, 32), (32, 6, 10, 64)] {
            let (g, x, dy) = case::<f32>(c, h, w, o);
            let (a, b) = (run(&g, o, &x, &dy, false), run(&g, o, &x, &dy, true));
            assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()), "{c}x{h}x{w}→{o}");
        }
    }
}
