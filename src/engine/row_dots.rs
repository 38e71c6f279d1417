//! `y = x·Wᵀ + b` with `x` (n × k) and `W` (m × k) both row-major: every output is the dot
//! product of two contiguous rows, so the kernel reads both in place, 4 samples × 4 outputs in
//! 16 AVX-512 accumulators. The gemm crate packed `W` on every call instead (200 KB for
//! SimpleCNN's 1568→32 linear layer, per 16-sample inference call: 5 % of `bench infer`).
//!
//! Each output sums lane by lane over the row, 16 columns a step (the tail masked), then
//! across the lanes, then adds its bias: a fixed order, the same for every call and thread
//! count. For f32 with AVX-512 (`AVAILABLE`); other builds and f64 keep the gemm path.

/// Whether `forward` runs on this build.
pub const AVAILABLE: bool = super::simd::AVX512;

/// `y (n × m) = x (n × k) · w (m × k)ᵀ`, plus `bias` (m) when given. Only where `AVAILABLE`.
pub fn forward(y: &mut [f32], x: &[f32], w: &[f32], bias: Option<&[f32]>, (n, k, m): (usize, usize, usize)) {
    assert!(x.len() >= n * k && w.len() >= m * k && y.len() >= n * m, "row_dots: buffers smaller than their shapes");
    assert!(bias.is_none_or(|b| b.len() >= m), "row_dots: bias shorter than the outputs");
    avx512::forward(y, x, w, bias, (n, k, m));
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use crate::engine::simd::avx512::mask;
    use std::arch::x86_64::*;

    /// Samples × outputs per register tile.
    const TILE: usize = 4;

    pub fn forward(y: &mut [f32], x: &[f32], w: &[f32], bias: Option<&[f32]>, (n, k, m): (usize, usize, usize)) {
        // Outputs outermost: a tile's 4 weight rows are read from L1 by every sample tile.
        // (A 512-column blocking that kept them there for sure measured no faster: the
        // samples' rows, streaming from L2, set the pace.)
        for o in (0..m).step_by(TILE) {
            let cols = TILE.min(m - o);
            for s in (0..n).step_by(TILE) {
                let rows = TILE.min(n - s);
                let sums = tile_of_shape(rows, cols, x, w, k, s, o);
                for (r, row) in sums.iter().enumerate().take(rows) {
                    for (c, &v) in row.iter().enumerate().take(cols) {
                        y[(s + r) * m + o + c] = v + bias.map_or(0.0, |b| b[o + c]);
                    }
                }
            }
        }
    }

    /// `tile` for a runtime shape: 4 × 4 inside, smaller at the edges, each shape with its
    /// own register count.
    fn tile_of_shape(
        rows: usize,
        cols: usize,
        x: &[f32],
        w: &[f32],
        k: usize,
        s: usize,
        o: usize,
    ) -> [[f32; TILE]; TILE] {
        macro_rules! pick {
            ($($r:literal, $c:literal);*) => {
                match (rows, cols) {
                    $(($r, $c) => tile::<$r, $c>(x, w, k, s, o),)*
                    _ => unreachable!("tile {rows}×{cols}"),
                }
            };
        }
        pick!(1,1; 1,2; 1,3; 1,4; 2,1; 2,2; 2,3; 2,4; 3,1; 3,2; 3,3; 3,4; 4,1; 4,2; 4,3; 4,4)
    }

    /// The R × C dot products of samples `s..s+R` with weight rows `o..o+C`.
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(x: &[f32], w: &[f32], k: usize, s: usize, o: usize) -> [[f32; TILE]; TILE] {
        assert!((s + R) * k <= x.len() && (o + C) * k <= w.len());
        let (xp, wp) = (x[s * k..].as_ptr(), w[o * k..].as_ptr());
        // SAFETY: every load is of row r < R (c < C) at columns below k, masked past it, and
        // the rows lie inside x and w (asserted above).
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); C]; R];
            let mut step = |at: usize, lanes: u16| {
                let wv: [__m512; C] = std::array::from_fn(|c| _mm512_maskz_loadu_ps(lanes, wp.add(c * k + at)));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let xv = _mm512_maskz_loadu_ps(lanes, xp.add(r * k + at));
                    for (a, &wc) in acc_r.iter_mut().zip(&wv) {
                        *a = _mm512_fmadd_ps(xv, wc, *a);
                    }
                }
            };
            let full = k / 16 * 16;
            for at in (0..full).step_by(16) {
                step(at, 0xffff);
            }
            if full < k {
                step(full, mask(k - full));
            }
            let mut out = [[0.0; TILE]; TILE];
            for (out_r, acc_r) in out.iter_mut().zip(&acc) {
                for (v, &a) in out_r.iter_mut().zip(acc_r) {
                    *v = _mm512_reduce_add_ps(a);
                }
            }
            out
        }
    }
}

/// A stand-in so callers compile everywhere; never called, as `AVAILABLE` is false.
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
mod avx512 {
    pub fn forward(_: &mut [f32], _: &[f32], _: &[f32], _: Option<&[f32]>, _: (usize, usize, usize)) {
        unreachable!("AVX-512 kernel called on a build without it")
    }
}

#[cfg(all(test, target_arch = "x86_64", target_feature = "avx512f"))]
mod tests {
    use super::*;

    #[test]
    fn dot_products_match_f64_sums_on_every_edge_tile() {
        // Sizes with every remainder of 4 (samples, outputs) and of 16 (columns).
        for (n, k, m) in [(16, 1568, 32), (37, 1030, 9), (5, 17, 7), (3, 15, 6), (1, 1, 1), (7, 33, 10), (9, 16, 3)] {
            let x: Vec<f32> = (0..n * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0).collect();
            let w: Vec<f32> = (0..m * k).map(|i| ((i * 53 % 97) as f32 - 48.0) / 32.0).collect();
            let b: Vec<f32> = (0..m).map(|i| i as f32 - 2.5).collect();
            let mut y = vec![f32::NAN; n * m];
            forward(&mut y, &x, &w, Some(&b), (n, k, m));
            for s in 0..n {
                for o in 0..m {
                    let want = (0..k).map(|j| x[s * k + j] as f64 * w[o * k + j] as f64).sum::<f64>() + b[o] as f64;
                    let got = y[s * m + o] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "({n},{k},{m}) y[{s},{o}] = {got}, want {want}"
                    );
                }
            }
            let mut no_bias = vec![f32::NAN; n * m];
            forward(&mut no_bias, &x, &w, None, (n, k, m));
            for (i, (&with, &without)) in y.iter().zip(&no_bias).enumerate() {
                assert_eq!(with, without + b[i % m]);
            }
        }
    }

    #[test]
    fn a_nan_or_inf_reaches_only_its_own_outputs() {
        let (n, k, m) = (6, 40, 5);
        let mut x = vec![0.5f32; n * k];
        x[2 * k + 39] = f32::NAN; // sample 2, in the masked tail
        x[4 * k + 3] = f32::INFINITY; // sample 4
        let w = vec![0.25f32; m * k];
        let mut y = vec![0.0; n * m];
        forward(&mut y, &x, &w, None, (n, k, m));
        for s in 0..n {
            for o in 0..m {
                let v = y[s * m + o];
                match s {
                    2 => assert!(v.is_nan()),
                    4 => assert_eq!(v, f32::INFINITY),
                    _ => assert_eq!(v, 0.5 * 0.25 * k as f32),
                }
            }
        }
    }
}
