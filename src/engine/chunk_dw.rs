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
use super::{simd, Float};

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
    let (plane, pool_plane) = (g.h * g.w, pool.out_h * pool.out_w);
    let (kh, kw) = (g.wh.kernel, g.ww.kernel);
    let extent = pool.wh.dilation * (pool.wh.kernel - 1) + 1;
    for i in 0..n {
        let sample = &x[i * g.c * plane..(i + 1) * g.c * plane];
        for o in 0..out_c {
            let first = (i * out_c + o) * pool_plane;
            for r in 0..pool.out_h {
                // The output rows that pool row r's windows cover.
                let top = (r * pool.wh.stride) as isize - pool.wh.pad_before as isize;
                let rows = top.max(0) as usize..((top + extent as isize).max(0) as usize).min(pool.h);
                for oh in rows {
                    for k in first + r * pool.out_w..first + (r + 1) * pool.out_w {
                        let at = win.at[k] as usize;
                        if at / pool.w != oh || (win.relu && win.y[k] <= T::ZERO) {
                            continue;
                        }
                        let (d, ow) = (win.dy[k], at % pool.w);
                        let lane = (oh * wp + ow) % LANES;
                        if let Some(b) = bias_acc.as_deref_mut() {
                            b[o * LANES + lane] += d;
                        }
                        // Taps in dWᵀ order, (c, ki, kj); one partial sum LANES · out_c apart.
                        let (mut a, step) = (o * LANES + lane, out_c * LANES);
                        let left = ow.wrapping_sub(g.ww.pad_before);
                        let inside = left < g.w && left + (kw - 1) * g.ww.dilation < g.w;
                        for xc in sample.chunks_exact(plane) {
                            for ki in 0..kh {
                                let ih = (oh + ki * g.wh.dilation).wrapping_sub(g.wh.pad_before);
                                if ih < g.h && inside {
                                    let row = &xc[ih * g.w + left..];
                                    for xv in row.iter().step_by(g.ww.dilation).take(kw) {
                                        acc[a] = d.mul_add(*xv, acc[a]);
                                        a += step;
                                    }
                                    continue;
                                }
                                for kj in 0..kw {
                                    let iw = (ow + kj * g.ww.dilation).wrapping_sub(g.ww.pad_before);
                                    // Outside the input: the zero padding, still multiplied (a
                                    // NaN gradient stays NaN, as in `accumulate`).
                                    let xv = if ih < g.h && iw < g.w { xc[ih * g.w + iw] } else { T::ZERO };
                                    acc[a] = d.mul_add(xv, acc[a]);
                                    a += step;
                                }
                            }
                        }
                    }
                }
            }
        }
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
