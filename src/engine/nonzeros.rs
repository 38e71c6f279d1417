//! Lists of a gradient plane's nonzero entries, for the weight-gradient kernels that sum only
//! those (`hwc_dw`; `direct_dw`'s lists come from a pool's winners, `MaxPool::list_winners`): behind a ReLU and a 2×2 max-pool at most one output in four
//! has a gradient, and a dense sum spends most of its multiply-adds on zeros.
//!
//! An entry is kept when it is not zero; a NaN is kept (so it still reaches the sums).

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
use super::simd;
use super::Float;

/// One plane's nonzero entries: where each one's window starts in the kernel's input, and
/// its value, in position order. Each list holds a plane and a vector's spare lanes
/// (`Nonzeros::len_for`).
pub struct Nonzeros<'a, T> {
    pub at: &'a mut [u32],
    pub value: &'a mut [T],
}

impl<T> Nonzeros<'_, T> {
    /// Length of each list for planes of `positions` entries: the vector kernel writes 16
    /// lanes at a time.
    pub fn len_for(positions: usize) -> usize {
        positions + 16
    }
}

/// Lists the nonzero entries of `plane` (`out_h × out_w`): entry (oh, ow) starts its window
/// at `(oh·row_stride + ow)·scale` of the input. Returns how many there are.
pub fn list<T: Float>(
    plane: &[T],
    (out_h, out_w): (usize, usize),
    (row_stride, scale): (usize, usize),
    list: &mut Nonzeros<T>,
) -> usize {
    assert!(plane.len() >= out_h * out_w && list.at.len() >= Nonzeros::<T>::len_for(out_h * out_w));
    assert!(list.value.len() >= list.at.len() && row_stride >= out_w);
    assert!((out_h * row_stride * scale) <= i32::MAX as usize, "window starts are 32-bit");
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if let (Some(p), Some(value)) = (simd::f32s(plane), simd::f32s_mut(list.value)) {
        return avx512::list(p, (out_h, out_w), (row_stride, scale), list.at, value);
    }
    let mut n = 0;
    for oh in 0..out_h {
        for (ow, &v) in plane[oh * out_w..][..out_w].iter().enumerate() {
            if v != T::ZERO {
                (list.at[n], list.value[n]) = (((oh * row_stride + ow) * scale) as u32, v);
                n += 1;
            }
        }
    }
    n
}

/// `list` for `planes` planes of `dy` one after the other: plane o's entries from
/// `o · Nonzeros::len_for(out_h·out_w)` on, `counts[o]` of them. Returns their total.
pub fn list_planes<T: Float>(
    dy: &[T],
    (planes, out_h, out_w): (usize, usize, usize),
    stride_scale: (usize, usize),
    list: &mut Nonzeros<T>,
    counts: &mut [usize],
) -> usize {
    let (plane, len) = (out_h * out_w, Nonzeros::<T>::len_for(out_h * out_w));
    assert!(dy.len() >= planes * plane && counts.len() >= planes);
    assert!(list.at.len() >= planes * len && list.value.len() >= planes * len);
    let mut total = 0;
    for (o, count) in counts.iter_mut().enumerate().take(planes) {
        let mut one = Nonzeros { at: &mut list.at[o * len..][..len], value: &mut list.value[o * len..][..len] };
        *count = self::list(&dy[o * plane..][..plane], (out_h, out_w), stride_scale, &mut one);
        total += *count;
    }
    total
}

/// Plane o's entries of a `list_planes` list.
pub fn entries<'a, T>(list: &'a Nonzeros<T>, counts: &[usize], plane: usize, o: usize) -> (&'a [u32], &'a [T]) {
    let at = o * Nonzeros::<T>::len_for(plane);
    (&list.at[at..][..counts[o]], &list.value[at..][..counts[o]])
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use crate::engine::simd::avx512::mask;
    use std::arch::x86_64::*;

    /// `super::list` for f32: per 16 positions of a row, a compare and two compresses.
    pub fn list(
        plane: &[f32],
        (out_h, out_w): (usize, usize),
        (row_stride, scale): (usize, usize),
        at: &mut [u32],
        value: &mut [f32],
    ) -> usize {
        let mut n = 0;
        // SAFETY: loads are masked to the row's columns, inside plane (the caller asserted
        // its length); each store writes 16 lanes at n, and n counts the entries listed
        // before this row's vector, so n + 16 ≤ out_h·out_w + 16 ≤ the lists' lengths.
        unsafe {
            let lanes = _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(scale as i32),
            );
            for oh in 0..out_h {
                for w0 in (0..out_w).step_by(16) {
                    let m = mask(out_w - w0);
                    let v = _mm512_maskz_loadu_ps(m, plane.as_ptr().add(oh * out_w + w0));
                    let nonzero = _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(m, v, _mm512_setzero_ps());
                    let start = _mm512_add_epi32(_mm512_set1_epi32(((oh * row_stride + w0) * scale) as i32), lanes);
                    _mm512_storeu_si512(at.as_mut_ptr().add(n).cast(), _mm512_maskz_compress_epi32(nonzero, start));
                    _mm512_storeu_ps(value.as_mut_ptr().add(n), _mm512_maskz_compress_ps(nonzero, v));
                    n += nonzero.count_ones() as usize;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector lists against the generic loop (f64 takes it): zeros, signed zeros, a NaN, and
    /// rows of 21 (a vector and a tail).
    #[test]
    fn lists_keep_the_nonzero_entries_in_order() {
        let (out_h, out_w, stride, scale) = (3, 21, 23, 4);
        let plane: Vec<f32> = (0..out_h * out_w)
            .map(|i| match i % 5 {
                0 => 0.0,
                1 => -0.0,
                2 if i == 17 => f32::NAN,
                _ => i as f32 * 0.5 - 7.0,
            })
            .collect();
        let len = Nonzeros::<f32>::len_for(plane.len());
        let (mut at, mut value) = (vec![7; len], vec![0f32; len]);
        let n = list(&plane, (out_h, out_w), (stride, scale), &mut Nonzeros { at: &mut at, value: &mut value });
        let wide: Vec<f64> = plane.iter().map(|&v| v as f64).collect();
        let (mut at64, mut value64) = (vec![7; len], vec![0f64; len]);
        let n64 = list(&wide, (out_h, out_w), (stride, scale), &mut Nonzeros { at: &mut at64, value: &mut value64 });
        assert_eq!(n, n64);
        assert_eq!(n, plane.iter().filter(|v| **v != 0.0).count());
        assert_eq!(at[..n], at64[..n]);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&value[..n]), bits(&value64[..n].iter().map(|&v| v as f32).collect::<Vec<_>>()));
        assert!(value[..n].iter().any(|v| v.is_nan()) && !value[..n].contains(&0.0));
        let (oh, ow) = (at[0] as usize / scale / stride, at[0] as usize / scale % stride);
        assert_eq!(plane[oh * out_w + ow].to_bits(), value[0].to_bits());
    }
}
