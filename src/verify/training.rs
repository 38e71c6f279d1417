//! A `training` fixture: a whole float32 training run from PyTorch's initial weights, through
//! convlab's real (sharded, multi-threaded) training step, with the case's learning-rate
//! `schedule` (stepped after each epoch, or each batch for onecycle, as `convlab train` does)
//! and `clip_grad_norm` when it has them.

use super::compare::Comparison;
use super::fixture::Fixture;
use super::optimizer::config_of;
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::losses::{Loss, Target};
use crate::model::{io, Model};
use crate::optim::{Schedule, Scheduler};
use crate::train::Trainer;
use serde_json::Value;

/// The first steps' losses agree to about 1e-4 relative.
const EARLY_TOLERANCE: f64 = 1e-4;
const EARLY_STEPS: usize = 10;
/// Over long runs float32 rounding (summation order) lets the curve and weights drift a little.
const LATE_TOLERANCE: f64 = 1e-3;
/// The rates are PyTorch's float64 values stored as float32.
const SCHEDULE_TOLERANCE: f64 = 1e-6;

pub fn run(f: &Fixture, threads: usize) -> Result<Vec<Comparison>> {
    let (x, shape) = if f.has("X_u8") {
        let a = f.array("X_u8")?;
        // The model sees X_u8 / 255 in float32.
        (a.values.iter().map(|&v| v as f32 / 255.0).collect::<Vec<f32>>(), a.shape)
    } else {
        let a = f.array("X")?;
        (a.values.iter().map(|&v| v as f32).collect(), a.shape)
    };
    let n = *shape.first().ok_or_else(|| Error::data("X has no batch dimension"))?;
    let dims = Dims::from_shape(&shape[1..])?;
    let spec = f.str("model")?;
    let mut model = Model::<f32>::new(spec, dims).map_err(|e| e.context(format!("model `{spec}`")))?;
    io::load_state_prefixed(&mut model, &f.tensors(), "init.")?;
    let loss = Loss::parse(f.str("loss")?)?;
    let opt = config_of(f.case.get("optimizer").ok_or_else(|| Error::data("case has no optimizer"))?)?;
    let steps = f.case.get("steps").and_then(Value::as_u64).ok_or_else(|| Error::data("case has no `steps`"))? as usize;
    let batch = f.case.get("batch").and_then(Value::as_u64).map(|b| b as usize).unwrap_or(n);
    if batch == 0 || batch > n {
        return Err(Error::data(format!("batch {batch} does not fit {n} samples")));
    }
    let y = f.array("y")?;
    let k = model.output().len();
    let labels: Vec<u32> = y.values.iter().map(|&v| v as u32).collect();
    let values: Vec<f32> = y.values.iter().map(|&v| v as f32).collect();
    let mut trainer = Trainer::new(model, opt.build(), loss, batch, threads, 0)?;
    trainer.clip_grad_norm = f.case.get("clip_grad_norm").and_then(Value::as_f64);
    let in_len = dims.len();
    let batches_per_epoch = n.div_ceil(batch);
    let scheduler = match f.case.get("schedule").and_then(Value::as_str) {
        Some(text) => Some(Scheduler::new(Schedule::parse(text)?, opt.lr(), steps)?),
        None => None,
    };
    if scheduler.as_ref().is_some_and(|s| s.plateau.is_some()) {
        return Err(Error::data("a training case with plateau needs its metric; convlab verify does not run it"));
    }
    let mut losses = Vec::with_capacity(steps);
    let mut lrs = Vec::with_capacity(steps);
    for step in 0..steps {
        if let Some(s) = &scheduler {
            lrs.push(s.apply(&mut trainer.optimizer, step / batches_per_epoch, step as u64));
        }
        let j = step % batches_per_epoch;
        let (a, b) = (j * batch, ((j + 1) * batch).min(n));
        let t = if y.is_integer { Target::Classes(&labels[a..b]) } else { Target::Values(&values[a * k..b * k]) };
        let l = trainer
            .train_step(&x[a * in_len..b * in_len], t, b - a)
            .map_err(|e| e.context(format!("step {}", step + 1)))?;
        losses.push(l.loss);
    }
    let want = f.array("losses")?.values;
    let early = EARLY_STEPS.min(steps).min(want.len());
    let mut out = vec![
        Comparison::new(&format!("losses[..{early}]"), &losses[..early], &want[..early], EARLY_TOLERANCE),
        Comparison::new("losses", &losses, &want, LATE_TOLERANCE),
    ];
    if scheduler.is_some() {
        out.push(Comparison::new("lr", &lrs, &f.array("lr")?.values, SCHEDULE_TOLERANCE));
    }
    for t in trainer.model.tensors() {
        let name = format!("final.{}", t.name);
        if f.has(&name) {
            let got: Vec<f64> = trainer.model.tensor(&t).iter().map(|&v| v as f64).collect();
            out.push(Comparison::new(&name, &got, &f.array(&name)?.values, LATE_TOLERANCE));
        }
    }
    Ok(out)
}
