//! `plot curves`: training and test loss (left axis) and accuracy (right axis) by epoch. The
//! accuracy axis spans at least 0.1 (within 0–1) so a change from 0.996 to 1.0 is not drawn
//! as a cliff; the loss may be drawn on a log scale.

use crate::error::{Error, Result};
use crate::plot::{line_chart_with, ChartOptions, Figure, Series, YAxis};
use crate::train::folder::EpochMetrics;

pub fn figure(metrics: &[EpochMetrics]) -> Result<Figure> {
    figure_with(metrics, false)
}

/// The title names what is drawn: "training loss", "training and test loss and accuracy", …
fn title(series: &[Series]) -> String {
    let has = |n: &str| series.iter().any(|s| s.name == n);
    let which = |what: &str| match (has(&format!("train {what}")), has(&format!("test {what}"))) {
        (true, true) => Some("training and test"),
        (true, false) => Some("training"),
        (false, true) => Some("test"),
        (false, false) => None,
    };
    match (which("loss"), which("accuracy")) {
        (Some(l), Some(a)) if l == a => format!("{l} loss and accuracy by epoch"),
        (Some(l), Some(a)) => format!("{l} loss, {a} accuracy by epoch"),
        (Some(l), None) => format!("{l} loss by epoch"),
        (None, Some(a)) => format!("{a} accuracy by epoch"),
        (None, None) => "by epoch".to_string(),
    }
}

pub fn figure_with(metrics: &[EpochMetrics], log_loss: bool) -> Result<Figure> {
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
    let options = ChartOptions { log_left: log_loss, right_min_span: Some(0.1), right_bounds: Some((0.0, 1.0)) };
    let loss_label = if log_loss { "loss (log scale)" } else { "loss" };
    Ok(line_chart_with(&all, &title(&all), "epoch", loss_label, "accuracy", options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_names_only_what_is_drawn() {
        let s = |n: &str| Series::per_epoch(n, vec![1.0], YAxis::Left);
        assert_eq!(title(&[s("train loss")]), "training loss by epoch");
        assert_eq!(
            title(&[s("train loss"), s("test loss"), s("test accuracy")]),
            "training and test loss, test accuracy by epoch"
        );
        let both = ["train loss", "test loss", "train accuracy", "test accuracy"].map(s);
        assert_eq!(title(&both), "training and test loss and accuracy by epoch");
    }
}
