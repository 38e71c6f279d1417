//! A direct convolution followed by ReLU and a 2×2 max-pool, the pool taken in registers: the
//! convolution's output is never written, where the extended-grid path (`direct::convolve`,
//! then `MaxPool::fused_forward_2x2_strided`) wrote 55 KB per SimpleCNN sample and read it
//! back (that pool was 8 % of `bench infer`).
//!
//! The padded input is split by column parity (`split_input`): plane `(c, π)` holds padded
//! column `2j + π` at `j`. Output column `2j + π` under tap column `kw` reads padded column
//! `2j + π + kw`, which is lane j of parity plane `(π + kw) % 2` from `(π + kw) / 2` on: for
//! each tap, the four inputs of 16 pool windows (top/bottom row, even/odd column) are four
//! contiguous vector loads. Each output is the same sum as `direct_8`'s (taps in weight order
//! from zero, the bias added last) and the pool takes the first maximum as
//! `simd::max_2x2_row` does, so the outputs and the recorded winners equal the grid path's to
//! the bit (the tests compare them).
//!
//! For f32 with AVX-512, on stride-1 undilated convolutions whose pooled rows fit one vector
//! (`suits`); other layers keep the grid path.

use super::im2col::Geometry;

/// Values per row of a parity plane: 16 lanes plus the reach of half a kernel row.
const ROW: usize = 32;

/// Whether `g`, followed by ReLU and a 2×2, stride-2 pool without padding, runs here.
pub fn suits(g: &Geometry) -> bool {
    super::simd::AVX512
        && g.wh.stride == 1
        && g.ww.stride == 1
        && g.wh.dilation == 1
        && g.ww.dilation == 1
        && g.out_h >= 2
        && (2..=33).contains(&g.out_w)
        && padded_width(g) <= 2 * ROW
        && g.ww.kernel / 2 + 16 <= ROW
}

fn padded_width(g: &Geometry) -> usize {
    g.w + g.ww.pad_before + g.ww.pad_after
}

fn padded_height(g: &Geometry) -> usize {
    g.h + g.wh.pad_before + g.wh.pad_after
}

/// Length of the parity planes: C × 2 parities × padded height × `ROW`.
pub fn split_len(g: &Geometry) -> usize {
    g.c * 2 * padded_height(g) * ROW
}

/// Writes one sample `x` (C × H × W) into the interiors of its parity planes. The padding
/// keeps the zeros `split` was allocated with (every sample writes the same places), so
/// nothing else may write into `split`.
pub fn split_input(g: &Geometry, x: &[f32], split: &mut [f32]) {
    let hp = padded_height(g);
    assert!(suits(g) && x.len() >= g.c * g.h * g.w && split.len() >= split_len(g));
    let (pl, pt) = (g.ww.pad_before, g.wh.pad_before);
    // x[2m] lands at padded column 2m + pl, x[2m + 1] at 2m + 1 + pl.
    let (even_parity, odd_parity) = (pl % 2, (pl + 1) % 2);
    for c in 0..g.c {
        for h in 0..g.h {
            let row = |parity: usize| ((c * 2 + parity) * hp + h + pt) * ROW;
            let at = (row(even_parity) + pl / 2, row(odd_parity) + pl.div_ceil(2));
            avx512::split_row(&x[(c * g.h + h) * g.w..][..g.w], split, at);
        }
    }
}

