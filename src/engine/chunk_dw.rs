//! The weight gradient of a tiny stride-1 convolution (the 1-D lab's: 4 filters of 5 taps over
//! signals of length 20) for a whole chunk of samples at once. Per sample, im2col and a GEMM call cost
//! far more than the 400 multiply-adds they do.
//!
//! Every sample's zero-padded input planes are laid side by side, channel by channel, in slots
//! of `slot` values; dY goes on the same "extended grid" (`q = oh·wp + ow`, zero in the junk
//! columns). Then `dW[o][c,i,j]` is one long dot product of dY's row for o with the input row
//! for c shifted by the tap's offset. The products go into 32 partial sums per weight by
//! position mod 32; `slot` is a multiple of 32, so each partial sum sees the same terms in the
//! same order however the batch is cut into chunks.

use super::im2col::Geometry;
use super::{simd, sum_lanes, Float};

/// Partial sums per weight: two vectors of 16, so two chains of FMAs run side by side.
pub const LANES: usize = 32;
/// Up to this many multiply-adds per sample (weights × outputs), the chunked path is used.
const TINY_MACS: usize = 4096;

pub fn suits(g: &Geometry, out_c: usize) -> bool {
    g.wh.stride == 1 && g.ww.stride == 1 && out_c * g.col_rows() * g.col_cols() <= TINY_MACS
}

fn padded(g: &Geometry) -> (usize, usize) {
    (g.h + g.wh.pad_before + g.wh.pad_after, g.w + g.ww.pad_before + g.ww.pad_after)
}

/// Values per sample and channel: the padded plane, rounded up to whole lanes.
fn slot(g: &Geometry) -> usize {
    let (hp, wp) = padded(g);
    (hp * wp).div_ceil(LANES) * LANES
}

/// Scratch for the laid-out inputs of `n` samples (one slot more: the last tap reads past).
pub fn x_len(g: &Geometry, n: usize) -> usize {
    (g.c * n + 1) * slot(g)
}

/// Scratch for dY of `n` samples on the extended grid.
pub fn dy_len(g: &Geometry, out_c: usize, n: usize) -> usize {
    out_c * n * slot(g)
}

/// Adds the products of `n` samples (`x`: N×C×H×W, `dy`: N×O×out_h×out_w) into `acc`, which
/// holds `LANES` partial sums per weight in dWᵀ order (tap-major, then output channel), and
/// the sums of dY into `bias_acc` (`LANES` per output channel) when there is a bias.
#[allow(clippy::too_many_arguments)]
pub fn accumulate<T: Float>(
    g: &Geometry,
    out_c: usize,
    x: &[T],
    dy: &[T],
    n: usize,
    xs: &mut [T],
    dys: &mut [T],
    acc: &mut [T],
    bias_acc: Option<&mut [T]>,
) {
    let ((_, wp), slot) = (padded(g), slot(g));
    // `span`: one channel's values for the whole chunk.
    let (plane, out_plane, span) = (g.h * g.w, g.out_h * g.out_w, n * slot);
    let xs = &mut xs[..x_len(g, n)];
    xs.fill(T::ZERO);
    for (i, sample) in x.chunks_exact(g.c * plane).take(n).enumerate() {
        for (c, p) in sample.chunks_exact(plane).enumerate() {
            for (h, src) in p.chunks_exact(g.w).enumerate() {
                let at = c * span + i * slot + (h + g.wh.pad_before) * wp + g.ww.pad_before;
                xs[at..at + g.w].copy_from_slice(src);
            }
        }
    }
    let dys = &mut dys[..dy_len(g, out_c, n)];
    dys.fill(T::ZERO);
    for (i, sample) in dy.chunks_exact(out_c * out_plane).take(n).enumerate() {
        for (o, p) in sample.chunks_exact(out_plane).enumerate() {
            for (oh, src) in p.chunks_exact(g.out_w).enumerate() {
                let at = o * span + i * slot + oh * wp;
                dys[at..at + g.out_w].copy_from_slice(src);
            }
        }
    }
    if let Some(b) = bias_acc {
        for (d, b) in dys.chunks_exact(span).zip(b.chunks_exact_mut(LANES)) {
            sum_into(d, b);
        }
    }
    let (kh, kw) = (g.wh.kernel, g.ww.kernel);
    for c in 0..g.c {
        for ki in 0..kh {
            for kj in 0..kw {
                let tap = (c * kh + ki) * kw + kj;
                let from = c * span + ki * g.wh.dilation * wp + kj * g.ww.dilation;
                let shifted = &xs[from..from + span];
                // Up to 4 output channels per pass over the shifted input.
                for o0 in (0..out_c).step_by(4) {
                    let rows = 4.min(out_c - o0);
                    let d = &dys[o0 * span..(o0 + rows) * span];
                    dots_into(d, shifted, &mut acc[(tap * out_c + o0) * LANES..][..rows * LANES]);
                }
            }
        }
    }
}

