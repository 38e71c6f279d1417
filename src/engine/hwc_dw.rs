//! The weight gradient of a Winograd-path convolution (3×3, stride 1, padding 1; see
//! `winograd::suits`) straight from the channels-last padded input the forward pass builds
//! (`winograd::to_hwc`), without im2col's columns or the GEMM's packing:
//!
//! ```text
//! dW[i][j][o][c] += Σ_(oh, ow) dY[o][oh][ow] · X[oh + i][ow + j][c]
//! ```
//!
//! Only dY's nonzero entries are summed. Behind a ReLU and a 2×2 max-pool (SimpleCNN's
//! second conv) at most one position in four has a gradient, so the kernel first lists each
//! output channel's nonzero entries (`engine::nonzeros`: a vector compare and compress per
//! 16 positions) and then
//! runs over the list: per entry one broadcast of dY and, channels-last, 9 vector loads of X
//! (16 channels each) feeding 9 FMAs into register accumulators. The dense loop it replaced
//! spent three quarters of its FMAs on zeros (measured at the FMA peak on SimpleCNN).
//!
//! Each weight sums its entries in position order from zero, then adds the sum to the
//! accumulator `acc`, in the generic code and in the AVX-512 kernel alike (the tests hold them
//! equal to the bit). A skipped zero would have added `0·x = ±0`, which leaves a sum started
//! from +0 unchanged, so for finite X the result is the dense sum's to the bit; a zero dY
//! against an infinite or NaN input is the one case where the dense sum would be NaN instead.

use super::im2col::Geometry;
use super::nonzeros::{self, Nonzeros};
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
use super::simd::{f32s, f32s_mut};
use super::Float;

/// Length of the accumulator: 9 taps × O × C, laid out `[i·3 + j][o][c]`.
pub fn acc_len(g: &Geometry, out_c: usize) -> usize {
    9 * out_c * g.c
}

/// Length of each of the two lists of a sample's nonzero dY entries `accumulate` reads (all
/// O planes' lists, `nonzeros::list_planes`).
pub fn list_len(g: &Geometry, out_c: usize) -> usize {
    out_c * Nonzeros::<f32>::len_for(g.out_h * g.out_w)
}

/// Lists one sample's nonzero dY entries (O × H × W) per output channel into `list`
/// (`list_len`) and `counts` (O): each entry's window start in the channels-last input
/// (`(oh·(W + 2) + ow)·C`) and its value. Returns their total.
pub fn list_nonzeros<T: Float>(
    g: &Geometry,
    out_c: usize,
    dy: &[T],
    list: &mut Nonzeros<T>,
    counts: &mut [usize],
) -> usize {
    nonzeros::list_planes(dy, (out_c, g.out_h, g.out_w), (g.w + 2, g.c), list, counts)
}

/// Adds one sample's weight gradient into `acc` (`acc_len`, `[tap][o][c]`), from its
/// channels-last padded input `xh` and its nonzero dY entries (`list_nonzeros`).
pub fn accumulate<T: Float>(
    g: &Geometry,
    out_c: usize,
    xh: &[T],
    (list, counts): (&Nonzeros<T>, &[usize]),
    acc: &mut [T],
) {
    debug_assert!(super::winograd::suits(g, out_c));
    assert!(xh.len() >= super::winograd::hwc_len(g) && acc.len() >= acc_len(g, out_c));
    for o in 0..out_c {
        let entries = nonzeros::entries(list, counts, g.out_h * g.out_w, o);
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        if let (Some(xh), Some(value), Some(acc)) = (f32s(xh), f32s(entries.1), f32s_mut(acc)) {
            avx512::add_window_sums(g, xh, (entries.0, value), (o, out_c), acc);
            continue;
        }
        add_window_sums_generic(g, xh, entries, (o, out_c), acc);
    }
}

