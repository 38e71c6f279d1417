//! MaxPool1d and MaxPool2d with padding; ties go to the first maximum and NaN wins, as in
//! PyTorch. Windows that need no padding (the usual case) take a bounds-check-free path.
//!
//! The common 2×2, stride-2 pool stores no winner: forward is a plain (vectorised) maximum and
//! backward routes each gradient to the first input of its window equal to the maximum (the
//! first NaN when the maximum is NaN), which is exactly the input the first-max rule picks.
//! A ReLU followed by a max-pool runs fused, in `relu_maxpool`.
use crate::engine::im2col::Geometry;
use crate::engine::Float;
use crate::engine::{avx2, simd};

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool {
    pub geom: Geometry,
}

/// A max-pool's working memory in one workspace.
#[derive(Clone, Debug, Default)]
pub struct MaxPoolScratch {
    /// The general path's winners: for each output, the index of its input in the plane,
    /// for the samples of one call from its first (not used by the plain 2×2 pool).
    pub(super) index: Vec<u32>,
    /// The fused ReLU + 2×2 path's winners, 2 bits per output, for the whole batch
    /// (`relu_maxpool`).
    pub(super) codes: Vec<u16>,
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

    pub(crate) fn unpadded(&self) -> bool {
        let g = &self.geom;
        g.wh.pad_before + g.wh.pad_after + g.ww.pad_before + g.ww.pad_after == 0
            && g.wh.dilation == 1
            && g.ww.dilation == 1
    }

    /// The 2×2, stride-2 pool without padding or dilation, which needs no stored winners.
    pub fn is_2x2(&self) -> bool {
        let g = &self.geom;
        self.unpadded() && g.wh.kernel == 2 && g.ww.kernel == 2 && g.wh.stride == 2 && g.ww.stride == 2
    }

    /// Whether the convolution before this pool (and a ReLU) may take its weight gradient
    /// from the stored winners alone (`Conv::backward_from_winners`): the general path, whose
    /// windows do not overlap and hold at least 4 inputs, so at most a quarter of the
    /// convolution's outputs get a gradient.
    pub fn routes_to_few(&self) -> bool {
        let g = &self.geom;
        let apart = |w: &crate::engine::Window| w.stride > w.dilation * (w.kernel - 1);
        !self.is_2x2() && apart(&g.wh) && apart(&g.ww) && g.wh.kernel * g.ww.kernel >= 4
    }

