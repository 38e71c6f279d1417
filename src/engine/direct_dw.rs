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
//!
//! Behind a ReLU and a 2×2 max-pool at most one output in four has a gradient, and the
//! pool's winners say which: `Conv::backward_from_winners` lists them per output channel
//! (`MaxPool::list_winners`) and `add_listed` sums only those, for kernels whose rows are at
//! most 8 adjacent taps (`lists_by_rows`): per entry and kernel row, one 8-lane load of the
//! input and one FMA, times dY, into that row's sums; the grid's dense sum spent three
//! multiply-adds in four on zeros there (mnist-lab). Each channel sums
//! a sample's entries from zero, alternately into two sets (two FMA chains), and adds both to
//! its `listed` sums (`sum_listed_into_weights`).

use super::direct::Plan;
use super::im2col::Geometry;
use super::nonzeros::Nonzeros;
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

/// Kernel rows (C·kh) the listed path's vector kernel holds in registers.
const MAX_ROWS: usize = 12;

/// Whether the listed path (`add_listed`) takes this geometry: kernel rows of at most 8
/// adjacent taps (no dilation along them), at most `MAX_ROWS` rows, on the AVX-512 build.
pub fn lists_by_rows(g: &Geometry) -> bool {
    suits(g) && g.ww.dilation == 1 && g.ww.kernel <= 8 && g.c * g.wh.kernel <= MAX_ROWS
}

/// Length of the listed path's sums: per output channel, one per tap (in weight order).
pub fn listed_len(g: &Geometry, out_c: usize) -> usize {
    out_c * g.col_rows()
}

