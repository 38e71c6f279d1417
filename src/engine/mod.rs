//! The numeric core: element type, shapes and matrix products that every layer builds on.

pub mod avx2;
pub mod chunk_dw;
pub mod dims;
pub mod direct;
pub mod float;
pub mod gemm;
pub mod hwc_dw;
pub mod im2col;
pub mod simd;
pub mod winograd;

pub use dims::{Dims, Rank, Window};
pub use float::{flush_subnormal, sum_lanes, Float};
