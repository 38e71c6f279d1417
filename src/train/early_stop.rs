//! Early stopping (`--early-stop 'test_loss,patience=5,min_delta=0'`) with Keras'
//! `EarlyStopping(restore_best_weights=True)` semantics: an epoch improves when its metric beats
//! the best so far by more than `min_delta`; after `patience` epochs in a row without
//! improvement the run stops, and its model is the best epoch's weights. A run that reaches its
//! last epoch without stopping keeps its last weights, as Keras does.
//!
//! The stop is recorded in the run folder's `early_stop.json` ([`StopRecord`]), for
//! `convlab summary` and the report.

use super::folder::EpochMetrics;
use crate::error::{Error, Result};
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A field of `metrics.jsonl` to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    TrainLoss,
    TestLoss,
    TrainAccuracy,
    TestAccuracy,
}

impl Metric {
    const ALL: [Metric; 4] = [Metric::TrainLoss, Metric::TestLoss, Metric::TrainAccuracy, Metric::TestAccuracy];

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == text.trim()).ok_or_else(|| {
            Error::config(format!(
                "`{}` is not a metric of metrics.jsonl; use train_loss, test_loss, train_accuracy or test_accuracy",
                text.trim()
            ))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train_loss",
            Metric::TestLoss => "test_loss",
            Metric::TrainAccuracy => "train_accuracy",
            Metric::TestAccuracy => "test_accuracy",
        }
    }

    /// Accuracies are better higher, losses lower.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::TrainAccuracy | Metric::TestAccuracy)
    }

    pub fn of(self, m: &EpochMetrics) -> Option<f64> {
        match self {
            Metric::TrainLoss => Some(m.train_loss),
            Metric::TestLoss => m.test_loss,
            Metric::TrainAccuracy => m.train_accuracy,
            Metric::TestAccuracy => m.test_accuracy,
        }
    }

    /// Refuses a metric this run will not have: `what` names the setting that asked for it.
    pub fn check_available(self, has_test: bool, has_accuracy: bool, what: &str) -> Result<()> {
        let is_test = matches!(self, Metric::TestLoss | Metric::TestAccuracy);
        if is_test && !has_test {
            return Err(Error::config(format!(
                "{what}: this run has no test data, so no {}; watch train_loss{} instead, or give data with a test split",
                self.name(),
                if has_accuracy { " or train_accuracy" } else { "" }
            )));
        }
        if self.higher_is_better() && !has_accuracy {
            return Err(Error::config(format!(
                "{what}: this run's loss has no accuracy (it is for class labels or one binary output); watch {} instead",
                if has_test { "test_loss" } else { "train_loss" }
            )));
        }
        Ok(())
    }
}

/// A parsed `--early-stop`.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStop {
    pub metric: Metric,
    pub patience: usize,
    pub min_delta: f64,
    pub maximize: bool,
}

/// The defaults of `--early-stop`.
pub const DEFAULT_PATIENCE: usize = 5;

impl EarlyStop {
    /// Parses `METRIC[,patience=N][,min_delta=D][,mode=min|max]`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.split(',').map(str::trim);
        let metric = Metric::parse(parts.next().unwrap_or(""))?;
        let mut rule =
            EarlyStop { metric, patience: DEFAULT_PATIENCE, min_delta: 0.0, maximize: metric.higher_is_better() };
        for part in parts {
            let bad = || {
                Error::config(format!(
                    "--early-stop `{text}`: `{part}` is not patience=N, min_delta=D or mode=min|max \
                     (the syntax is METRIC[,patience=N][,min_delta=D][,mode=min|max])"
                ))
            };
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            match key.trim() {
                "patience" => rule.patience = value.trim().parse().map_err(|_| bad())?,
                "min_delta" => {
                    rule.min_delta =
                        value.trim().parse().ok().filter(|d: &f64| d.is_finite() && *d >= 0.0).ok_or_else(|| {
                            Error::config(format!(
                                "--early-stop `{text}`: min_delta must be a number ≥ 0, not `{value}`"
                            ))
                        })?
                }
                "mode" => {
                    rule.maximize = match value.trim() {
                        "min" => false,
                        "max" => true,
                        _ => return Err(bad()),
                    }
                }
                _ => return Err(bad()),
            }
        }
        if rule.patience > i64::MAX as usize {
            return Err(Error::config(format!("--early-stop `{text}`: patience is more than convlab accepts")));
        }
        Ok(rule)
    }

    fn improves(&self, value: f64, best: f64) -> bool {
        if self.maximize {
            value - self.min_delta > best
        } else {
            value + self.min_delta < best
        }
    }
}

/// The watch over a run: the best epoch so far, the epochs since, and the best weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    /// 0 before the first epoch.
    pub best_epoch: usize,
    pub best: f64,
    /// Epochs in a row without improvement.
    pub wait: usize,
    /// The epoch the run stopped at.
    pub stopped_at: Option<usize>,
    pub best_params: Vec<f32>,
    pub best_buffers: Vec<f32>,
    pub best_batches_tracked: i64,
}

impl Watch {
    pub fn new(rule: &EarlyStop) -> Self {
        Watch {
            best_epoch: 0,
            best: if rule.maximize { f64::NEG_INFINITY } else { f64::INFINITY },
            wait: 0,
            stopped_at: None,
            best_params: vec![],
            best_buffers: vec![],
            best_batches_tracked: 0,
        }
    }

