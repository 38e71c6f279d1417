//! The numeric core: element type, shapes and matrix products that every layer builds on.

pub mod avx2;
pub mod chunk_dw;
pub mod dims;
pub mod direct;
pub mod direct_dw;
pub mod direct_pooled;
pub mod float;
pub mod gemm;
pub mod hwc_dw;
pub mod hwc_dx;
pub mod im2col;
pub mod nonzeros;
pub mod row_dots;
pub mod simd;
pub mod winograd;

pub use dims::{Dims, Rank, Window};
pub use float::{flush_subnormal, sum_lanes, Float};

/// A short row copy (`dst.len()` values), inline for f32: a memcpy call per row of a feature
/// map cost more than the copy.
#[inline]
pub fn copy_row<T: Float>(src: &[T], dst: &mut [T]) {
    if let (true, Some(s), Some(d)) = (simd::AVX512, simd::f32s(src), simd::f32s_mut(dst)) {
        simd::copy_short(s, d);
    } else if let (true, Some(s), Some(d)) = (avx2::AVX2, simd::f32s(src), simd::f32s_mut(dst)) {
        avx2::copy_short(s, d);
    } else {
        dst.copy_from_slice(src);
    }
}
