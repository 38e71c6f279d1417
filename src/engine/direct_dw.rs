//! The weight gradient of a stride-1 convolution with few inputs per output (a first layer:
//! mnist-lab's 8 filters of 5×5 over 28×28 images, SimpleCNN's 16 of 3×3), straight from the
//! direct path's zero-padded input plane and dY laid on its extended grid (`engine::direct`):
//!
//! ```text
//! dWᵀ[tap][o] += Σ_q dY[o][q] · xpad[q + offset(tap)]      (q = oh·wp + ow)
//! ```
//!
//! im2col would copy the input once per tap (25 copies of the image for a 5×5 kernel) and the
//! GEMM would pack them again; here each tap is a shifted read of one plane that stays in L1.
//! dY is zero in the grid's junk columns, so they add nothing.
//!
//! Each weight keeps `LANES` partial sums, by position mod `LANES`, across the whole batch:
//! sample after sample, positions in increasing order, one fused multiply-add each. The
//! partial sums are added up once per batch (`sum_into_weights`), so the result depends
//! neither on the chunking nor on the threads, and the generic code and the AVX-512 kernel
//! give the same bits (the tests hold them equal).

use super::direct::Plan;
use super::im2col::Geometry;
use super::{simd, sum_lanes, Float};

/// Partial sums per weight: one vector.
pub const LANES: usize = 16;
/// Up to this many inputs per output (C·kh·kw) the path is used.
const MAX_TAPS: usize = 32;

/// Whether this path computes the weight gradient: a direct-path geometry (`direct::suits`)
/// with few taps, on a build with the AVX-512 kernel (elsewhere im2col + GEMM is faster than
/// the generic loop).
pub fn suits(g: &Geometry) -> bool {
    simd::AVX512 && super::direct::suits(g) && g.col_rows() <= MAX_TAPS
}

/// Length of the partial sums: `LANES` per weight, in dWᵀ order (`[tap][o]`).
pub fn acc_len(g: &Geometry, out_c: usize) -> usize {
    g.col_rows() * out_c * LANES
}

/// Length of one sample's dY on the extended grid (`out_c` planes of `ext_stride`).
pub fn dy_ext_len(p: &Plan, out_c: usize) -> usize {
    p.ext_total(out_c)
}

/// Lays one sample's dY (O × out_h × out_w) on the extended grid. Only the outputs are
/// written: the junk columns and the grid's tail keep the zeros `dy_ext` was allocated with.
pub fn lay_out_dy<T: Float>(g: &Geometry, p: &Plan, out_c: usize, dy: &[T], dy_ext: &mut [T]) {
    for (o, plane) in dy.chunks_exact(g.out_h * g.out_w).take(out_c).enumerate() {
        for (oh, row) in plane.chunks_exact(g.out_w).enumerate() {
            super::copy_row(row, &mut dy_ext[o * p.ext_stride + oh * p.wp..][..g.out_w]);
        }
    }
}

/// Adds one sample's products into `acc` (`acc_len`), from its padded input `xpad`
/// (`direct::pad_input`) and its dY on the extended grid (`lay_out_dy`).
pub fn accumulate<T: Float>(g: &Geometry, p: &Plan, out_c: usize, xpad: &[T], dy_ext: &[T], acc: &mut [T]) {
    let offs = p.tap_offsets(g);
    let n = p.ext_stride;
    assert!(n.is_multiple_of(LANES) && dy_ext.len() >= out_c * n && acc.len() >= acc_len(g, out_c));
    if let (true, Some(x), Some(d), Some(a)) = (simd::AVX512, simd::f32s(xpad), simd::f32s(dy_ext), simd::f32s_mut(acc))
    {
        return simd::direct_dw(offs, out_c, n, x, d, a);
    }
    for (t, &off) in offs.iter().enumerate() {
        for o in 0..out_c {
            let sums = &mut acc[(t * out_c + o) * LANES..][..LANES];
            for (q, (&d, &x)) in dy_ext[o * n..(o + 1) * n].iter().zip(&xpad[off..off + n]).enumerate() {
                sums[q % LANES] = d.mul_add(x, sums[q % LANES]);
            }
        }
    }
}

