//! AvgPool1d and AvgPool2d; padding counts towards the divisor (PyTorch's count_include_pad).

use crate::engine::im2col::Geometry;
use crate::engine::Float;

#[derive(Clone, Debug, PartialEq)]
pub struct AvgPool {
    pub geom: Geometry,
}

impl AvgPool {
    /// Calls `f(output index, input index)` for every (output, input) pair of one plane.
    fn for_each_pair(&self, mut f: impl FnMut(usize, usize)) {
        let g = &self.geom;
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                for i in 0..g.wh.kernel {
                    let ih = (oh * g.wh.stride + i) as isize - g.wh.pad_before as isize;
                    if ih < 0 || ih >= g.h as isize {
                        continue;
                    }
                    for j in 0..g.ww.kernel {
                        let iw = (ow * g.ww.stride + j) as isize - g.ww.pad_before as isize;
                        if iw >= 0 && iw < g.w as isize {
                            f(oh * g.out_w + ow, ih as usize * g.w + iw as usize);
                        }
                    }
                }
            }
        }
    }

    fn divisor<T: Float>(&self) -> T {
        T::from_f64((self.geom.wh.kernel * self.geom.ww.kernel) as f64)
    }

    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], n: usize) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, g.out_h * g.out_w);
        let div = self.divisor::<T>();
        for p in 0..n * g.c {
            let xp = &x[p * plane..(p + 1) * plane];
            let yp = &mut y[p * out_plane..(p + 1) * out_plane];
            yp.fill(T::ZERO);
            self.for_each_pair(|o, i| yp[o] += xp[i]);
            for v in yp.iter_mut() {
                *v /= div;
            }
        }
    }

    pub fn backward<T: Float>(&self, dy: &[T], dx: &mut [T], n: usize) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, g.out_h * g.out_w);
        let div = self.divisor::<T>();
        for p in 0..n * g.c {
            let dyp = &dy[p * out_plane..(p + 1) * out_plane];
            let dxp = &mut dx[p * plane..(p + 1) * plane];
            dxp.fill(T::ZERO);
            self.for_each_pair(|o, i| dxp[i] += dyp[o] / div);
        }
    }
}
