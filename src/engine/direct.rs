//! Direct convolution for stride-1 layers (see `suits`): cheaper than im2col + GEMM, which
//! spends its time building and packing columns. It computes the forward pass and, through
//! `transposed`, the input gradient. The weight gradient comes from the same padded plane
//! for layers with few taps (`direct_dw`, measured 9 % faster on mnist-lab than im2col +
//! GEMM) and tiny ones (`chunk_dw`); the rest stay im2col + GEMM, which measured faster than
//! a direct weight gradient there (engine notes).
//!
//! The input is copied once into a zero-padded plane of width `wp`. On that plane every kernel
//! tap is a constant offset, so the output over the "extended grid" `q = oh·wp + ow` (including
//! `wp - out_w` junk columns per row) is a sum of shifted contiguous vectors: register tiles of
//! 8 channels × 32 outputs (`simd::direct_8` for f32; 4 × 16 with `avx2::direct_8` on CPUs
//! without AVX-512; a plain loop for f64 and elsewhere). Outputs are then
//! compacted to `out_h × out_w`.

use super::im2col::Geometry;
use super::{avx2, copy_row, simd, Float};

/// Outputs per register tile: the extended grid is rounded up to it.
const TILE: usize = 32;

/// Sizes of the padded plane and of the extended output grid.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub hp: usize,
    pub wp: usize,
    /// Extended-grid length (the last row needs only `out_w` entries) rounded up to whole
    /// tiles: kernels never need a scalar tail.
    pub ext_stride: usize,
    /// Offset of each tap on the padded planes, computed once per call rather than per sample.
    offs: [usize; MAX_TAPS],
}

pub fn plan(g: &Geometry) -> Plan {
    let (hp, wp, ext_stride) = sizes(g);
    let mut p = Plan { hp, wp, ext_stride, offs: [0; MAX_TAPS] };
    if g.col_rows() <= MAX_TAPS {
        p.offs = tap_offsets(g, &p);
    }
    p
}

impl Plan {
    /// Padded planes plus one tile of zeros, so the last tile may read past the plane.
    pub fn xpad_len(&self, channels: usize) -> usize {
        channels * self.hp * self.wp + TILE
    }
    pub fn ext_total(&self, out_c: usize) -> usize {
        out_c * self.ext_stride
    }
    /// Each tap's offset on the padded planes, in weight order (c, i, j); for geometries that
    /// `suits`.
    pub fn tap_offsets(&self, g: &Geometry) -> &[usize] {
        &self.offs[..g.col_rows()]
    }
}

/// Whether the direct path applies: stride 1, and either few inputs per output (where
/// im2col + GEMM spends its time building and packing columns) or an extended grid at most a
/// quarter larger than the output (measured 1.1x faster than im2col + GEMM on SimpleCNN's
/// 16→32 conv, 14×14, whose grid is 224 for 196 outputs).
pub fn suits(g: &Geometry) -> bool {
    if g.wh.stride != 1 || g.ww.stride != 1 || g.col_rows() > MAX_TAPS {
        return false;
    }
    let (_, _, ext_stride) = sizes(g);
    g.col_rows() <= FEW_TAPS || 4 * ext_stride <= 5 * g.col_cols()
}

/// Padded height and width, and the extended grid's stride (its length rounded up to whole tiles).
fn sizes(g: &Geometry) -> (usize, usize, usize) {
    let hp = g.h + g.wh.pad_before + g.wh.pad_after;
    let wp = g.w + g.ww.pad_before + g.ww.pad_after;
    let ext_len = (g.out_h - 1) * wp + g.out_w;
    (hp, wp, ext_len.div_ceil(TILE) * TILE)
}

const FEW_TAPS: usize = 64;
/// Inputs per output the tap table holds (C·kh·kw).
const MAX_TAPS: usize = 512;
/// Output channels per register tile.
const BLOCK: usize = 8;

