//! `plot curves`: training and test loss (left axis) and accuracy (right axis) by epoch.

use crate::error::{Error, Result};
use crate::plot::{line_chart, Figure, Series, YAxis};
use crate::train::folder::EpochMetrics;

pub fn figure(metrics: &[EpochMetrics]) -> Result<Figure> {
    if metrics.is_empty() {
        return Err(Error::model_file("the run has no metrics yet (metrics.jsonl is empty)"));
    }
    let x: Vec<f32> = metrics.iter().map(|m| m.epoch as f32).collect();
    let series = |name: &str, f: &dyn Fn(&EpochMetrics) -> Option<f64>, axis: YAxis| -> Option<Series> {
        let y: Vec<f32> = metrics.iter().map(|m| f(m).map_or(f32::NAN, |v| v as f32)).collect();
        y.iter().any(|v| v.is_finite()).then(|| Series { name: name.into(), x: x.clone(), y, axis })
    };
    let all: Vec<Series> = [
        series("train loss", &|m| Some(m.train_loss), YAxis::Left),
        series("test loss", &|m| m.test_loss, YAxis::Left),
        series("train accuracy", &|m| m.train_accuracy, YAxis::Right),
        series("test accuracy", &|m| m.test_accuracy, YAxis::Right),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(line_chart(&all, "loss and accuracy by epoch", "epoch", "loss", "accuracy"))
}
