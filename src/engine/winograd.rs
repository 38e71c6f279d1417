//! Winograd F(2×2, 3×3): a 3×3, stride-1, padding-1 convolution with 16 multiplies per 2×2
//! output tile and input channel instead of 36 (Lavin & Gray, 2015). It serves the forward pass
//! and, over `transposed` geometry with the flipped weights, the input gradient.
//!
//! Per sample: the input goes channels-last into a zero-padded plane (`to_hwc`), so every
//! transform below runs along contiguous channels. Each 4×4 input tile d becomes V = Bᵀ d B,
//! each 3×3 kernel g becomes U = G g Gᵀ (once per call, `transform_weights`), and for each of
//! the 16 positions ξ of the 4×4 tile the products are one small matrix product over the
//! input channels, `M[ξ] = V[ξ]·U[ξ]`. The 2×2 outputs are Y = Aᵀ M A + bias, written as
//! dense planes (the forward pass and the input gradient), or on the direct path's extended
//! grid, which the fused 2×2 pool reads unchanged (`convolve`'s strides).
//!
//! The transforms add and subtract (G halves), so the result differs from the direct sum only
//! by rounding: the tests bound it against the direct path, and the PyTorch fixtures (1e-5)
//! hold. One tile row of the output is done at a time (two with 16 output channels, so the
//! channel products keep 14 accumulators), so V and M stay in L1.

use super::im2col::Geometry;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
use super::simd::{f32s, f32s_mut};
use super::Float;

/// Output channels per register block of the channel product: two AVX-512 vectors of f32, or
/// one (`KB_NARROW`) where the channel count is an odd multiple of 16.
const KB: usize = 32;
const KB_NARROW: usize = 16;
/// Input channels per step of the transforms (one AVX-512 vector of f32).
const CB: usize = 16;
/// Tiles per register block of the channel product: 7 × 32 accumulators fill 14 registers.
const TB: usize = 7;

/// Whether the geometry is one this module computes: 3×3, stride 1, no dilation, padding 1 on
/// every side, an even output (whole 2×2 tiles), channel counts the blocks divide, and enough
/// input channels for the transforms to pay (SimpleCNN's 16→32 convolution and its input
/// gradient, 32→16, not its first convolution).
pub fn suits(g: &Geometry, out_c: usize) -> bool {
    let window_fits =
        |w: &super::Window| w.kernel == 3 && w.stride == 1 && w.dilation == 1 && w.pad_before == 1 && w.pad_after == 1;
    window_fits(&g.wh)
        && window_fits(&g.ww)
        && g.out_h.is_multiple_of(2)
        && g.out_w.is_multiple_of(2)
        && g.c.is_multiple_of(CB)
        && out_c.is_multiple_of(KB_NARROW)
}

/// The input gradient of a convolution `g` with `out_c` outputs that `suits`, as a convolution
/// of dY (3×3, padding 1 again) with the flipped, channel-swapped weights
/// (`transform_weights_transposed`), when that suits too.
pub fn transposed(g: &Geometry, out_c: usize) -> Option<Geometry> {
    let t = Geometry { c: out_c, h: g.out_h, w: g.out_w, wh: g.wh, ww: g.ww, out_h: g.h, out_w: g.w };
    (suits(g, out_c) && suits(&t, g.c)).then_some(t)
}

/// Length of the transformed weights: 16 positions × C × O.
pub fn transformed_len(g: &Geometry, out_c: usize) -> usize {
    16 * g.c * out_c
}

/// Length of one sample's zero-padded channels-last input, (H+2) × (W+2) × C.
pub fn hwc_len(g: &Geometry) -> usize {
    (g.h + 2) * (g.w + 2) * g.c
}

/// Length of the scratch `convolve` needs for up to two tile rows at a time: V (16 × tiles ×
/// C), M (16 × tiles × O) and the rows' outputs channels-last (4 × W × O, W rounded up to
/// whole vectors).
pub fn row_scratch_len(g: &Geometry, out_c: usize) -> usize {
    let tiles = 2 * (g.out_w / 2);
    16 * tiles * g.c + 16 * tiles * out_c + 4 * g.out_w.next_multiple_of(16) * out_c
}

/// `U[ξ][c][o] = (G g Gᵀ)[ξ]` for each kernel `g = w[o][c]`, `G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]`.
pub fn transform_weights<T: Float>(g: &Geometry, out_c: usize, w: &[T], u: &mut [T]) {
    let c_n = g.c;
    // Output channels innermost: each position's writes are adjacent.
    for c in 0..c_n {
        for o in 0..out_c {
            let k: &[T; 9] = w[(o * c_n + c) * 9..][..9].try_into().expect("3×3 kernels");
            for (xi, v) in transform_kernel(k).into_iter().enumerate() {
                u[(xi * c_n + c) * out_c + o] = v;
            }
        }
    }
}

/// `transform_weights` for the input gradient over `transposed(g, out_c)`: its output channel
/// c and input channel o take `w[o][c]` flipped in both spatial directions.
pub fn transform_weights_transposed<T: Float>(g: &Geometry, out_c: usize, w: &[T], u: &mut [T]) {
    let c_n = g.c;
    for o in 0..out_c {
        for c in 0..c_n {
            let mut k: [T; 9] = w[(o * c_n + c) * 9..][..9].try_into().expect("3×3 kernels");
            k.reverse(); // reversed rows and columns: the spatial flip
            for (xi, v) in transform_kernel(&k).into_iter().enumerate() {
                u[(xi * out_c + o) * c_n + c] = v;
            }
        }
    }
}

/// `G k Gᵀ` of one 3×3 kernel (row-major), as its 16 positions ξ = 4i + j.
fn transform_kernel<T: Float>(k: &[T; 9]) -> [T; 16] {
    let half = T::from_f64(0.5);
    // G applied to the three values of a column (or row) of the kernel.
    let gt = |a: T, b: T, c: T| [a, half * (a + b + c), half * (a - b + c), c];
    // G k: 4 rows × 3 columns.
    let cols = [gt(k[0], k[3], k[6]), gt(k[1], k[4], k[7]), gt(k[2], k[5], k[8])];
    let mut u = [T::ZERO; 16];
    for i in 0..4 {
        u[4 * i..4 * i + 4].copy_from_slice(&gt(cols[0][i], cols[1][i], cols[2][i]));
    }
    u
}

