//! A ReLU followed by a max-pool, run as one layer (the workspace's plan pairs them, see
//! `model::plan`): one pass over the largest activation and its gradient instead of two.
//!
//! For the 2×2, stride-2 pool each plane is pooled while it is in L1 and the winners are
//! recorded, 2 bits per output, so the backward pass needs neither the pool's input nor the
//! ReLU's output. Other pools run the ReLU and then the general pool (`maxpool`), whose
//! stored winners serve the backward pass.
//!
//! `fused_forward` (lean workspaces) takes the pool first and the ReLU after it, on the pooled
//! values: the same function, since max commutes with a monotone map and NaN wins both.

use super::activation::relu;
use super::maxpool::{max_2x2, MaxPoolScratch};
use super::{Activation, MaxPool};
use crate::engine::nonzeros::Nonzeros;
use crate::engine::Float;
use crate::engine::{avx2, simd};

impl MaxPool {
    /// Code words per plane of the fused 2×2 path: two 16-bit masks per 16 outputs of a row
    /// (see `simd::max_2x2_row`).
    fn code_words(&self) -> usize {
        self.geom.out_h * 2 * self.geom.out_w.div_ceil(16)
    }

    /// The fused 2×2 path's winners for one sample of the batch: its C planes of code words.
    pub(super) fn codes_of<'s>(&self, s: &'s mut MaxPoolScratch, sample: usize) -> &'s mut [u16] {
        let words = self.geom.c * self.code_words();
        &mut s.codes[sample * words..][..words]
    }

    /// Winners of the fused ReLU + 2×2 path, for `capacity` samples: 2 bits per output, so the
    /// backward pass needs neither the pool's input nor another pass over it.
    pub(super) fn codes_len(&self, capacity: usize) -> usize {
        if self.is_2x2() {
            capacity * self.geom.c * self.code_words()
        } else {
            0
        }
    }

    /// ReLU then this pool: `r` receives the ReLU's output (kept, as every activation is) and
    /// `y` the pool's. The 2×2 pool takes each plane while it is in L1 and records its winners
    /// for the samples from `first` on (the call's first sample's place in the batch).
    #[allow(clippy::too_many_arguments)]
    pub fn fused_forward_keeping_relu<T: Float>(
        &self,
        x: &[T],
        r: &mut [T],
        y: &mut [T],
        n: usize,
        s: &mut MaxPoolScratch,
        first: usize,
    ) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        if !self.is_2x2() {
            Activation::Relu.forward(&x[..n * g.c * plane], &mut r[..n * g.c * plane]);
            return self.forward(r, y, n, s);
        }
        let words = self.code_words();
        let codes = s.codes[first * g.c * words..].chunks_exact_mut(words);
        let planes = x.chunks_exact(plane).zip(r.chunks_exact_mut(plane));
        for (((xp, rp), yp), cp) in planes.zip(y.chunks_exact_mut(out_plane)).zip(codes).take(n * g.c) {
            Activation::Relu.forward(xp, rp);
            max_2x2(rp, g.w, g.out_h, g.out_w, yp, Some(cp));
        }
    }

    /// ReLU then this pool computed as the pool then ReLU, which is the same function (max
    /// commutes with a monotone map; NaN wins both) on a smaller tensor. No ReLU output. The
    /// 2×2 pool records its winners for the samples from `first` only when it is given (a
    /// backward pass will follow).
    pub fn fused_forward<T: Float>(
        &self,
        x: &[T],
        y: &mut [T],
        n: usize,
        s: &mut MaxPoolScratch,
        first: Option<usize>,
    ) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        if !self.is_2x2() {
            self.forward(x, y, n, s);
            return y[..n * g.c * out_plane].iter_mut().for_each(|v| *v = relu(*v));
        }
        self.fused_forward_2x2_strided(x, (g.w, plane), y, n, first.map(|f| (s, f)));
    }

    /// `fused_forward` of a 2×2 pool over input planes laid out with rows `row_stride` and
    /// planes `plane_stride` values apart (a direct convolution's extended grid, see
    /// `Conv::forward_pooled`), so the convolution's output need not be compacted first. The
    /// winners go into the scratch for the samples from `first` when `winners` is given (a
    /// backward pass will follow).
    pub fn fused_forward_2x2_strided<T: Float>(
        &self,
        x: &[T],
        (row_stride, plane_stride): (usize, usize),
        y: &mut [T],
        n: usize,
        winners: Option<(&mut MaxPoolScratch, usize)>,
    ) {
        let g = &self.geom;
        debug_assert!(self.is_2x2() && row_stride >= g.w && plane_stride >= g.h * row_stride - (row_stride - g.w));
        let (words, out_plane) = (self.code_words(), self.out_plane());
        let mut codes = winners.map(|(s, first)| s.codes[first * g.c * words..].chunks_exact_mut(words));
        for (p, yp) in y.chunks_exact_mut(out_plane).take(n * g.c).enumerate() {
            let cp = codes.as_mut().map(|c| c.next().expect("code words for every plane"));
            max_2x2(&x[p * plane_stride..], row_stride, g.out_h, g.out_w, yp, cp);
            yp.iter_mut().for_each(|v| *v = relu(*v));
        }
    }

    /// The winners of channel `c` of one sample of the fused ReLU + 2×2 pool whose gradient
    /// is nonzero (`y`, `dy`: the sample's pool output and its gradient; its winners in `s`
    /// at `sample` of the batch): for each, its place on the pool's input grid `row_stride`
    /// values per row (`(2·ph + row)·row_stride + 2·pw + col`) and its gradient, in output
    /// order, into `list` (`Nonzeros::len_for(out_plane)` each). A gradient is kept where `y`
    /// is not ≤ 0 (the ReLU passes it, a NaN too) and it is not zero. Returns how many.
    #[allow(clippy::too_many_arguments)]
    pub fn list_winners<T: Float>(
        &self,
        s: &MaxPoolScratch,
        sample: usize,
        (y, dy): (&[T], &[T]),
        c: usize,
        row_stride: usize,
        list: &mut Nonzeros<T>,
    ) -> usize {
        let g = &self.geom;
        assert!(self.is_2x2() && c < g.c && row_stride >= g.w, "list_winners reads a fused 2×2 pool's winners");
        let (words, out_plane) = (self.code_words(), self.out_plane());
        assert!(list.at.len() >= Nonzeros::<T>::len_for(out_plane) && list.value.len() >= list.at.len());
        let codes = &s.codes[(sample * g.c + c) * words..][..words];
        let (y, dy) = (&y[c * out_plane..][..out_plane], &dy[c * out_plane..][..out_plane]);
        if let (true, Some(yf), Some(df), Some(value)) =
            (simd::AVX512, simd::f32s(y), simd::f32s(dy), simd::f32s_mut(list.value))
        {
            return simd::list_2x2_winners((yf, df, codes), (g.out_h, g.out_w, row_stride), (list.at, value));
        }
        let row_words = 2 * g.out_w.div_ceil(16);
        let mut n = 0;
        for ph in 0..g.out_h {
            let (ys, ds, cs) =
                (&y[ph * g.out_w..][..g.out_w], &dy[ph * g.out_w..][..g.out_w], &codes[ph * row_words..]);
            for (k, (&m, &d)) in ys.iter().zip(ds).enumerate() {
                if m <= T::ZERO || d == T::ZERO {
                    continue;
                }
                let (col, row) = ((cs[2 * (k / 16)] >> (k % 16)) & 1, (cs[2 * (k / 16) + 1] >> (k % 16)) & 1);
                list.at[n] = ((2 * ph + row as usize) * row_stride + 2 * k + col as usize) as u32;
                list.value[n] = d;
                n += 1;
            }
        }
        n
    }

    /// Whether `fused_forward_interleaved` applies: a pool over signals (one row) other than
    /// 2×2, without padding or dilation.
    pub fn pools_signals(&self) -> bool {
        self.geom.h == 1 && self.geom.out_h == 1 && !self.is_2x2() && self.unpadded()
    }

    /// `fused_forward` over signals for `rows` samples, from a convolution's interleaved
    /// grid (`direct::convolve_interleaved`: channel c's position l of sample i at
    /// `grid[c·plane_stride + l·rows + i]`), so the convolution's output is never compacted:
    /// 16 samples' windows are pooled side by side, each element one vector load. `y`
    /// receives these samples' outputs; the winners go into the scratch for the samples from
    /// `first` on when `winners` is given (a backward pass will follow). Needs `pools_signals`.
    pub fn fused_forward_interleaved<T: Float>(
        &self,
        grid: &[T],
        (rows, plane_stride): (usize, usize),
        y: &mut [T],
        mut winners: Option<(&mut MaxPoolScratch, usize)>,
    ) {
        let g = &self.geom;
        assert!(self.pools_signals(), "fused_forward_interleaved pools signals only");
        let (k, stride, out_w) = (g.ww.kernel, g.ww.stride, g.out_w);
        let per_sample = g.c * out_w;
        let y = &mut y[..rows * per_sample];
        let mut index = winners.as_mut().map(|(s, first)| &mut s.index[*first * per_sample..][..rows * per_sample]);
        for c in 0..g.c {
            for pw in 0..out_w {
                let start = c * plane_stride + pw * stride * rows;
                for i0 in (0..rows).step_by(16) {
                    let lanes = (rows - i0).min(16);
                    let (best, at) = first_max_down(grid, start + i0, rows, k, lanes);
                    for l in 0..lanes {
                        let out = (i0 + l) * per_sample + c * out_w + pw;
                        y[out] = relu(best[l]);
                        if let Some(index) = index.as_deref_mut() {
                            index[out] = (pw * stride) as u32 + at[l];
                        }
                    }
                }
            }
        }
    }

    /// The backward of ReLU then this pool, from the winners the fused forward recorded: `y`
    /// is the pool's output and `dx` the gradient before the ReLU. Each gradient goes to its
    /// window's winner unless `y ≤ 0` (a NaN passes, as PyTorch's ReLU backward passes it).
    pub fn fused_backward<T: Float>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        n: usize,
        s: &MaxPoolScratch,
        first: usize,
    ) {
        let g = &self.geom;
        let (plane, out_plane) = (g.h * g.w, self.out_plane());
        if !self.is_2x2() {
            return self.route_to_winners(y, dy, dx, n, s, true);
        }
        let words = self.code_words();
        let codes = s.codes[first * g.c * words..].chunks_exact(words);
        let outs = y.chunks_exact(out_plane).zip(dy.chunks_exact(out_plane));
        for ((dxp, (yp, dyp)), cp) in dx.chunks_exact_mut(plane).zip(outs).zip(codes).take(n * g.c) {
            route_2x2_codes(yp, dyp, cp, (g.h, g.w), (g.out_h, g.out_w), dxp);
        }
    }
}

