//! The success criterion of a sweep: `METRIC OP VALUE`, e.g. `train_accuracy >= 1` or
//! `train_loss < 0.05`, judged on a run's per-epoch metrics.

use crate::error::{Error, Result};
use crate::train::folder::EpochMetrics;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Criterion {
    metric: String,
    cmp: Cmp,
    value: f64,
}

const METRICS: [&str; 4] = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"];

impl Criterion {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::config(format!("success criterion `{text}` is not METRIC OP VALUE, e.g. `train_accuracy >= 1` or `train_loss < 0.05` (metrics: {}; ops: < <= > >=)", METRICS.join(", ")))
        };
        let at = text.find(['<', '>']).ok_or_else(bad)?;
        let metric = text[..at].trim().to_string();
        let rest = &text[at..];
        let (cmp, len) = match rest.as_bytes() {
            [b'<', b'=', ..] => (Cmp::Le, 2),
            [b'>', b'=', ..] => (Cmp::Ge, 2),
            [b'<', ..] => (Cmp::Lt, 1),
            _ => (Cmp::Gt, 1),
        };
        let value: f64 = rest[len..].trim().parse().map_err(|_| bad())?;
        if !METRICS.contains(&metric.as_str()) {
            return Err(bad());
        }
        Ok(Criterion { metric, cmp, value })
    }

    /// Whether the criterion needs accuracy (classification).
    pub fn needs_accuracy(&self) -> bool {
        self.metric.ends_with("accuracy")
    }

    pub fn holds(&self, m: &EpochMetrics) -> bool {
        let v = match self.metric.as_str() {
            "train_loss" => Some(m.train_loss),
            "train_accuracy" => m.train_accuracy,
            "test_loss" => m.test_loss,
            _ => m.test_accuracy,
        };
        v.is_some_and(|v| match self.cmp {
            Cmp::Lt => v < self.value,
            Cmp::Le => v <= self.value,
            Cmp::Gt => v > self.value,
            Cmp::Ge => v >= self.value,
        })
    }

    /// Success at the last epoch, and the epoch from which the criterion held to the end.
    pub fn judge(&self, metrics: &[EpochMetrics]) -> (bool, Option<usize>) {
        let kept = metrics.iter().rev().take_while(|m| self.holds(m)).last();
        (kept.is_some(), kept.map(|m| m.epoch))
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.cmp {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        };
        write!(f, "{} {op} {}", self.metric, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, loss: f64, acc: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: loss,
            train_accuracy: Some(acc),
            test_loss: None,
            test_accuracy: None,
            seconds: 0.0,
            ..EpochMetrics::default()
        }
    }

    #[test]
    fn success_is_reached_and_kept() {
        let c = Criterion::parse("train_accuracy>=1").unwrap();
        assert_eq!(c.to_string(), "train_accuracy >= 1");
        let m = [epoch(1, 0.5, 1.0), epoch(2, 0.4, 0.9), epoch(3, 0.3, 1.0), epoch(4, 0.2, 1.0)];
        assert_eq!(c.judge(&m), (true, Some(3)));
        assert_eq!(c.judge(&m[..2]), (false, None));
        assert_eq!(Criterion::parse("train_loss < 0.35").unwrap().judge(&m), (true, Some(3)));
        assert!(!Criterion::parse("test_loss < 1").unwrap().judge(&m).0);
        assert!(Criterion::parse("loss < 1").is_err() && Criterion::parse("train_loss = 1").is_err());
    }
}
