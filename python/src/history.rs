//! A run's epochs as Python's history dict: per-epoch lists named as metrics.jsonl names them.

use convlab::train::folder::EpochMetrics;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub fn history<'py>(py: Python<'py>, metrics: &[EpochMetrics]) -> PyResult<Bound<'py, PyDict>> {
    let h = PyDict::new(py);
    let column = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<Option<f64>> { metrics.iter().map(f).collect() };
    h.set_item("epoch", metrics.iter().map(|m| m.epoch).collect::<Vec<_>>())?;
    h.set_item("train_loss", column(&|m| Some(m.train_loss)))?;
    h.set_item("train_accuracy", column(&|m| m.train_accuracy))?;
    h.set_item("test_loss", column(&|m| m.test_loss))?;
    h.set_item("test_accuracy", column(&|m| m.test_accuracy))?;
    h.set_item("seconds", column(&|m| Some(m.seconds)))?;
    h.set_item("lr", column(&|m| m.lr))?;
    h.set_item("last_batch_loss", column(&|m| m.last_batch_loss))?;
    Ok(h)
}