/// One sample's C × H × W input into the interior of `xh`, laid out (H+2) × (W+2) × C. The
/// border keeps the zeros `xh` was allocated with.
pub fn to_hwc<T: Float>(g: &Geometry, x: &[T], xh: &mut [T]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (Some(x), Some(xh)) = (f32s(x), f32s_mut(xh)) {
        return avx512::to_hwc(g, x, xh);
    }
    to_hwc_generic(g, x, xh)
}

fn to_hwc_generic<T: Float>(g: &Geometry, x: &[T], xh: &mut [T]) {
    let (c_n, wp) = (g.c, g.w + 2);
    for h in 0..g.h {
        let row = &mut xh[((h + 1) * wp + 1) * c_n..][..g.w * c_n];
        for c in 0..c_n {
            let src = &x[(c * g.h + h) * g.w..][..g.w];
            for (dst, &v) in row[c..].iter_mut().step_by(c_n).zip(src) {
                *dst = v;
            }
        }
    }
}

/// The inverse of `to_hwc`: the interior of `xh` ((H+2) × (W+2) × C) as C × H × W.
pub fn from_hwc<T: Float>(g: &Geometry, xh: &[T], x: &mut [T]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (Some(xh), Some(x)) = (f32s(xh), f32s_mut(x)) {
        return avx512::from_hwc(g, xh, x);
    }
    let (c_n, wp) = (g.c, g.w + 2);
    for h in 0..g.h {
        let row = &xh[((h + 1) * wp + 1) * c_n..][..g.w * c_n];
        for c in 0..c_n {
            let dst = &mut x[(c * g.h + h) * g.w..][..g.w];
            for (d, &v) in dst.iter_mut().zip(row[c..].iter().step_by(c_n)) {
                *d = v;
            }
        }
    }
}

/// `W ⋆ x + b` for one sample from its channels-last padded input `xh`, written into `out`
/// with channel o's row oh at `o·plane_stride + oh·row_stride`: dense planes with
/// `(out_w, out_h·out_w)`, or a direct convolution's extended grid with `(wp, ext_stride)`.
/// `u` from `transform_weights`; `row` is scratch of `row_scratch_len`.
#[allow(clippy::too_many_arguments)]
pub fn convolve<T: Float>(
    g: &Geometry,
    strides: (usize, usize),
    out_c: usize,
    u: &[T],
    bias: Option<&[T]>,
    xh: &[T],
    row: &mut [T],
    ext: &mut [T],
) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (Some(u), Some(xh), Some(row), Some(ext)) = (f32s(u), f32s(xh), f32s_mut(row), f32s_mut(ext)) {
        return avx512::convolve(g, strides, out_c, u, bias.map(|b| f32s(b).expect("f32 bias")), xh, row, ext);
    }
    convolve_generic(g, strides, out_c, u, bias, xh, row, ext)
}

/// `convolve` in plain Rust: f64 (the gradient checks), CPUs without AVX-512, and the
/// reference the AVX-512 kernels are tested against.
#[allow(clippy::too_many_arguments)]
fn convolve_generic<T: Float>(
    g: &Geometry,
    (row_stride, plane_stride): (usize, usize),
    out_c: usize,
    u: &[T],
    bias: Option<&[T]>,
    xh: &[T],
    row: &mut [T],
    ext: &mut [T],
) {
    let (c_n, tiles) = (g.c, g.out_w / 2);
    let (v, rest) = row.split_at_mut(16 * tiles * c_n);
    let (m, out) = rest.split_at_mut(16 * tiles * out_c);
    let out = &mut out[..2 * g.out_w * out_c];
    for th in 0..g.out_h / 2 {
        transform_input_row(g, th, xh, v);
        for xi in 0..16 {
            let (vx, ux) = (&v[xi * tiles * c_n..][..tiles * c_n], &u[xi * c_n * out_c..][..c_n * out_c]);
            let mx = &mut m[xi * tiles * out_c..][..tiles * out_c];
            channel_product(vx, ux, c_n, out_c, tiles, mx);
        }
        transform_output_row(g, out_c, m, bias, out);
        for o in 0..out_c {
            for r in 0..2 {
                let dst = &mut ext[o * plane_stride + (2 * th + r) * row_stride..][..g.out_w];
                for (ow, d) in dst.iter_mut().enumerate() {
                    *d = out[(r * g.out_w + ow) * out_c + o];
                }
            }
        }
    }
}

/// `convolve` then ReLU and the 2×2 pool, in one pass where an AVX-512 kernel exists for it
/// (f32, W ≤ 32): `y` receives the pooled O × H/2 × W/2 planes and `codes` (when given: a
/// backward pass will follow) the pool's winners as `MaxPool::fused_forward_2x2_strided`
/// records them, to the bit. Returns false, having
/// done nothing, elsewhere: then `convolve` and the pool run one after the other.
#[allow(clippy::too_many_arguments)]
pub fn convolve_pooled<T: Float>(
    g: &Geometry,
    out_c: usize,
    u: &[T],
    bias: Option<&[T]>,
    xh: &[T],
    row: &mut [T],
    y: &mut [T],
    codes: Option<&mut [u16]>,
) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (true, Some(u), Some(xh), Some(row), Some(y)) =
        (g.out_w <= 32, f32s(u), f32s(xh), f32s_mut(row), f32s_mut(y))
    {
        avx512::convolve_pooled(g, out_c, u, bias.map(|b| f32s(b).expect("f32 bias")), xh, row, y, codes);
        return true;
    }
    let _ = (g, out_c, u, bias, xh, row, y, codes);
    false
}

