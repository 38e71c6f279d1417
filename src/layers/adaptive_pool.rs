//! AdaptiveAvgPool1d/2d and AdaptiveMaxPool1d/2d: the output size is given and each output
//! pools its own window, PyTorch's rule along each axis: output `i` of `n` over an input of
//! length `L` covers `floor(i·L/n) .. ceil((i+1)·L/n)`. Windows may differ in size by one and may
//! overlap by one (e.g. 5 → 3 gives 0..2, 1..4, 3..5), so a backward pass accumulates.
//!
//! The average divides by the window's own size (`sum / kh / kw`, as PyTorch). The maximum takes
//! the first maximum, and a NaN wins, as `maxpool`. Both keep nothing between forward and
//! backward: the max's backward finds each window's winner again from the input by the same
//! rule, so the layer computes each sample on its own and runs in chunks of samples.

use crate::engine::Float;
use std::ops::Range;

/// Which reduction an adaptive pool takes over each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Avg,
    Max,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AdaptivePool {
    pub kind: PoolKind,
    /// Channels, and the input plane (`h` = 1 for 1-D).
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// The output plane (`out_h` = 1 for 1-D).
    pub out_h: usize,
    pub out_w: usize,
    pub one_d: bool,
}

/// The input range pooled by output `i` of `out` over an input of length `len`.
#[inline]
pub fn window(i: usize, len: usize, out: usize) -> Range<usize> {
    i * len / out..((i + 1) * len).div_ceil(out)
}

/// Whether `v` should replace the current best: larger, or the first NaN (as `maxpool`).
#[inline(always)]
fn wins<T: Float>(v: T, best: T) -> bool {
    v > best || (v.is_nan() && !best.is_nan())
}

impl AdaptivePool {
    fn planes(&self) -> (usize, usize) {
        (self.h * self.w, self.out_h * self.out_w)
    }

    /// Calls `f(output index, rows, columns)` for each output of one plane.
    fn for_each_window(&self, mut f: impl FnMut(usize, Range<usize>, Range<usize>)) {
        for oh in 0..self.out_h {
            let rows = window(oh, self.h, self.out_h);
            for ow in 0..self.out_w {
                f(oh * self.out_w + ow, rows.clone(), window(ow, self.w, self.out_w));
            }
        }
    }

    /// The window's first maximum (the first NaN if any) and its index in the plane.
    fn winner<T: Float>(&self, xp: &[T], rows: Range<usize>, cols: Range<usize>) -> (T, usize) {
        let first = rows.start * self.w + cols.start;
        let (mut best, mut at) = (xp[first], first);
        for r in rows {
            for (j, &v) in xp[r * self.w + cols.start..r * self.w + cols.end].iter().enumerate() {
                if wins(v, best) {
                    (best, at) = (v, r * self.w + cols.start + j);
                }
            }
        }
        (best, at)
    }