/// Copies one sample's C planes into the interiors of zero-padded planes of `hp × wp`. Only
/// the interiors are written: the padding and the tile after the planes keep the zeros `xpad`
/// was allocated with (filling it per sample cost as much as the copy), so nothing else may
/// write into `xpad`.
pub fn pad_input<T: Float>(g: &Geometry, p: &Plan, x: &[T], xpad: &mut [T]) {
    let xpad = &mut xpad[..p.xpad_len(g.c)];
    debug_assert!(xpad[..g.wh.pad_before * p.wp + g.ww.pad_before].iter().all(|v| *v == T::ZERO));
    for c in 0..g.c {
        for h in 0..g.h {
            let src = &x[(c * g.h + h) * g.w..(c * g.h + h + 1) * g.w];
            let at = (c * p.hp + h + g.wh.pad_before) * p.wp + g.ww.pad_before;
            copy_row(src, &mut xpad[at..at + g.w]);
        }
    }
}

/// Whether `g` is a signal's (Conv1d: one row, a one-row kernel without padding), whose
/// samples `forward_stacked` convolves together.
pub fn stacks_signals(g: &Geometry) -> bool {
    g.h == 1 && g.out_h == 1 && g.wh.kernel == 1 && g.wh.pad_before + g.wh.pad_after == 0
}

/// Values a stacked call's padded planes and extended grid may hold: a few dozen KiB, so
/// they stay in L1 and L2 while the kernel runs.
const STACK_VALUES: usize = 16 * 1024;

/// Samples per `forward_stacked` call for `capacity` samples of the signal geometry `g`.
pub fn stack_rows(g: &Geometry, out_c: usize, capacity: usize) -> usize {
    let wp = g.w + g.ww.pad_before + g.ww.pad_after;
    (STACK_VALUES / (wp * (g.c + out_c))).clamp(1, capacity.max(1))
}

/// The geometry of `rows` samples of the signal geometry `g` stacked: channel c's plane has
/// sample i's signal as row i. A tap is then one offset across all the samples.
pub fn stacked(g: &Geometry, rows: usize) -> Geometry {
    debug_assert!(stacks_signals(g));
    Geometry { h: rows, out_h: rows, ..*g }
}

/// `y (rows × O × out_w) = W ⋆ x + b` for `rows` samples of the signal geometry `g` (`x`:
/// rows × C × w), as one convolution over their stacked planes (`stacked`, plan `p`): one
/// kernel call for all of them, where a call per 20-value signal cost more than its
/// arithmetic (the 1-D lab). Each output is the same sum as `forward`'s, bit for bit.
#[allow(clippy::too_many_arguments)]
pub fn forward_stacked<T: Float>(
    g: &Geometry,
    p: &Plan,
    rows: usize,
    out_c: usize,
    wt: &[T],
    x: &[T],
    (xpad, ext): (&mut [T], &mut [T]),
    y: &mut [T],
) {
    let s = stacked(g, rows);
    debug_assert!(p.hp == rows && p.wp == g.w + g.ww.pad_before + g.ww.pad_after);
    // Every value of the planes is written, padding included: the planes' layout changes
    // with `rows`, so zeros left from an earlier call are not where the padding is now.
    let xpad = &mut xpad[..p.xpad_len(g.c)];
    let (right, tail) = (g.ww.pad_before + g.w, g.c * rows * p.wp);
    for (i, sample) in x.chunks_exact(g.c * g.w).take(rows).enumerate() {
        for (c, signal) in sample.chunks_exact(g.w).enumerate() {
            let row = &mut xpad[(c * rows + i) * p.wp..][..p.wp];
            row[..g.ww.pad_before].fill(T::ZERO);
            copy_row(signal, &mut row[g.ww.pad_before..right]);
            row[right..].fill(T::ZERO);
        }
    }
    xpad[tail..].fill(T::ZERO);
    convolve(&s, p, out_c, wt, xpad, ext);
    for (i, yi) in y.chunks_exact_mut(out_c * g.out_w).take(rows).enumerate() {
        for (o, yo) in yi.chunks_exact_mut(g.out_w).enumerate() {
            copy_row(&ext[o * p.ext_stride + i * p.wp..][..g.out_w], yo);
        }
    }
}