/// `V[ξ][t][c] = (Bᵀ d B)[ξ]` for the tiles t of tile row `th`, d their 4×4 input windows,
/// `Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]`.
fn transform_input_row<T: Float>(g: &Geometry, th: usize, xh: &[T], v: &mut [T]) {
    let (c_n, wp, tiles) = (g.c, g.w + 2, g.out_w / 2);
    for t in 0..tiles {
        for c0 in (0..c_n).step_by(CB) {
            let at = |i: usize, j: usize| -> &[T; CB] {
                xh[((2 * th + i) * wp + 2 * t + j) * c_n + c0..][..CB].try_into().expect("CB channels")
            };
            let mut d = [[[T::ZERO; CB]; 4]; 4];
            for (i, di) in d.iter_mut().enumerate() {
                for (j, dij) in di.iter_mut().enumerate() {
                    *dij = *at(i, j);
                }
            }
            let mut out = [[[T::ZERO; CB]; 4]; 4];
            for l in 0..CB {
                // Bᵀ on the columns, then B on the rows.
                let mut s = [[T::ZERO; 4]; 4];
                for j in 0..4 {
                    s[0][j] = d[0][j][l] - d[2][j][l];
                    s[1][j] = d[1][j][l] + d[2][j][l];
                    s[2][j] = d[2][j][l] - d[1][j][l];
                    s[3][j] = d[1][j][l] - d[3][j][l];
                }
                for i in 0..4 {
                    out[i][0][l] = s[i][0] - s[i][2];
                    out[i][1][l] = s[i][1] + s[i][2];
                    out[i][2][l] = s[i][2] - s[i][1];
                    out[i][3][l] = s[i][1] - s[i][3];
                }
            }
            for (i, oi) in out.iter().enumerate() {
                for (j, oij) in oi.iter().enumerate() {
                    v[((4 * i + j) * tiles + t) * c_n + c0..][..CB].copy_from_slice(oij);
                }
            }
        }
    }
}

/// `M[t][o] = Σ_c V[t][c]·U[c][o]` for one position ξ: register blocks of `TB` tiles × `KB`
/// output channels, the channels summed in order.
fn channel_product<T: Float>(v: &[T], u: &[T], c_n: usize, out_c: usize, tiles: usize, m: &mut [T]) {
    if out_c.is_multiple_of(KB) {
        channel_blocks::<T, KB>(v, u, c_n, out_c, tiles, m)
    } else {
        channel_blocks::<T, KB_NARROW>(v, u, c_n, out_c, tiles, m)
    }
}

fn channel_blocks<T: Float, const K: usize>(v: &[T], u: &[T], c_n: usize, out_c: usize, tiles: usize, m: &mut [T]) {
    for k0 in (0..out_c).step_by(K) {
        let mut t0 = 0;
        while t0 < tiles {
            let n = TB.min(tiles - t0);
            let (vb, mb) = (&v[t0 * c_n..], &mut m[t0 * out_c..]);
            match n {
                7 => block::<T, 7, K>(vb, u, c_n, out_c, k0, mb),
                6 => block::<T, 6, K>(vb, u, c_n, out_c, k0, mb),
                5 => block::<T, 5, K>(vb, u, c_n, out_c, k0, mb),
                4 => block::<T, 4, K>(vb, u, c_n, out_c, k0, mb),
                3 => block::<T, 3, K>(vb, u, c_n, out_c, k0, mb),
                2 => block::<T, 2, K>(vb, u, c_n, out_c, k0, mb),
                _ => block::<T, 1, K>(vb, u, c_n, out_c, k0, mb),
            }
            t0 += n;
        }
    }
}

/// One register block of `channel_product`: N tiles × K channels from `k0`.
#[inline(always)]
fn block<T: Float, const N: usize, const K: usize>(v: &[T], u: &[T], c_n: usize, out_c: usize, k0: usize, m: &mut [T]) {
    let mut acc = [[T::ZERO; K]; N];
    for c in 0..c_n {
        let ur: &[T; K] = u[c * out_c + k0..][..K].try_into().expect("K channels");
        for (t, a) in acc.iter_mut().enumerate() {
            let b = v[t * c_n + c];
            for (x, &w) in a.iter_mut().zip(ur) {
                *x = b.mul_add(w, *x);
            }
        }
    }
    for (t, a) in acc.iter().enumerate() {
        m[t * out_c + k0..][..K].copy_from_slice(a);
    }
}

