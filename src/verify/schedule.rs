//! A `schedule` fixture: the learning rate of each epoch from PyTorch's scheduler alone
//! (`lr[e]`, the rate used in epoch e; plateau is fed `metric[e]` after each epoch), against
//! convlab's [`Scheduler`] stepped the same way.

use super::compare::Comparison;
use super::fixture::Fixture;
use crate::error::{Error, Result};
use crate::optim::{Schedule, Scheduler};
use serde_json::Value;

/// PyTorch's rates are stored as float32.
const TOLERANCE: f64 = 1e-6;

pub fn run(f: &Fixture) -> Result<Vec<Comparison>> {
    let schedule = Schedule::parse(f.str("schedule")?).map_err(|e| Error::data(e.to_string()))?;
    let lr = f.case.get("lr").and_then(Value::as_f64).ok_or_else(|| Error::data("case has no number `lr`"))?;
    let want = f.array("lr")?.values;
    let epochs = f.case.get("epochs").and_then(Value::as_u64).map_or(want.len(), |e| e as usize);
    let metric = if f.has("metric") { f.array("metric")?.values } else { vec![] };
    if matches!(schedule, Schedule::Plateau { .. }) && metric.len() < epochs {
        return Err(Error::data(format!("a plateau case needs `metric` for its {epochs} epochs")));
    }
    // The fixture steps every scheduler once per epoch, onecycle included.
    let mut s = Scheduler::new(schedule, lr, epochs)?;
    let mut got = Vec::with_capacity(epochs);
    for e in 0..epochs {
        got.push(s.lr(e, e as u64));
        s.end_epoch(metric.get(e).copied().unwrap_or(f64::NAN));
    }
    Ok(vec![Comparison::new("lr", &got, &want, TOLERANCE)])
}
