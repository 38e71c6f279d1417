//! Histograms as TensorBoard's own writers make them: TensorFlow's default bucket limits
//! (±1e-12 growing by 1.1 up to ±1e20, 0, and ±f64::MAX at the ends), each bucket counting the
//! values from its left limit up to (not including) its own, runs of empty buckets merged.

use super::proto::HistogramProto;
use std::sync::OnceLock;

/// TensorFlow's default bucket limits, ascending (`histogram.cc`, `InitDefaultBuckets`).
pub fn default_limits() -> &'static [f64] {
    static LIMITS: OnceLock<Vec<f64>> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let mut pos = vec![];
        let mut v = 1e-12;
        while v < 1e20 {
            pos.push(v);
            v *= 1.1;
        }
        pos.push(f64::MAX);
        let mut limits: Vec<f64> = pos.iter().rev().map(|v| -v).collect();
        limits.push(0.0);
        limits.extend(pos);
        limits
    })
}

/// The histogram of `values` (non-finite values are left out: TensorBoard cannot draw them).
pub fn histogram(values: &[f32]) -> HistogramProto {
    let limits = default_limits();
    let mut counts = vec![0.0f64; limits.len()];
    let mut h = HistogramProto { min: f64::MAX, max: -f64::MAX, ..Default::default() };
    for v in values.iter().map(|&v| v as f64).filter(|v| v.is_finite()) {
        // The first limit above the value, as TensorFlow's upper_bound.
        let b = limits.partition_point(|&l| l <= v).min(limits.len() - 1);
        counts[b] += 1.0;
        h.min = h.min.min(v);
        h.max = h.max.max(v);
        h.num += 1.0;
        h.sum += v;
        h.sum_squares += v * v;
    }
    if h.num == 0.0 {
        (h.min, h.max) = (0.0, 0.0);
    }
    // TensorFlow's EncodeToProto: a run of empty buckets becomes one, ending at the run's end.
    let mut i = 0;
    while i < counts.len() {
        let (mut end, mut count) = (limits[i], counts[i]);
        i += 1;
        if count <= 0.0 {
            while i < counts.len() && counts[i] <= 0.0 {
                (end, count) = (limits[i], counts[i]);
                i += 1;
            }
        }
        h.bucket_limit.push(end);
        h.bucket.push(count);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_are_tensorflows() {
        let l = default_limits();
        // 1e-12 · 1.1^k below 1e20 is k = 0..=773; with the ends and 0 that is 2·775 + 1.
        assert_eq!(l.len(), 1551);
        assert_eq!((l[0], l[774], l[775], l[776], l[1550]), (-f64::MAX, -1e-12, 0.0, 1e-12, f64::MAX));
        assert!(l.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn values_land_in_their_buckets_and_empty_runs_merge() {
        let h = histogram(&[0.5, 0.5, -2.0, 0.0, f32::NAN]);
        assert_eq!((h.num, h.min, h.max, h.sum, h.sum_squares), (4.0, -2.0, 0.5, -1.0, 4.5));
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
        let l = default_limits();
        // Each count sits in the bucket whose limits enclose its value.
        for (v, want) in [(0.5f64, 2.0), (-2.0, 1.0), (0.0, 1.0)] {
            let at = h.bucket_limit.iter().position(|&lim| lim > v).unwrap();
            assert_eq!(h.bucket[at], want, "value {v}");
            let left = l[l.iter().position(|&x| x == h.bucket_limit[at]).unwrap() - 1];
            assert!(left <= v, "value {v} is left of its bucket");
        }
        // No two empty buckets in a row.
        assert!(h.bucket.windows(2).all(|w| w[0] > 0.0 || w[1] > 0.0));
        assert_eq!(*h.bucket_limit.last().unwrap(), f64::MAX);
        let empty = histogram(&[]);
        assert_eq!((empty.bucket.as_slice(), empty.bucket_limit.as_slice()), ([0.0].as_slice(), [f64::MAX].as_slice()));
    }
}