    /// Values read by one sample's forward pass: the windows' sizes summed.
    pub fn reads(&self) -> usize {
        let total = |len: usize, out: usize| (0..out).map(|i| window(i, len, out).len()).sum::<usize>();
        self.c * total(self.h, self.out_h) * total(self.w, self.out_w)
    }

    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], n: usize) {
        let (plane, out_plane) = self.planes();
        for (xp, yp) in x.chunks_exact(plane).zip(y.chunks_exact_mut(out_plane)).take(n * self.c) {
            self.for_each_window(|o, rows, cols| {
                yp[o] = match self.kind {
                    PoolKind::Max => self.winner(xp, rows, cols).0,
                    PoolKind::Avg => {
                        let (kh, kw) = (T::from_f64(rows.len() as f64), T::from_f64(cols.len() as f64));
                        let mut sum = T::ZERO;
                        for r in rows {
                            for &v in &xp[r * self.w + cols.start..r * self.w + cols.end] {
                                sum += v;
                            }
                        }
                        sum / kh / kw
                    }
                };
            });
        }
    }

    /// Writes the input gradient: each output's gradient shared over its window (average) or
    /// given to its winner (maximum), accumulated where windows overlap.
    pub fn backward<T: Float>(&self, x: &[T], dy: &[T], dx: &mut [T], n: usize) {
        let (plane, out_plane) = self.planes();
        let planes = x.chunks_exact(plane).zip(dx.chunks_exact_mut(plane));
        for ((xp, dxp), dyp) in planes.zip(dy.chunks_exact(out_plane)).take(n * self.c) {
            dxp.fill(T::ZERO);
            self.for_each_window(|o, rows, cols| match self.kind {
                PoolKind::Max => dxp[self.winner(xp, rows, cols).1] += dyp[o],
                PoolKind::Avg => {
                    let (kh, kw) = (T::from_f64(rows.len() as f64), T::from_f64(cols.len() as f64));
                    let share = dyp[o] / kh / kw;
                    for r in rows {
                        for d in &mut dxp[r * self.w + cols.start..r * self.w + cols.end] {
                            *d += share;
                        }
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(kind: PoolKind, c: usize, (h, w): (usize, usize), (out_h, out_w): (usize, usize)) -> AdaptivePool {
        AdaptivePool { kind, c, h, w, out_h, out_w, one_d: h == 1 && out_h == 1 }
    }

    #[test]
    fn windows_follow_pytorchs_rule() {
        let ws = |len, out| (0..out).map(|i| window(i, len, out)).collect::<Vec<_>>();
        assert_eq!(ws(5, 3), [0..2, 1..4, 3..5]);
        assert_eq!(ws(11, 4), [0..3, 2..6, 5..9, 8..11]);
        assert_eq!(ws(8, 3), [0..3, 2..6, 5..8]);
        assert_eq!(ws(7, 2), [0..4, 3..7]);
        assert_eq!(ws(6, 6), [0..1, 1..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(ws(9, 1), vec![(0..9)]);
    }

    #[test]
    fn global_average_of_a_known_tensor() {
        // Two channels of 2×3: 1..=6 and 10·(1..=6).
        let x: Vec<f64> = (1..=6).map(f64::from).chain((1..=6).map(|v| 10.0 * v as f64)).collect();
        let p = pool(PoolKind::Avg, 2, (2, 3), (1, 1));
        let mut y = [0.0; 2];
        p.forward(&x, &mut y, 1);
        assert_eq!(y, [3.5, 35.0]);
        let mut dx = vec![f64::NAN; 12];
        p.backward(&x, &[6.0, 12.0], &mut dx, 1);
        assert_eq!(dx, [[1.0; 6], [2.0; 6]].concat());
    }

    #[test]
    fn uneven_windows_5_to_3() {
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        let p = pool(PoolKind::Avg, 1, (1, 5), (1, 3));
        let mut y = [0.0f32; 3];
        p.forward(&x, &mut y, 1);
        assert_eq!(y, [1.5, 3.0, 4.5]); // 0..2, 1..4, 3..5
        let mut dx = [0.0f32; 5];
        p.backward(&x, &[2.0, 3.0, 4.0], &mut dx, 1);
        assert_eq!(dx, [1.0, 2.0, 1.0, 3.0, 2.0]); // overlaps accumulate
        let m = pool(PoolKind::Max, 1, (1, 5), (1, 3));
        let x = [3.0f32, 1.0, 3.0, 2.0, 0.0];
        m.forward(&x, &mut y, 1);
        assert_eq!(y, [3.0, 3.0, 2.0]);
        m.backward(&x, &[1.0, 10.0, 100.0], &mut dx, 1);
        assert_eq!(dx, [1.0, 0.0, 10.0, 100.0, 0.0]);
    }

    #[test]
    fn max_takes_the_first_maximum_and_nan_wins() {
        // 2-D, 3×4 → 2×2: windows rows 0..2, 1..3 and columns 0..2, 2..4.
        let nan = f64::NAN;
        let x = [
            5.0, 5.0, -0.0, 0.0, //
            1.0, 5.0, 0.0, nan, //
            2.0, 7.0, nan, 1.0,
        ];
        let p = pool(PoolKind::Max, 1, (3, 4), (2, 2));
        let mut y = [0.0; 4];
        p.forward(&x, &mut y, 1);
        assert_eq!((y[0], y[2]), (5.0, 7.0));
        assert!(y[1].is_nan() && y[3].is_nan());
        let mut dx = [9.0; 12];
        p.backward(&x, &[1.0, 2.0, 3.0, 4.0], &mut dx, 1);
        // Ties go to the first 5 (index 0); the first NaN of each window gets the gradient.
        let want = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0, 0.0, 3.0, 0.0, 0.0];
        assert_eq!(dx, want);
        // An all -inf window still routes to its first element.
        let m = pool(PoolKind::Max, 1, (1, 3), (1, 1));
        let x = [f32::NEG_INFINITY; 3];
        let mut d = [0f32; 3];
        m.backward(&x, &[1.0], &mut d, 1);
        assert_eq!(d, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn f32_and_f64_agree_over_batches() {
        let p = pool(PoolKind::Avg, 3, (8, 7), (3, 2));
        let m = AdaptivePool { kind: PoolKind::Max, ..p.clone() };
        let n = 2;
        let x64: Vec<f64> = (0..n * 3 * 56).map(|i| ((i * 37 % 101) as f64 - 50.0) / 8.0).collect();
        let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
        for q in [&p, &m] {
            let (mut y64, mut y32) = (vec![0f64; n * 18], vec![0f32; n * 18]);
            q.forward(&x64, &mut y64, n);
            q.forward(&x32, &mut y32, n);
            for (a, b) in y64.iter().zip(&y32) {
                assert!((a - *b as f64).abs() < 1e-5, "{a} {b}");
            }
        }
        assert_eq!(p.reads(), 3 * (3 + 4 + 3) * (4 + 4));
    }
}
