//! The few statistics convlab reports: correlation, R², quantiles and a binomial interval
//! (the studies and the scatter plots share them).

/// Pearson correlation of two equally long series (NaN when either is constant or empty).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: series of different lengths");
    let n = x.len() as f64;
    if x.is_empty() {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// Mean squared difference.
pub fn mse(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / x.len().max(1) as f64
}

/// R² of `pred` against `target`: `1 − Σ(pred−target)² / Σ(target−mean)²`, as
/// scikit-learn's `r2_score(target, pred)`. A constant target gives 1 when matched exactly and
/// NaN (undefined) otherwise; no values give NaN.
pub fn r2(target: &[f64], pred: &[f64]) -> f64 {
    assert_eq!(target.len(), pred.len(), "r2: series of different lengths");
    if target.is_empty() {
        return f64::NAN;
    }
    let mean = target.iter().sum::<f64>() / target.len() as f64;
    let ss_res: f64 = target.iter().zip(pred).map(|(t, p)| (p - t) * (p - t)).sum();
    let ss_tot: f64 = target.iter().map(|t| (t - mean) * (t - mean)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { f64::NAN };
    }
    1.0 - ss_res / ss_tot
}

/// The `q`-quantile (0..=1) by linear interpolation between order statistics (numpy's default);
/// NaN values are ignored, NaN when none is left.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos.fract());
    if lo + 1 < v.len() {
        v[lo] + frac * (v[lo + 1] - v[lo])
    } else {
        v[lo]
    }
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Wilson's 95 % interval for `k` successes in `n` trials: honest even at 0 or n successes.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, nf) = (1.959963984540054, n as f64);
    let p = k as f64 / nf;
    let denom = 1.0 + z * z / nf;
    let center = (p + z * z / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]) - 0.9933992677987828).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        // np.quantile([3, 1, 4, 1, 5], [0.1, 0.5, 0.9]) -> 1.0, 3.0, 4.6
        let v = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert_eq!(quantile(&v, 0.1), 1.0);
        assert_eq!(median(&v), 3.0);
        assert!((quantile(&v, 0.9) - 4.6).abs() < 1e-12);
        assert!((r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
        // ss_res = 0.25 + 0 + 0.25 + 0 = 0.5, ss_tot = 5.
        assert!((r2(&[1.0, 2.0, 3.0, 4.0], &[1.5, 2.0, 2.5, 4.0]) - 0.9).abs() < 1e-12);
        assert_eq!(r2(&[2.0, 2.0], &[2.0, 2.0]), 1.0);
        assert!(r2(&[2.0, 2.0], &[2.0, 3.0]).is_nan() && r2(&[], &[]).is_nan());
        let (lo, hi) = wilson(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-3);
    }
}
