//! Comparing a computed tensor with a reference, and the per-tensor report line.

use std::fmt;

pub struct Comparison {
    pub name: String,
    pub max_abs: f64,
    /// Largest absolute error over the reference's largest magnitude.
    pub max_rel: f64,
    pub tolerance: f64,
    pub passed: bool,
    pub note: String,
}

impl Comparison {
    /// Passes when every element is within `tolerance` × (the reference's largest magnitude).
    pub fn new(name: &str, got: &[f64], want: &[f64], tolerance: f64) -> Self {
        if got.len() != want.len() {
            return Comparison {
                name: name.into(),
                max_abs: f64::INFINITY,
                max_rel: f64::INFINITY,
                tolerance,
                passed: false,
                note: format!("{} values computed, {} expected", got.len(), want.len()),
            };
        }
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
        let mut max_abs = 0.0f64;
        let mut nan = false;
        for (g, w) in got.iter().zip(want) {
            let d = (g - w).abs();
            if d.is_nan() && !(g.is_nan() && w.is_nan()) {
                nan = true;
            }
            max_abs = max_abs.max(d);
        }
        let max_rel = max_abs / scale;
        let passed = !nan && max_rel <= tolerance;
        Comparison {
            name: name.into(),
            max_abs,
            max_rel,
            tolerance,
            passed,
            note: if nan { "NaN where a number was expected".into() } else { String::new() },
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "    {:<24} max abs {:>10.3e}  max rel {:>10.3e}  (tol {:.0e})  {}{}",
            self.name,
            self.max_abs,
            self.max_rel,
            self.tolerance,
            if self.passed { "ok" } else { "FAIL" },
            if self.note.is_empty() { String::new() } else { format!("  {}", self.note) }
        )
    }
}
