//! Unfolding input planes into a column matrix (im2col) and folding gradients back (col2im),
//! so a convolution becomes one matrix product per sample.
//!
//! The column matrix has one row per (input channel, kernel row, kernel column) and one column
//! per output position; out-of-range (padding) entries are zero.

use super::{Float, Window};

/// The geometry of one 2-D sliding window over a C×H×W input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub wh: Window,
    pub ww: Window,
    pub out_h: usize,
    pub out_w: usize,
}

impl Geometry {
    /// The geometry of windows `wh`, `ww` over C × H × W, or None when a window does not fit.
    pub fn new(c: usize, h: usize, w: usize, wh: Window, ww: Window) -> Option<Geometry> {
        Some(Geometry { c, h, w, wh, ww, out_h: wh.output_len(h)?, out_w: ww.output_len(w)? })
    }

    /// Rows of the column matrix: C·kh·kw.
    pub fn col_rows(&self) -> usize {
        self.c * self.wh.kernel * self.ww.kernel
    }
    /// Columns of the column matrix: out_h·out_w.
    pub fn col_cols(&self) -> usize {
        self.out_h * self.out_w
    }

    /// For kernel offset `j` along W: the input column of output column `ow` is
    /// `ow*stride + j*dilation - pad`; returns the range of `ow` for which it is inside 0..w.
    #[inline]
    fn valid_range(win: &Window, n_in: usize, n_out: usize, offset: usize) -> (usize, usize) {
        // input index = o*s + off - p  must be in [0, n_in)
        let shift = (offset * win.dilation) as isize - win.pad_before as isize;
        if win.stride == 1 {
            // No divisions: this runs per kernel offset and sample, and dominated tiny layers.
            let lo = (-shift).clamp(0, n_out as isize) as usize;
            let hi = (n_in as isize - shift).clamp(lo as isize, n_out as isize) as usize;
            return (lo, hi);
        }
        let s = win.stride as isize;
        // smallest o with o*s + shift >= 0
        let lo = if shift >= 0 { 0 } else { ((-shift) + s - 1) / s };
        // largest o with o*s + shift <= n_in - 1
        let hi_num = n_in as isize - 1 - shift;
        let hi = if hi_num < 0 { -1 } else { hi_num / s };
        let lo = lo.min(n_out as isize) as usize;
        let hi = (hi + 1).clamp(lo as isize, n_out as isize) as usize;
        (lo, hi)
    }
}

impl Geometry {
    /// Stride 1 and output as wide as the input ('same' width): each column-matrix row is then
    /// the input plane shifted by a constant, one contiguous range plus a few wrapped columns.
    fn shifts_plane(&self) -> bool {
        self.wh.stride == 1 && self.ww.stride == 1 && self.out_w == self.w
    }

    /// For the row (c, i, j) of a `shifts_plane` geometry: the contiguous range `a..b` of the
    /// output grid that reads the input plane at `q + shift`, and the valid columns `lo..hi`;
    /// inside `a..b`, the columns outside `lo..hi` wrapped around a row edge. None: all padding.
    fn shifted_range(&self, i: usize, j: usize) -> Option<(usize, usize, isize, usize, usize)> {
        let (oh_lo, oh_hi) = Geometry::valid_range(&self.wh, self.h, self.out_h, i);
        let (lo, hi) = Geometry::valid_range(&self.ww, self.w, self.out_w, j);
        if oh_lo >= oh_hi || lo >= hi {
            return None;
        }
        let w = self.w as isize;
        let shift = ((i * self.wh.dilation) as isize - self.wh.pad_before as isize) * w
            + (j * self.ww.dilation) as isize
            - self.ww.pad_before as isize;
        Some((oh_lo * self.w + lo, (oh_hi - 1) * self.w + hi, shift, lo, hi))
    }
}

/// Zeroes columns `..lo` and `hi..` of every row of `v` (rows of `w`) within `a..b`. Written as
/// strided loops over the few wrapped columns: a memset per row edge cost as much as the copy.
#[inline]
fn zero_wrapped<T: Float>(v: &mut [T], w: usize, (a, b): (usize, usize), (lo, hi): (usize, usize)) {
    for col in (0..lo).chain(hi..w) {
        // The first q ≥ a in column `col`, then every row.
        let mut q = a - a % w + col;
        if q < a {
            q += w;
        }
        while q < b {
            v[q] = T::ZERO;
            q += w;
        }
    }
}