/// Length of each of the two lists of one output channel's entries (`add_listed`).
pub fn list_len(g: &Geometry) -> usize {
    Nonzeros::<f32>::len_for(g.out_h * g.out_w)
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

/// Adds one output channel's listed dY entries of one sample (`entries`: each one's place q
/// on the extended grid and its value, summed in list order) times the sample's padded input
/// `xpad` to that channel's listed sums `sums` (one per tap). The vector kernel needs
/// `lists_by_rows`; other geometries (and f64) take the generic loop.
pub fn add_listed<T: Float>(g: &Geometry, p: &Plan, xpad: &[T], (at, value): (&[u32], &[T]), sums: &mut [T]) {
    let offs = p.tap_offsets(g);
    assert!(at.len() == value.len() && sums.len() >= g.col_rows());
    // Every entry's window inside the planes, and 8 values after its last row's start (the
    // vector kernel reads whole 8-lane rows; the planes' tail tile holds them).
    let last = at.iter().fold(0, |m, &q| m.max(q)) as usize + offs.iter().max().copied().unwrap_or(0);
    assert!(last + 8 <= xpad.len(), "entries outside the extended grid");
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (true, Some(x), Some(v), Some(s)) =
        (lists_by_rows(g), simd::f32s(xpad), simd::f32s(value), simd::f32s_mut(sums))
    {
        // SAFETY: every window's reads are inside xpad, as just asserted.
        return unsafe { avx512::add_listed(g, offs, x, (at, v), s) };
    }
    let mut set = [[T::ZERO; MAX_TAPS]; 2];
    for (e, (&q, &d)) in at.iter().zip(value).enumerate() {
        for (s, &off) in set[e % 2].iter_mut().zip(offs) {
            *s = d.mul_add(xpad[q as usize + off], *s);
        }
    }
    for (t, s) in sums.iter_mut().take(offs.len()).enumerate() {
        *s += set[0][t] + set[1][t];
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

/// Adds the batch's listed sums (`listed_len`, laid out as dW) to dW (O × C·kh·kw).
pub fn sum_listed_into_weights<T: Float>(g: &Geometry, out_c: usize, listed: &[T], dw: &mut [T]) {
    let len = listed_len(g, out_c);
    dw[..len].iter_mut().zip(&listed[..len]).for_each(|(d, l)| *d += *l);
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use super::{Geometry, MAX_ROWS};
    use std::arch::x86_64::*;

    /// Adds the entries with `add`, alternately into the two `sets` (entry k into set k mod 2:
    /// two independent chains of FMAs), a pair per step so that each set stays in registers.
    #[inline(always)]
    fn alternately<S>((at, value): (&[u32], &[f32]), mut sets: [S; 2], add: impl Fn(&mut S, u32, f32)) -> [S; 2] {
        let [even, odd] = &mut sets;
        let pairs = at.len() / 2;
        for k in 0..pairs {
            add(even, at[2 * k], value[2 * k]);
            add(odd, at[2 * k + 1], value[2 * k + 1]);
        }
        if at.len() % 2 == 1 {
            add(even, at[2 * pairs], value[2 * pairs]);
        }
        sets
    }

    /// `super::add_listed` for f32: entries alternately into two sets of vectors, then both
    /// added to `sums`, a kernel row per 8-lane vector: one load and one FMA per row and
    /// entry. (16-lane vectors of packed rows took a masked load per row and, on CPUs that
    /// load 512 bits a cycle (Zen 4), twice the time.)
    ///
    /// # Safety
    /// Every entry's window (`q + offs[t]` for each tap) and the 8 values after its last
    /// row's start lie inside `xpad`.
    pub unsafe fn add_listed(g: &Geometry, offs: &[usize], xpad: &[f32], entries: (&[u32], &[f32]), sums: &mut [f32]) {
        let rows = g.c * g.wh.kernel;
        assert!(super::lists_by_rows(g), "rows of at most 8 adjacent taps, at most {MAX_ROWS} of them");
        let row_offs: [usize; MAX_ROWS] = std::array::from_fn(|r| if r < rows { offs[r * g.ww.kernel] } else { 0 });
        macro_rules! dispatch {
            ($($r:literal)*) => {
                match rows {
                    // SAFETY: the caller's contract, passed on.
                    $($r => unsafe { add_listed_rows::<$r>(&row_offs, g.ww.kernel, xpad, entries, sums) },)*
                    _ => unreachable!("1 to {MAX_ROWS} kernel rows"),
                }
            };
        }
        dispatch!(1 2 3 4 5 6 7 8 9 10 11 12)
    }

    /// `add_listed` for `R` kernel rows of `kw` ≤ 8 adjacent taps, row r's first at
    /// `row_offs[r]`: lane j of row r's vector sums tap r·kw + j.
    ///
    /// # Safety
    /// As `add_listed`.
    #[inline(always)]
    unsafe fn add_listed_rows<const R: usize>(
        row_offs: &[usize; MAX_ROWS],
        kw: usize,
        xpad: &[f32],
        (at, value): (&[u32], &[f32]),
        sums: &mut [f32],
    ) {
        assert!(kw <= 8 && sums.len() >= R * kw && at.len() == value.len());
        // SAFETY: each load reads 8 values from an entry's row start, inside xpad (the
        // caller's contract, `add_listed`).
        unsafe {
            let p: [*const f32; R] = std::array::from_fn(|r| xpad.as_ptr().add(row_offs[r]));
            let add = |s: &mut [__m256; R], q: u32, d: f32| {
                let b = _mm256_set1_ps(d);
                for (sr, pr) in s.iter_mut().zip(&p) {
                    *sr = _mm256_fmadd_ps(b, _mm256_loadu_ps(pr.add(q as usize)), *sr);
                }
            };
            let [even, odd] = alternately((at, value), [[_mm256_setzero_ps(); R]; 2], add);
            for (r, (e, o)) in even.iter().zip(&odd).enumerate() {
                let mut total = [0f32; 8];
                _mm256_storeu_ps(total.as_mut_ptr(), _mm256_add_ps(*e, *o));
                for (s, t) in sums[r * kw..][..kw].iter_mut().zip(total) {
                    *s += t;
                }
            }
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

    /// `add_listed` for every output channel of a sample, listing dY's (O × out_h × out_w)
    /// nonzero entries.
    fn add_all_listed(
        g: &Geometry,
        p: &Plan,
        o: usize,
        xpad: &[f32],
        dy: &[f32],
        listed: &mut [f32],
        mut list: Nonzeros<f32>,
    ) {
        let (plane, per_o) = (g.out_h * g.out_w, g.col_rows());
        for oi in 0..o {
            let n = crate::engine::nonzeros::list(&dy[oi * plane..][..plane], (g.out_h, g.out_w), (p.wp, 1), &mut list);
            add_listed(g, p, xpad, (&list.at[..n], &list.value[..n]), &mut listed[oi * per_o..][..per_o]);
        }
    }

    /// Geometries of first layers (mnist-lab's, SimpleCNN's), several channels, an even
    /// kernel without padding, and a dilated one (taps not adjacent: the generic loop), with dY zero
    /// but at about one output in five (as behind a ReLU and a 2×2 pool).
    fn listed_cases() -> Vec<(Geometry, usize)> {
        let dilated = Window { kernel: 3, stride: 1, pad_before: 2, pad_after: 1, dilation: 2 };
        let cases = [(1, 28, 28, 5, 2, 8), (1, 12, 10, 3, 1, 16), (3, 9, 7, 3, 1, 5), (2, 6, 11, 2, 0, 3)];
        let mut v: Vec<_> = cases
            .iter()
            .map(|&(c, h, w, k, pad, o)| {
                (Geometry::new(c, h, w, Window::simple(k, 1, pad), Window::simple(k, 1, pad)).unwrap(), o)
            })
            .collect();
        v.push((Geometry::new(2, 7, 9, dilated, dilated).unwrap(), 4));
        v
    }

    fn sparse_dy(n: usize) -> Vec<f32> {
        (0..n).map(|i| if (i * 7 + i / 5) % 5 == 0 { (i as f32 * 0.53).cos() } else { 0.0 }).collect()
    }

    /// The listed path against im2col + GEMM over 3 samples, and against the grid path on the
    /// same samples.
    #[test]
    fn listed_weight_gradient_matches_im2col_and_gemm() {
        for (g, o) in listed_cases() {
            if !suits(&g) {
                continue;
            }
            let (n, c, rows, cols_n) = (3, g.c, g.col_rows(), g.col_cols());
            let in_len = c * g.h * g.w;
            let x: Vec<f32> = (0..n * in_len).map(|i| (i as f32 * 0.37).sin()).collect();
            let dy = sparse_dy(n * o * cols_n);
            let mut want = vec![0.0f32; rows * o];
            let mut cols = vec![0.0; rows * cols_n];
            for i in 0..n {
                im2col(&g, &x[i * in_len..][..in_len], &mut cols);
                let dyi = Mat::rows(&dy[i * o * cols_n..][..o * cols_n], o, cols_n);
                matmul_col_major(&mut want, dyi, Mat::rows(&cols, rows, cols_n).t(), true);
            }
            let p = direct::plan(&g);
            let (mut xpad, mut dy_ext) = (vec![0.0; p.xpad_len(c)], vec![0.0; dy_ext_len(&p, o)]);
            let (mut acc, mut listed) = (vec![0.0; acc_len(&g, o)], vec![0.0; listed_len(&g, o)]);
            let (mut at, mut value) = (vec![0; list_len(&g)], vec![0.0; list_len(&g)]);
            for i in 0..n {
                let dyi = &dy[i * o * cols_n..][..o * cols_n];
                direct::pad_input(&g, &p, &x[i * in_len..][..in_len], &mut xpad);
                let list = Nonzeros { at: &mut at, value: &mut value };
                add_all_listed(&g, &p, o, &xpad, dyi, &mut listed, list);
                lay_out_dy(&g, &p, o, dyi, &mut dy_ext);
                accumulate(&g, &p, o, &xpad, &dy_ext, &mut acc);
            }
            let (mut got, mut grid) = (vec![0.0f32; o * rows], vec![0.0f32; o * rows]);
            sum_listed_into_weights(&g, o, &listed, &mut got);
            sum_into_weights(&g, o, &acc, &mut grid);
            for oi in 0..o {
                for t in 0..rows {
                    let (a, b, e) = (got[oi * rows + t], want[t * o + oi], grid[oi * rows + t]);
                    assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{g:?}: ({oi}, {t}) {a} vs {b}");
                    assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{g:?}: ({oi}, {t}) {a} vs grid {e}");
                }
            }
        }
    }

    /// The listed path's vector kernel and its generic sums (written out here, on f32): the
    /// same bits, with an odd and an even number of entries per channel and a NaN in dY.
    #[test]
    fn listed_vector_kernel_equals_the_generic_sums() {
        for (g, o) in listed_cases() {
            if !suits(&g) {
                continue;
            }
            let (p, plane) = (direct::plan(&g), g.out_h * g.out_w);
            let xpad: Vec<f32> = (0..p.xpad_len(g.c)).map(|i| (i as f32 * 0.71).sin()).collect();
            let mut dy = sparse_dy(o * plane);
            dy[o * plane / 2] = f32::NAN;
            let mut fast = vec![0.25f32; listed_len(&g, o)];
            let mut slow = fast.clone();
            let (mut at, mut value) = (vec![0; list_len(&g)], vec![0.0; list_len(&g)]);
            add_all_listed(&g, &p, o, &xpad, &dy, &mut fast, Nonzeros { at: &mut at, value: &mut value });
            let (offs, per_o) = (p.tap_offsets(&g), g.col_rows());
            for oi in 0..o {
                let mut set = [[0f32; MAX_TAPS]; 2];
                let mut e = 0;
                for q in 0..plane {
                    let d = dy[oi * plane + q];
                    if d == 0.0 {
                        continue;
                    }
                    let at = (q / g.out_w) * p.wp + q % g.out_w;
                    for (s, &off) in set[e % 2].iter_mut().zip(offs) {
                        *s = d.mul_add(xpad[at + off], *s);
                    }
                    e += 1;
                }
                for t in 0..offs.len() {
                    slow[oi * per_o + t] += set[0][t] + set[1][t];
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "{g:?}");
            assert!(fast.iter().any(|v| v.is_nan()), "the NaN reaches the sums");
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
