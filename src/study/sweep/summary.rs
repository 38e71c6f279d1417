//! Each grid point's outcome over its seeds: success rate (with a 95 % interval), median
//! epochs to success and final-loss quantiles; as a table, JSON and a plot of every run's
//! final loss.

use super::grid::Point;
use super::runner::RunResult;
use crate::error::Result;
use crate::plot::{line_chart, Series, YAxis};
use crate::stats::{median, quantile, wilson};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct PointSummary {
    pub point: BTreeMap<String, String>,
    pub runs: usize,
    pub successes: usize,
    pub success_rate: f64,
    /// Wilson 95 % interval of the success rate.
    pub success_rate_95: (f64, f64),
    pub median_epochs_to_success: Option<f64>,
    /// Final training loss at the 10 %, 50 % and 90 % quantiles over the seeds.
    pub final_train_loss_q10: f64,
    pub final_train_loss_median: f64,
    pub final_train_loss_q90: f64,
    /// Runs that stopped on an error (e.g. a NaN loss).
    pub errors: usize,
}

pub fn summarise(points: &[Point], runs: &[RunResult]) -> Vec<PointSummary> {
    points
        .iter()
        .map(|p| {
            let map = p.to_map();
            let mine: Vec<&RunResult> = runs.iter().filter(|r| r.point == map).collect();
            let successes = mine.iter().filter(|r| r.success).count();
            let epochs: Vec<f64> = mine.iter().filter_map(|r| r.epochs_to_success.map(|e| e as f64)).collect();
            let losses: Vec<f64> = mine.iter().filter_map(|r| r.final_train_loss).collect();
            PointSummary {
                point: map,
                runs: mine.len(),
                successes,
                success_rate: successes as f64 / mine.len().max(1) as f64,
                success_rate_95: wilson(successes, mine.len()),
                median_epochs_to_success: (!epochs.is_empty()).then(|| median(&epochs)),
                final_train_loss_q10: quantile(&losses, 0.1),
                final_train_loss_median: median(&losses),
                final_train_loss_q90: quantile(&losses, 0.9),
                errors: mine.iter().filter(|r| r.error.is_some()).count(),
            }
        })
        .collect()
}

pub fn table(points: &[Point], s: &[PointSummary], criterion: &str) -> String {
    let width = points.iter().map(|p| p.label().len()).max().unwrap_or(0).max(10);
    let mut t = format!(
        "{:<width$}  {:>5}  {:>7}  {:>16}  {:>13}  {}\n",
        "grid point", "runs", "success", "rate (95% CI)", "median epochs", "final train loss q10 / q50 / q90"
    );
    for (p, s) in points.iter().zip(s) {
        let (lo, hi) = s.success_rate_95;
        t += &format!(
            "{:<width$}  {:>5}  {:>7}  {:>16}  {:>13}  {:.4} / {:.4} / {:.4}{}\n",
            p.label(),
            s.runs,
            s.successes,
            format!("{:.0}% ({:.0}–{:.0}%)", 100.0 * s.success_rate, 100.0 * lo, 100.0 * hi),
            s.median_epochs_to_success.map(|e| format!("{e:.0}")).unwrap_or("-".into()),
            s.final_train_loss_q10,
            s.final_train_loss_median,
            s.final_train_loss_q90,
            if s.errors > 0 { format!("  ({} stopped on an error)", s.errors) } else { String::new() }
        );
    }
    t += &format!(
        "success: {criterion} at the last epoch; epochs to success: the first epoch from which it held to the end\n"
    );
    t
}

/// Every run's final training loss, sorted, one line per grid point: a step between a low
/// and a high plateau is the share of runs that got stuck.
pub fn plot(points: &[Point], s: &[PointSummary], runs: &[RunResult], path: &Path) -> Result<()> {
    let series: Vec<Series> = points
        .iter()
        .zip(s)
        .map(|(p, s)| {
            let map = p.to_map();
            let mut losses: Vec<f64> =
                runs.iter().filter(|r| r.point == map).map(|r| r.final_train_loss.unwrap_or(f64::NAN)).collect();
            losses.sort_by(f64::total_cmp);
            let n = losses.len().max(1) as f32;
            Series {
                name: format!("{} ({:.0}% succeed)", p.label(), 100.0 * s.success_rate),
                x: (0..losses.len()).map(|i| (i as f32 + 0.5) / n).collect(),
                y: losses.iter().map(|&l| l as f32).collect(),
                axis: YAxis::Left,
            }
        })
        .collect();
    line_chart(&series, "Final training loss of every run, sorted", "fraction of runs", "final train loss", "")
        .save(path)
}
