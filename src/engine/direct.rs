//! Direct convolution for stride-1 layers with few inputs per output (C·kh·kw small, e.g. a
//! first layer on grey images, or Conv1d): cheaper than im2col + GEMM there, which spends its
//! time building columns.
//!
//! The input is copied once into a zero-padded plane of width `wp`. On that plane every kernel
//! tap is a constant offset, so the output over the "extended grid" `q = oh·wp + ow` (including
//! `wp - out_w` junk columns per row) is a sum of shifted contiguous vectors: long, branch-free
//! loops the compiler vectorises. Outputs are then compacted to `out_h × out_w`.

use super::im2col::Geometry;
use super::Float;

/// Outputs computed together in registers (one vector each).
const LANES: usize = 16;

/// Sizes of the padded plane and of the extended output grid.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub hp: usize,
    pub wp: usize,
    /// Extended-grid length: the last row needs only `out_w` entries.
    pub ext_len: usize,
    /// `ext_len` rounded up to whole vectors: kernels never need a scalar tail.
    pub ext_stride: usize,
}

pub fn plan(g: &Geometry) -> Plan {
    let hp = g.h + g.wh.pad_before + g.wh.pad_after;
    let wp = g.w + g.ww.pad_before + g.ww.pad_after;
    let ext_len = (g.out_h - 1) * wp + g.out_w;
    Plan { hp, wp, ext_len, ext_stride: ext_len.div_ceil(LANES) * LANES }
}

impl Plan {
    /// Padded planes plus one vector of zeros, so the last chunk may read past the plane.
    pub fn xpad_len(&self, channels: usize) -> usize {
        channels * self.hp * self.wp + LANES
    }
    pub fn ext_total(&self, out_c: usize) -> usize {
        out_c * self.ext_stride
    }
}

/// Off until it beats im2col + GEMM: as written it is slower (`convlab bench --workload
/// mnist-lab --threads 1`: 3.2 s against 2.35 s), so only its test runs it.
const ENABLED: bool = false;

/// Whether the direct path applies and pays: stride 1 and at most 64 inputs per output.
pub fn suits(g: &Geometry) -> bool {
    ENABLED && g.wh.stride == 1 && g.ww.stride == 1 && g.col_rows() <= MAX_TAPS
}

const MAX_TAPS: usize = 64;

/// Copies one sample's C planes into zero-padded planes of `hp × wp`.
pub fn pad_input<T: Float>(g: &Geometry, p: &Plan, x: &[T], xpad: &mut [T]) {
    let xpad = &mut xpad[..p.xpad_len(g.c)];
    xpad.fill(T::ZERO);
    for c in 0..g.c {
        for h in 0..g.h {
            let src = &x[(c * g.h + h) * g.w..(c * g.h + h + 1) * g.w];
            let at = (c * p.hp + h + g.wh.pad_before) * p.wp + g.ww.pad_before;
            xpad[at..at + g.w].copy_from_slice(src);
        }
    }
}

/// Offset of each tap (c, i, j) on the padded planes.
fn tap_offsets(g: &Geometry, p: &Plan) -> [usize; MAX_TAPS] {
    let (kh, kw) = (g.wh.kernel, g.ww.kernel);
    let mut offs = [0; MAX_TAPS];
    for (tap, o) in offs.iter_mut().enumerate().take(g.col_rows()) {
        let (c, i, j) = (tap / (kh * kw), tap / kw % kh, tap % kw);
        *o = c * p.hp * p.wp + i * g.wh.dilation * p.wp + j * g.ww.dilation;
    }
    offs
}

#[inline(always)]
fn load<T: Float>(v: &[T], at: usize) -> &[T; LANES] {
    v[at..at + LANES].try_into().unwrap()
}