    /// The stored winners of the samples `first..first + n` of the last forward call (an index
    /// into the input plane per output); the general path's only.
    pub(super) fn winners<'s>(&self, s: &'s MaxPoolScratch, first: usize, n: usize) -> &'s [u32] {
        let per_sample = self.geom.c * self.out_plane();
        &s.index[first * per_sample..(first + n) * per_sample]
    }

    /// Winners stored per output (for the backward pass); none for the 2×2 path.
    fn index_len(&self, capacity: usize) -> usize {
        if self.is_2x2() {
            0
        } else {
            capacity * self.geom.c * self.out_plane()
        }
    }

    pub fn scratch(&self, capacity: usize) -> MaxPoolScratch {
        MaxPoolScratch { index: vec![0; self.index_len(capacity)], codes: vec![0; self.codes_len(capacity)] }
    }

    /// Remembers, for each output, which input of its plane won (for the backward pass).
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], n: usize, s: &mut MaxPoolScratch) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        if self.is_2x2() {
            for (xp, yp) in x.chunks_exact(plane).zip(y.chunks_exact_mut(out_plane)).take(n * g.c) {
                max_2x2(xp, g.w, g.out_h, g.out_w, yp, None);
            }
            return;
        }
        let unpadded = self.unpadded();
        if let (true, true, Some(xf), Some(yf)) = (simd::AVX512, unpadded, simd::f32s(x), simd::f32s_mut(y)) {
            return self.pool_gathered(xf, yf, n, &mut s.index);
        }
        for p in 0..n * g.c {
            let xp = &x[p * plane..(p + 1) * plane];
            let yp = &mut y[p * out_plane..(p + 1) * out_plane];
            let ip = &mut s.index[p * out_plane..(p + 1) * out_plane];
            if unpadded {
                self.pool_unpadded(xp, yp, ip);
            } else {
                self.pool_padded(xp, yp, ip);
            }
        }
    }

    /// `pool_unpadded` for f32, 16 windows at a time across all planes (`simd::first_max_16`).
    fn pool_gathered(&self, x: &[f32], y: &mut [f32], n: usize, index: &mut [u32]) {
        let g = &self.geom;
        let (plane, total) = (g.h * g.w, n * g.c * self.out_plane());
        let (mut starts, mut planes) = ([0i32; 16], [0usize; 16]);
        let (mut p, mut oh, mut ow) = (0, 0, 0); // the next output's plane, row and column
        for k0 in (0..total).step_by(16) {
            let lanes = (total - k0).min(16);
            for l in 0..lanes {
                starts[l] = (p * plane + oh * g.wh.stride * g.w + ow * g.ww.stride) as i32;
                planes[l] = p * plane;
                ow += 1;
                if ow == g.out_w {
                    (ow, oh) = (0, oh + 1);
                    if oh == g.out_h {
                        (oh, p) = (0, p + 1);
                    }
                }
            }
            let (best, at) = simd::first_max_16(x, &starts, lanes, (g.wh.kernel, g.ww.kernel, g.w));
            for l in 0..lanes {
                y[k0 + l] = best[l];
                index[k0 + l] = (at[l] as usize - planes[l]) as u32;
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
                    let at = base + i * g.w;
                    let (v, j) = first_max(&xp[at..at + g.ww.kernel]);
                    if wins(v, best) {
                        best = v;
                        arg = at + j;
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

    /// Routes each output gradient to the input that won. `x` and `y` are the forward's input
    /// and output (the 2×2 path finds the winner again from them).
    pub fn backward<T: Float>(&self, x: &[T], y: &[T], dy: &[T], dx: &mut [T], n: usize, s: &MaxPoolScratch) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        if self.is_2x2() {
            let planes = x.chunks_exact(plane).zip(dx.chunks_exact_mut(plane));
            for ((xp, dxp), (yp, dyp)) in
                planes.zip(y.chunks_exact(out_plane).zip(dy.chunks_exact(out_plane))).take(n * g.c)
            {
                route_2x2(xp, yp, dyp, (g.h, g.w), (g.out_h, g.out_w), dxp);
            }
            return;
        }
        self.route_to_winners(y, dy, dx, n, s, false);
    }

    /// The general path's backward: each output gradient to the winner stored by `forward`.
    /// `relu`: as in `fused_backward` (`relu_maxpool`), only where the output `y` is not ≤ 0.
    pub(super) fn route_to_winners<T: Float>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        n: usize,
        s: &MaxPoolScratch,
        relu: bool,
    ) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        dx[..n * g.c * plane].fill(T::ZERO);
        for p in 0..n * g.c {
            let (dxp, at) = (&mut dx[p * plane..(p + 1) * plane], p * out_plane..(p + 1) * out_plane);
            for ((&d, &m), &i) in dy[at.clone()].iter().zip(&y[at.clone()]).zip(&s.index[at]) {
                if !(relu && m <= T::ZERO) {
                    dxp[i as usize] += d;
                }
            }
        }
    }
}

/// The first maximum of `row` and where it is (the first NaN if there is one), in two plain
/// passes: the maximum, then its first position. One pass with the NaN rule in its loop
/// branches on every element, which was the 1-D lab's largest cost (windows of 20).
#[inline]
fn first_max<T: Float>(row: &[T]) -> (T, usize) {
    if let (true, Some(r)) = (simd::AVX512, simd::f32s(row)) {
        let (v, at) = simd::first_max(r);
        return (T::from_f32(v), at);
    }
    let (mut best, mut nan) = (row[0], false);
    for &v in row {
        best = if v > best { v } else { best };
        nan |= v.is_nan();
    }
    let at = if nan { row.iter().position(|v| v.is_nan()) } else { row.iter().position(|&v| v == best) };
    let at = at.unwrap_or(0);
    (row[at], at)
}