/// Writes the column matrix of one sample `x` (C×H×W) into `cols` (col_rows × col_cols).
pub fn im2col<T: Float>(g: &Geometry, x: &[T], cols: &mut [T]) {
    if g.shifts_plane() {
        return im2col_shifted(g, x, cols);
    }
    let (kh, kw) = (g.wh.kernel, g.ww.kernel);
    let (oh_n, ow_n) = (g.out_h, g.out_w);
    let plane = g.h * g.w;
    let ncols = oh_n * ow_n;
    for c in 0..g.c {
        let xc = &x[c * plane..(c + 1) * plane];
        for i in 0..kh {
            let (oh_lo, oh_hi) = Geometry::valid_range(&g.wh, g.h, oh_n, i);
            for j in 0..kw {
                let (ow_lo, ow_hi) = Geometry::valid_range(&g.ww, g.w, ow_n, j);
                let row = (c * kh + i) * kw + j;
                let dst = &mut cols[row * ncols..(row + 1) * ncols];
                dst[..oh_lo * ow_n].fill(T::ZERO);
                dst[oh_hi * ow_n..].fill(T::ZERO);
                let col_shift = (j * g.ww.dilation) as isize - g.ww.pad_before as isize;
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.wh.stride + i * g.wh.dilation - g.wh.pad_before;
                    let drow = &mut dst[oh * ow_n..(oh + 1) * ow_n];
                    drow[..ow_lo].fill(T::ZERO);
                    drow[ow_hi..].fill(T::ZERO);
                    if ow_lo >= ow_hi {
                        continue; // every tap of this kernel column falls in the padding
                    }
                    let xrow = &xc[ih * g.w..(ih + 1) * g.w];
                    if g.ww.stride == 1 {
                        let start = (ow_lo as isize + col_shift) as usize;
                        drow[ow_lo..ow_hi].copy_from_slice(&xrow[start..start + (ow_hi - ow_lo)]);
                    } else {
                        for ow in ow_lo..ow_hi {
                            drow[ow] = xrow[(ow as isize * g.ww.stride as isize + col_shift) as usize];
                        }
                    }
                }
            }
        }
    }
}

/// `im2col` for `shifts_plane` geometries: one contiguous copy per row of `cols`.
fn im2col_shifted<T: Float>(g: &Geometry, x: &[T], cols: &mut [T]) {
    let (plane, ncols, (kh, kw)) = (g.h * g.w, g.col_cols(), (g.wh.kernel, g.ww.kernel));
    for i in 0..kh {
        for j in 0..kw {
            let range = g.shifted_range(i, j);
            for c in 0..g.c {
                let row = (c * kh + i) * kw + j;
                let dst = &mut cols[row * ncols..(row + 1) * ncols];
                let Some((a, b, shift, lo, hi)) = range else {
                    dst.fill(T::ZERO);
                    continue;
                };
                let xc = &x[c * plane..(c + 1) * plane];
                dst[..a].fill(T::ZERO);
                dst[b..].fill(T::ZERO);
                dst[a..b].copy_from_slice(&xc[(a as isize + shift) as usize..(b as isize + shift) as usize]);
                zero_wrapped(dst, g.w, (a, b), (lo, hi));
            }
        }
    }
}

/// Adds the column-matrix gradient `cols` back onto `dx` (C×H×W), the adjoint of `im2col`.
/// `dx` is accumulated into, so the caller zeroes it first. `cols` may be clobbered.
pub fn col2im<T: Float>(g: &Geometry, cols: &mut [T], dx: &mut [T]) {
    if g.shifts_plane() {
        return col2im_shifted(g, cols, dx);
    }
    let (kh, kw) = (g.wh.kernel, g.ww.kernel);
    let (oh_n, ow_n) = (g.out_h, g.out_w);
    let plane = g.h * g.w;
    let ncols = oh_n * ow_n;
    for c in 0..g.c {
        let dxc = &mut dx[c * plane..(c + 1) * plane];
        for i in 0..kh {
            let (oh_lo, oh_hi) = Geometry::valid_range(&g.wh, g.h, oh_n, i);
            for j in 0..kw {
                let (ow_lo, ow_hi) = Geometry::valid_range(&g.ww, g.w, ow_n, j);
                let row = (c * kh + i) * kw + j;
                let src = &cols[row * ncols..(row + 1) * ncols];
                let col_shift = (j * g.ww.dilation) as isize - g.ww.pad_before as isize;
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.wh.stride + i * g.wh.dilation - g.wh.pad_before;
                    let srow = &src[oh * ow_n..(oh + 1) * ow_n];
                    let xrow = &mut dxc[ih * g.w..(ih + 1) * g.w];
                    for ow in ow_lo..ow_hi {
                        xrow[(ow as isize * g.ww.stride as isize + col_shift) as usize] += srow[ow];
                    }
                }
            }
        }
    }
}