/// Adds the batch's partial sums to dW (O × C·kh·kw).
pub fn sum_into_weights<T: Float>(g: &Geometry, out_c: usize, acc: &[T], dw: &mut [T]) {
    let taps = g.col_rows();
    for (o, row) in dw.chunks_exact_mut(taps).take(out_c).enumerate() {
        for (t, d) in row.iter_mut().enumerate() {
            *d += sum_lanes(&acc[(t * out_c + o) * LANES..][..LANES]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul_col_major, Mat};
    use crate::engine::im2col::im2col;
    use crate::engine::{direct, Window};

    /// Against im2col + GEMM, over 3 samples; and the AVX-512 kernel against the generic loop.
    #[test]
    fn direct_weight_gradient_matches_im2col_and_gemm() {
        let cases = [(1, 28, 28, 5, 2, 8), (1, 12, 10, 3, 1, 16), (3, 9, 7, 3, 1, 5), (2, 6, 11, 2, 0, 3)];
        for (c, h, w, k, pad, o) in cases {
            let win = Window::simple(k, 1, pad);
            let g = Geometry::new(c, h, w, win, win).unwrap();
            assert_eq!(suits(&g), simd::AVX512, "{c}x{h}x{w} k{k} suits on AVX-512 builds only");
            if !suits(&g) {
                continue;
            }
            let (n, rows, cols_n) = (3, g.col_rows(), g.col_cols());
            let x: Vec<f32> = (0..n * c * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
            let dy: Vec<f32> = (0..n * o * cols_n).map(|i| (i as f32 * 0.53).cos()).collect();
            let mut want = vec![0.0f32; rows * o];
            let mut cols = vec![0.0; rows * cols_n];
            for i in 0..n {
                im2col(&g, &x[i * c * h * w..][..c * h * w], &mut cols);
                let dyi = Mat::rows(&dy[i * o * cols_n..][..o * cols_n], o, cols_n);
                matmul_col_major(&mut want, dyi, Mat::rows(&cols, rows, cols_n).t(), true);
            }
            let p = direct::plan(&g);
            let (mut xpad, mut dy_ext) = (vec![0.0; p.xpad_len(c)], vec![0.0; dy_ext_len(&p, o)]);
            let (mut acc, mut generic) = (vec![0.0; acc_len(&g, o)], vec![0.0f64; acc_len(&g, o)]);
            let (mut xpad64, mut dy_ext64) = (vec![0.0f64; p.xpad_len(c)], vec![0.0f64; dy_ext_len(&p, o)]);
            for i in 0..n {
                direct::pad_input(&g, &p, &x[i * c * h * w..][..c * h * w], &mut xpad);
                lay_out_dy(&g, &p, o, &dy[i * o * cols_n..][..o * cols_n], &mut dy_ext);
                accumulate(&g, &p, o, &xpad, &dy_ext, &mut acc);
                // The generic loop, in f64 on the same f32 values.
                xpad64.iter_mut().zip(&xpad).for_each(|(a, &b)| *a = b as f64);
                dy_ext64.iter_mut().zip(&dy_ext).for_each(|(a, &b)| *a = b as f64);
                accumulate(&g, &p, o, &xpad64, &dy_ext64, &mut generic);
            }
            let mut got = vec![0.0f32; o * rows];
            sum_into_weights(&g, o, &acc, &mut got);
            let mut got64 = vec![0.0f64; o * rows];
            sum_into_weights(&g, o, &generic, &mut got64);
            for oi in 0..o {
                for t in 0..rows {
                    let (a, b, e) = (got[oi * rows + t], want[t * o + oi], got64[oi * rows + t]);
                    assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{c}x{h}x{w} k{k}: ({oi}, {t}) {a} vs {b}");
                    assert!((a as f64 - e).abs() <= 1e-4 * (1.0 + e.abs()), "({oi}, {t}) {a} vs f64 {e}");
                }
            }
        }
    }

    /// The AVX-512 kernel and the generic loop, both in f32: the same bits.
    #[test]
    fn vector_kernel_equals_the_generic_loop() {
        let win = Window::simple(5, 1, 2);
        let g = Geometry::new(1, 9, 13, win, win).unwrap();
        if !suits(&g) {
            return;
        }
        let (o, p) = (6, direct::plan(&g));
        let xpad: Vec<f32> = (0..p.xpad_len(1)).map(|i| (i as f32 * 0.71).sin()).collect();
        let dy: Vec<f32> = (0..dy_ext_len(&p, o)).map(|i| (i as f32 * 0.29).cos()).collect();
        let mut fast = vec![0.25f32; acc_len(&g, o)];
        let mut slow = fast.clone();
        accumulate(&g, &p, o, &xpad, &dy, &mut fast);
        for (t, &off) in p.tap_offsets(&g).iter().enumerate() {
            for oi in 0..o {
                let sums = &mut slow[(t * o + oi) * LANES..][..LANES];
                for q in 0..p.ext_stride {
                    sums[q % LANES] = dy[oi * p.ext_stride + q].mul_add(xpad[off + q], sums[q % LANES]);
                }
            }
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast), bits(&slow));
    }
}
