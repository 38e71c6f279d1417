//! Matrix products through the `gemm` crate, with row-major views that may be transposed.
//! Every call is single-threaded: parallelism lives one level up, across the batch
//! (the data-parallel step, `train::step`), which measured faster than threading inside each small GEMM.

use super::Float;

/// A read-only strided view of a matrix inside a slice.
#[derive(Clone, Copy)]
pub struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T: Float> Mat<'a, T> {
    /// `rows × cols` stored row by row.
    pub fn rows(data: &'a [T], rows: usize, cols: usize) -> Self {
        debug_assert!(data.len() >= rows * cols, "matrix view larger than its buffer");
        Mat { data, rows, cols, row_stride: cols as isize, col_stride: 1 }
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        Mat {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// `dst (m×n, row-major) = a·b`, or `dst += a·b` when `accumulate`.
pub fn matmul<T: Float>(dst: &mut [T], a: Mat<T>, b: Mat<T>, accumulate: bool) {
    matmul_strided(dst, a, b, accumulate, false)
}

/// As `matmul`, but `dst` is stored column by column (element (i, j) at `i + j·m`). The gemm
/// crate packs the left operand of the product it computes, and a row-major `dst` makes it
/// compute the transpose, so this picks which operand gets packed: for `dY·colsᵀ` it is the
/// small `dY` rather than the columns (packed element by element, as they are row-major).
pub fn matmul_col_major<T: Float>(dst: &mut [T], a: Mat<T>, b: Mat<T>, accumulate: bool) {
    matmul_strided(dst, a, b, accumulate, true)
}

fn matmul_strided<T: Float>(dst: &mut [T], a: Mat<T>, b: Mat<T>, accumulate: bool, col_major: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul: inner dimensions differ");
    assert!(dst.len() >= m * n, "matmul: destination too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::ZERO);
        }
        return;
    }
    // SAFETY: the views were checked to lie inside their slices (Mat::rows) and dst holds m×n;
    // gemm reads a, b and writes dst only within those strides and sizes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            if col_major { m as isize } else { 1 },
            if col_major { 1 } else { n as isize },
            accumulate,
            a.data.as_ptr(),
            a.col_stride,
            a.row_stride,
            b.data.as_ptr(),
            b.col_stride,
            b.row_stride,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_and_transposes_match_a_naive_loop() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut got = vec![0.0; m * n];
        matmul(&mut got, Mat::rows(&a, m, k), Mat::rows(&b, k, n), false);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12);
        }
        // (bᵀ aᵀ) = (ab)ᵀ
        let mut gt = vec![0.0; n * m];
        matmul(&mut gt, Mat::rows(&b, k, n).t(), Mat::rows(&a, m, k).t(), false);
        for i in 0..m {
            for j in 0..n {
                assert!((gt[j * m + i] - want[i * n + j]).abs() < 1e-12);
            }
        }
        // accumulate adds
        matmul(&mut got, Mat::rows(&a, m, k), Mat::rows(&b, k, n), true);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - 2.0 * w).abs() < 1e-12);
        }
        // column-major destination
        let mut cm = vec![0.0; m * n];
        matmul_col_major(&mut cm, Mat::rows(&a, m, k), Mat::rows(&b, k, n), false);
        for i in 0..m {
            for j in 0..n {
                assert!((cm[i + j * m] - want[i * n + j]).abs() < 1e-12);
            }
        }
    }
}