/// The fused backward of ReLU then a 2×2 pool from recorded winners (see `max_2x2`).
fn route_2x2_codes<T: Float>(
    yp: &[T],
    dyp: &[T],
    codes: &[u16],
    (h, w): (usize, usize),
    (out_h, out_w): (usize, usize),
    dxp: &mut [T],
) {
    let words = 2 * out_w.div_ceil(16);
    for oh in 0..out_h {
        let (ys, gs, cs) = (&yp[oh * out_w..][..out_w], &dyp[oh * out_w..][..out_w], &codes[oh * words..][..words]);
        let (d_top, d_bottom) = dxp[2 * oh * w..][..2 * w].split_at_mut(w);
        if let (true, Some(y), Some(g)) = (simd::AVX512, simd::f32s(ys), simd::f32s(gs)) {
            let (dt, db) = (simd::f32s_mut(d_top).unwrap(), simd::f32s_mut(d_bottom).unwrap());
            simd::route_2x2_row_codes(y, g, cs, dt, db);
        } else if let (true, Some(y), Some(g)) = (avx2::AVX2, simd::f32s(ys), simd::f32s(gs)) {
            let (dt, db) = (simd::f32s_mut(d_top).unwrap(), simd::f32s_mut(d_bottom).unwrap());
            avx2::route_2x2_row_codes(y, g, cs, dt, db);
        } else {
            for (k, (&m, &g)) in ys.iter().zip(gs).enumerate() {
                let g = if m <= T::ZERO { T::ZERO } else { g };
                let (col, row) = ((cs[2 * (k / 16)] >> (k % 16)) & 1, (cs[2 * (k / 16) + 1] >> (k % 16)) & 1);
                let (top, bottom) = (&mut d_top[2 * k..2 * k + 2], &mut d_bottom[2 * k..2 * k + 2]);
                top.fill(T::ZERO);
                bottom.fill(T::ZERO);
                (if row == 0 { top } else { bottom })[col as usize] = g;
            }
        }
        if w > 2 * out_w {
            d_top[2 * out_w..].fill(T::ZERO);
            d_bottom[2 * out_w..].fill(T::ZERO);
        }
    }
    dxp[2 * out_h * w..h * w].fill(T::ZERO);
}

