//! Hand-vectorised f32 kernels for the few loops the compiler does not vectorise on its own
//! (2×2 pooling windows, first maxima, sums and dot products, the direct convolution's register
//! tiles). Each has a plain generic twin at its call site, which f64 (the gradient checks) and
//! CPUs without AVX-512 use; the callers' tests compare the two.

/// `x` as f32s when `T` is f32: the fast kernels below apply.
#[inline(always)]
pub fn f32s<T: 'static>(x: &[T]) -> Option<&[f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32, so the slice is one of f32.
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
}

/// `x` as mutable f32s when `T` is f32.
#[inline(always)]
pub fn f32s_mut<T: 'static>(x: &mut [T]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32, so the slice is one of f32.
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) })
}

/// Whether the kernels below exist on this build (AVX-512, chosen at compile time: convlab is
/// built with target-cpu=native).
pub const AVX512: bool = cfg!(all(target_arch = "x86_64", target_feature = "avx512f"));

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    pub(crate) const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    pub(crate) const ODD: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];
    /// Interleaves (a0 b0 a1 b1 ...) back: low and high halves.
    const LO: [i32; 16] = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
    const HI: [i32; 16] = [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31];

    /// The lowest `n` of 16 lanes (all from 16 on).
    #[inline(always)]
    pub(crate) fn mask(n: usize) -> u16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as u16
        }
    }

    /// The even and odd elements of `p[..2n]` (n ≤ 16), as two vectors.
    #[inline(always)]
    unsafe fn load_pairs(p: *const f32, n: usize) -> (__m512, __m512) {
        let lo = _mm512_maskz_loadu_ps(mask(2 * n), p);
        let hi = _mm512_maskz_loadu_ps(mask((2 * n).saturating_sub(16)), p.wrapping_add(16));
        let (e, o) = (_mm512_loadu_si512(EVEN.as_ptr().cast()), _mm512_loadu_si512(ODD.as_ptr().cast()));
        (_mm512_permutex2var_ps(lo, e, hi), _mm512_permutex2var_ps(lo, o, hi))
    }

    #[inline(always)]
    unsafe fn store_pairs(p: *mut f32, n: usize, even: __m512, odd: __m512) {
        let (l, h) = (_mm512_loadu_si512(LO.as_ptr().cast()), _mm512_loadu_si512(HI.as_ptr().cast()));
        _mm512_mask_storeu_ps(p, mask(2 * n), _mm512_permutex2var_ps(even, l, odd));
        _mm512_mask_storeu_ps(
            p.wrapping_add(16),
            mask((2 * n).saturating_sub(16)),
            _mm512_permutex2var_ps(even, h, odd),
        );
    }

    #[inline(always)]
    unsafe fn is_nan(v: __m512) -> u16 {
        _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v)
    }

    /// `v` replaces `best` when larger, or when it is the first NaN (as `maxpool::wins`):
    /// "not v ≤ best" holds for v > best and whenever either is NaN, and "best is a number"
    /// keeps a first NaN. Two compares where (v > best) | (v NaN & best not) took three.
    #[inline(always)]
    pub(crate) unsafe fn fold(best: __m512, v: __m512) -> __m512 {
        let take = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, best) & _mm512_cmp_ps_mask::<_CMP_ORD_Q>(best, best);
        _mm512_mask_blend_ps(take, best, v)
    }

    /// Whether each `v` equals the maximum `m` (NaN matches NaN).
    #[inline(always)]
    pub(crate) unsafe fn is_max(v: __m512, m: __m512) -> u16 {
        _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, m) | (is_nan(v) & is_nan(m))
    }

    /// As `float::sum_lanes`: 16 partial sums (tail lanes added as zeros), then pairwise.
    pub fn sum(x: &[f32]) -> f32 {
        let mut k = 0;
        // SAFETY: loads stay inside x; the last one is masked to its length.
        unsafe {
            let mut acc = _mm512_setzero_ps();
            while k + 16 <= x.len() {
                acc = _mm512_add_ps(acc, _mm512_loadu_ps(x.as_ptr().add(k)));
                k += 16;
            }
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask(x.len() - k), x.as_ptr().add(k)));
            let mut lanes = [0f32; 16];
            _mm512_storeu_ps(lanes.as_mut_ptr(), acc);
            let mut n = 16;
            while n > 1 {
                n /= 2;
                for l in 0..n {
                    lanes[l] += lanes[l + n];
                }
            }
            lanes[0]
        }
    }

    /// Direct convolution over the extended grid for up to 8 output channels (see
    /// `direct::forward`): `ext[o·stride + q] = bias[o] + Σ_t w8[t·8 + o]·xpad[offs[t] + q]`
    /// for q in 0..stride (a multiple of 32). 32 outputs × 8 channels live in 16 registers;
    /// each tap costs two loads, eight broadcasts and sixteen FMAs. The taps are summed in
    /// order from zero and the bias added last, as the GEMM path (and PyTorch) round.
    pub fn direct_8(
        xpad: &[f32],
        offs: &[usize],
        w8: &[f32],
        bias: &[f32; 8],
        chans: usize,
        ext: &mut [f32],
        stride: usize,
    ) {
        assert!(stride.is_multiple_of(32) && chans <= 8 && w8.len() >= offs.len() * 8 && ext.len() >= chans * stride);
        assert!(offs.iter().all(|&o| o + stride <= xpad.len()), "padded input too short");
        for q in (0..stride).step_by(32) {
            // SAFETY: every load is inside xpad (asserted above), every store inside ext.
            unsafe {
                let mut acc: [[__m512; 2]; 8] = [[_mm512_setzero_ps(); 2]; 8];
                for (t, &off) in offs.iter().enumerate() {
                    let x0 = _mm512_loadu_ps(xpad.as_ptr().add(off + q));
                    let x1 = _mm512_loadu_ps(xpad.as_ptr().add(off + q + 16));
                    let wt = w8.as_ptr().add(t * 8);
                    for (o, a) in acc.iter_mut().enumerate() {
                        let wv = _mm512_set1_ps(*wt.add(o));
                        a[0] = _mm512_fmadd_ps(wv, x0, a[0]);
                        a[1] = _mm512_fmadd_ps(wv, x1, a[1]);
                    }
                }
                for (o, a) in acc.iter().enumerate().take(chans) {
                    let b = _mm512_set1_ps(bias[o]);
                    _mm512_storeu_ps(ext.as_mut_ptr().add(o * stride + q), _mm512_add_ps(b, a[0]));
                    _mm512_storeu_ps(ext.as_mut_ptr().add(o * stride + q + 16), _mm512_add_ps(b, a[1]));
                }
            }
        }
    }

    /// `dst[..n] = src[..n]` for short rows, inline (a memcpy call per row was the cost).
    #[inline]
    pub fn copy_short(src: &[f32], dst: &mut [f32]) {
        let n = dst.len();
        assert!(src.len() >= n);
        for k in (0..n).step_by(16) {
            let m = mask(n - k);
            // SAFETY: masked to the slices' common length.
            unsafe { _mm512_mask_storeu_ps(dst.as_mut_ptr().add(k), m, _mm512_maskz_loadu_ps(m, src.as_ptr().add(k))) }
        }
    }

    /// The first maximum of a non-empty row and its position (the first NaN if any; see
    /// `maxpool::first_max`): a vector maximum, then the first lane equal to it.
    #[inline]
    pub fn first_max(row: &[f32]) -> (f32, usize) {
        assert!(!row.is_empty());
        let n = row.len();
        // SAFETY: every load is masked to the lanes inside row.
        unsafe {
            let low = _mm512_set1_ps(f32::NEG_INFINITY);
            let (mut best, mut nan) = (low, 0u16);
            for k in (0..n).step_by(16) {
                let v = _mm512_mask_loadu_ps(low, mask(n - k), row.as_ptr().add(k));
                nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                best = _mm512_max_ps(best, v);
            }
            if nan != 0 {
                let at = row.iter().position(|v| v.is_nan()).unwrap_or(0);
                return (row[at], at);
            }
            let m = _mm512_set1_ps(_mm512_reduce_max_ps(best));
            for k in (0..n).step_by(16) {
                let v = _mm512_maskz_loadu_ps(mask(n - k), row.as_ptr().add(k));
                let eq = _mm512_mask_cmp_ps_mask::<_CMP_EQ_OQ>(mask(n - k), v, m);
                if eq != 0 {
                    let at = k + eq.trailing_zeros() as usize;
                    return (row[at], at);
                }
            }
            (row[0], 0)
        }
    }

    /// First maxima of up to 16 windows at once: window `l` has its first element at
    /// `x[starts[l]]` and `rows × cols` elements with row stride `w`, scanned row by row with
    /// the first-max rule (a NaN wins, ties keep the earlier). Returns the maxima and the
    /// positions in `x`. One gather per window element, for windows too short to vectorise.
    #[inline]
    pub fn first_max_16(
        x: &[f32],
        starts: &[i32; 16],
        lanes: usize,
        (rows, cols, w): (usize, usize, usize),
    ) -> ([f32; 16], [i32; 16]) {
        let last = starts[..lanes].iter().max().copied().unwrap_or(0) as usize + (rows - 1) * w + cols - 1;
        assert!(lanes <= 16 && rows >= 1 && cols >= 1 && last < x.len() && x.len() <= i32::MAX as usize);
        // SAFETY: the gathers are masked to `lanes` windows, each inside x (asserted above).
        unsafe {
            let m = mask(lanes);
            let base = _mm512_loadu_si512(starts.as_ptr() as *const _);
            let mut best = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, base, x.as_ptr());
            let mut arg = base;
            for i in 0..rows {
                for j in 0..cols {
                    if i == 0 && j == 0 {
                        continue;
                    }
                    let at = _mm512_add_epi32(base, _mm512_set1_epi32((i * w + j) as i32));
                    let v = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, at, x.as_ptr());
                    let nan_v = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                    let nan_best = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(best, best);
                    let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best) | (nan_v & !nan_best);
                    best = _mm512_mask_mov_ps(best, take, v);
                    arg = _mm512_mask_mov_epi32(arg, take, at);
                }
            }
            let (mut y, mut a) = ([0f32; 16], [0i32; 16]);
            _mm512_storeu_ps(y.as_mut_ptr(), best);
            _mm512_storeu_si512(a.as_mut_ptr() as *mut _, arg);
            (y, a)
        }
    }

    /// First maxima of `lanes` (up to 16) adjacent windows laid out down columns: window l's
    /// element j is `x[start + j·stride + l]`, j in 0..count, scanned with the first-max rule
    /// (a NaN wins, ties keep the earlier). Returns the maxima and each one's j.
    #[inline]
    pub fn first_max_down(
        x: &[f32],
        start: usize,
        stride: usize,
        count: usize,
        lanes: usize,
    ) -> ([f32; 16], [i32; 16]) {
        assert!(lanes <= 16 && count >= 1 && start + (count - 1) * stride + lanes <= x.len());
        // SAFETY: every load is masked to `lanes` values, inside x (asserted above).
        unsafe {
            let m = mask(lanes);
            let at = |j: usize| x.as_ptr().add(start + j * stride);
            let (mut best, mut arg) = (_mm512_maskz_loadu_ps(m, at(0)), _mm512_setzero_si512());
            for j in 1..count {
                let v = _mm512_maskz_loadu_ps(m, at(j));
                let nan_v = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                let nan_best = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(best, best);
                let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best) | (nan_v & !nan_best);
                best = _mm512_mask_mov_ps(best, take, v);
                arg = _mm512_mask_mov_epi32(arg, take, _mm512_set1_epi32(j as i32));
            }
            let (mut y, mut a) = ([0f32; 16], [0i32; 16]);
            _mm512_storeu_ps(y.as_mut_ptr(), best);
            _mm512_storeu_si512(a.as_mut_ptr() as *mut _, arg);
            (y, a)
        }
    }

    /// For each of the `rows.len() / b.len()` (1 to 4) rows r of `rows`:
    /// `acc[32r + k % 32] += rows[r][k]·b[k]`, lengths a multiple of 32. Two chains of FMAs per
    /// row, all rows in one pass over b: with one row the chains waited on the FMA latency.
    #[inline]
    pub fn dots_into(rows: &[f32], b: &[f32], acc: &mut [f32]) {
        match rows.len() / b.len().max(1) {
            4 => dots_into_n::<4>(rows, b, acc),
            3 => dots_into_n::<3>(rows, b, acc),
            2 => dots_into_n::<2>(rows, b, acc),
            _ => dots_into_n::<1>(rows, b, acc),
        }
    }

    #[inline(always)]
    fn dots_into_n<const R: usize>(rows: &[f32], b: &[f32], acc: &mut [f32]) {
        let n = b.len();
        assert!(n.is_multiple_of(32) && rows.len() == R * n && acc.len() >= 32 * R);
        // SAFETY: every load is a whole 16-lane block inside rows, b and acc, as asserted.
        unsafe {
            let mut s: [[__m512; 2]; R] = std::array::from_fn(|r| {
                [_mm512_loadu_ps(acc.as_ptr().add(32 * r)), _mm512_loadu_ps(acc.as_ptr().add(32 * r + 16))]
            });
            for k in (0..n).step_by(32) {
                let (b0, b1) = (_mm512_loadu_ps(b.as_ptr().add(k)), _mm512_loadu_ps(b.as_ptr().add(k + 16)));
                for (r, sr) in s.iter_mut().enumerate() {
                    let a = rows.as_ptr().add(r * n + k);
                    sr[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a), b0, sr[0]);
                    sr[1] = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(16)), b1, sr[1]);
                }
            }
            for (r, sr) in s.iter().enumerate() {
                _mm512_storeu_ps(acc.as_mut_ptr().add(32 * r), sr[0]);
                _mm512_storeu_ps(acc.as_mut_ptr().add(32 * r + 16), sr[1]);
            }
        }
    }

    /// `direct_dw::accumulate` for f32: blocks of up to 4 taps × 4 output channels, 16
    /// accumulators, so each position's 4 shifted input loads and 4 dY loads feed 16 FMAs.
    pub fn direct_dw(offs: &[usize], out_c: usize, n: usize, x: &[f32], dy: &[f32], acc: &mut [f32]) {
        assert!(n.is_multiple_of(16) && dy.len() >= out_c * n && acc.len() >= offs.len() * out_c * 16);
        assert!(offs.iter().all(|&off| off + n <= x.len()));
        for t0 in (0..offs.len()).step_by(4) {
            let taps = &offs[t0..(t0 + 4).min(offs.len())];
            for o0 in (0..out_c).step_by(4) {
                let outs = 4.min(out_c - o0);
                macro_rules! dispatch {
                    ($($t:literal $o:literal),*) => {
                        match (taps.len(), outs) {
                            $(($t, $o) => direct_dw_block::<$t, $o>(taps, t0, o0, out_c, n, x, dy, acc),)*
                            _ => unreachable!("blocks of 1 to 4 taps and channels"),
                        }
                    };
                }
                dispatch!(4 4, 4 3, 4 2, 4 1, 3 4, 3 3, 3 2, 3 1, 2 4, 2 3, 2 2, 2 1, 1 4, 1 3, 1 2, 1 1);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn direct_dw_block<const KT: usize, const KO: usize>(
        taps: &[usize],
        t0: usize,
        o0: usize,
        out_c: usize,
        n: usize,
        x: &[f32],
        dy: &[f32],
        acc: &mut [f32],
    ) {
        let at = |t: usize, o: usize| ((t0 + t) * out_c + o0 + o) * 16;
        // SAFETY: asserted by `direct_dw`: each tap reads x[off..off + n], each channel
        // dy[o·n..(o + 1)·n], and each weight's 16 sums lie inside acc.
        unsafe {
            let mut a: [[__m512; KO]; KT] =
                std::array::from_fn(|t| std::array::from_fn(|o| _mm512_loadu_ps(acc.as_ptr().add(at(t, o)))));
            let xs: [*const f32; KT] = std::array::from_fn(|t| x.as_ptr().add(taps[t]));
            let ds: [*const f32; KO] = std::array::from_fn(|o| dy.as_ptr().add((o0 + o) * n));
            for q in (0..n).step_by(16) {
                let d: [__m512; KO] = std::array::from_fn(|o| _mm512_loadu_ps(ds[o].add(q)));
                for (at, xt) in a.iter_mut().zip(&xs) {
                    let xv = _mm512_loadu_ps(xt.add(q));
                    for (ao, dv) in at.iter_mut().zip(&d) {
                        *ao = _mm512_fmadd_ps(*dv, xv, *ao);
                    }
                }
            }
            for (t, at_) in a.iter().enumerate() {
                for (o, ao) in at_.iter().enumerate() {
                    _mm512_storeu_ps(acc.as_mut_ptr().add(at(t, o)), *ao);
                }
            }
        }
    }

    /// The maximum of each 2×2 window of two rows (see `maxpool::max_2x2`). With `codes`, also
    /// each window's winner (the first input equal to the maximum) as two bits:
    /// `codes[2·(k/16)]` bit k%16 is the column (0 left, 1 right), `codes[2·(k/16) + 1]` the row.
    #[inline]
    pub fn max_2x2_row(top: &[f32], bottom: &[f32], y: &mut [f32], mut codes: Option<&mut [u16]>) {
        let n = y.len();
        assert!(top.len() >= 2 * n && bottom.len() >= 2 * n);
        assert!(codes.as_ref().is_none_or(|c| c.len() >= 2 * n.div_ceil(16)));
        for k in (0..n).step_by(16) {
            let m = (n - k).min(16);
            // SAFETY: lanes past 2n (resp. n) are masked off; loads and stores stay in the slices.
            unsafe {
                let (a, b) = load_pairs(top.as_ptr().add(2 * k), m);
                let (c, d) = load_pairs(bottom.as_ptr().add(2 * k), m);
                let best = fold(fold(fold(a, b), c), d);
                _mm512_mask_storeu_ps(y.as_mut_ptr().add(k), mask(m), best);
                if let Some(codes) = codes.as_deref_mut() {
                    let ta = is_max(a, best);
                    let tb = is_max(b, best) & !ta;
                    let tc = is_max(c, best) & !(ta | tb);
                    let td = !(ta | tb | tc);
                    codes[2 * (k / 16)] = (tb | td) & mask(m);
                    codes[2 * (k / 16) + 1] = (tc | td) & mask(m);
                }
            }
        }
    }

    /// Lists the winners of one plane (`out_h` rows of `out_w`) of a fused ReLU + 2×2 pool
    /// whose gradient is nonzero (see `MaxPool::list_winners`): output (ph, k)'s gradient
    /// `dy`, where `y` is not ≤ 0 (a NaN passes), at `2·ph·row_stride + 2k + col +
    /// row·row_stride` (its winner on the pool's input grid, from `codes` as `max_2x2_row`
    /// wrote them, `2·⌈out_w/16⌉` words per row), into `at` and `value`, 16 lanes at a time.
    /// Returns how many.
    #[inline]
    pub fn list_2x2_winners(
        (y, dy, codes): (&[f32], &[f32], &[u16]),
        (out_h, out_w, row_stride): (usize, usize, usize),
        (at, value): (&mut [u32], &mut [f32]),
    ) -> usize {
        let words = 2 * out_w.div_ceil(16);
        assert!(y.len() >= out_h * out_w && dy.len() >= out_h * out_w && codes.len() >= out_h * words);
        assert!(out_h * out_w + 16 <= at.len().min(value.len()) && 2 * out_h * row_stride <= i32::MAX as usize);
        let mut n = 0;
        // SAFETY: loads are masked to each row's outputs; each store writes 16 lanes at n, and
        // n counts the outputs listed before, so n + 16 ≤ out_h·out_w + 16 (asserted above).
        unsafe {
            let twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let (one, down) = (_mm512_set1_epi32(1), _mm512_set1_epi32(row_stride as i32));
            for ph in 0..out_h {
                for k in (0..out_w).step_by(16) {
                    let (m, o) = (mask(out_w - k), ph * out_w + k);
                    let g = _mm512_maskz_loadu_ps(m, dy.as_ptr().add(o));
                    let mx = _mm512_maskz_loadu_ps(m, y.as_ptr().add(o));
                    let passes = _mm512_mask_cmp_ps_mask::<_CMP_NLE_UQ>(m, mx, _mm512_setzero_ps());
                    let keep = _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(passes, g, _mm512_setzero_ps());
                    let (col, row) = (codes[ph * words + 2 * (k / 16)], codes[ph * words + 2 * (k / 16) + 1]);
                    let pos = _mm512_add_epi32(_mm512_set1_epi32((2 * ph * row_stride + 2 * k) as i32), twice);
                    let pos = _mm512_mask_add_epi32(pos, col, pos, one);
                    let pos = _mm512_mask_add_epi32(pos, row, pos, down);
                    _mm512_storeu_si512(at.as_mut_ptr().add(n).cast(), _mm512_maskz_compress_epi32(keep, pos));
                    _mm512_storeu_ps(value.as_mut_ptr().add(n), _mm512_maskz_compress_ps(keep, g));
                    n += keep.count_ones() as usize;
                }
            }
        }
        n
    }

    /// `max_2x2_row` for each of the `out_h` rows of a plane (input rows `w` apart, outputs
    /// `out_w` per row, codes `2·⌈out_w/16⌉` words per row): one call per plane, where a call
    /// per 14-output row cost as much as its work (mnist-lab).
    #[inline]
    pub fn max_2x2_plane(
        xp: &[f32],
        w: usize,
        (out_h, out_w): (usize, usize),
        yp: &mut [f32],
        mut codes: Option<&mut [u16]>,
    ) {
        let words = 2 * out_w.div_ceil(16);
        assert!(out_h == 0 || xp.len() >= (2 * out_h - 1) * w + 2 * out_w);
        assert!(w >= 2 * out_w && yp.len() >= out_h * out_w && codes.as_ref().is_none_or(|c| c.len() >= out_h * words));
        for (oh, ys) in yp.chunks_exact_mut(out_w).take(out_h).enumerate() {
            let (top, bottom) = (&xp[2 * oh * w..][..2 * out_w], &xp[(2 * oh + 1) * w..][..2 * out_w]);
            max_2x2_row(top, bottom, ys, codes.as_deref_mut().map(|c| &mut c[oh * words..][..words]));
        }
    }

    /// The backward of ReLU then a 2×2 pool from `max_2x2_row`'s recorded winners: each gradient
    /// to its winner where the maximum is not ≤ 0 (so NaN passes, as in PyTorch), zero elsewhere.
    #[inline]
    pub fn route_2x2_row_codes(y: &[f32], dy: &[f32], codes: &[u16], d_top: &mut [f32], d_bottom: &mut [f32]) {
        let n = y.len();
        assert!(dy.len() >= n && codes.len() >= 2 * n.div_ceil(16));
        assert!(d_top.len() >= 2 * n && d_bottom.len() >= 2 * n);
        for k in (0..n).step_by(16) {
            let m = (n - k).min(16);
            // SAFETY: as in route_2x2_row.
            unsafe {
                let mx = _mm512_maskz_loadu_ps(mask(m), y.as_ptr().add(k));
                let g = _mm512_maskz_loadu_ps(mask(m), dy.as_ptr().add(k));
                let g = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_NLE_UQ>(mx, _mm512_setzero_ps()), g);
                let (col, row) = (codes[2 * (k / 16)], codes[2 * (k / 16) + 1]);
                let z = |t| _mm512_maskz_mov_ps(t, g);
                store_pairs(d_top.as_mut_ptr().add(2 * k), m, z(!col & !row), z(col & !row));
                store_pairs(d_bottom.as_mut_ptr().add(2 * k), m, z(!col & row), z(col & row));
            }
        }
    }

    /// Each gradient to the first input of its window equal to the maximum; zero elsewhere.
    #[inline]
    pub fn route_2x2_row(
        x_top: &[f32],
        x_bottom: &[f32],
        y: &[f32],
        dy: &[f32],
        d_top: &mut [f32],
        d_bottom: &mut [f32],
    ) {
        let n = y.len();
        assert!(dy.len() >= n && x_top.len() >= 2 * n && x_bottom.len() >= 2 * n);
        assert!(d_top.len() >= 2 * n && d_bottom.len() >= 2 * n);
        for k in (0..n).step_by(16) {
            let m = (n - k).min(16);
            // SAFETY: as in max_2x2_row.
            unsafe {
                let mx = _mm512_maskz_loadu_ps(mask(m), y.as_ptr().add(k));
                let g = _mm512_maskz_loadu_ps(mask(m), dy.as_ptr().add(k));
                let (a, b) = load_pairs(x_top.as_ptr().add(2 * k), m);
                let (c, _) = load_pairs(x_bottom.as_ptr().add(2 * k), m);
                let ta = is_max(a, mx);
                let tb = is_max(b, mx) & !ta;
                let tc = is_max(c, mx) & !(ta | tb);
                let td = !(ta | tb | tc);
                let z = |t| _mm512_maskz_mov_ps(t, g);
                store_pairs(d_top.as_mut_ptr().add(2 * k), m, z(ta), z(tb));
                store_pairs(d_bottom.as_mut_ptr().add(2 * k), m, z(tc), z(td));
            }
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub use avx512::{
    copy_short, direct_8, direct_dw, dots_into, first_max, first_max_16, first_max_down, list_2x2_winners,
    max_2x2_plane, max_2x2_row, route_2x2_row, route_2x2_row_codes, sum,
};

/// Stand-ins so callers compile everywhere; never called when `AVX512` is false.
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn sum(_: &[f32]) -> f32 {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn direct_8(_: &[f32], _: &[usize], _: &[f32], _: &[f32; 8], _: usize, _: &mut [f32], _: usize) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn list_2x2_winners(_: (&[f32], &[f32], &[u16]), _: (usize, usize, usize), _: (&mut [u32], &mut [f32])) -> usize {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn max_2x2_plane(_: &[f32], _: usize, _: (usize, usize), _: &mut [f32], _: Option<&mut [u16]>) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn first_max(_: &[f32]) -> (f32, usize) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn first_max_down(_: &[f32], _: usize, _: usize, _: usize, _: usize) -> ([f32; 16], [i32; 16]) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn first_max_16(_: &[f32], _: &[i32; 16], _: usize, _: (usize, usize, usize)) -> ([f32; 16], [i32; 16]) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn route_2x2_row_codes(_: &[f32], _: &[f32], _: &[u16], _: &mut [f32], _: &mut [f32]) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn dots_into(_: &[f32], _: &[f32], _: &mut [f32]) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn direct_dw(_: &[usize], _: usize, _: usize, _: &[f32], _: &[f32], _: &mut [f32]) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn copy_short(_: &[f32], _: &mut [f32]) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn max_2x2_row(_: &[f32], _: &[f32], _: &mut [f32], _: Option<&mut [u16]>) {
    unreachable!("AVX-512 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub fn route_2x2_row(_: &[f32], _: &[f32], _: &[f32], _: &[f32], _: &mut [f32], _: &mut [f32]) {
    unreachable!("AVX-512 kernel called on a build without it")
}

#[cfg(test)]
mod tests {
    #[test]
    fn f32_sum_matches_the_generic_sum() {
        for len in [0, 1, 15, 16, 17, 196, 784, 1001] {
            let x: Vec<f32> = (0..len).map(|i| ((i as f32) * 0.37).sin() * 1e3).collect();
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let want = crate::engine::sum_lanes(&x64);
            let got = crate::engine::sum_lanes(&x);
            assert!((got as f64 - want).abs() <= 1e-3 * (1.0 + want.abs()), "{len}: {got} {want}");
        }
    }
}