/// The geometry of `rows` samples of the signal geometry `g` interleaved: channel c's plane
/// holds padded position l of sample i at `l·rows + i`, a `w × rows` image whose kernel runs
/// down its columns. A tap is one offset for all the samples, the extended grid
/// (`q = ow·rows + i`) has no junk columns, and 16 samples' values at one position are 16
/// adjacent values: a pool over the signals takes whole vectors, no gathers
/// (`MaxPool::fused_forward_interleaved`).
pub fn interleaved(g: &Geometry, rows: usize) -> Geometry {
    debug_assert!(stacks_signals(g));
    let column = crate::engine::Window::simple(1, 1, 0);
    Geometry { c: g.c, h: g.w, w: rows, wh: g.ww, ww: column, out_h: g.out_w, out_w: rows }
}

/// `W ⋆ x + b` for `rows` samples of the signal geometry `g` (`x`: rows × C × w) on their
/// interleaved planes (`p`: the plan of `interleaved(g, rows)`): channel o's output at
/// position ow of sample i is `ext[o·ext_stride + ow·rows + i]`. Bit for bit `forward`'s sums.
#[allow(clippy::too_many_arguments)]
pub fn convolve_interleaved<T: Float>(
    g: &Geometry,
    p: &Plan,
    rows: usize,
    out_c: usize,
    wt: &[T],
    x: &[T],
    xpad: &mut [T],
    ext: &mut [T],
) {
    debug_assert!(p.wp == rows && p.hp == g.w + g.ww.pad_before + g.ww.pad_after);
    // All of it written, padding too: its place moves with `rows`.
    let xpad = &mut xpad[..p.xpad_len(g.c)];
    xpad.fill(T::ZERO);
    for (i, sample) in x.chunks_exact(g.c * g.w).take(rows).enumerate() {
        for (c, signal) in sample.chunks_exact(g.w).enumerate() {
            // Chunks of one padded position each: pointer steps, no division per value.
            let positions = xpad[(c * p.hp + g.ww.pad_before) * rows..].chunks_exact_mut(rows);
            for (at, &v) in positions.zip(signal) {
                at[i] = v;
            }
        }
    }
    convolve(&interleaved(g, rows), p, out_c, wt, xpad, ext);
}

/// Offset of each tap (c, i, j) on the padded planes.
fn tap_offsets(g: &Geometry, p: &Plan) -> [usize; MAX_TAPS] {
    let mut offs = [0; MAX_TAPS];
    let mut taps = offs.iter_mut();
    // Nested loops, not divisions: this runs once per call, up to 512 taps.
    for c in 0..g.c {
        for i in 0..g.wh.kernel {
            for j in 0..g.ww.kernel {
                if let Some(o) = taps.next() {
                    *o = c * p.hp * p.wp + i * g.wh.dilation * p.wp + j * g.ww.dilation;
                }
            }
        }
    }
    offs
}

/// Length of the weights as `arrange` lays them out for `out_c` channels.
pub fn arranged_len(g: &Geometry, out_c: usize) -> usize {
    out_c.div_ceil(BLOCK) * (g.col_rows() + 1) * BLOCK
}

/// Lays the weights out per block of 8 channels, tap-major (one broadcast per weight), then
/// the block's 8 biases; zero for channels past `out_c`. Once per forward call.
pub fn arrange<T: Float>(g: &Geometry, out_c: usize, w: &[T], bias: Option<&[T]>, wt: &mut [T]) {
    let taps = g.col_rows();
    let block_len = (taps + 1) * BLOCK;
    for (blk, dst) in wt[..arranged_len(g, out_c)].chunks_exact_mut(block_len).enumerate() {
        dst.fill(T::ZERO);
        for o in 0..BLOCK.min(out_c - blk * BLOCK) {
            let c = blk * BLOCK + o;
            for t in 0..taps {
                dst[t * BLOCK + o] = w[c * taps + t];
            }
            dst[taps * BLOCK + o] = bias.map_or(T::ZERO, |b| b[c]);
        }
    }
}