/// `col2im` for `shifts_plane` geometries: zero the wrapped columns of each row of `cols`,
/// then one contiguous (vectorised) add per row.
fn col2im_shifted<T: Float>(g: &Geometry, cols: &mut [T], dx: &mut [T]) {
    let (plane, ncols, (kh, kw)) = (g.h * g.w, g.col_cols(), (g.wh.kernel, g.ww.kernel));
    for i in 0..kh {
        for j in 0..kw {
            let Some((a, b, shift, lo, hi)) = g.shifted_range(i, j) else { continue };
            for c in 0..g.c {
                let row = (c * kh + i) * kw + j;
                let src = &mut cols[row * ncols..(row + 1) * ncols];
                zero_wrapped(src, g.w, (a, b), (lo, hi));
                let dxc = &mut dx[c * plane..(c + 1) * plane];
                let dst = &mut dxc[(a as isize + shift) as usize..(b as isize + shift) as usize];
                for (d, &s) in dst.iter_mut().zip(&src[a..b]) {
                    *d += s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(c: usize, h: usize, w: usize, wh: Window, ww: Window) -> Geometry {
        Geometry::new(c, h, w, wh, ww).unwrap()
    }

    /// im2col by the definition, one entry at a time.
    fn reference(g: &Geometry, x: &[f64]) -> Vec<f64> {
        let mut cols = vec![0.0; g.col_rows() * g.col_cols()];
        for c in 0..g.c {
            for i in 0..g.wh.kernel {
                for j in 0..g.ww.kernel {
                    let row = (c * g.wh.kernel + i) * g.ww.kernel + j;
                    for oh in 0..g.out_h {
                        for ow in 0..g.out_w {
                            let ih = (oh * g.wh.stride + i * g.wh.dilation) as isize - g.wh.pad_before as isize;
                            let iw = (ow * g.ww.stride + j * g.ww.dilation) as isize - g.ww.pad_before as isize;
                            if ih >= 0 && iw >= 0 && (ih as usize) < g.h && (iw as usize) < g.w {
                                cols[row * g.col_cols() + oh * g.out_w + ow] =
                                    x[(c * g.h + ih as usize) * g.w + iw as usize];
                            }
                        }
                    }
                }
            }
        }
        cols
    }

    /// col2im is im2col's adjoint: <im2col(x), y> == <x, col2im(y)>.
    fn assert_adjoint(g: &Geometry, x: &[f64], cols: &[f64]) {
        let y: Vec<f64> = (0..cols.len()).map(|i| (i as f64 * 0.31).cos()).collect();
        let mut dx = vec![0.0; x.len()];
        col2im(g, &mut y.clone(), &mut dx);
        let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9 * (1.0 + lhs.abs()), "{g:?}");
    }

    #[test]
    fn im2col_matches_the_definition_and_col2im_is_its_adjoint() {
        let cases = [
            geometry(2, 5, 6, Window::simple(3, 1, 1), Window::simple(3, 1, 1)),
            geometry(
                1,
                7,
                9,
                Window::simple(3, 2, 1),
                Window { kernel: 5, stride: 1, pad_before: 2, pad_after: 2, dilation: 2 },
            ),
            geometry(3, 4, 4, Window::simple(4, 1, 0), Window::simple(4, 1, 0)),
            geometry(
                1,
                1,
                17,
                Window::simple(1, 1, 0),
                Window { kernel: 5, stride: 2, pad_before: 3, pad_after: 3, dilation: 2 },
            ),
            geometry(
                1,
                3,
                8,
                Window::simple(2, 1, 0),
                Window { kernel: 4, stride: 1, pad_before: 1, pad_after: 2, dilation: 1 },
            ),
            geometry(
                2,
                6,
                7,
                Window { kernel: 3, stride: 1, pad_before: 2, pad_after: 2, dilation: 2 },
                Window { kernel: 3, stride: 1, pad_before: 2, pad_after: 2, dilation: 2 },
            ),
            geometry(1, 2, 5, Window::simple(5, 1, 2), Window::simple(5, 1, 2)),
            geometry(3, 28, 28, Window::simple(5, 1, 2), Window::simple(5, 1, 2)),
        ];
        for g in cases {
            let x: Vec<f64> = (0..g.c * g.h * g.w).map(|i| (i as f64 * 0.73).sin()).collect();
            let mut cols = vec![f64::NAN; g.col_rows() * g.col_cols()];
            im2col(&g, &x, &mut cols);
            assert_eq!(cols, reference(&g, &x), "{g:?}");
            assert_adjoint(&g, &x, &cols);
        }
    }

    /// Every small geometry, including padding wider than the output (`k=12, p=2` on 8 pixels:
    /// one output, and kernel columns that see only padding).
    #[test]
    fn every_small_geometry_matches_the_definition() {
        for n in 1..=9 {
            for k in 1..=12 {
                for p in 0..=5 {
                    for s in 1..=3 {
                        for d in 1..=2 {
                            let win = Window { kernel: k, stride: s, pad_before: p, pad_after: p, dilation: d };
                            if win.output_len(n).is_none() {
                                continue;
                            }
                            let g = geometry(1, n, n, win, win);
                            let x: Vec<f64> = (0..n * n).map(|i| i as f64 + 1.0).collect();
                            let mut cols = vec![f64::NAN; g.col_rows() * g.col_cols()];
                            im2col(&g, &x, &mut cols);
                            assert_eq!(cols, reference(&g, &x), "{g:?}");
                            assert_adjoint(&g, &x, &cols);
                        }
                    }
                }
            }
        }
    }
}