    /// After `epoch` (whose weights are `model`'s): keeps them when they are the best so far;
    /// returns whether the run stops here.
    pub fn end_epoch(&mut self, rule: &EarlyStop, epoch: usize, value: f64, model: &Model<f32>) -> bool {
        self.wait += 1;
        // The best starts at ±∞, so the first finite value improves on it; NaN never does.
        if rule.improves(value, self.best) {
            self.best = value;
            self.best_epoch = epoch;
            self.best_params.clone_from(&model.params);
            self.best_buffers.clone_from(&model.buffers);
            self.best_batches_tracked = model.batches_tracked;
            self.wait = 0;
            return false;
        }
        if self.wait >= rule.patience.max(1) {
            self.stopped_at = Some(epoch);
        }
        self.stopped_at.is_some()
    }

    /// Puts the best epoch's weights into `model` (when an epoch has been kept).
    pub fn restore(&self, model: &mut Model<f32>) {
        if self.best_epoch > 0 && self.best_params.len() == model.params.len() {
            model.params.clone_from(&self.best_params);
            model.buffers.clone_from(&self.best_buffers);
            model.batches_tracked = self.best_batches_tracked;
        }
    }

    /// What the run folder records of a stop.
    pub fn record(&self, rule: &EarlyStop) -> Option<StopRecord> {
        Some(StopRecord {
            metric: rule.metric.name().into(),
            mode: if rule.maximize { "max" } else { "min" }.into(),
            patience: rule.patience,
            min_delta: rule.min_delta,
            stopped_at_epoch: self.stopped_at?,
            best_epoch: self.best_epoch,
            best: self.best,
        })
    }
}

/// `early_stop.json`: where and why a run stopped, and whose weights its model holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    pub metric: String,
    pub mode: String,
    pub patience: usize,
    pub min_delta: f64,
    pub stopped_at_epoch: usize,
    pub best_epoch: usize,
    pub best: f64,
}

/// The record's file name in a run folder.
pub const FILE: &str = "early_stop.json";

impl StopRecord {
    /// E.g. `early stop at epoch 17: test_loss did not improve by > 0 for 5 epochs;
    /// model.safetensors holds epoch 12's weights (test_loss 0.0312)`.
    pub fn message(&self) -> String {
        format!(
            "early stop at epoch {}: {} did not improve by > {} for {} epochs; model.safetensors holds epoch {}'s weights ({} {:.4})",
            self.stopped_at_epoch,
            self.metric,
            self.min_delta,
            self.stopped_at_epoch - self.best_epoch,
            self.best_epoch,
            self.metric,
            self.best
        )
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map(|t| t + "\n").map_err(|e| Error::numeric(format!("{FILE}: {e}")))
    }

    /// The record in run folder `dir`, if the run stopped early.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::data(format!(
                "{}: not an early-stop record ({e}); the file was changed by hand or damaged",
                path.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn parses_the_metric_and_options_with_modes_from_the_kind() {
        let r = EarlyStop::parse("test_loss,patience=3,min_delta=0.01").unwrap();
        assert_eq!(r, EarlyStop { metric: Metric::TestLoss, patience: 3, min_delta: 0.01, maximize: false });
        let r = EarlyStop::parse("test_accuracy").unwrap();
        assert_eq!((r.patience, r.min_delta, r.maximize), (DEFAULT_PATIENCE, 0.0, true));
        assert!(!EarlyStop::parse("train_accuracy,mode=min").unwrap().maximize);
        for bad in ["val_loss", "test_loss,patience=-1", "test_loss,min_delta=-1", "test_loss,mode=up", "test_loss,5"] {
            assert!(matches!(EarlyStop::parse(bad), Err(Error::Config(_))), "{bad}");
        }
        let e = Metric::TestLoss.check_available(false, true, "--early-stop").unwrap_err().to_string();
        assert!(e.contains("no test data") && e.contains("train_loss"), "{e}");
        assert!(Metric::TrainAccuracy.check_available(true, false, "--early-stop").is_err());
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement_and_keeps_the_best() {
        let rule = EarlyStop::parse("test_loss,patience=2,min_delta=0.05").unwrap();
        let mut model = Model::<f32>::new("flatten linear(1)", Dims::signal(1, 2)).unwrap();
        let mut w = Watch::new(&rule);
        // 0.9 → 0.8 improves; 0.78 is within min_delta; 0.76 is too; stop at epoch 4.
        let mut stopped = vec![];
        for (epoch, loss) in [(1, 0.9), (2, 0.8), (3, 0.78), (4, 0.76)] {
            model.params.fill(epoch as f32);
            stopped.push(w.end_epoch(&rule, epoch, loss, &model));
        }
        assert_eq!(stopped, [false, false, false, true]);
        assert_eq!((w.best_epoch, w.best, w.stopped_at), (2, 0.8, Some(4)));
        w.restore(&mut model);
        assert!(model.params.iter().all(|&p| p == 2.0));
        let rec = w.record(&rule).unwrap();
        assert_eq!(
            rec.message(),
            "early stop at epoch 4: test_loss did not improve by > 0.05 for 2 epochs; model.safetensors holds epoch 2's weights (test_loss 0.8000)"
        );
    }
}