/// The maximum of each 2×2 window, by the first-max rule (a NaN wins; ties keep the earlier of
/// a, b (top row), c, d). With `codes`, also each window's winner, 2 bits per output
/// (`code_words` per plane; see `simd::max_2x2_row`).
#[inline]
pub(super) fn max_2x2<T: Float>(
    xp: &[T],
    w: usize,
    out_h: usize,
    out_w: usize,
    yp: &mut [T],
    mut codes: Option<&mut [u16]>,
) {
    let words = 2 * out_w.div_ceil(16);
    if let (true, Some(x), Some(y)) = (simd::AVX512, simd::f32s(xp), simd::f32s_mut(yp)) {
        return simd::max_2x2_plane(x, w, (out_h, out_w), y, codes);
    }
    for (oh, ys) in yp.chunks_exact_mut(out_w).enumerate().take(out_h) {
        let top = &xp[2 * oh * w..][..2 * out_w];
        let bottom = &xp[(2 * oh + 1) * w..][..2 * out_w];
        let mut cs = codes.as_deref_mut().map(|c| &mut c[oh * words..][..words]);
        if let (true, Some(t), Some(b), Some(y)) = (avx2::AVX2, simd::f32s(top), simd::f32s(bottom), simd::f32s_mut(ys))
        {
            avx2::max_2x2_row(t, b, y, cs);
            continue;
        }
        if let Some(cs) = cs.as_deref_mut() {
            cs.fill(0);
        }
        for (k, ((y, t), b)) in ys.iter_mut().zip(top.chunks_exact(2)).zip(bottom.chunks_exact(2)).enumerate() {
            let window = [t[0], t[1], b[0], b[1]];
            let mut win = 0;
            for (i, &v) in window.iter().enumerate().skip(1) {
                if wins(v, window[win]) {
                    win = i;
                }
            }
            *y = window[win];
            if let Some(cs) = cs.as_deref_mut() {
                let bit = 1u16 << (k % 16);
                if win % 2 == 1 {
                    cs[2 * (k / 16)] |= bit; // right column
                }
                if win >= 2 {
                    cs[2 * (k / 16) + 1] |= bit; // bottom row
                }
            }
        }
    }
}

/// Whether input `v` is the window's maximum `m` (NaN matches NaN).
#[inline(always)]
fn is_max<T: Float>(v: T, m: T) -> bool {
    v == m || (v.is_nan() && m.is_nan())
}

