//! MaxPool1d and MaxPool2d with padding; ties go to the first maximum, as in PyTorch.

use super::Scratch;
use crate::engine::im2col::Geometry;
use crate::engine::Float;

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool {
    pub geom: Geometry,
}

impl MaxPool {
    pub fn out_plane(&self) -> usize {
        self.geom.out_h * self.geom.out_w
    }

    /// Remembers, for each output, which input of its plane won (for the backward pass).
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], n: usize, s: &mut Scratch<T>) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        let index = &mut s.index;
        for p in 0..n * g.c {
            let xp = &x[p * plane..(p + 1) * plane];
            let yp = &mut y[p * out_plane..(p + 1) * out_plane];
            let ip = &mut index[p * out_plane..(p + 1) * out_plane];
            for oh in 0..g.out_h {
                let h0 = (oh * g.wh.stride) as isize - g.wh.pad_before as isize;
                for ow in 0..g.out_w {
                    let w0 = (ow * g.ww.stride) as isize - g.ww.pad_before as isize;
                    let mut best = T::NEG_INFINITY;
                    let mut arg = u32::MAX;
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
                            let v = xp[at];
                            // NaN wins and stays, as in PyTorch.
                            if v > best || v.is_nan() || arg == u32::MAX {
                                best = v;
                                arg = at as u32;
                                if v.is_nan() {
                                    break;
                                }
                            }
                        }
                    }
                    yp[oh * g.out_w + ow] = best;
                    ip[oh * g.out_w + ow] = arg;
                }
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
