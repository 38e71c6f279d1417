//! The input gradient of a Winograd-path convolution (3×3, stride 1, padding 1; see
//! `winograd::suits`) from dY's nonzero entries, when there are few: behind a ReLU and a 2×2
//! max-pool (SimpleCNN's second conv) at most one position in four has a gradient. Each
//! listed entry (`hwc_dw::list_nonzeros`, the lists the weight gradient reads too) adds its
//! window of `dY · W` into dX, channels-last and zero-padded as `winograd::to_hwc` lays out X:
//!
//! ```text
//! dXh[oh + i][ow + j][c] += dY[o][oh][ow] · W[o][c][i][j]
//! ```
//!
//! (the border collects the taps that fall on padding, and `winograd::from_hwc` drops it).
//! Per entry 9 vector loads, FMAs and stores of 16 channels, the channel's weights in
//! registers. The Winograd input gradient costs 4 multiplies per position and channel pair,
//! dense; this costs 9 per nonzero entry, so a sample takes it when at most a third of its dY
//! is nonzero (`prefers_scatter`). Entries are added channel after channel in a fixed order
//! (list order, or the list's quarters interleaved in the vector kernel): the result depends
//! on the sample alone.

use super::im2col::Geometry;
use super::nonzeros::{self, Nonzeros};
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
use super::simd::{f32s, f32s_mut};
use super::Float;

/// Length of the weights laid out tap-major (`arrange`): O × 9 × C.
pub fn arranged_len(g: &Geometry, out_c: usize) -> usize {
    out_c * 9 * g.c
}

/// `wt[o][tap][c] = w[o][c][tap]` (w: O × C × 3 × 3), so that one tap's C weights are adjacent.
pub fn arrange<T: Float>(g: &Geometry, out_c: usize, w: &[T], wt: &mut [T]) {
    for o in 0..out_c {
        for c in 0..g.c {
            for tap in 0..9 {
                wt[(o * 9 + tap) * g.c + c] = w[(o * g.c + c) * 9 + tap];
            }
        }
    }
}

/// Whether a sample whose dY (O planes) has `nonzero` nonzero entries takes `scatter`: at most
/// a third of them.
pub fn prefers_scatter(g: &Geometry, out_c: usize, nonzero: usize) -> bool {
    3 * nonzero <= out_c * g.out_h * g.out_w
}