/// `simd::first_max_down` for any float: the first maxima of `lanes` adjacent windows whose
/// element j is `x[start + j·stride + l]`, and each one's j.
fn first_max_down<T: Float>(x: &[T], start: usize, stride: usize, count: usize, lanes: usize) -> ([T; 16], [u32; 16]) {
    if let (true, Some(xf)) = (simd::AVX512, simd::f32s(x)) {
        let (best, at) = simd::first_max_down(xf, start, stride, count, lanes);
        return (best.map(T::from_f32), at.map(|j| j as u32));
    }
    let (mut best, mut at) = ([T::ZERO; 16], [0u32; 16]);
    for l in 0..lanes {
        best[l] = x[start + l];
        for j in 1..count {
            let v = x[start + j * stride + l];
            if v > best[l] || (v.is_nan() && !best[l].is_nan()) {
                (best[l], at[l]) = (v, j as u32);
            }
        }
    }
    (best, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::maxpool::tests::{pool, tricky};

    /// The pool over signals read from an interleaved grid against the general pool then the
    /// ReLU on the same signals laid out per sample: the same outputs and winners (values
    /// with ties, signed zeros and NaNs; 19 samples, so a vector of 16 and a tail of 3).
    fn check_interleaved<T: Float>() {
        let (c, w, rows) = (2, 11, 19);
        let win = crate::engine::Window { kernel: 3, stride: 4, pad_before: 0, pad_after: 0, dilation: 1 };
        let geom = crate::engine::im2col::Geometry::new(c, 1, w, crate::engine::Window::simple(1, 1, 0), win).unwrap();
        let m = MaxPool { geom };
        assert!(m.pools_signals());
        let x = tricky::<T>(rows * c * w);
        let (mut want, mut s_ref) = (vec![T::ZERO; rows * c * m.out_plane()], m.scratch(rows));
        m.forward(&x, &mut want, rows, &mut s_ref);
        want.iter_mut().for_each(|v| *v = relu(*v));
        // Channel ch's position l of sample i at ch·plane + l·rows + i (a plane with a spare tile).
        let plane = w * rows + 32;
        let mut grid = vec![T::ONE; c * plane];
        for (k, &v) in x.iter().enumerate() {
            let (i, ch, l) = (k / (c * w), k / w % c, k % w);
            grid[ch * plane + l * rows + i] = v;
        }
        let (mut got, mut s) = (vec![T::ONE; want.len()], m.scratch(rows + 2));
        m.fused_forward_interleaved(&grid, (rows, plane), &mut got, Some((&mut s, 2)));
        let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
        assert_eq!(m.winners(&s, 2, rows), m.winners(&s_ref, 0, rows));
    }

    #[test]
    fn signals_pooled_from_an_interleaved_grid_equal_the_general_pool() {
        check_interleaved::<f32>();
        check_interleaved::<f64>();
    }

    /// The listed winners (vector lists for f32, the generic loop for f64) against the dense
    /// gradient the fused backward writes: the same places and values (the lists in output
    /// order, sorted here into the grid's). Planes of 5
    /// rows of 40 (outputs 2 × 20: a vector and a tail per row), listed onto a grid of 43.
    #[test]
    fn listed_winners_are_the_dense_gradients_nonzero_entries() {
        fn listed<T: Float>(m: &MaxPool, x: &[T], dy: &[T], n: usize) -> Vec<Vec<(u32, f64)>> {
            let mut s = m.scratch(n);
            let mut y = vec![T::ZERO; n * m.geom.c * m.out_plane()];
            m.fused_forward(x, &mut y, n, &mut s, Some(0));
            let len = crate::engine::nonzeros::Nonzeros::<T>::len_for(m.out_plane());
            let (mut at, mut value) = (vec![0; len], vec![T::ZERO; len]);
            let per_sample = m.geom.c * m.out_plane();
            let mut lists = vec![];
            for i in 0..n {
                let sample = (&y[i * per_sample..][..per_sample], &dy[i * per_sample..][..per_sample]);
                for c in 0..m.geom.c {
                    let k = m.list_winners(&s, i, sample, c, 43, &mut Nonzeros { at: &mut at, value: &mut value });
                    lists.push(at[..k].iter().zip(&value[..k]).map(|(&a, v)| (a, v.to_f64())).collect());
                }
            }
            lists
        }
        let (c, h, w, n) = (2, 5, 40, 2);
        let m = pool(c, h, w);
        let x = tricky::<f32>(n * c * h * w);
        let dy: Vec<f32> = (0..n * c * m.out_plane())
            .map(|i| match i % 7 {
                3 => 0.0,
                5 => f32::NAN,
                _ => i as f32 - 20.0,
            })
            .collect();
        let got = listed(&m, &x, &dy, n);
        let wide = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
        assert_eq!(format!("{got:?}"), format!("{:?}", listed(&m, &wide(&x), &wide(&dy), n)));
        // The dense gradient: its nonzero entries, placed on the grid of 43 per row.
        let mut s = m.scratch(n);
        let mut y = vec![0f32; dy.len()];
        m.fused_forward(&x, &mut y, n, &mut s, Some(0));
        let mut dense = vec![1f32; x.len()];
        m.fused_backward(&y, &dy, &mut dense, n, &s, 0);
        for (p, list) in got.iter().enumerate() {
            let mut list = list.clone();
            list.sort_by_key(|e| e.0);
            let want: Vec<(u32, f64)> = dense[p * h * w..][..h * w]
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(k, &v)| (((k / w) * 43 + k % w) as u32, v as f64))
                .collect();
            assert_eq!(format!("{list:?}"), format!("{want:?}"), "plane {p}");
        }
        assert!(got.iter().any(|l| l.iter().any(|e| e.1.is_nan())), "a NaN gradient is listed");
    }

    /// The fused paths against ReLU, pool, pool backward, ReLU backward run one by one.
    fn check<T: Float>(c: usize, h: usize, w: usize) {
        let m = pool(c, h, w);
        let (n, plane, out_plane) = (2, h * w, m.out_plane());
        let x = tricky::<T>(n * c * plane);
        let dy: Vec<T> = (0..n * c * out_plane).map(|i| T::from_f64(i as f64 + 1.0)).collect();
        let bits = |v: &[T]| v.iter().map(|x| format!("{:?}", x.to_f64().to_bits())).collect::<Vec<_>>();
        let (mut y_ref, mut dx_ref) = (vec![T::ZERO; n * c * out_plane], vec![T::ZERO; n * c * plane]);
        let (mut y, mut dx) = (vec![T::ONE; y_ref.len()], vec![T::ONE; dx_ref.len()]);
        // Fused with the ReLU before it, against ReLU, pool, pool backward, ReLU backward.
        let mut r_ref = vec![T::ZERO; x.len()];
        Activation::Relu.forward(&x, &mut r_ref);
        m.forward(&r_ref, &mut y_ref, n, &mut MaxPoolScratch::default());
        let mut dr = vec![T::ZERO; x.len()];
        m.backward(&r_ref, &y_ref, &dy, &mut dr, n, &MaxPoolScratch::default());
        Activation::Relu.backward(&x, &r_ref, &dr, &mut dx_ref);
        // Codes for one sample more, written from the second on (a chunk at its place in a batch).
        let mut s = m.scratch(n + 1);
        let mut r = vec![T::ONE; x.len()];
        m.fused_forward_keeping_relu(&x, &mut r, &mut y, n, &mut s, 1);
        assert_eq!(bits(&r), bits(&r_ref));
        assert_eq!(bits(&y), bits(&y_ref));
        m.fused_backward(&y, &dy, &mut dx, n, &s, 1);
        assert_eq!(bits(&dx), bits(&dx_ref), "fused backward {c}x{h}x{w}");
        // Lean: the pool on the ReLU's input, then the ReLU; the same gradient.
        let mut s = m.scratch(n);
        let mut y2 = vec![T::ONE; y.len()];
        m.fused_forward(&x, &mut y2, n, &mut s, Some(0));
        let unsigned_zero =
            |v: &[T]| v.iter().map(|x| if *x == T::ZERO { 0 } else { x.to_f64().to_bits() }).collect::<Vec<_>>();
        assert_eq!(unsigned_zero(&y2), unsigned_zero(&y_ref), "lean fused forward {c}x{h}x{w}");
        let mut dx2 = vec![T::ONE; dx.len()];
        m.fused_backward(&y2, &dy, &mut dx2, n, &s, 0);
        assert_eq!(bits(&dx2), bits(&dx_ref), "lean fused backward {c}x{h}x{w}");
    }

    #[test]
    fn fused_relu_and_2x2_pool_match_the_layers_one_by_one() {
        for (c, h, w) in [(3, 28, 28), (2, 14, 14), (1, 7, 9), (2, 6, 40), (1, 2, 2), (1, 5, 67)] {
            check::<f32>(c, h, w);
            check::<f64>(c, h, w);
        }
    }
}