/// For output channel `o`'s listed entries, each weight's sum of `value · X[window + tap][c]`
/// from zero in list order, added to `acc[tap][o][c]`.
fn add_window_sums_generic<T: Float>(
    g: &Geometry,
    xh: &[T],
    (at, value): (&[u32], &[T]),
    (o, out_c): (usize, usize),
    acc: &mut [T],
) {
    let (c_n, wp) = (g.c, g.w + 2);
    for tap in 0..9 {
        let off = ((tap / 3) * wp + tap % 3) * c_n;
        for c in 0..c_n {
            let mut sum = T::ZERO;
            for (&start, &d) in at.iter().zip(value) {
                sum = d.mul_add(xh[start as usize + off + c], sum);
            }
            acc[(tap * out_c + o) * c_n + c] += sum;
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

    /// `super::add_window_sums_generic` for f32, C a multiple of 16 (as `winograd::suits`
    /// has it): 32 channels at a time, 9 taps × 2 vectors of register accumulators.
    pub fn add_window_sums(
        g: &Geometry,
        xh: &[f32],
        entries: (&[u32], &[f32]),
        (o, out_c): (usize, usize),
        acc: &mut [f32],
    ) {
        let (c_n, wp) = (g.c, g.w + 2);
        assert!(c_n.is_multiple_of(16));
        let taps: [usize; 9] = std::array::from_fn(|t| ((t / 3) * wp + t % 3) * c_n);
        for c0 in (0..c_n).step_by(32) {
            if c_n - c0 >= 32 {
                add_sums::<2>(xh, entries, &taps, (o, c0), (out_c, c_n), acc);
            } else {
                add_sums::<1>(xh, entries, &taps, (o, c0), (out_c, c_n), acc);
            }
        }
    }

    /// For the listed entries of output channel `o`, each tap's sum of
    /// `value · X[window + tap][c0..c0 + 16·V]` from zero in list order (9·V register
    /// accumulators), added to `acc[tap][o][c0..]`.
    #[inline(always)]
    fn add_sums<const V: usize>(
        xh: &[f32],
        (at, value): (&[u32], &[f32]),
        taps: &[usize; 9],
        (o, c0): (usize, usize),
        (out_c, c_n): (usize, usize),
        acc: &mut [f32],
    ) {
        let last = at.iter().fold(0, |m, &a| m.max(a)) as usize + taps[8] + c0 + 16 * V;
        assert!(last <= xh.len() && value.len() == at.len() && c0 + 16 * V <= c_n);
        assert!(acc.len() >= 9 * out_c * c_n && o < out_c);
        // SAFETY: every load of X ends at most at `last` ≤ xh.len(), and every accumulator's
        // 16 values lie inside acc (asserted above).
        unsafe {
            let mut a = [[_mm512_setzero_ps(); V]; 9];
            for (&start, &d) in at.iter().zip(value) {
                let (b, p) = (_mm512_set1_ps(d), xh.as_ptr().add(start as usize + c0));
                for (at, &off) in a.iter_mut().zip(taps) {
                    for (v, av) in at.iter_mut().enumerate() {
                        *av = _mm512_fmadd_ps(b, _mm512_loadu_ps(p.add(off + 16 * v)), *av);
                    }
                }
            }
            for (t, at) in a.iter().enumerate() {
                for (v, av) in at.iter().enumerate() {
                    let p = acc.as_mut_ptr().add((t * out_c + o) * c_n + c0 + 16 * v);
                    _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), *av));
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
        let (mut at, mut value, mut counts) = (vec![0; list_len(g, o)], vec![T::ZERO; list_len(g, o)], vec![0; o]);
        let mut list = Nonzeros { at: &mut at, value: &mut value };
        list_nonzeros(g, o, dy, &mut list, &mut counts);
        // Two samples' worth: the second adds onto the first.
        for _ in 0..2 {
            if generic {
                // The generic sums on the same lists, in f64 when T is f64 and on f32 otherwise.
                for oc in 0..o {
                    let entries = nonzeros::entries(&list, &counts, g.out_h * g.out_w, oc);
                    add_window_sums_generic(g, &xh, entries, (oc, o), &mut acc);
                }
            } else {
                accumulate(g, o, &xh, (&list, &counts), &mut acc);
            }
        }
        let mut dw = vec![T::ZERO; o * g.c * 9];
        add_to_weights(g, o, &acc, &mut dw);
        dw
    }

    /// SimpleCNN's second conv, a wider one and one whose C (48) ends in a single vector; dY
    /// dense, or zero but at one position in four and where a ReLU would have cut it (as
    /// behind a ReLU and a 2×2 pool).
    const CASES: [(usize, usize, usize, usize); 3] = [(16, 14, 14, 32), (32, 6, 10, 64), (48, 4, 6, 8)];

    fn case<T: Float>((c, h, w, o): (usize, usize, usize, usize), sparse: bool) -> (Geometry, Vec<T>, Vec<T>) {
        let win = Window::simple(3, 1, 1);
        let g = Geometry::new(c, h, w, win, win).unwrap();
        let x = (0..c * h * w).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
        let dy = (0..o * h * w)
            .map(|i| {
                let v = (i as f64 * 0.23).cos();
                let winner = (i * 7 + i / w) % 4 == 0 && (i as f64 * 0.11).sin() > -0.3;
                T::from_f64(if sparse && !winner { 0.0 } else { v })
            })
            .collect();
        (g, x, dy)
    }

    /// Against twice dY·colsᵀ (im2col + GEMM): rounding in f32, exact to 1e-12 in f64.
    fn check<T: Float>() {
        for (shape, sparse) in CASES.iter().flat_map(|&s| [(s, false), (s, true)]) {
            let (c, h, w, o) = shape;
            let (g, x, dy) = case::<T>(shape, sparse);
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

    /// The list kernel against the generic loop, to the bit, dense and sparse, and with a NaN
    /// in dY (kept, as a nonzero) and one in X (which meets zero gradients and is skipped by
    /// both).
    #[test]
    fn the_vector_kernel_equals_the_generic_code() {
        for (shape, sparse) in CASES.iter().flat_map(|&s| [(s, false), (s, true)]) {
            let (g, mut x, mut dy) = case::<f32>(shape, sparse);
            let (a, b) = (run(&g, shape.3, &x, &dy, false), run(&g, shape.3, &x, &dy, true));
            assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()), "{shape:?}");
            dy[5] = f32::NAN;
            x[3] = f32::NAN;
            let (a, b) = (run(&g, shape.3, &x, &dy, false), run(&g, shape.3, &x, &dy, true));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{shape:?} with NaNs");
            assert!(a.iter().any(|v| v.is_nan()), "the NaN in dY reaches dW");
        }
    }

    /// Skipping dY's zeros leaves the dense sum unchanged to the bit for finite X.
    #[test]
    fn skipping_zero_gradients_changes_no_bit() {
        for shape in CASES {
            let (g, x, dy) = case::<f32>(shape, true);
            let (c_n, wp, plane, o_n) = (g.c, g.w + 2, g.out_h * g.out_w, shape.3);
            let mut xh = vec![0.0; winograd::hwc_len(&g)];
            winograd::to_hwc(&g, &x, &mut xh);
            let got = run(&g, o_n, &x, &dy, true);
            let mut acc = vec![0f32; acc_len(&g, o_n)];
            for _ in 0..2 {
                for tap in 0..9 {
                    for o in 0..o_n {
                        for c in 0..c_n {
                            let mut s = 0f32;
                            for q in 0..plane {
                                let (oh, ow) = (q / g.out_w, q % g.out_w);
                                s = dy[o * plane + q].mul_add(xh[((oh + tap / 3) * wp + ow + tap % 3) * c_n + c], s);
                            }
                            acc[(tap * o_n + o) * c_n + c] += s;
                        }
                    }
                }
            }
            let mut want = vec![0.0; o_n * c_n * 9];
            add_to_weights(&g, o_n, &acc, &mut want);
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{shape:?}");
        }
    }
}
