//! The numeric core: element type, shapes and matrix products that every layer builds on.

pub mod chunk_dw;
pub mod dims;
pub mod direct;
pub mod float;
pub mod gemm;
pub mod im2col;
pub mod simd;
pub mod subnormal;

pub use dims::{Dims, Rank, Window};
pub use float::{sum_lanes, Float};
pub use subnormal::FlushSubnormals;