/// Adds every listed entry's window of `dY · W` into `dxh` (channels-last, padded: `hwc_len`),
/// `wt` from `arrange`.
pub fn scatter<T: Float>(
    g: &Geometry,
    out_c: usize,
    wt: &[T],
    (list, counts): (&Nonzeros<T>, &[usize]),
    dxh: &mut [T],
) {
    let (c_n, wp, plane) = (g.c, g.w + 2, g.out_h * g.out_w);
    assert!(wt.len() >= arranged_len(g, out_c) && dxh.len() >= super::winograd::hwc_len(g));
    for o in 0..out_c {
        let (at, value) = nonzeros::entries(list, counts, plane, o);
        // Every window inside the padded plane, as the last position's is.
        let last = at.iter().fold(0, |m, &q| m.max(q)) as usize + ((2 * wp + 2) + 1) * c_n;
        assert!(last <= dxh.len(), "entries outside the plane");
        let w = &wt[o * 9 * c_n..][..9 * c_n];
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        if let (Some(w), Some(value), Some(dxh)) = (f32s(w), f32s(value), f32s_mut(dxh)) {
            // SAFETY: every window lies inside dxh, as just asserted.
            unsafe { avx512::scatter(c_n, wp, w, (at, value), dxh) };
            continue;
        }
        for (&start, &d) in at.iter().zip(value) {
            for tap in 0..9 {
                let p = &mut dxh[start as usize + ((tap / 3) * wp + tap % 3) * c_n..][..c_n];
                for (x, &wv) in p.iter_mut().zip(&w[tap * c_n..][..c_n]) {
                    *x = d.mul_add(wv, *x);
                }
            }
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use std::arch::x86_64::*;

    /// `super::scatter` for one output channel, f32, C a multiple of 16: 32 channels at a time.
    ///
    /// # Safety
    /// Every entry's window (`start + ((i·wp + j)·C + c` for i, j < 3, c < C) lies inside dxh.
    pub unsafe fn scatter(c_n: usize, wp: usize, w: &[f32], (at, value): (&[u32], &[f32]), dxh: &mut [f32]) {
        assert!(c_n.is_multiple_of(16) && w.len() >= 9 * c_n && at.len() == value.len());
        let taps: [usize; 9] = std::array::from_fn(|t| ((t / 3) * wp + t % 3) * c_n);
        for c0 in (0..c_n).step_by(32) {
            // SAFETY: the caller's contract.
            unsafe {
                if c_n - c0 >= 32 {
                    scatter_v::<2>(&taps, c_n, c0, w, (at, value), dxh);
                } else {
                    scatter_v::<1>(&taps, c_n, c0, w, (at, value), dxh);
                }
            }
        }
    }

    /// # Safety
    /// As `scatter`.
    #[inline(always)]
    unsafe fn scatter_v<const V: usize>(
        taps: &[usize; 9],
        c_n: usize,
        c0: usize,
        w: &[f32],
        (at, value): (&[u32], &[f32]),
        dxh: &mut [f32],
    ) {
        // SAFETY: the weights are inside w (asserted by `scatter`); the windows inside dxh
        // (the caller's contract).
        unsafe {
            let wv: [[__m512; V]; 9] = std::array::from_fn(|t| {
                std::array::from_fn(|v| _mm512_loadu_ps(w.as_ptr().add(t * c_n + c0 + 16 * v)))
            });
            let base = dxh.as_mut_ptr().add(c0);
            let add = |e: usize| {
                let (b, p) = (_mm512_set1_ps(value[e]), base.add(at[e] as usize));
                for (wt, &off) in wv.iter().zip(taps) {
                    for (v, w) in wt.iter().enumerate() {
                        let x = p.add(off + 16 * v);
                        _mm512_storeu_ps(x, _mm512_fmadd_ps(b, *w, _mm512_loadu_ps(x)));
                    }
                }
            };
            // The list's four quarters interleaved: neighbouring entries' windows overlap, and
            // each waited on the last one's stores; a quarter away they rarely do.
            let quarter = at.len().div_ceil(4);
            for k in 0..quarter {
                for e in (k..at.len()).step_by(quarter).take(4) {
                    add(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul, Mat};
    use crate::engine::im2col::col2im;
    use crate::engine::{hwc_dw, winograd, Window};

    /// Against `Wᵀ·dY` then col2im, dY sparse (about one entry in five nonzero): SimpleCNN's
    /// second conv and one with 48 channels (a pair of vectors and a single one).
    fn check<T: Float>() {
        for (c, h, w, o) in [(16, 14, 14, 32), (48, 4, 6, 8)] {
            let win = Window::simple(3, 1, 1);
            let g = Geometry::new(c, h, w, win, win).unwrap();
            let plane = h * w;
            let wts: Vec<T> = (0..o * c * 9).map(|i| T::from_f64((i as f64 * 0.71).cos())).collect();
            let dy: Vec<T> = (0..o * plane)
                .map(|i| T::from_f64(if (i * 7 + i / 5) % 5 == 0 { (i as f64 * 0.37).sin() } else { 0.0 }))
                .collect();
            let mut dcols = vec![T::ZERO; g.col_rows() * plane];
            matmul(&mut dcols, Mat::rows(&wts, o, g.col_rows()).t(), Mat::rows(&dy, o, plane), false);
            let mut want = vec![T::ZERO; c * plane];
            col2im(&g, &mut dcols, &mut want);
            let (mut at, mut value, mut counts) =
                (vec![0; hwc_dw::list_len(&g, o)], vec![T::ZERO; hwc_dw::list_len(&g, o)], vec![0; o]);
            let mut list = Nonzeros { at: &mut at, value: &mut value };
            let n = hwc_dw::list_nonzeros(&g, o, &dy, &mut list, &mut counts);
            assert!(prefers_scatter(&g, o, n));
            let mut wt = vec![T::ZERO; arranged_len(&g, o)];
            arrange(&g, o, &wts, &mut wt);
            let mut dxh = vec![T::ZERO; winograd::hwc_len(&g)];
            scatter(&g, o, &wt, (&list, &counts), &mut dxh);
            let mut got = vec![T::ONE; c * plane];
            winograd::from_hwc(&g, &dxh, &mut got);
            let tol = if std::mem::size_of::<T>() == 4 { 1e-5 } else { 1e-12 };
            for (k, (a, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a.to_f64() - e.to_f64()).abs() <= tol * (1.0 + e.to_f64().abs()),
                    "{c}x{h}x{w}→{o} at {k}: {a} vs {e}"
                );
            }
        }
    }

    #[test]
    fn scattered_input_gradient_matches_gemm_and_col2im() {
        check::<f32>();
        check::<f64>();
    }
}