/// Output `(ph, pw)` of ReLU and the 2×2 pool after the convolution `g` on one sample: `y`
/// (O × ⌊out_h/2⌋ × ⌊out_w/2⌋) gets the pooled values, `codes` (when given; O planes of
/// ⌊out_h/2⌋ rows of 2 words) each window's winner as `simd::max_2x2_row` records it. `wt`:
/// the weights and biases as `direct::arrange` lays them out; `split`: the sample's parity
/// planes (`split_input`).
pub fn convolve_pooled(
    g: &Geometry,
    out_c: usize,
    wt: &[f32],
    split: &[f32],
    y: &mut [f32],
    codes: Option<&mut [u16]>,
) {
    let (ph, pw) = (g.out_h / 2, g.out_w / 2);
    assert!(suits(g) && wt.len() >= super::direct::arranged_len(g, out_c) && split.len() >= split_len(g));
    assert!(y.len() >= out_c * ph * pw && codes.as_ref().is_none_or(|c| c.len() >= out_c * ph * 2));
    avx512::convolve_pooled(g, out_c, wt, split, y, codes);
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use super::{padded_height, Geometry, ROW};
    use crate::engine::simd::avx512::{fold, is_max, mask, EVEN, ODD};
    use std::arch::x86_64::*;

    /// `direct::arrange`'s channels per block of weights.
    const BLOCK: usize = 8;
    /// Output channels per register tile: 4 channels × 4 window positions, 16 accumulators.
    const GROUP: usize = 4;

    /// The even elements of `src` (at most 64) to `split[at.0..]`, the odd ones to `split[at.1..]`.
    pub fn split_row(src: &[f32], split: &mut [f32], at: (usize, usize)) {
        let n = src.len();
        assert!(n <= 2 * ROW && at.0 + n.div_ceil(2) <= split.len() && at.1 + n / 2 <= split.len());
        // SAFETY: loads are masked to src, stores to the lengths asserted above.
        unsafe {
            let (e, o) = (_mm512_loadu_si512(EVEN.as_ptr().cast()), _mm512_loadu_si512(ODD.as_ptr().cast()));
            for k in (0..n).step_by(32) {
                let rest = n - k;
                let lo = _mm512_maskz_loadu_ps(mask(rest), src.as_ptr().add(k));
                let hi = _mm512_maskz_loadu_ps(mask(rest.saturating_sub(16)), src.as_ptr().add(k + 16.min(rest)));
                let (evens, odds) = (rest.min(32).div_ceil(2), rest.min(32) / 2);
                let dst = split.as_mut_ptr();
                _mm512_mask_storeu_ps(dst.add(at.0 + k / 2), mask(evens), _mm512_permutex2var_ps(lo, e, hi));
                _mm512_mask_storeu_ps(dst.add(at.1 + k / 2), mask(odds), _mm512_permutex2var_ps(lo, o, hi));
            }
        }
    }

    /// `super::convolve_pooled` (its asserts hold).
    pub fn convolve_pooled(
        g: &Geometry,
        out_c: usize,
        wt: &[f32],
        split: &[f32],
        y: &mut [f32],
        mut codes: Option<&mut [u16]>,
    ) {
        let (ph, pw, hp) = (g.out_h / 2, g.out_w / 2, padded_height(g));
        let taps = g.col_rows();
        let block_len = (taps + 1) * BLOCK;
        // SAFETY: the loads stay inside the planes (row 2·ph + kh − 1 < hp, lane 15 + kw/2 <
        // ROW: `suits`) and the weights (`arranged_len`); stores are masked to pw lanes of y's
        // planes and go to codes' words, whose lengths the caller asserted.
        unsafe {
            for pr in 0..ph {
                for o0 in (0..out_c).step_by(GROUP) {
                    let w = wt.as_ptr().add(o0 / BLOCK * block_len + o0 % BLOCK);
                    let acc = windows(g, hp, split.as_ptr(), w, 2 * pr);
                    for (o, a) in acc.iter().enumerate().take(out_c - o0) {
                        let b = _mm512_set1_ps(*w.add(taps * BLOCK + o));
                        let [y00, y01, y10, y11] = a.map(|v| _mm512_add_ps(b, v));
                        let best = fold(fold(fold(y00, y01), y10), y11);
                        let plane_row = (o0 + o) * ph + pr;
                        if let Some(codes) = codes.as_deref_mut() {
                            let ta = is_max(y00, best);
                            let tb = is_max(y01, best) & !ta;
                            let tc = is_max(y10, best) & !(ta | tb);
                            let td = !(ta | tb | tc);
                            codes[2 * plane_row] = (tb | td) & mask(pw);
                            codes[2 * plane_row + 1] = (tc | td) & mask(pw);
                        }
                        // ReLU after the pool (`relu`: x ≤ 0 → 0, NaN passes).
                        let positive = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(best, _mm512_setzero_ps());
                        let out = _mm512_maskz_mov_ps(positive, best);
                        _mm512_mask_storeu_ps(y.as_mut_ptr().add(plane_row * pw), mask(pw), out);
                    }
                }
            }
        }
    }

    /// The convolution's sums without bias for 4 channels (weights from `w`, 8 apart per tap)
    /// at output rows `row0`, `row0 + 1`, columns `2j`, `2j + 1` for lanes j: per channel
    /// [top even, top odd, bottom even, bottom odd], the windows' a, b, c, d.
    #[inline(always)]
    unsafe fn windows(g: &Geometry, hp: usize, split: *const f32, w: *const f32, row0: usize) -> [[__m512; 4]; GROUP] {
        let mut acc = [[_mm512_setzero_ps(); 4]; GROUP];
        let mut tap = 0;
        for c in 0..g.c {
            for i in 0..g.wh.kernel {
                for j in 0..g.ww.kernel {
                    let wt = w.add(tap * BLOCK);
                    for r in 0..2 {
                        for parity in 0..2 {
                            let s = parity + j;
                            let plane_row = (c * 2 + s % 2) * hp + row0 + r + i;
                            let x = _mm512_loadu_ps(split.add(plane_row * ROW + s / 2));
                            for (o, a) in acc.iter_mut().enumerate() {
                                a[2 * r + parity] = _mm512_fmadd_ps(_mm512_set1_ps(*wt.add(o)), x, a[2 * r + parity]);
                            }
                        }
                    }
                    tap += 1;
                }
            }
        }
        acc
    }
}

/// Stand-ins so callers compile everywhere; never called, as `suits` is false without AVX-512.
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
mod avx512 {
    use super::Geometry;
    pub fn split_row(_: &[f32], _: &mut [f32], _: (usize, usize)) {
        unreachable!("AVX-512 kernel called on a build without it")
    }
    pub fn convolve_pooled(_: &Geometry, _: usize, _: &[f32], _: &[f32], _: &mut [f32], _: Option<&mut [u16]>) {
        unreachable!("AVX-512 kernel called on a build without it")
    }
}