/// The input gradient of a stride-1 convolution is itself one: dY (O planes), padded by
/// `d·(k−1) − p` on each side, convolved with the weights flipped in space and with input and
/// output channels swapped. Its geometry, when the direct path suits it.
pub fn transposed(g: &Geometry, out_c: usize) -> Option<Geometry> {
    let flip = |w: &crate::engine::Window| {
        let reach = w.dilation * (w.kernel - 1);
        (w.stride == 1 && w.pad_before <= reach && w.pad_after <= reach).then_some(crate::engine::Window {
            kernel: w.kernel,
            stride: 1,
            pad_before: reach - w.pad_before,
            pad_after: reach - w.pad_after,
            dilation: w.dilation,
        })
    };
    let t = Geometry { c: out_c, h: g.out_h, w: g.out_w, wh: flip(&g.wh)?, ww: flip(&g.ww)?, out_h: g.h, out_w: g.w };
    suits(&t).then_some(t)
}

/// Arranges `w` (O × C × kh × kw, of the convolution `g`) for `forward` over the transposed
/// geometry `t`: output channel c, tap (o, i, j) takes `w[o][c][kh−1−i][kw−1−j]`.
pub fn arrange_transposed<T: Float>(g: &Geometry, t: &Geometry, w: &[T], wt: &mut [T]) {
    let (kh, kw, out_c) = (g.wh.kernel, g.ww.kernel, t.c);
    let block_len = (t.col_rows() + 1) * BLOCK;
    // Nested loops, not divisions: this runs once per backward call.
    for (blk, dst) in wt[..arranged_len(t, g.c)].chunks_exact_mut(block_len).enumerate() {
        dst.fill(T::ZERO);
        for cc in 0..BLOCK.min(g.c - blk * BLOCK) {
            let c = blk * BLOCK + cc;
            let mut tap = 0;
            for o in 0..out_c {
                let src = &w[(o * g.c + c) * kh * kw..][..kh * kw];
                for &v in src.iter().rev() {
                    dst[tap * BLOCK + cc] = v; // reversed rows and columns: the spatial flip
                    tap += 1;
                }
            }
        }
    }
}

/// `y (O × out_h × out_w) = W ⋆ xpad + b` for one sample, with `wt` from `arrange`; `ext` is
/// scratch of `ext_total`.
pub fn forward<T: Float>(g: &Geometry, p: &Plan, out_c: usize, wt: &[T], xpad: &[T], ext: &mut [T], y: &mut [T]) {
    convolve(g, p, out_c, wt, xpad, ext);
    compact(g, p, out_c, ext, y);
}

/// `W ⋆ xpad + b` for one sample on the extended grid: channel o's output row oh starts at
/// `ext[o · ext_stride + oh · wp]`.
pub fn convolve<T: Float>(g: &Geometry, p: &Plan, out_c: usize, wt: &[T], xpad: &[T], ext: &mut [T]) {
    let taps = g.col_rows();
    let offs = &p.offs[..taps];
    for (blk, wb) in wt.chunks_exact((taps + 1) * BLOCK).take(out_c.div_ceil(BLOCK)).enumerate() {
        let (o0, chans) = (blk * BLOCK, BLOCK.min(out_c - blk * BLOCK));
        let (w8, b) = wb.split_at(taps * BLOCK);
        let ext = &mut ext[o0 * p.ext_stride..(o0 + chans) * p.ext_stride];
        if let (true, Some(xf), Some(wf), Some(bf), Some(ef)) =
            (simd::AVX512 || avx2::AVX2, simd::f32s(xpad), simd::f32s(w8), simd::f32s(b), simd::f32s_mut(ext))
        {
            let bf: &[f32; BLOCK] = bf.try_into().expect("BLOCK biases");
            let kernel = if simd::AVX512 { simd::direct_8 } else { avx2::direct_8 };
            kernel(xf, offs, wf, bf, chans, ef, p.ext_stride);
            continue;
        }
        // Taps summed in order from zero, bias added last: the GEMM path's rounding.
        for (o, e) in ext.chunks_exact_mut(p.ext_stride).enumerate() {
            e.fill(T::ZERO);
            for (t, &off) in offs.iter().enumerate() {
                let wv = w8[t * BLOCK + o];
                for (v, &x) in e.iter_mut().zip(&xpad[off..off + p.ext_stride]) {
                    *v = wv.mul_add(x, *v);
                }
            }
            e.iter_mut().for_each(|v| *v = b[o] + *v);
        }
    }
}

