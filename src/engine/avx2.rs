//! AVX2 + FMA twins of the hottest AVX-512 kernels in `simd`, for x86 CPUs without AVX-512
//! (on them the plain generic loops ran SimpleCNN 3x slower: the direct convolution's loop
//! was half the time, the 2×2 pool's a sixth). Each computes exactly what its generic twin
//! does, in the same order, so results are bit-identical whichever kernel runs; the tests
//! below compare them bit for bit. On AVX-512 builds the `simd` kernels take precedence.

/// Whether the kernels below exist on this build (chosen at compile time, as `simd::AVX512`).
pub const AVX2: bool = cfg!(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"));

#[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
mod kernels {
    use std::arch::x86_64::*;

    /// The first `n` values at `p` (zero past them). Masked moves (`vmaskmovps`) are avoided:
    /// AMD CPUs run the storing one in microcode, and it was a third of the direct conv's time.
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m256 {
        if n >= 8 {
            return _mm256_loadu_ps(p);
        }
        let mut t = [0f32; 8];
        for (i, v) in t.iter_mut().enumerate().take(n) {
            *v = *p.add(i);
        }
        _mm256_loadu_ps(t.as_ptr())
    }

    /// Stores the first `n` lanes of `v` at `p`.
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, n: usize, v: __m256) {
        if n >= 8 {
            return _mm256_storeu_ps(p, v);
        }
        let mut t = [0f32; 8];
        _mm256_storeu_ps(t.as_mut_ptr(), v);
        for (i, &v) in t.iter().enumerate().take(n) {
            *p.add(i) = v;
        }
    }

    /// Lane `l` set when bit `l` of `bits` is.
    #[inline(always)]
    unsafe fn bit_lanes(bits: u32) -> __m256 {
        let b = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits as i32), b), b))
    }

    /// The even and odd elements of `p[..2n]` (n ≤ 8), as two vectors (zero past n).
    #[inline(always)]
    unsafe fn load_pairs(p: *const f32, n: usize) -> (__m256, __m256) {
        let lo = load_n(p, 2 * n);
        let hi = load_n(p.wrapping_add(8), (2 * n).saturating_sub(8));
        // Within each 128-bit half, then the 64-bit quarters into order.
        let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(v)));
        (fix(_mm256_shuffle_ps::<0x88>(lo, hi)), fix(_mm256_shuffle_ps::<0xDD>(lo, hi)))
    }

    /// Interleaves `even` and `odd` into `p[..2n]`.
    #[inline(always)]
    unsafe fn store_pairs(p: *mut f32, n: usize, even: __m256, odd: __m256) {
        let (lo, hi) = (_mm256_unpacklo_ps(even, odd), _mm256_unpackhi_ps(even, odd));
        store_n(p, 2 * n, _mm256_permute2f128_ps::<0x20>(lo, hi));
        store_n(p.wrapping_add(8), (2 * n).saturating_sub(8), _mm256_permute2f128_ps::<0x31>(lo, hi));
    }

    #[inline(always)]
    unsafe fn is_nan(v: __m256) -> __m256 {
        _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v)
    }

    /// `v` replaces `best` when larger, or when it is the first NaN (as `maxpool::wins`).
    #[inline(always)]
    unsafe fn fold(best: __m256, v: __m256) -> __m256 {
        let take = _mm256_or_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, best), _mm256_andnot_ps(is_nan(best), is_nan(v)));
        _mm256_blendv_ps(best, v, take)
    }

    /// Bits of the lanes where `v` equals the maximum `m` (NaN matches NaN).
    #[inline(always)]
    unsafe fn is_max(v: __m256, m: __m256) -> u32 {
        let eq = _mm256_or_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(v, m), _mm256_and_ps(is_nan(v), is_nan(m)));
        _mm256_movemask_ps(eq) as u32
    }

    /// As `simd::direct_8`, in tiles of 4 channels × 16 outputs (8 of the 16 registers hold
    /// sums; each tap costs two loads, four broadcasts and eight FMAs).
    pub fn direct_8(
        xpad: &[f32],
        offs: &[usize],
        w8: &[f32],
        bias: &[f32; 8],
        chans: usize,
        ext: &mut [f32],
        stride: usize,
    ) {
        assert!(stride.is_multiple_of(16) && chans <= 8 && w8.len() >= offs.len() * 8 && ext.len() >= chans * stride);
        assert!(offs.iter().all(|&o| o + stride <= xpad.len()), "padded input too short");
        for half in (0..chans).step_by(4) {
            let n = (chans - half).min(4);
            for q in (0..stride).step_by(16) {
                // SAFETY: every load is inside xpad (asserted above), every store inside ext.
                unsafe {
                    let mut acc = [[_mm256_setzero_ps(); 2]; 4];
                    for (t, &off) in offs.iter().enumerate() {
                        let x0 = _mm256_loadu_ps(xpad.as_ptr().add(off + q));
                        let x1 = _mm256_loadu_ps(xpad.as_ptr().add(off + q + 8));
                        let wt = w8.as_ptr().add(t * 8 + half);
                        for (o, a) in acc.iter_mut().enumerate() {
                            let wv = _mm256_broadcast_ss(&*wt.add(o));
                            a[0] = _mm256_fmadd_ps(wv, x0, a[0]);
                            a[1] = _mm256_fmadd_ps(wv, x1, a[1]);
                        }
                    }
                    for (o, a) in acc.iter().enumerate().take(n) {
                        let b = _mm256_set1_ps(bias[half + o]);
                        let at = ext.as_mut_ptr().add((half + o) * stride + q);
                        _mm256_storeu_ps(at, _mm256_add_ps(b, a[0]));
                        _mm256_storeu_ps(at.add(8), _mm256_add_ps(b, a[1]));
                    }
                }
            }
        }
    }

    /// `dst[..n] = src[..n]` for short rows, inline (a memcpy call per row was the cost):
    /// whole vectors, the last one overlapping the one before when n is not a multiple of 8.
    #[inline]
    pub fn copy_short(src: &[f32], dst: &mut [f32]) {
        let n = dst.len();
        assert!(src.len() >= n);
        if n < 8 {
            return dst.copy_from_slice(&src[..n]);
        }
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        // SAFETY: every load and store covers 8 values at k ≤ n - 8, inside both slices.
        unsafe {
            let mut k = 0;
            while k + 8 < n {
                _mm256_storeu_ps(d.add(k), _mm256_loadu_ps(s.add(k)));
                k += 8;
            }
            _mm256_storeu_ps(d.add(n - 8), _mm256_loadu_ps(s.add(n - 8)));
        }
    }

    /// As `simd::max_2x2_row`, 8 windows at a time; the same code words.
    #[inline]
    pub fn max_2x2_row(top: &[f32], bottom: &[f32], y: &mut [f32], mut codes: Option<&mut [u16]>) {
        let n = y.len();
        assert!(top.len() >= 2 * n && bottom.len() >= 2 * n);
        assert!(codes.as_ref().is_none_or(|c| c.len() >= 2 * n.div_ceil(16)));
        for k in (0..n).step_by(8) {
            let m = (n - k).min(8);
            // SAFETY: loads and stores cover the first 2m (resp. m) values only, inside the slices.
            unsafe {
                let (a, b) = load_pairs(top.as_ptr().add(2 * k), m);
                let (c, d) = load_pairs(bottom.as_ptr().add(2 * k), m);
                let best = fold(fold(fold(a, b), c), d);
                store_n(y.as_mut_ptr().add(k), m, best);
                if let Some(codes) = codes.as_deref_mut() {
                    let ta = is_max(a, best);
                    let tb = is_max(b, best) & !ta;
                    let tc = is_max(c, best) & !(ta | tb);
                    let td = !(ta | tb | tc);
                    let valid = (1u32 << m) - 1;
                    let (col, row) = (((tb | td) & valid) as u16, ((tc | td) & valid) as u16);
                    let (w, shift) = (2 * (k / 16), k % 16);
                    if shift == 0 {
                        (codes[w], codes[w + 1]) = (col, row);
                    } else {
                        codes[w] |= col << shift;
                        codes[w + 1] |= row << shift;
                    }
                }
            }
        }
    }

    /// As `simd::route_2x2_row_codes`, 8 windows at a time.
    #[inline]
    pub fn route_2x2_row_codes(y: &[f32], dy: &[f32], codes: &[u16], d_top: &mut [f32], d_bottom: &mut [f32]) {
        let n = y.len();
        assert!(dy.len() >= n && codes.len() >= 2 * n.div_ceil(16));
        assert!(d_top.len() >= 2 * n && d_bottom.len() >= 2 * n);
        for k in (0..n).step_by(8) {
            let m = (n - k).min(8);
            // SAFETY: loads and stores cover the first m (resp. 2m) values only.
            unsafe {
                let mx = load_n(y.as_ptr().add(k), m);
                let g = load_n(dy.as_ptr().add(k), m);
                let g = _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(mx, _mm256_setzero_ps()), g);
                let (w, shift) = (2 * (k / 16), k % 16);
                let (col, row) = (u32::from(codes[w] >> shift) & 0xff, u32::from(codes[w + 1] >> shift) & 0xff);
                let z = |bits: u32| _mm256_and_ps(bit_lanes(bits), g);
                store_pairs(d_top.as_mut_ptr().add(2 * k), m, z(!col & !row), z(col & !row));
                store_pairs(d_bottom.as_mut_ptr().add(2 * k), m, z(!col & row), z(col & row));
            }
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
pub use kernels::{copy_short, direct_8, max_2x2_row, route_2x2_row_codes};

/// Stand-ins so callers compile everywhere; never called when `AVX2` is false.
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
pub fn direct_8(_: &[f32], _: &[usize], _: &[f32], _: &[f32; 8], _: usize, _: &mut [f32], _: usize) {
    unreachable!("AVX2 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
pub fn copy_short(_: &[f32], _: &mut [f32]) {
    unreachable!("AVX2 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
pub fn max_2x2_row(_: &[f32], _: &[f32], _: &mut [f32], _: Option<&mut [u16]>) {
    unreachable!("AVX2 kernel called on a build without it")
}
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
pub fn route_2x2_row_codes(_: &[f32], _: &[f32], _: &[u16], _: &mut [f32], _: &mut [f32]) {
    unreachable!("AVX2 kernel called on a build without it")
}

#[cfg(all(test, target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
mod tests {
    use super::*;

    /// The direct kernel against the generic loop's order (FMAs from zero, bias last), bit for bit.
    #[test]
    fn direct_kernel_matches_the_ordered_sum_bit_for_bit() {
        let (stride, taps) = (48, 7);
        let offs: Vec<usize> = (0..taps).map(|t| t * 5 % 11).collect();
        let xpad: Vec<f32> = (0..stride + 16).map(|i| (i as f32 * 0.37).sin()).collect();
        let w8: Vec<f32> = (0..taps * 8).map(|i| (i as f32 * 0.71).cos()).collect();
        let bias: [f32; 8] = std::array::from_fn(|o| o as f32 * 0.1 - 0.3);
        for chans in [1, 4, 5, 8] {
            let mut ext = vec![f32::NAN; chans * stride];
            direct_8(&xpad, &offs, &w8, &bias, chans, &mut ext, stride);
            for o in 0..chans {
                for q in 0..stride {
                    let mut s = 0f32;
                    for (t, &off) in offs.iter().enumerate() {
                        s = w8[t * 8 + o].mul_add(xpad[off + q], s);
                    }
                    assert_eq!(ext[o * stride + q].to_bits(), (bias[o] + s).to_bits(), "{chans} {o} {q}");
                }
            }
        }
    }

    #[test]
    fn short_copies_copy_exactly_the_row() {
        for n in [0, 1, 7, 8, 9, 14, 28] {
            let src: Vec<f32> = (0..n + 3).map(|i| i as f32).collect();
            let mut dst = vec![-1f32; n + 3];
            copy_short(&src, &mut dst[..n]);
            assert_eq!(&dst[..n], &src[..n]);
            assert!(dst[n..].iter().all(|&v| v == -1.0));
        }
    }
}