#[cfg(all(test, target_arch = "x86_64", target_feature = "avx512f"))]
mod tests {
    use super::*;
    use crate::engine::{direct, simd, Window};

    /// The grid path `Conv::forward_pooled` takes otherwise: `direct::convolve`, then the
    /// 2×2 pool of `MaxPool::fused_forward_2x2_strided` (`simd::max_2x2_plane`, then ReLU).
    fn grid_path(g: &Geometry, o: usize, wt: &[f32], x: &[f32]) -> (Vec<f32>, Vec<u16>) {
        let p = direct::plan(g);
        let mut xpad = vec![0.0; p.xpad_len(g.c)];
        direct::pad_input(g, &p, x, &mut xpad);
        let mut ext = vec![0.0; p.ext_total(o)];
        direct::convolve(g, &p, o, wt, &xpad, &mut ext);
        let (ph, pw) = (g.out_h / 2, g.out_w / 2);
        let (mut y, mut codes) = (vec![0.0; o * ph * pw], vec![0u16; o * ph * 2]);
        for k in 0..o {
            let (yk, ck) = (&mut y[k * ph * pw..][..ph * pw], &mut codes[k * ph * 2..][..ph * 2]);
            simd::max_2x2_plane(&ext[k * p.ext_stride..], p.wp, (ph, pw), yk, Some(ck));
            yk.iter_mut().for_each(|v| *v = if *v <= 0.0 { 0.0 } else { *v });
        }
        (y, codes)
    }

    #[test]
    fn pooling_in_registers_equals_the_grid_path_to_the_bit() {
        let asymmetric = Window { kernel: 2, stride: 1, pad_before: 1, pad_after: 0, dilation: 1 };
        let cases = [
            (1, 28, 28, Window::simple(3, 1, 1), Window::simple(3, 1, 1), 16), // SimpleCNN
            (1, 28, 28, Window::simple(5, 1, 2), Window::simple(5, 1, 2), 8),  // mnist-lab
            (2, 9, 11, Window::simple(3, 1, 0), Window::simple(3, 1, 0), 6),   // odd sizes
            (3, 7, 33, Window::simple(3, 1, 1), Window::simple(3, 1, 1), 3),   // 16 windows a row
            (2, 8, 7, asymmetric, Window::simple(1, 1, 0), 5),
            (1, 6, 9, Window::simple(1, 1, 0), asymmetric, 9),
        ];
        for (c, h, w, wh, ww, o) in cases {
            let g = Geometry::new(c, h, w, wh, ww).unwrap();
            assert!(suits(&g), "{g:?}");
            // Coarse values, so windows hold ties; some negative sums (ReLU), a NaN and an inf.
            let mut x: Vec<f32> = (0..c * h * w).map(|i| ((i * 7 % 11) as f32 - 4.0) * 0.25).collect();
            x[5] = f32::NAN;
            x[c * h * w - 3] = f32::INFINITY;
            let weights: Vec<f32> = (0..o * g.col_rows()).map(|i| ((i * 5 % 9) as f32 - 4.5) * 0.5).collect();
            let bias: Vec<f32> = (0..o).map(|i| i as f32 * 0.125 - 0.25).collect();
            let mut wt = vec![0.0; direct::arranged_len(&g, o)];
            direct::arrange(&g, o, &weights, Some(&bias), &mut wt);
            let (want, want_codes) = grid_path(&g, o, &wt, &x);
            let mut split = vec![0.0; split_len(&g)];
            let (ph, pw) = (g.out_h / 2, g.out_w / 2);
            let (mut y, mut codes) = (vec![0.0; o * ph * pw], vec![0u16; o * ph * 2]);
            // Twice over the same planes: a second sample writes only the interiors.
            for _ in 0..2 {
                split_input(&g, &x, &mut split);
                convolve_pooled(&g, o, &wt, &split, &mut y, Some(&mut codes));
            }
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&want), "{g:?}");
            assert_eq!(codes, want_codes, "{g:?}");
            let (nans, zeros) =
                (want.iter().filter(|v| v.is_nan()).count(), want.iter().filter(|&&v| v == 0.0).count());
            assert!(nans > 0 && zeros > 0, "the case tests NaN and ReLU: {nans} {zeros} {g:?}");
            let mut without_codes = vec![0.0; y.len()];
            convolve_pooled(&g, o, &wt, &split, &mut without_codes, None);
            assert_eq!(bits(&without_codes), bits(&want));
        }
    }

    #[test]
    fn suits_only_stride_1_undilated_rows_of_at_most_16_windows() {
        let g = |w: usize, ww: Window| Geometry::new(1, 10, w, Window::simple(3, 1, 1), ww).unwrap();
        assert!(suits(&g(32, Window::simple(3, 1, 1))));
        assert!(!suits(&g(34, Window::simple(3, 1, 1))), "17 windows a row");
        assert!(!suits(&g(20, Window::simple(3, 2, 1))), "stride 2");
        assert!(!suits(&g(20, Window { kernel: 3, stride: 1, pad_before: 2, pad_after: 2, dilation: 2 })));
    }
}