/// The winners of a max-pool that follows the convolution, with a ReLU between them when
/// `relu`: the convolution's output gradient is `dy[k]` at `at[k]`, the winner of pool output k
/// (an index into the convolution's output plane), and zero everywhere else (also where `relu`
/// and the pool's output `y[k] ≤ 0`). `pool` is the pool's geometry; its windows must not
/// overlap, so no output takes two gradients.
pub struct Winners<'a, T> {
    pub pool: &'a Geometry,
    pub at: &'a [u32],
    pub y: &'a [T],
    pub dy: &'a [T],
    pub relu: bool,
}

/// `accumulate` for a chunk whose dY is zero but at the winners of `win` (a max-pool with
/// windows of 20 keeps one gradient in 20): the nonzero products only, added to the same
/// partial sums in the same order, so `acc` and `bias_acc` come out bit for bit as
/// `accumulate` would leave them, without laying out dY or the input. (The one difference: a
/// zero gradient times an infinite input, NaN in `accumulate`, is skipped; inputs are finite.)
///
/// The order: in `accumulate` partial sum l of a weight takes the positions k ≡ l (mod LANES)
/// of the chunk in increasing k = i·slot + q, sample by sample, then along the extended grid
/// (q = oh·wp + ow). Here each sample's winners are visited in increasing q too: pool rows top
/// to bottom, the output rows of a pool row's band top to bottom (the bands do not overlap),
/// and the windows along each row left to right.
///
/// `acc` holds the same partial sums laid out per winner rather than per tap: `[o][lane][tap]`
/// (`winners_acc_len`; `add_winner_sums` adds them to dW), so one winner's taps are adjacent.
pub fn accumulate_winners<T: Float>(
    g: &Geometry,
    out_c: usize,
    x: &[T],
    n: usize,
    win: &Winners<T>,
    acc: &mut [T],
    mut bias_acc: Option<&mut [T]>,
) {
    let (pool, (_, wp)) = (win.pool, padded(g));
    debug_assert!(pool.c == out_c && pool.h == g.out_h && pool.w == g.out_w);
    let (plane, pool_plane, taps) = (g.h * g.w, pool.out_h * pool.out_w, g.col_rows());
    let (kh, kw) = (g.wh.kernel, g.ww.kernel);
    let acc = &mut acc[..winners_acc_len(g, out_c)];
    if g.h == 1 {
        return accumulate_winners_1d(g, out_c, x, n, win, acc, bias_acc);
    }
    let extent = pool.wh.dilation * (pool.wh.kernel - 1) + 1;
    for i in 0..n {
        let sample = &x[i * g.c * plane..(i + 1) * g.c * plane];
        for o in 0..out_c {
            let first = (i * out_c + o) * pool_plane;
            for r in 0..pool.out_h {
                // The output rows that pool row r's windows cover.
                let top = (r * pool.wh.stride) as isize - pool.wh.pad_before as isize;
                let rows = top.max(0) as usize..((top + extent as isize).max(0) as usize).min(pool.h);
                let windows = first + r * pool.out_w..first + (r + 1) * pool.out_w;
                for oh in rows {
                    // This output row's positions in the plane: a comparison, not a division.
                    let row_start = oh * pool.w;
                    for (&at, (&y, &d)) in
                        win.at[windows.clone()].iter().zip(win.y[windows.clone()].iter().zip(&win.dy[windows.clone()]))
                    {
                        let ow = (at as usize).wrapping_sub(row_start);
                        if ow >= pool.w || (win.relu && y <= T::ZERO) {
                            continue;
                        }
                        let lane = (oh * wp + ow) % LANES;
                        if let Some(b) = bias_acc.as_deref_mut() {
                            b[o * LANES + lane] += d;
                        }
                        let sums = &mut acc[(o * LANES + lane) * taps..][..taps];
                        let left = ow as isize - g.ww.pad_before as isize;
                        for (xc, sums) in sample.chunks_exact(plane).zip(sums.chunks_exact_mut(kh * kw)) {
                            for (ki, sums) in sums.chunks_exact_mut(kw).enumerate() {
                                let ih = (oh + ki * g.wh.dilation).wrapping_sub(g.wh.pad_before);
                                // Outside the input: the zero padding, still multiplied (a NaN
                                // gradient stays NaN, as in `accumulate`).
                                let row = if ih < g.h { &xc[ih * g.w..(ih + 1) * g.w] } else { &[] };
                                multiply_add_row(sums, d, row, left, g.ww.dilation);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `accumulate_winners` for signals (one row): a channel's windows along that row are all
/// its winners, in increasing q, so they are read in order with no band to sort them into.
fn accumulate_winners_1d<T: Float>(
    g: &Geometry,
    out_c: usize,
    x: &[T],
    n: usize,
    win: &Winners<T>,
    acc: &mut [T],
    mut bias_acc: Option<&mut [T]>,
) {
    let (windows, taps, kw) = (win.pool.out_w, g.col_rows(), g.ww.kernel);
    let per_sample = out_c * windows;
    let (at, y, dy) = (&win.at[..n * per_sample], &win.y[..n * per_sample], &win.dy[..n * per_sample]);
    for (i, sample) in x.chunks_exact(g.c * g.w).take(n).enumerate() {
        for o in 0..out_c {
            let k0 = (i * out_c + o) * windows;
            for k in k0..k0 + windows {
                let (ow, d) = (at[k] as usize, dy[k]);
                if win.relu && y[k] <= T::ZERO {
                    continue;
                }
                let lane = ow % LANES;
                if let Some(b) = bias_acc.as_deref_mut() {
                    b[o * LANES + lane] += d;
                }
                let sums = &mut acc[(o * LANES + lane) * taps..][..taps];
                let left = ow as isize - g.ww.pad_before as isize;
                for (row, sums) in sample.chunks_exact(g.w).zip(sums.chunks_exact_mut(kw)) {
                    multiply_add_row(sums, d, row, left, g.ww.dilation);
                }
            }
        }
    }
}

/// Partial sums `accumulate_winners` keeps for `out_c` channels.
pub fn winners_acc_len(g: &Geometry, out_c: usize) -> usize {
    out_c * LANES * g.col_rows()
}

/// Adds `accumulate_winners`'s partial sums to dW (O × C·kh·kw), each weight's `LANES` sums
/// added as `sum_lanes` adds them, so dW is the one `accumulate`'s sums give.
pub fn add_winner_sums<T: Float>(g: &Geometry, out_c: usize, acc: &[T], dw: &mut [T]) {
    let taps = g.col_rows();
    for (o, row) in dw[..out_c * taps].chunks_exact_mut(taps).enumerate() {
        let channel = &acc[o * LANES * taps..(o + 1) * LANES * taps];
        for (k, d) in row.iter_mut().enumerate() {
            let lanes: [T; LANES] = std::array::from_fn(|l| channel[l * taps + k]);
            *d += sum_lanes(&lanes);
        }
    }
}

/// `sums[j] += d · row[left + j·dilation]` for each tap j, zero where that falls outside `row`
/// (the zero padding: still multiplied, as `accumulate` does). Scalar: a masked vector
/// multiply-add per row measured slower (its store does not forward to the next winner's load).
#[inline]
fn multiply_add_row<T: Float>(sums: &mut [T], d: T, row: &[T], left: isize, dilation: usize) {
    let reach = (dilation * (sums.len() - 1)) as isize;
    if left >= 0 && left + reach < row.len() as isize {
        // Inside the row: no padding to test for.
        for (s, &xv) in sums.iter_mut().zip(row[left as usize..].iter().step_by(dilation)) {
            *s = d.mul_add(xv, *s);
        }
        return;
    }
    for (j, s) in sums.iter_mut().enumerate() {
        let at = left + (j * dilation) as isize;
        let xv = if at >= 0 && (at as usize) < row.len() { row[at as usize] } else { T::ZERO };
        *s = d.mul_add(xv, *s);
    }
}

/// `acc[k % LANES] += a[k]` (length a multiple of LANES).
fn sum_into<T: Float>(a: &[T], acc: &mut [T]) {
    for x in a.chunks_exact(LANES) {
        for l in 0..LANES {
            acc[l] += x[l];
        }
    }
}

/// For each row r of `rows` (`rows.len() / b.len()` of them, up to 4):
/// `acc[r·LANES + k % LANES] += rows[r][k]·b[k]` (lengths a multiple of LANES).
fn dots_into<T: Float>(rows: &[T], b: &[T], acc: &mut [T]) {
    if let (true, Some(r), Some(b), Some(acc)) = (simd::AVX512, simd::f32s(rows), simd::f32s(b), simd::f32s_mut(acc)) {
        return simd::dots_into(r, b, acc);
    }
    for (a, acc) in rows.chunks_exact(b.len()).zip(acc.chunks_exact_mut(LANES)) {
        for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
            for l in 0..LANES {
                acc[l] = x[l].mul_add(y[l], acc[l]); // fused, as the AVX-512 kernel
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul_col_major, Mat};
    use crate::engine::im2col::im2col;
    use crate::engine::{sum_lanes, Window};

    fn check<T: Float>() {
        let cases = [
            (1, 1, 20, Window::simple(1, 1, 0), Window::simple(5, 1, 2), 4),
            (
                2,
                5,
                6,
                Window::simple(3, 1, 1),
                Window { kernel: 2, stride: 1, pad_before: 0, pad_after: 1, dilation: 2 },
                3,
            ),
        ];
        for (c, h, w, wh, ww, o) in cases {
            let g = Geometry::new(c, h, w, wh, ww).unwrap();
            assert!(suits(&g, o));
            let (n, rows, cols_n) = (7, g.col_rows(), g.col_cols());
            let x: Vec<T> = (0..n * c * h * w).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
            let dy: Vec<T> = (0..n * o * cols_n).map(|i| T::from_f64((i as f64 * 0.53).cos())).collect();
            let mut want = vec![T::ZERO; rows * o];
            let mut cols = vec![T::ZERO; rows * cols_n];
            for i in 0..n {
                im2col(&g, &x[i * c * h * w..][..c * h * w], &mut cols);
                let dyi = Mat::rows(&dy[i * o * cols_n..][..o * cols_n], o, cols_n);
                matmul_col_major(&mut want, dyi, Mat::rows(&cols, rows, cols_n).t(), true);
            }
            // In two chunks (3 + 4 samples): the partial sums carry over.
            let (mut xs, mut dys) = (vec![T::ZERO; x_len(&g, 4)], vec![T::ZERO; dy_len(&g, o, 4)]);
            let mut acc = vec![T::ZERO; rows * o * LANES];
            let (xc, dc) = (c * h * w, o * cols_n);
            let mut bias = vec![T::ZERO; o * LANES];
            accumulate(&g, o, &x[..3 * xc], &dy[..3 * dc], 3, &mut xs, &mut dys, &mut acc, Some(&mut bias));
            accumulate(&g, o, &x[3 * xc..], &dy[3 * dc..], 4, &mut xs, &mut dys, &mut acc, Some(&mut bias));
            for (oi, lanes) in bias.chunks_exact(LANES).enumerate() {
                let want: f64 =
                    (0..n).map(|i| dy[(i * o + oi) * cols_n..][..cols_n].iter().map(|v| v.to_f64()).sum::<f64>()).sum();
                assert!((sum_lanes(lanes).to_f64() - want).abs() < 1e-4 * (1.0 + want.abs()));
            }
            for (k, wv) in want.iter().enumerate() {
                let got = sum_lanes(&acc[k * LANES..][..LANES]);
                assert!((got.to_f64() - wv.to_f64()).abs() < 1e-4 * (1.0 + wv.to_f64().abs()), "{k}: {got} {wv}");
            }
        }
    }

    #[test]
    fn chunked_weight_gradient_matches_im2col_and_gemm() {
        check::<f32>();
        check::<f64>();
    }
}