/// B output channels over one vector of the extended grid.
#[inline(always)]
fn forward_block<T: Float, const B: usize>(
    w: &[T],
    taps: usize,
    offs: &[usize],
    xpad: &[T],
    q: usize,
    bias: [T; B],
) -> [[T; LANES]; B] {
    let mut acc = [[T::ZERO; LANES]; B];
    for o in 0..B {
        acc[o] = [bias[o]; LANES];
    }
    for tap in 0..taps {
        let xv = load(xpad, offs[tap] + q);
        for o in 0..B {
            let wv = w[o * taps + tap];
            for l in 0..LANES {
                acc[o][l] = wv.mul_add(xv[l], acc[o][l]);
            }
        }
    }
    acc
}

fn forward_channels<T: Float, const B: usize>(
    g: &Geometry,
    p: &Plan,
    o0: usize,
    w: &[T],
    bias: Option<&[T]>,
    xpad: &[T],
    ext: &mut [T],
) {
    let taps = g.col_rows();
    let offs = tap_offsets(g, p);
    let b: [T; B] = std::array::from_fn(|o| bias.map_or(T::ZERO, |b| b[o0 + o]));
    let w = &w[o0 * taps..(o0 + B) * taps];
    for q in (0..p.ext_len).step_by(LANES) {
        let acc = forward_block::<T, B>(w, taps, &offs[..taps], xpad, q, b);
        for (o, a) in acc.iter().enumerate() {
            ext[(o0 + o) * p.ext_stride + q..][..LANES].copy_from_slice(a);
        }
    }
}

/// `y (O × out_h × out_w) = W ⋆ xpad + b` for one sample; `ext` is scratch of `ext_total`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Float>(
    g: &Geometry,
    p: &Plan,
    out_c: usize,
    w: &[T],
    bias: Option<&[T]>,
    xpad: &[T],
    ext: &mut [T],
    y: &mut [T],
) {
    let mut o0 = 0;
    while o0 < out_c {
        let left = out_c - o0;
        let step = match left {
            8.. => {
                forward_channels::<T, 8>(g, p, o0, w, bias, xpad, ext);
                8
            }
            4..=7 => {
                forward_channels::<T, 4>(g, p, o0, w, bias, xpad, ext);
                4
            }
            2..=3 => {
                forward_channels::<T, 2>(g, p, o0, w, bias, xpad, ext);
                2
            }
            _ => {
                forward_channels::<T, 1>(g, p, o0, w, bias, xpad, ext);
                1
            }
        };
        o0 += step;
    }
    // Compact the extended grid.
    let plane = g.out_h * g.out_w;
    for o in 0..out_c {
        for oh in 0..g.out_h {
            let src = &ext[o * p.ext_stride + oh * p.wp..][..g.out_w];
            y[o * plane + oh * g.out_w..][..g.out_w].copy_from_slice(src);
        }
    }
}

/// Two taps × B channels of `dW`, sharing each loaded vector of `dy`.
fn weight_grad_channels<T: Float, const B: usize>(
    g: &Geometry,
    p: &Plan,
    o0: usize,
    dyext: &[T],
    xpad: &[T],
    dw: &mut [T],
) {
    let taps = g.col_rows();
    let offs = tap_offsets(g, p);
    let mut tap = 0;
    while tap < taps {
        let (t0, t1) = (offs[tap], if tap + 1 < taps { offs[tap + 1] } else { offs[tap] });
        let mut acc0 = [[T::ZERO; LANES]; B];
        let mut acc1 = [[T::ZERO; LANES]; B];
        for q in (0..p.ext_stride).step_by(LANES) {
            let (x0, x1) = (load(xpad, t0 + q), load(xpad, t1 + q));
            for o in 0..B {
                let d = load(dyext, (o0 + o) * p.ext_stride + q);
                for l in 0..LANES {
                    acc0[o][l] = d[l].mul_add(x0[l], acc0[o][l]);
                    acc1[o][l] = d[l].mul_add(x1[l], acc1[o][l]);
                }
            }
        }
        for o in 0..B {
            dw[(o0 + o) * taps + tap] += acc0[o].iter().copied().sum::<T>();
            if tap + 1 < taps {
                dw[(o0 + o) * taps + tap + 1] += acc1[o].iter().copied().sum::<T>();
            }
        }
        tap += 2;
    }
}

