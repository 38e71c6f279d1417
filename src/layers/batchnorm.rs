//! BatchNorm1d and BatchNorm2d: per-channel normalisation with running statistics.
//! Batch statistics are accumulated in f64, as PyTorch's CPU kernel does.

use super::Mode;
use crate::engine::Float;

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub channels: usize,
    /// Values per channel per sample: H·W, L, or 1 for a flat input.
    pub plane: usize,
    pub eps: f64,
    pub momentum: f64,
    pub one_d: bool,
}

impl BatchNorm {
    /// Scratch holds, per channel: the mean used, 1/sqrt(var+eps), and the unbiased batch variance.
    pub fn stats_len(&self) -> usize {
        3 * self.channels
    }

    /// `p` = weight ‖ bias, `buffers` = running_mean ‖ running_var.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Float>(
        &self,
        p: &[T],
        buffers: &[T],
        x: &[T],
        y: &mut [T],
        n: usize,
        stats: &mut [T],
        mode: Mode,
    ) {
        let (c_n, plane) = (self.channels, self.plane);
        let m = n * plane;
        let (mean_s, rest) = stats.split_at_mut(c_n);
        let (invstd_s, unbiased_s) = rest.split_at_mut(c_n);
        for c in 0..c_n {
            let (mean, var) = if mode == Mode::Train {
                let values = || (0..n).flat_map(|i| x[(i * c_n + c) * plane..(i * c_n + c + 1) * plane].iter());
                let mean = values().map(|v| v.to_f64()).sum::<f64>() / m as f64;
                let var = values().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / m as f64;
                unbiased_s[c] = T::from_f64(if m > 1 { var * m as f64 / (m - 1) as f64 } else { f64::NAN });
                (mean, var)
            } else {
                (buffers[c].to_f64(), buffers[c_n + c].to_f64())
            };
            let invstd = 1.0 / (var + self.eps).sqrt();
            mean_s[c] = T::from_f64(mean);
            invstd_s[c] = T::from_f64(invstd);
            let (mu, is, w, b) = (T::from_f64(mean), T::from_f64(invstd), p[c], p[c_n + c]);
            for i in 0..n {
                let at = (i * c_n + c) * plane;
                for (yv, &xv) in y[at..at + plane].iter_mut().zip(&x[at..at + plane]) {
                    *yv = (xv - mu) * is * w + b;
                }
            }
        }
    }

    /// Folds the last training batch's statistics into the running buffers.
    pub fn update_running<T: Float>(&self, buffers: &mut [T], stats: &[T]) {
        let c_n = self.channels;
        let mom = T::from_f64(self.momentum);
        for c in 0..c_n {
            buffers[c] = (T::ONE - mom) * buffers[c] + mom * stats[c];
            buffers[c_n + c] = (T::ONE - mom) * buffers[c_n + c] + mom * stats[2 * c_n + c];
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(
        &self,
        p: &[T],
        x: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        dp: &mut [T],
        n: usize,
        stats: &[T],
        mode: Mode,
    ) {
        let (c_n, plane) = (self.channels, self.plane);
        let m = (n * plane) as f64;
        let mut dx = dx;
        for c in 0..c_n {
            let (mu, is) = (stats[c], stats[c_n + c]);
            let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
            for i in 0..n {
                let at = (i * c_n + c) * plane;
                for (&d, &xv) in dy[at..at + plane].iter().zip(&x[at..at + plane]) {
                    sum_dy += d.to_f64();
                    sum_dy_xhat += d.to_f64() * ((xv - mu) * is).to_f64();
                }
            }
            dp[c] += T::from_f64(sum_dy_xhat);
            dp[c_n + c] += T::from_f64(sum_dy);
            let Some(dx) = dx.as_deref_mut() else {
                continue;
            };
            let scale = p[c] * is;
            let (mean_dy, mean_dy_xhat) = (T::from_f64(sum_dy / m), T::from_f64(sum_dy_xhat / m));
            for i in 0..n {
                let at = (i * c_n + c) * plane;
                for ((dxv, &d), &xv) in dx[at..at + plane].iter_mut().zip(&dy[at..at + plane]).zip(&x[at..at + plane]) {
                    *dxv = if mode == Mode::Train {
                        scale * (d - mean_dy - (xv - mu) * is * mean_dy_xhat)
                    } else {
                        scale * d
                    };
                }
            }
        }
    }
}
