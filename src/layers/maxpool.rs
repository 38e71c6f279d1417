//! MaxPool1d and MaxPool2d with padding; ties go to the first maximum and NaN wins, as in
//! PyTorch. Windows that need no padding (the usual case) take a bounds-check-free path.

use super::Scratch;
use crate::engine::im2col::Geometry;
use crate::engine::Float;

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool {
    pub geom: Geometry,
}

/// Whether `v` should replace the current best: larger, or the first NaN.
#[inline(always)]
fn wins<T: Float>(v: T, best: T) -> bool {
    v > best || (v.is_nan() && !best.is_nan())
}

impl MaxPool {
    pub fn out_plane(&self) -> usize {
        self.geom.out_h * self.geom.out_w
    }

    fn unpadded(&self) -> bool {
        let g = &self.geom;
        g.wh.pad_before + g.wh.pad_after + g.ww.pad_before + g.ww.pad_after == 0
            && g.wh.dilation == 1
            && g.ww.dilation == 1
    }

    /// Remembers, for each output, which input of its plane won (for the backward pass).
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], n: usize, s: &mut Scratch<T>) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        let unpadded = self.unpadded();
        for p in 0..n * g.c {
            let xp = &x[p * plane..(p + 1) * plane];
            let yp = &mut y[p * out_plane..(p + 1) * out_plane];
            let ip = &mut s.index[p * out_plane..(p + 1) * out_plane];
            if unpadded && g.wh.kernel == 2 && g.ww.kernel == 2 && g.wh.stride == 2 && g.ww.stride == 2 {
                pool_2x2(xp, g.w, g.out_h, g.out_w, yp, ip);
            } else if unpadded {
                self.pool_unpadded(xp, yp, ip);
            } else {
                self.pool_padded(xp, yp, ip);
            }
        }
    }

    fn pool_unpadded<T: Float>(&self, xp: &[T], yp: &mut [T], ip: &mut [u32]) {
        let g = &self.geom;
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let base = oh * g.wh.stride * g.w + ow * g.ww.stride;
                let (mut best, mut arg) = (xp[base], base);
                for i in 0..g.wh.kernel {
                    let row = &xp[base + i * g.w..base + i * g.w + g.ww.kernel];
                    for (j, &v) in row.iter().enumerate() {
                        if wins(v, best) {
                            best = v;
                            arg = base + i * g.w + j;
                        }
                    }
                }
                yp[oh * g.out_w + ow] = best;
                ip[oh * g.out_w + ow] = arg as u32;
            }
        }
    }

    fn pool_padded<T: Float>(&self, xp: &[T], yp: &mut [T], ip: &mut [u32]) {
        let g = &self.geom;
        for oh in 0..g.out_h {
            let h0 = (oh * g.wh.stride) as isize - g.wh.pad_before as isize;
            for ow in 0..g.out_w {
                let w0 = (ow * g.ww.stride) as isize - g.ww.pad_before as isize;
                let (mut best, mut arg) = (T::NEG_INFINITY, u32::MAX);
                for i in 0..g.wh.kernel {
                    let ih = h0 + (i * g.wh.dilation) as isize;
                    if ih < 0 || ih >= g.h as isize {
                        continue;
                    }
                    for j in 0..g.ww.kernel {
                        let iw = w0 + (j * g.ww.dilation) as isize;
                        if iw < 0 || iw >= g.w as isize {
                            continue;
                        }
                        let at = ih as usize * g.w + iw as usize;
                        if wins(xp[at], best) || arg == u32::MAX {
                            best = xp[at];
                            arg = at as u32;
                        }
                    }
                }
                yp[oh * g.out_w + ow] = best;
                ip[oh * g.out_w + ow] = arg;
            }
        }
    }

    /// Routes each output gradient to the input that won.
    pub fn backward<T: Float>(&self, dy: &[T], dx: &mut [T], n: usize, s: &Scratch<T>) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        dx[..n * g.c * plane].fill(T::ZERO);
        for p in 0..n * g.c {
            let dxp = &mut dx[p * plane..(p + 1) * plane];
            let dyp = &dy[p * out_plane..(p + 1) * out_plane];
            let ip = &s.index[p * out_plane..(p + 1) * out_plane];
            for (d, &at) in dyp.iter().zip(ip) {
                dxp[at as usize] += *d;
            }
        }
    }
}

/// The common 2×2, stride-2 pool, in scan order a, b (top row) then c, d (bottom row).
/// Written with selects rather than branches: which input wins is unpredictable.
#[inline]
fn pool_2x2<T: Float>(xp: &[T], w: usize, out_h: usize, out_w: usize, yp: &mut [T], ip: &mut [u32]) {
    for oh in 0..out_h {
        let top = &xp[2 * oh * w..][..2 * out_w];
        let bottom = &xp[(2 * oh + 1) * w..][..2 * out_w];
        let ys = &mut yp[oh * out_w..][..out_w];
        let is = &mut ip[oh * out_w..][..out_w];
        let row = (2 * oh * w) as u32;
        for ow in 0..out_w {
            let at = row + 2 * ow as u32;
            let (mut best, mut arg) = (top[2 * ow], at);
            let candidates =
                [(top[2 * ow + 1], at + 1), (bottom[2 * ow], at + w as u32), (bottom[2 * ow + 1], at + w as u32 + 1)];
            for (v, a) in candidates {
                let take = wins(v, best);
                best = if take { v } else { best };
                arg = if take { a } else { arg };
            }
            ys[ow] = best;
            is[ow] = arg;
        }
    }
}