/// The extended grid's outputs as `O × out_h × out_w`.
pub fn compact<T: Float>(g: &Geometry, p: &Plan, out_c: usize, ext: &[T], y: &mut [T]) {
    let plane = g.out_h * g.out_w;
    for o in 0..out_c {
        for oh in 0..g.out_h {
            let src = &ext[o * p.ext_stride + oh * p.wp..][..g.out_w];
            copy_row(src, &mut y[o * plane + oh * g.out_w..][..g.out_w]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul, Mat};
    use crate::engine::im2col::{col2im, im2col};
    use crate::engine::Window;

    fn check<T: Float>() {
        let cases = [
            (1, 28, 28, Window::simple(5, 1, 2), Window::simple(5, 1, 2), 8),
            (
                2,
                7,
                9,
                Window::simple(3, 1, 0),
                Window { kernel: 3, stride: 1, pad_before: 1, pad_after: 2, dilation: 2 },
                11,
            ),
            (1, 1, 20, Window::simple(1, 1, 0), Window::simple(5, 1, 2), 4),
        ];
        for (c, h, w, wh, ww, o) in cases {
            let g = Geometry::new(c, h, w, wh, ww).unwrap();
            let p = plan(&g);
            let x: Vec<T> = (0..c * h * w).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
            let wt: Vec<T> = (0..o * g.col_rows()).map(|i| T::from_f64((i as f64 * 0.71).cos())).collect();
            let b: Vec<T> = (0..o).map(|i| T::from_f64(i as f64 * 0.1)).collect();
            let mut xpad = vec![T::ZERO; p.xpad_len(c)];
            pad_input(&g, &p, &x, &mut xpad);
            let mut ext = vec![T::ZERO; p.ext_total(o)];
            let mut y = vec![T::ZERO; o * g.col_cols()];
            let mut arranged = vec![T::ZERO; arranged_len(&g, o)];
            arrange(&g, o, &wt, Some(&b), &mut arranged);
            forward(&g, &p, o, &arranged, &xpad, &mut ext, &mut y);
            let mut cols = vec![T::ZERO; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            let mut want = vec![T::ZERO; o * g.col_cols()];
            for (oi, row) in want.chunks_mut(g.col_cols()).enumerate() {
                row.fill(b[oi]);
            }
            matmul(&mut want, Mat::rows(&wt, o, g.col_rows()), Mat::rows(&cols, g.col_rows(), g.col_cols()), true);
            let tol = if std::mem::size_of::<T>() == 4 { 1e-5 } else { 1e-12 };
            for (a, b) in y.iter().zip(&want) {
                assert!((a.to_f64() - b.to_f64()).abs() < tol, "{a} {b}");
            }
        }
    }

    /// The input gradient as a direct convolution against `Wᵀ·dY` then col2im.
    fn check_transposed<T: Float>() {
        let cases = [
            (16, 14, 14, Window::simple(3, 1, 1), Window::simple(3, 1, 1), 32),
            (
                2,
                7,
                9,
                Window::simple(3, 1, 0),
                Window { kernel: 3, stride: 1, pad_before: 1, pad_after: 2, dilation: 2 },
                5,
            ),
            (3, 1, 20, Window::simple(1, 1, 0), Window::simple(5, 1, 2), 4),
        ];
        for (c, h, w, wh, ww, o) in cases {
            let g = Geometry::new(c, h, w, wh, ww).unwrap();
            let t = transposed(&g, o).expect("the direct path suits these");
            let (rows, cols_n) = (g.col_rows(), g.col_cols());
            let wt: Vec<T> = (0..o * rows).map(|i| T::from_f64((i as f64 * 0.71).cos())).collect();
            let dy: Vec<T> = (0..o * cols_n).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
            let mut dcols = vec![T::ZERO; rows * cols_n];
            matmul(&mut dcols, Mat::rows(&wt, o, rows).t(), Mat::rows(&dy, o, cols_n), false);
            let mut want = vec![T::ZERO; c * h * w];
            col2im(&g, &mut dcols, &mut want);
            let p = plan(&t);
            let mut flipped = vec![T::ZERO; arranged_len(&t, c)];
            arrange_transposed(&g, &t, &wt, &mut flipped);
            let mut dypad = vec![T::ZERO; p.xpad_len(o)];
            pad_input(&t, &p, &dy, &mut dypad);
            let mut ext = vec![T::ZERO; p.ext_total(c)];
            let mut dx = vec![T::ZERO; c * h * w];
            forward(&t, &p, c, &flipped, &dypad, &mut ext, &mut dx);
            let tol = if std::mem::size_of::<T>() == 4 { 1e-4 } else { 1e-12 };
            for (a, b) in dx.iter().zip(&want) {
                assert!((a.to_f64() - b.to_f64()).abs() < tol, "{c}x{h}x{w}: {a} {b}");
            }
        }
    }

    /// Signals convolved stacked, in calls of 3 rows and then of 1 (so the planes' layout
    /// changes between calls), equal the per-sample `forward` bit for bit.
    #[test]
    fn stacked_signals_equal_the_per_sample_convolution() {
        for (c, w, ww, o) in [
            (1, 20, Window::simple(5, 1, 2), 4),
            (3, 9, Window { kernel: 3, stride: 1, pad_before: 0, pad_after: 2, dilation: 2 }, 5),
        ] {
            let g = Geometry::new(c, 1, w, Window::simple(1, 1, 0), ww).unwrap();
            assert!(stacks_signals(&g) && suits(&g));
            let n = 7;
            let x: Vec<f32> = (0..n * c * w).map(|i| (i as f32 * 0.37).sin()).collect();
            let wt: Vec<f32> = (0..o * g.col_rows()).map(|i| (i as f32 * 0.71).cos()).collect();
            let b: Vec<f32> = (0..o).map(|i| i as f32 * 0.1).collect();
            let mut arranged = vec![0.0; arranged_len(&g, o)];
            arrange(&g, o, &wt, Some(&b), &mut arranged);
            let (p, out_len) = (plan(&g), o * g.out_w);
            let mut want = vec![0.0; n * out_len];
            let (mut xpad, mut ext) = (vec![0.0; p.xpad_len(c)], vec![0.0; p.ext_total(o)]);
            for i in 0..n {
                pad_input(&g, &p, &x[i * c * w..][..c * w], &mut xpad);
                forward(&g, &p, o, &arranged, &xpad, &mut ext, &mut want[i * out_len..][..out_len]);
            }
            let big = plan(&stacked(&g, 3));
            let (mut planes, mut grid) = (vec![f32::NAN; big.xpad_len(c)], vec![0.0; big.ext_total(o)]);
            let mut got = vec![0.0; n * out_len];
            for (first, rows) in [(0, 3), (3, 1), (4, 3)] {
                let p = plan(&stacked(&g, rows));
                let (xs, ys) = (&x[first * c * w..][..rows * c * w], &mut got[first * out_len..][..rows * out_len]);
                forward_stacked(&g, &p, rows, o, &arranged, xs, (&mut planes, &mut grid), ys);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{c} channels");
        }
    }

    #[test]
    fn direct_input_gradient_matches_gemm_and_col2im() {
        check_transposed::<f32>();
        check_transposed::<f64>();
    }

    #[test]
    fn direct_matches_im2col_and_gemm() {
        check::<f32>();
        check::<f64>();
    }
}