/// `dW += dy ⋆ xpad` for one sample; `dy` is O × out_h × out_w, `dyext` scratch of `ext_total`.
pub fn weight_grad<T: Float>(
    g: &Geometry,
    p: &Plan,
    out_c: usize,
    dy: &[T],
    xpad: &[T],
    dyext: &mut [T],
    dw: &mut [T],
) {
    let plane = g.out_h * g.out_w;
    // Spread dy onto the extended grid with zeros in the junk columns and the rounding tail.
    for o in 0..out_c {
        let e = &mut dyext[o * p.ext_stride..(o + 1) * p.ext_stride];
        e.fill(T::ZERO);
        for oh in 0..g.out_h {
            e[oh * p.wp..][..g.out_w].copy_from_slice(&dy[o * plane + oh * g.out_w..][..g.out_w]);
        }
    }
    let mut o0 = 0;
    while o0 < out_c {
        let left = out_c - o0;
        o0 += match left {
            8.. => {
                weight_grad_channels::<T, 8>(g, p, o0, dyext, xpad, dw);
                8
            }
            4..=7 => {
                weight_grad_channels::<T, 4>(g, p, o0, dyext, xpad, dw);
                4
            }
            2..=3 => {
                weight_grad_channels::<T, 2>(g, p, o0, dyext, xpad, dw);
                2
            }
            _ => {
                weight_grad_channels::<T, 1>(g, p, o0, dyext, xpad, dw);
                1
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gemm::{matmul, Mat};
    use crate::engine::im2col::im2col;
    use crate::engine::Window;

    #[test]
    fn direct_matches_im2col_and_gemm() {
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
            let g = Geometry { c, h, w, wh, ww, out_h: wh.output_len(h).unwrap(), out_w: ww.output_len(w).unwrap() };
            let p = plan(&g);
            let x: Vec<f64> = (0..c * h * w).map(|i| (i as f64 * 0.37).sin()).collect();
            let wt: Vec<f64> = (0..o * g.col_rows()).map(|i| (i as f64 * 0.71).cos()).collect();
            let b: Vec<f64> = (0..o).map(|i| i as f64 * 0.1).collect();
            let mut xpad = vec![0.0; p.xpad_len(c)];
            pad_input(&g, &p, &x, &mut xpad);
            let mut ext = vec![0.0; p.ext_total(o)];
            let mut y = vec![0.0; o * g.col_cols()];
            forward(&g, &p, o, &wt, Some(&b), &xpad, &mut ext, &mut y);
            let mut cols = vec![0.0; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            let mut want = vec![0.0; o * g.col_cols()];
            for (oi, row) in want.chunks_mut(g.col_cols()).enumerate() {
                row.fill(b[oi]);
            }
            matmul(&mut want, Mat::rows(&wt, o, g.col_rows()), Mat::rows(&cols, g.col_rows(), g.col_cols()), true);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12);
            }
            // dW = dy · colsᵀ
            let dy: Vec<f64> = (0..o * g.col_cols()).map(|i| (i as f64 * 0.13).sin()).collect();
            let mut dw = vec![0.0; wt.len()];
            let mut dyext = vec![0.0; p.ext_total(o)];
            weight_grad(&g, &p, o, &dy, &xpad, &mut dyext, &mut dw);
            let mut want_dw = vec![0.0; wt.len()];
            matmul(
                &mut want_dw,
                Mat::rows(&dy, o, g.col_cols()),
                Mat::rows(&cols, g.col_rows(), g.col_cols()).t(),
                false,
            );
            for (a, b) in dw.iter().zip(&want_dw) {
                assert!((a - b).abs() < 1e-10, "{a} {b}");
            }
        }
    }
}
