//! Dropout with a counter-based random mask: each element's fate depends only on
//! (seed, step, layer, sample index, element), never on how the batch was split over threads.

use crate::engine::Float;

#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    pub p: f64,
    /// Values per sample.
    pub len: usize,
}

/// Where in the run a forward pass happens, so the mask is reproducible.
#[derive(Clone, Copy, Debug, Default)]
pub struct MaskKey {
    pub seed: u64,
    pub step: u64,
    pub layer: u64,
    /// Index in the whole batch of this shard's first sample.
    pub first_sample: u64,
}

fn mix(mut z: u64) -> u64 {
    // SplitMix64's finaliser: a good 64-bit hash for counters.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

impl Dropout {
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], n: usize, mask: &mut [T], train: bool, key: MaskKey) {
        let total = n * self.len;
        if !train || self.p == 0.0 {
            y[..total].copy_from_slice(&x[..total]);
            return;
        }
        let keep_scale = if self.p >= 1.0 { T::ZERO } else { T::from_f64(1.0 / (1.0 - self.p)) };
        let base = mix(key.seed
            ^ mix(key.step.wrapping_add(0x9e3779b97f4a7c15))
            ^ mix(key.layer.wrapping_mul(0xd1b54a32d192ed03)));
        for i in 0..n {
            let sample = mix(base ^ (key.first_sample + i as u64).wrapping_mul(0x9e3779b97f4a7c15));
            for j in 0..self.len {
                let u = (mix(sample.wrapping_add(j as u64)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                let m = if u < self.p { T::ZERO } else { keep_scale };
                let at = i * self.len + j;
                mask[at] = m;
                y[at] = x[at] * m;
            }
        }
    }

    pub fn backward<T: Float>(&self, dy: &[T], dx: &mut [T], n: usize, mask: &[T], train: bool) {
        let total = n * self.len;
        if !train || self.p == 0.0 {
            dx[..total].copy_from_slice(&dy[..total]);
            return;
        }
        for ((d, &g), &m) in dx[..total].iter_mut().zip(&dy[..total]).zip(&mask[..total]) {
            *d = g * m;
        }
    }
}