/// The row's outputs channels-last, `out[r][ow][o] = (Aᵀ M A)[r][s] + bias[o]` for
/// `ow = 2t + s`, `Aᵀ = [[1,1,1,0],[0,1,−1,−1]]`.
fn transform_output_row<T: Float>(g: &Geometry, out_c: usize, m: &[T], bias: Option<&[T]>, out: &mut [T]) {
    let tiles = g.out_w / 2;
    let at = |xi: usize, t: usize, o: usize| m[(xi * tiles + t) * out_c + o];
    for t in 0..tiles {
        for o in 0..out_c {
            let b = bias.map_or(T::ZERO, |b| b[o]);
            let mut s = [[T::ZERO; 4]; 2];
            #[allow(clippy::needless_range_loop)] // j: the tile's column, as in the formulas
            for j in 0..4 {
                s[0][j] = at(j, t, o) + at(4 + j, t, o) + at(8 + j, t, o);
                s[1][j] = at(4 + j, t, o) - at(8 + j, t, o) - at(12 + j, t, o);
            }
            for (r, sr) in s.iter().enumerate() {
                out[(r * g.out_w + 2 * t) * out_c + o] = b + (sr[0] + sr[1] + sr[2]);
                out[(r * g.out_w + 2 * t + 1) * out_c + o] = b + (sr[1] - sr[2] - sr[3]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul, Mat};
    use crate::engine::im2col::im2col;
    use crate::engine::Window;

    /// Against im2col + GEMM: within rounding in f32 (the transforms' additions) and to
    /// 1e-12 in f64, which shows the algebra is exact.
    /// One sample through the pipeline as `Conv` runs it: `to_hwc`, `convolve`, `compact`
    /// (over `g`, which may be a `transposed` geometry; `u` from the matching transform). With
    /// `generic`, the plain-Rust code even where AVX-512 kernels exist. Returns the
    /// channels-last input and the output.
    fn winograd_output<T: Float>(
        g: &Geometry,
        o: usize,
        u: &[T],
        bias: Option<&[T]>,
        x: &[T],
        generic: bool,
    ) -> (Vec<T>, Vec<T>) {
        let mut xh = vec![T::ZERO; hwc_len(g)];
        let (mut row, mut y) = (vec![T::ZERO; row_scratch_len(g, o)], vec![T::ZERO; o * g.out_h * g.out_w]);
        let dense = (g.out_w, g.out_h * g.out_w);
        if generic {
            to_hwc_generic(g, x, &mut xh);
            convolve_generic(g, dense, o, u, bias, &xh, &mut row, &mut y);
        } else {
            to_hwc(g, x, &mut xh);
            convolve(g, dense, o, u, bias, &xh, &mut row, &mut y);
        }
        (xh, y)
    }

    fn check<T: Float>() {
        for (c, h, w, o) in
            [(16, 14, 14, 32), (32, 6, 10, 64), (16, 2, 16, 32), (32, 14, 14, 16), (16, 4, 8, 48), (32, 10, 6, 16)]
        {
            let win = Window::simple(3, 1, 1);
            let g = Geometry::new(c, h, w, win, win).unwrap();
            assert!(suits(&g, o));
            let x: Vec<T> = (0..c * h * w).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
            let wt: Vec<T> = (0..o * c * 9).map(|i| T::from_f64((i as f64 * 0.71).cos() * 0.3)).collect();
            let b: Vec<T> = (0..o).map(|i| T::from_f64(i as f64 * 0.1 - 1.0)).collect();
            let mut u = vec![T::ZERO; transformed_len(&g, o)];
            transform_weights(&g, o, &wt, &mut u);
            let (_, y) = winograd_output(&g, o, &u, Some(&b), &x, false);

            let mut cols = vec![T::ZERO; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            let mut want = vec![T::ZERO; o * g.col_cols()];
            for (oi, r) in want.chunks_mut(g.col_cols()).enumerate() {
                r.fill(b[oi]);
            }
            matmul(&mut want, Mat::rows(&wt, o, g.col_rows()), Mat::rows(&cols, g.col_rows(), g.col_cols()), true);
            let tol = if std::mem::size_of::<T>() == 4 { 2e-5 } else { 1e-12 };
            for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                let err = (a.to_f64() - e.to_f64()).abs();
                assert!(err <= tol * (1.0 + e.to_f64().abs()), "{c}x{h}x{w}→{o} at {i}: {a} vs {e}");
            }
        }
    }

    /// The input gradient over `transposed` against `Wᵀ·dY` then col2im, in f32 and f64.
    fn check_transposed<T: Float>() {
        for (c, h, w, o) in [(16, 14, 14, 32), (32, 6, 10, 16)] {
            let win = Window::simple(3, 1, 1);
            let g = Geometry::new(c, h, w, win, win).unwrap();
            let t = transposed(&g, o).expect("suits");
            let wt: Vec<T> = (0..o * c * 9).map(|i| T::from_f64((i as f64 * 0.71).cos() * 0.3)).collect();
            let dy: Vec<T> = (0..o * h * w).map(|i| T::from_f64((i as f64 * 0.37).sin())).collect();
            let mut dcols = vec![T::ZERO; g.col_rows() * g.col_cols()];
            matmul(&mut dcols, Mat::rows(&wt, o, g.col_rows()).t(), Mat::rows(&dy, o, g.col_cols()), false);
            let mut want = vec![T::ZERO; c * h * w];
            crate::engine::im2col::col2im(&g, &mut dcols, &mut want);
            let mut u = vec![T::ZERO; transformed_len(&t, c)];
            transform_weights_transposed(&g, o, &wt, &mut u);
            let (_, dx) = winograd_output(&t, c, &u, None, &dy, false);
            let tol = if std::mem::size_of::<T>() == 4 { 2e-5 } else { 1e-12 };
            for (i, (a, e)) in dx.iter().zip(&want).enumerate() {
                let err = (a.to_f64() - e.to_f64()).abs();
                assert!(err <= tol * (1.0 + e.to_f64().abs()), "{c}x{h}x{w}←{o} at {i}: {a} vs {e}");
            }
        }
    }

    #[test]
    fn winograd_input_gradient_matches_gemm_and_col2im() {
        check_transposed::<f32>();
        check_transposed::<f64>();
    }

    /// The AVX-512 kernels do the generic code's arithmetic in its order: equal to the bit.
    #[test]
    fn vector_kernels_equal_the_generic_code() {
        for (c, h, w, o) in
            [(16, 14, 14, 32), (32, 6, 18, 64), (32, 14, 14, 16), (16, 4, 8, 48), (32, 10, 36, 16), (48, 6, 10, 32)]
        {
            let win = Window::simple(3, 1, 1);
            let g = Geometry::new(c, h, w, win, win).unwrap();
            let x: Vec<f32> = (0..c * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
            let wt: Vec<f32> = (0..o * c * 9).map(|i| (i as f32 * 0.71).cos() * 0.3).collect();
            let b: Vec<f32> = (0..o).map(|i| i as f32 * 0.1 - 1.0).collect();
            let mut u = vec![0.0; transformed_len(&g, o)];
            transform_weights(&g, o, &wt, &mut u);
            let run = |generic| winograd_output(&g, o, &u, Some(&b), &x, generic);
            let (want, got) = (run(true), run(false));
            assert_eq!(want.0, got.0, "to_hwc");
            assert!(want.1.iter().zip(&got.1).all(|(a, b)| a.to_bits() == b.to_bits()), "{c}x{h}x{w}→{o}");
        }
    }

    #[test]
    fn winograd_matches_im2col_and_gemm() {
        check::<f32>();
        check::<f64>();
    }

    /// The rounding Winograd adds: on SimpleCNN's 16→32 convolution (kaiming-uniform weights,
    /// inputs in [0, 1) as after a ReLU and pool), f32 Winograd and f32 im2col + GEMM against
    /// the same product in f64. Measured: Winograd 2.2e-7, GEMM 4.1e-7 of the output's largest
    /// magnitude; the fixtures allow 1e-5.
    #[test]
    fn f32_rounding_stays_far_inside_the_fixtures_tolerance() {
        let (c, h, w, o) = (16, 14, 14, 32);
        let win = Window::simple(3, 1, 1);
        let g = Geometry::new(c, h, w, win, win).unwrap();
        let mut rng = crate::rng::Rng::new(7);
        let bound = 1.0 / ((c * 9) as f64).sqrt();
        let x64: Vec<f64> = (0..c * h * w).map(|_| rng.uniform()).collect();
        let w64: Vec<f64> = (0..o * c * 9).map(|_| (2.0 * rng.uniform() - 1.0) * bound).collect();
        let (x32, w32): (Vec<f32>, Vec<f32>) =
            (x64.iter().map(|&v| v as f32).collect(), w64.iter().map(|&v| v as f32).collect());
        let (x64, w64): (Vec<f64>, Vec<f64>) =
            (x32.iter().map(|&v| v as f64).collect(), w32.iter().map(|&v| v as f64).collect());
        fn gemm<T: Float>(g: &Geometry, o: usize, x: &[T], w: &[T]) -> Vec<T> {
            let mut cols = vec![T::ZERO; g.col_rows() * g.col_cols()];
            im2col(g, x, &mut cols);
            let mut y = vec![T::ZERO; o * g.col_cols()];
            matmul(&mut y, Mat::rows(w, o, g.col_rows()), Mat::rows(&cols, g.col_rows(), g.col_cols()), false);
            y
        }
        let exact = gemm(&g, o, &x64, &w64);
        let mut u = vec![0f32; transformed_len(&g, o)];
        transform_weights(&g, o, &w32, &mut u);
        let (_, wino) = winograd_output(&g, o, &u, None, &x32, false);
        let scale = exact.iter().fold(0f64, |m, v| m.max(v.abs()));
        let rel = |y: &[f32]| y.iter().zip(&exact).fold(0f64, |m, (a, e)| m.max((*a as f64 - e).abs())) / scale;
        let (e_wino, e_gemm) = (rel(&wino), rel(&gemm(&g, o, &x32, &w32)));
        eprintln!("max error / max |y|: winograd {e_wino:.2e}, im2col + GEMM {e_gemm:.2e}");
        assert!(e_wino < 1e-6, "winograd {e_wino:e}");
        assert!(e_wino < 8.0 * e_gemm.max(1e-8), "winograd {e_wino:e} against GEMM {e_gemm:e}");
    }

    #[test]
    fn suits_only_3x3_stride_1_padding_1_even_outputs() {
        let g = |c, h, w: usize, win: Window| Geometry::new(c, h, w, win, win).unwrap();
        assert!(suits(&g(16, 14, 14, Window::simple(3, 1, 1)), 32));
        assert!(!suits(&g(1, 28, 28, Window::simple(3, 1, 1)), 16), "one input channel");
        assert!(!suits(&g(16, 13, 13, Window::simple(3, 1, 1)), 32), "odd output");
        assert!(!suits(&g(16, 14, 14, Window::simple(3, 2, 1)), 32), "stride 2");
        assert!(!suits(&g(16, 14, 14, Window::simple(5, 1, 2)), 32), "5×5");
        assert!(!suits(&g(16, 14, 14, Window::simple(3, 1, 1)), 8), "8 outputs");
        assert!(!suits(&g(8, 14, 14, Window::simple(3, 1, 1)), 32), "8 inputs");
        assert!(transposed(&g(16, 14, 14, Window::simple(3, 1, 1)), 32).is_some());
        assert!(transposed(&g(16, 14, 14, Window::simple(3, 1, 1)), 40).is_none(), "40 is no multiple of 16");
    }
}

/// The f32 kernels of this module in AVX-512 intrinsics: the same arithmetic in the same
/// order as the generic code above (which the compiler vectorised poorly: 256-bit vectors,
/// spilled accumulators, scalar transposes), so the two agree to the bit.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use super::{Geometry, CB, KB, TB};
    use crate::engine::simd::avx512::{fold, is_max, mask};
    use std::arch::x86_64::*;

    /// Transposes the 16×16 block held in `r` (row i in `r[i]`).
    #[inline(always)]
    unsafe fn transpose16(r: &mut [__m512; 16]) {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let (lo, hi) = (
            |a: __m512, b: __m512| _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))),
            |a: __m512, b: __m512| _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))),
        );
        for i in 0..4 {
            let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
            r[4 * i] = lo(a, c);
            r[4 * i + 1] = hi(a, c);
            r[4 * i + 2] = lo(b, d);
            r[4 * i + 3] = hi(b, d);
        }
        for h in 0..2 {
            for j in 0..4 {
                t[8 * h + j] = _mm512_shuffle_f32x4::<0x88>(r[8 * h + j], r[8 * h + 4 + j]);
                t[8 * h + 4 + j] = _mm512_shuffle_f32x4::<0xdd>(r[8 * h + j], r[8 * h + 4 + j]);
            }
        }
        for j in 0..8 {
            r[j] = _mm512_shuffle_f32x4::<0x88>(t[j], t[8 + j]);
            r[8 + j] = _mm512_shuffle_f32x4::<0xdd>(t[j], t[8 + j]);
        }
    }

    /// `super::to_hwc`: 16 channels × 16 columns of a row at a time, transposed in registers.
    pub fn to_hwc(g: &Geometry, x: &[f32], xh: &mut [f32]) {
        let (c_n, wp) = (g.c, g.w + 2);
        assert!(x.len() >= c_n * g.h * g.w && xh.len() >= super::hwc_len(g) && c_n.is_multiple_of(16));
        for h in 0..g.h {
            for c0 in (0..c_n).step_by(16) {
                for w0 in (0..g.w).step_by(16) {
                    let (m, cols) = (mask(g.w - w0), (g.w - w0).min(16));
                    // SAFETY: loads masked to the row's columns; stores to the row's interior
                    // slots (w0 + cols ≤ W, so `(h+1)·wp + 1 + w` stays inside the padded plane).
                    unsafe {
                        let mut r = [_mm512_setzero_ps(); 16];
                        for (cc, v) in r.iter_mut().enumerate() {
                            *v = _mm512_maskz_loadu_ps(m, x.as_ptr().add(((c0 + cc) * g.h + h) * g.w + w0));
                        }
                        transpose16(&mut r);
                        for (wi, v) in r.iter().enumerate().take(cols) {
                            _mm512_storeu_ps(xh.as_mut_ptr().add(((h + 1) * wp + 1 + w0 + wi) * c_n + c0), *v);
                        }
                    }
                }
            }
        }
    }

    /// `super::from_hwc`: 16 columns × 16 channels of a row at a time, transposed in registers.
    pub fn from_hwc(g: &Geometry, xh: &[f32], x: &mut [f32]) {
        let (c_n, wp) = (g.c, g.w + 2);
        assert!(x.len() >= c_n * g.h * g.w && xh.len() >= super::hwc_len(g) && c_n.is_multiple_of(16));
        for h in 0..g.h {
            for c0 in (0..c_n).step_by(16) {
                for w0 in (0..g.w).step_by(16) {
                    let (m, cols) = (mask(g.w - w0), (g.w - w0).min(16));
                    // SAFETY: loads from the row's interior slots (w0 + cols ≤ W, inside the
                    // padded plane); stores masked to the row's columns of each channel.
                    unsafe {
                        let mut r = [_mm512_setzero_ps(); 16];
                        for (wi, v) in r.iter_mut().enumerate().take(cols) {
                            *v = _mm512_loadu_ps(xh.as_ptr().add(((h + 1) * wp + 1 + w0 + wi) * c_n + c0));
                        }
                        transpose16(&mut r);
                        for (cc, v) in r.iter().enumerate() {
                            _mm512_mask_storeu_ps(x.as_mut_ptr().add(((c0 + cc) * g.h + h) * g.w + w0), m, *v);
                        }
                    }
                }
            }
        }
    }

    /// `super::convolve` for f32. With 16 output channels (one vector) two tile rows go at a
    /// time, so that the channel products have 14 accumulators rather than 7.
    #[allow(clippy::too_many_arguments)]
    pub fn convolve(
        g: &Geometry,
        (row_stride, plane_stride): (usize, usize),
        out_c: usize,
        u: &[f32],
        bias: Option<&[f32]>,
        xh: &[f32],
        row: &mut [f32],
        ext: &mut [f32],
    ) {
        let (c_n, tiles, th_n) = (g.c, g.out_w / 2, g.out_h / 2);
        assert!(super::suits(g, out_c) && u.len() >= super::transformed_len(g, out_c));
        assert!(xh.len() >= super::hwc_len(g) && row.len() >= super::row_scratch_len(g, out_c));
        assert!(ext.len() >= (out_c - 1) * plane_stride + (g.out_h - 1) * row_stride + g.out_w);
        assert!(row_stride >= g.out_w && plane_stride >= (g.out_h - 1) * row_stride + g.out_w);
        assert!(bias.is_none_or(|b| b.len() >= out_c));
        let rows_per_pass = if out_c.is_multiple_of(KB) { 1 } else { 2 };
        let (v, rest) = row.split_at_mut(16 * 2 * tiles * c_n);
        let (m, out) = rest.split_at_mut(16 * 2 * tiles * out_c);
        let owp = g.out_w.next_multiple_of(16);
        // SAFETY: every index below is inside the lengths asserted above (the layouts of
        // `super::row_scratch_len`, `hwc_len` and the extended grid).
        unsafe {
            for th in (0..th_n).step_by(rows_per_pass) {
                let rows = rows_per_pass.min(th_n - th);
                input_rows(g, th, rows, xh.as_ptr(), v.as_mut_ptr());
                products(rows * tiles, c_n, out_c, u.as_ptr(), v.as_ptr(), m.as_mut_ptr());
                output_rows(g, rows, owp, out_c, m.as_ptr(), bias, out.as_mut_ptr());
                // The rows' outputs, channels-last, onto the grid: 16 columns × 16 channels
                // transposed in registers.
                for r in 0..2 * rows {
                    for w0 in (0..g.out_w).step_by(16) {
                        let cols = (g.out_w - w0).min(16);
                        for k0 in (0..out_c).step_by(16) {
                            let mut b = [_mm512_setzero_ps(); 16];
                            for (wi, bv) in b.iter_mut().enumerate() {
                                *bv = _mm512_loadu_ps(out.as_ptr().add((r * owp + w0 + wi) * out_c + k0));
                            }
                            transpose16(&mut b);
                            for (kk, bv) in b.iter().enumerate() {
                                let at = (k0 + kk) * plane_stride + (2 * th + r) * row_stride + w0;
                                _mm512_mask_storeu_ps(ext.as_mut_ptr().add(at), mask(cols), *bv);
                            }
                        }
                    }
                }
            }
        }
    }

    /// `convolve`, then ReLU and the 2×2 pool on each output tile, which is exactly a pool
    /// window: `y` (O × H/2 × W/2) receives the pooled values and `codes` (O planes of H/2
    /// rows of 2 words) each window's winner, as `MaxPool::fused_forward_2x2_strided` would
    /// from `convolve`'s grid, to the bit. The grid itself is never written. Needs W ≤ 32.
    #[allow(clippy::too_many_arguments)]
    pub fn convolve_pooled(
        g: &Geometry,
        out_c: usize,
        u: &[f32],
        bias: Option<&[f32]>,
        xh: &[f32],
        row: &mut [f32],
        y: &mut [f32],
        mut codes: Option<&mut [u16]>,
    ) {
        let (c_n, tiles, ph) = (g.c, g.out_w / 2, g.out_h / 2);
        assert!(super::suits(g, out_c) && tiles <= 16 && u.len() >= super::transformed_len(g, out_c));
        assert!(xh.len() >= super::hwc_len(g) && row.len() >= super::row_scratch_len(g, out_c));
        assert!(y.len() >= out_c * ph * tiles && codes.as_ref().is_none_or(|c| c.len() >= out_c * ph * 2));
        assert!(bias.is_none_or(|b| b.len() >= out_c));
        let (v, rest) = row.split_at_mut(16 * tiles * c_n);
        // One block of 16 channels of the pooled row, 16 tile slots (those past `tiles` are
        // read by the transpose, not stored).
        let (m, pooled) = rest.split_at_mut(16 * tiles * out_c);
        assert!(pooled.len() >= 16 * 16);
        // SAFETY: indices inside the lengths asserted above.
        unsafe {
            for th in 0..ph {
                input_rows(g, th, 1, xh.as_ptr(), v.as_mut_ptr());
                products(tiles, c_n, out_c, u.as_ptr(), v.as_ptr(), m.as_mut_ptr());
                for k0 in (0..out_c).step_by(16) {
                    // Each window's winner as `simd::max_2x2_row` records it, per tile.
                    let (mut right, mut bottom) = ([0u16; 16], [0u16; 16]);
                    let b = bias.map_or(_mm512_setzero_ps(), |b| _mm512_loadu_ps(b.as_ptr().add(k0)));
                    for t in 0..tiles {
                        let [y00, y01, y10, y11] = output_tile(m.as_ptr(), tiles, t, out_c, k0, b);
                        let best = fold(fold(fold(y00, y01), y10), y11);
                        if codes.is_some() {
                            let ta = is_max(y00, best);
                            let tb = is_max(y01, best) & !ta;
                            let tc = is_max(y10, best) & !(ta | tb);
                            let td = !(ta | tb | tc);
                            (right[t], bottom[t]) = (tb | td, tc | td);
                        }
                        // ReLU after the pool (`relu`: x ≤ 0 → 0, NaN passes).
                        let positive = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(best, _mm512_setzero_ps());
                        _mm512_storeu_ps(pooled.as_mut_ptr().add(16 * t), _mm512_maskz_mov_ps(positive, best));
                    }
                    let mut r = [_mm512_setzero_ps(); 16];
                    for (t, rv) in r.iter_mut().enumerate() {
                        *rv = _mm512_loadu_ps(pooled.as_ptr().add(16 * t));
                    }
                    transpose16(&mut r);
                    for (kk, rv) in r.iter().enumerate() {
                        _mm512_mask_storeu_ps(y.as_mut_ptr().add(((k0 + kk) * ph + th) * tiles), mask(tiles), *rv);
                    }
                    let Some(codes) = codes.as_deref_mut() else { continue };
                    // The per-tile channel masks, transposed into per-channel words of tile bits.
                    let words = |bits: &[u16; 16]| {
                        let mut acc = _mm512_setzero_si512();
                        for (t, &m) in bits.iter().enumerate().take(tiles) {
                            acc = _mm512_mask_or_epi32(acc, m, acc, _mm512_set1_epi32(1 << t));
                        }
                        let mut out = [0u32; 16];
                        _mm512_storeu_si512(out.as_mut_ptr().cast(), acc);
                        out
                    };
                    let (rw, bw) = (words(&right), words(&bottom));
                    for kk in 0..16 {
                        let at = ((k0 + kk) * ph + th) * 2;
                        codes[at] = rw[kk] as u16;
                        codes[at + 1] = bw[kk] as u16;
                    }
                }
            }
        }
    }

    /// `M[ξ]·U[ξ]` for the 16 positions of `tiles` tiles: `super::channel_product` for each,
    /// in register blocks of up to 7 tiles × 32 channels or 14 tiles × 16.
    #[inline(always)]
    unsafe fn products(tiles: usize, c_n: usize, out_c: usize, u: *const f32, v: *const f32, m: *mut f32) {
        // The channel count as a constant where it is a common one: V's tiles then sit at
        // constant offsets from one pointer, where a runtime stride made the compiler chain
        // the 14 addresses through dependent adds (1 FMA per cycle instead of 2).
        match (out_c.is_multiple_of(KB), c_n) {
            (true, 16) => products_in_blocks::<2, TB, 16>(tiles, c_n, out_c, u, v, m),
            (true, 32) => products_in_blocks::<2, TB, 32>(tiles, c_n, out_c, u, v, m),
            (true, _) => products_in_blocks::<2, TB, 0>(tiles, c_n, out_c, u, v, m),
            (false, 16) => products_in_blocks::<1, { 2 * TB }, 16>(tiles, c_n, out_c, u, v, m),
            (false, 32) => products_in_blocks::<1, { 2 * TB }, 32>(tiles, c_n, out_c, u, v, m),
            (false, _) => products_in_blocks::<1, { 2 * TB }, 0>(tiles, c_n, out_c, u, v, m),
        }
    }

    /// `products` in blocks of up to `MAX_N` tiles × 16·V channels; `CN` is the number of
    /// input channels when known at compile time (0: `c_n`).
    #[inline(always)]
    unsafe fn products_in_blocks<const V: usize, const MAX_N: usize, const CN: usize>(
        tiles: usize,
        c_n: usize,
        out_c: usize,
        u: *const f32,
        v: *const f32,
        m: *mut f32,
    ) {
        for xi in 0..16 {
            let (vx, ux) = (v.add(xi * c_n), u.add(xi * c_n * out_c));
            let mx = m.add(xi * tiles * out_c);
            for k0 in (0..out_c).step_by(16 * V) {
                let mut t0 = 0;
                while t0 < tiles {
                    let n = if tiles - t0 >= MAX_N { MAX_N } else { TB.min(tiles - t0) };
                    let (vb, ub, mb) = (vx.add(16 * t0 * c_n), ux.add(k0), mx.add(t0 * out_c + k0));
                    match n {
                        14 => block::<14, V, CN>(vb, ub, c_n, out_c, mb),
                        7 => block::<7, V, CN>(vb, ub, c_n, out_c, mb),
                        6 => block::<6, V, CN>(vb, ub, c_n, out_c, mb),
                        5 => block::<5, V, CN>(vb, ub, c_n, out_c, mb),
                        4 => block::<4, V, CN>(vb, ub, c_n, out_c, mb),
                        3 => block::<3, V, CN>(vb, ub, c_n, out_c, mb),
                        2 => block::<2, V, CN>(vb, ub, c_n, out_c, mb),
                        _ => block::<1, V, CN>(vb, ub, c_n, out_c, mb),
                    }
                    t0 += n;
                }
            }
        }
    }

    /// `super::transform_input_row` for `rows` tile rows from `th`, 16 channels per vector:
    /// tile t of row th + r is tile q = r·tiles + t of V, its 16 positions ξ at
    /// `V[(16q + ξ)·C ..]`, so that one tile's stores are contiguous. Adjacent tiles share two
    /// columns, so each column's vertical stage (Bᵀ d) is computed once, not twice.
    #[inline(always)]
    unsafe fn input_rows(g: &Geometry, th: usize, rows: usize, xh: *const f32, v: *mut f32) {
        // The channel count as a constant where it is a common one, as in `products`: the
        // 16 stores of a tile then sit at constant offsets from one pointer (a runtime
        // stride made the compiler keep 32 addresses, spilled to the stack).
        match g.c {
            16 => input_rows_of::<16>(g, th, rows, xh, v),
            32 => input_rows_of::<32>(g, th, rows, xh, v),
            _ => input_rows_of::<0>(g, th, rows, xh, v),
        }
    }

    /// `input_rows` for `CN` input channels (0: `g.c`).
    #[inline(always)]
    unsafe fn input_rows_of<const CN: usize>(g: &Geometry, th: usize, rows: usize, xh: *const f32, v: *mut f32) {
        let c_n = if CN == 0 { g.c } else { CN };
        let (wp, tiles) = (g.w + 2, g.out_w / 2);
        for r in 0..rows {
            for c0 in (0..c_n).step_by(CB) {
                let src = xh.add(2 * (th + r) * wp * c_n + c0);
                // Bᵀ d for padded column `col` of the tile row: rows i = 0..4 of the window.
                let column = |col: usize| {
                    let at = |i: usize| _mm512_loadu_ps(src.add((i * wp + col) * c_n));
                    let (d0, d1, d2, d3) = (at(0), at(1), at(2), at(3));
                    [_mm512_sub_ps(d0, d2), _mm512_add_ps(d1, d2), _mm512_sub_ps(d2, d1), _mm512_sub_ps(d1, d3)]
                };
                let (mut s0, mut s1) = (column(0), column(1));
                for t in 0..tiles {
                    let (s2, s3) = (column(2 * t + 2), column(2 * t + 3));
                    let dst = v.add(16 * (r * tiles + t) * c_n + c0);
                    for i in 0..4 {
                        let o = [
                            _mm512_sub_ps(s0[i], s2[i]),
                            _mm512_add_ps(s1[i], s2[i]),
                            _mm512_sub_ps(s2[i], s1[i]),
                            _mm512_sub_ps(s1[i], s3[i]),
                        ];
                        for (j, oj) in o.iter().enumerate() {
                            _mm512_storeu_ps(dst.add((4 * i + j) * c_n), *oj);
                        }
                    }
                    (s0, s1) = (s2, s3);
                }
            }
        }
    }

    /// `super::block`: N tiles × 16·V channels, accumulators in registers. Tile t's input
    /// channels are at `v[16·t·C ..]`, as `input_rows` lays them out.
    #[inline(always)]
    unsafe fn block<const N: usize, const V: usize, const CN: usize>(
        v: *const f32,
        u: *const f32,
        c_n: usize,
        out_c: usize,
        m: *mut f32,
    ) {
        let c_n = if CN == 0 { c_n } else { CN };
        let mut acc = [[_mm512_setzero_ps(); V]; N];
        for c in 0..c_n {
            let uv: [__m512; V] = std::array::from_fn(|j| _mm512_loadu_ps(u.add(c * out_c + 16 * j)));
            let vc = v.add(c);
            for (t, a) in acc.iter_mut().enumerate() {
                let b = _mm512_set1_ps(*vc.add(16 * t * c_n));
                for (aj, &uj) in a.iter_mut().zip(&uv) {
                    *aj = _mm512_fmadd_ps(b, uj, *aj);
                }
            }
        }
        for (t, a) in acc.iter().enumerate() {
            for (j, aj) in a.iter().enumerate() {
                _mm512_storeu_ps(m.add(t * out_c + 16 * j), *aj);
            }
        }
    }

    /// `super::transform_output_row` for `rows` tile rows (tile q = r·tiles + t of M), 16
    /// channels per vector: output row 2r + s of the pass at `out[(2r + s)·owp·O ..]`.
    #[inline(always)]
    unsafe fn output_rows(
        g: &Geometry,
        rows: usize,
        owp: usize,
        out_c: usize,
        m: *const f32,
        bias: Option<&[f32]>,
        out: *mut f32,
    ) {
        let tiles = g.out_w / 2;
        let pass_tiles = rows * tiles;
        for q in 0..pass_tiles {
            let (r, t) = (q / tiles, q % tiles);
            let (top, bottom) = (out.add(2 * r * owp * out_c), out.add((2 * r + 1) * owp * out_c));
            for o in (0..out_c).step_by(16) {
                let b = bias.map_or(_mm512_setzero_ps(), |b| _mm512_loadu_ps(b.as_ptr().add(o)));
                let [y00, y01, y10, y11] = output_tile(m, pass_tiles, q, out_c, o, b);
                _mm512_storeu_ps(top.add((2 * t) * out_c + o), y00);
                _mm512_storeu_ps(top.add((2 * t + 1) * out_c + o), y01);
                _mm512_storeu_ps(bottom.add((2 * t) * out_c + o), y10);
                _mm512_storeu_ps(bottom.add((2 * t + 1) * out_c + o), y11);
            }
        }
    }

    /// Tile t's four outputs (top left, top right, bottom left, bottom right) for the 16
    /// channels from `o`: `b + (Aᵀ M A)`, in `super::transform_output_row`'s order.
    #[inline(always)]
    unsafe fn output_tile(m: *const f32, tiles: usize, t: usize, out_c: usize, o: usize, b: __m512) -> [__m512; 4] {
        let at = |xi: usize| _mm512_loadu_ps(m.add((xi * tiles + t) * out_c + o));
        let mut s = [[_mm512_setzero_ps(); 4]; 2];
        #[allow(clippy::needless_range_loop)] // j: the tile's column, as in the formulas
        for j in 0..4 {
            let (m0, m1, m2, m3) = (at(j), at(4 + j), at(8 + j), at(12 + j));
            s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        let y = |sr: &[__m512; 4]| {
            let y0 = _mm512_add_ps(_mm512_add_ps(sr[0], sr[1]), sr[2]);
            let y1 = _mm512_sub_ps(_mm512_sub_ps(sr[1], sr[2]), sr[3]);
            (_mm512_add_ps(b, y0), _mm512_add_ps(b, y1))
        };
        let ((y00, y01), (y10, y11)) = (y(&s[0]), y(&s[1]));
        [y00, y01, y10, y11]
    }

    #[cfg(test)]
    #[test]
    fn transpose16_transposes() {
        let x: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut out = [0f32; 256];
        // SAFETY: 16 rows of 16 inside x and out.
        unsafe {
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, v) in r.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(x.as_ptr().add(16 * i));
            }
            transpose16(&mut r);
            for (i, v) in r.iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(16 * i), *v);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(out[16 * i + j], x[16 * j + i]);
            }
        }
    }
}