/// Backward of `max_2x2`: each window's gradient goes to its first input equal to the maximum,
/// the others get zero. Inputs outside every window (odd height or width) get zero too.
#[inline]
fn route_2x2<T: Float>(
    xp: &[T],
    yp: &[T],
    dyp: &[T],
    (h, w): (usize, usize),
    (out_h, out_w): (usize, usize),
    dxp: &mut [T],
) {
    for oh in 0..out_h {
        let (ys, gs) = (&yp[oh * out_w..][..out_w], &dyp[oh * out_w..][..out_w]);
        let (x_top, x_bottom) = xp[2 * oh * w..][..2 * w].split_at(w);
        let (d_top, d_bottom) = dxp[2 * oh * w..][..2 * w].split_at_mut(w);
        if let (true, Some(xt), Some(xb), Some(y), Some(g)) =
            (simd::AVX512, simd::f32s(x_top), simd::f32s(x_bottom), simd::f32s(ys), simd::f32s(gs))
        {
            let (dt, db) = (simd::f32s_mut(d_top).unwrap(), simd::f32s_mut(d_bottom).unwrap());
            simd::route_2x2_row(xt, xb, y, g, dt, db);
        } else {
            let windows = d_top.chunks_exact_mut(2).zip(d_bottom.chunks_exact_mut(2));
            let inputs = x_top.chunks_exact(2).zip(x_bottom.chunks_exact(2));
            for (((dt, db), (xt, xb)), (&m, &g)) in windows.zip(inputs).zip(ys.iter().zip(gs)) {
                let a = is_max(xt[0], m);
                let b = !a && is_max(xt[1], m);
                let c = !a && !b && is_max(xb[0], m);
                let d = !a && !b && !c;
                dt[0] = if a { g } else { T::ZERO };
                dt[1] = if b { g } else { T::ZERO };
                db[0] = if c { g } else { T::ZERO };
                db[1] = if d { g } else { T::ZERO };
            }
        }
        if w > 2 * out_w {
            d_top[2 * out_w..].fill(T::ZERO);
            d_bottom[2 * out_w..].fill(T::ZERO);
        }
    }
    dxp[2 * out_h * w..h * w].fill(T::ZERO);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::Window;

    pub(in crate::layers) fn pool(c: usize, h: usize, w: usize) -> MaxPool {
        let win = Window::simple(2, 2, 0);
        MaxPool { geom: Geometry { c, h, w, wh: win, ww: win, out_h: h / 2, out_w: w / 2 } }
    }

    /// Values with many ties, signed zeros and NaNs, so the first-max rule is exercised.
    pub(in crate::layers) fn tricky<T: Float>(len: usize) -> Vec<T> {
        let pick = [1.0, -1.0, 0.0, -0.0, 2.0, f64::NAN, 2.0, -3.0, 0.5];
        (0..len).map(|i| T::from_f64(pick[(i * 7 + i / 3) % pick.len()])).collect()
    }

    /// The 2×2 path (vectorised for f32) against the general path with stored winners.
    fn check<T: Float>(c: usize, h: usize, w: usize) {
        let m = pool(c, h, w);
        let (n, plane, out_plane) = (2, h * w, m.out_plane());
        let x = tricky::<T>(n * c * plane);
        let dy: Vec<T> = (0..n * c * out_plane).map(|i| T::from_f64(i as f64 + 1.0)).collect();
        let mut s = MaxPoolScratch { index: vec![0; n * c * out_plane], ..Default::default() };
        let (mut y_ref, mut dx_ref) = (vec![T::ZERO; n * c * out_plane], vec![T::ZERO; n * c * plane]);
        for p in 0..n * c {
            let ip = &mut s.index[p * out_plane..(p + 1) * out_plane];
            m.pool_unpadded(&x[p * plane..(p + 1) * plane], &mut y_ref[p * out_plane..(p + 1) * out_plane], ip);
            for (k, &at) in ip.iter().enumerate() {
                dx_ref[p * plane + at as usize] += dy[p * out_plane + k];
            }
        }
        let bits = |v: &[T]| v.iter().map(|x| format!("{:?}", x.to_f64().to_bits())).collect::<Vec<_>>();
        let mut y = vec![T::ONE; y_ref.len()];
        m.forward(&x, &mut y, n, &mut MaxPoolScratch::default());
        assert_eq!(bits(&y), bits(&y_ref), "forward {c}x{h}x{w}");
        let mut dx = vec![T::ONE; dx_ref.len()];
        m.backward(&x, &y, &dy, &mut dx, n, &MaxPoolScratch::default());
        assert_eq!(bits(&dx), bits(&dx_ref), "backward {c}x{h}x{w}");
    }

    #[test]
    fn pool_2x2_matches_the_first_max_rule() {
        for (c, h, w) in [(3, 28, 28), (2, 14, 14), (1, 7, 9), (2, 6, 40), (1, 2, 2), (1, 5, 67)] {
            check::<f32>(c, h, w);
            check::<f64>(c, h, w);
        }
    }

    /// One element at a time with the first-max rule: the reference for `first_max`.
    fn naive<T: Float>(row: &[T]) -> (T, usize) {
        let (mut best, mut at) = (row[0], 0);
        for (j, &v) in row.iter().enumerate() {
            if wins(v, best) {
                (best, at) = (v, j);
            }
        }
        (best, at)
    }

    /// The general forward (vectorised across windows for f32) against `pool_unpadded`.
    #[test]
    fn general_pool_matches_the_scalar_scan() {
        let cases = [(3, 1, 20, 1, 20, 1, 20), (2, 9, 11, 3, 3, 2, 2), (1, 7, 7, 2, 3, 1, 2), (4, 5, 6, 5, 1, 1, 1)];
        for (c, h, w, kh, kw, sh, sw) in cases {
            let (wh, ww) = (Window::simple(kh, sh, 0), Window::simple(kw, sw, 0));
            let geom = Geometry::new(c, h, w, wh, ww).unwrap();
            let m = MaxPool { geom };
            let (n, plane, out_plane) = (3, h * w, m.out_plane());
            let x: Vec<f32> = tricky(n * c * plane);
            let mut s = m.scratch(n);
            let mut y = vec![0f32; n * c * out_plane];
            m.forward(&x, &mut y, n, &mut s);
            for p in 0..n * c {
                let (mut yr, mut ir) = (vec![0f32; out_plane], vec![0u32; out_plane]);
                m.pool_unpadded(&x[p * plane..(p + 1) * plane], &mut yr, &mut ir);
                let got = &y[p * out_plane..(p + 1) * out_plane];
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    yr.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                assert_eq!(&s.index[p * out_plane..(p + 1) * out_plane], &ir[..], "{c}x{h}x{w} k{kh}x{kw}");
            }
        }
    }

    #[test]
    fn first_max_takes_the_first_maximum_and_the_first_nan() {
        let pick = [1.0f32, -1.0, 0.0, -0.0, 2.0, 2.0, -3.0, 0.5, f32::NAN];
        for len in 1..24 {
            for shift in 0..pick.len() {
                // Windows with and without NaNs, ties and signed zeros in every position.
                let row: Vec<f32> = (0..len).map(|i| pick[(i * 5 + shift) % (pick.len() - (shift % 2))]).collect();
                let (want, got) = (naive(&row), first_max(&row));
                assert_eq!((want.0.to_bits(), want.1), (got.0.to_bits(), got.1), "{row:?}");
            }
        }
    }
}
