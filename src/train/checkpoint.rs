//! `checkpoint.safetensors`: the model and the optimizer's state after an epoch, so `--resume`
//! continues exactly where an uninterrupted run would be. With a `plateau` schedule it also
//! keeps the scheduler's state, and with early stopping the watch's, best weights included
//! (numbers as exact decimal text in the metadata, weights as extra tensors).

use super::config::MAX_EPOCHS;
use super::early_stop::Watch;
use super::folder::RunFolder;
use super::step::Trainer;
use crate::error::{Error, Result};
use crate::model::io;
use crate::optim::Plateau;
use safetensors::SafeTensors;

/// The state of a run beside its trainer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunState {
    pub plateau: Option<Plateau>,
    pub watch: Option<Watch>,
}

/// Saves model and optimizer state after `epoch` epochs, for `--resume`. State that is no
/// longer finite is refused: the checkpoint already on disk stays the last good one.
pub fn save(folder: &RunFolder, trainer: &Trainer<f32>, epoch: usize, run: &RunState) -> Result<()> {
    if !all_finite(trainer) {
        return Err(Error::numeric(format!(
            "the parameters or the optimizer's state became NaN or infinite by epoch {epoch}; try a smaller learning rate"
        )));
    }
    let (state, opt_step) = trainer.optimizer.state();
    let model = &trainer.model;
    // Optimizer vectors ride along as extra tensors, flat, named optimizer.<name>.
    let bytes_of = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let mut extra: Vec<(String, Vec<u8>)> =
        state.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| (format!("optimizer.{n}"), bytes_of(v))).collect();
    let mut meta = vec![
        ("epoch", epoch.to_string()),
        ("step", trainer.step.to_string()),
        ("optimizer_step", opt_step.to_string()),
    ];
    // f64 Display is the shortest text that parses back to the same bits (inf included).
    if let Some(p) = &run.plateau {
        meta.push(("plateau_lr", p.lr.to_string()));
        meta.push(("plateau_best", p.best.to_string()));
        meta.push(("plateau_bad_epochs", p.bad_epochs.to_string()));
        meta.push(("plateau_cooldown_left", p.cooldown_left.to_string()));
    }
    if let Some(w) = &run.watch {
        meta.push(("early_stop_best_epoch", w.best_epoch.to_string()));
        meta.push(("early_stop_best", w.best.to_string()));
        meta.push(("early_stop_wait", w.wait.to_string()));
        meta.push(("early_stop_stopped_at", w.stopped_at.map_or(String::new(), |e| e.to_string())));
        meta.push(("early_stop_batches_tracked", w.best_batches_tracked.to_string()));
        extra.push((format!("optimizer.{BEST_PARAMS}"), bytes_of(&w.best_params)));
        extra.push((format!("optimizer.{BEST_BUFFERS}"), bytes_of(&w.best_buffers)));
    }
    let bytes = io::to_bytes_with(model, &meta, &extra)?;
    folder.write(FILE, &bytes)
}

fn all_finite(trainer: &Trainer<f32>) -> bool {
    let (state, _) = trainer.optimizer.state();
    trainer.model.params.iter().chain(trainer.model.buffers.iter()).all(|v| v.is_finite())
        && state.iter().all(|(_, v)| v.iter().all(|x| x.is_finite()))
}

/// Early stopping's best weights. Extra tensors live under `optimizer.`, the one prefix model
/// loading leaves to the checkpoint.
const BEST_PARAMS: &str = "early_stop_best_params";
const BEST_BUFFERS: &str = "early_stop_best_buffers";

/// The checkpoint's file name in a run folder.
pub const FILE: &str = "checkpoint.safetensors";

/// Whether the run in `folder` has written a checkpoint.
pub fn exists(folder: &RunFolder) -> bool {
    folder.path(FILE).exists()
}

/// Restores a checkpoint into `trainer` and `run` (whose parts present say what the run keeps);
/// returns the epochs it had completed.
pub fn load(folder: &RunFolder, trainer: &mut Trainer<f32>, run: &mut RunState) -> Result<usize> {
    let path = folder.path(FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::model_file(format!("cannot read {}: {e}; the run has no checkpoint to resume from", path.display()))
    })?;
    let bad = |what: String| {
        Error::model_file(format!(
            "{}: {what}; the checkpoint is damaged: train the run again (--force)",
            path.display()
        ))
    };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    io::load_state_prefixed(&mut trainer.model, &st, "").map_err(|e| bad(e.to_string()))?;
    let (_, meta) =
        SafeTensors::read_metadata(&bytes).map_err(|e| Error::model_file(format!("{}: {e}", path.display())))?;
    let meta = io::read_info(&meta);
    // Counters beyond any real run would wrap on the next step.
    let num = |k: &str| {
        meta.get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&v| v <= i64::MAX as u64)
            .ok_or_else(|| bad(format!("no valid {k} in its metadata")))
    };
    let (epoch, step, opt_step) = (num("epoch")?, num("step")?, num("optimizer_step")?);
    if epoch > MAX_EPOCHS as u64 {
        return Err(bad(format!("its epoch counter {epoch} is beyond any run ({MAX_EPOCHS})")));
    }
    let tensor_named = |name: &str| -> Option<Vec<f32>> {
        st.tensor(name)
            .ok()
            .filter(|v| v.dtype() == safetensors::Dtype::F32)
            .map(|v| v.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    };
    let get = |name: &str| tensor_named(&format!("optimizer.{name}"));
    // SGD's state has no step count of its own: use the trainer's.
    let started = if opt_step > 0 { opt_step } else { step };
    trainer.optimizer.restore(get, started, trainer.model.params.len()).map_err(|e| bad(e.to_string()))?;
    if !all_finite(trainer) {
        return Err(bad("it holds NaN or infinite values".into()));
    }
    trainer.step = step;
    let text = |k: &str| meta.get(k).ok_or_else(|| bad(format!("no {k} in its metadata (the run's settings need it)")));
    let real = |k: &str| text(k)?.parse::<f64>().map_err(|_| bad(format!("its {k} is not a number")));
    let count = |k: &str| -> Result<usize> {
        text(k)?.parse::<usize>().ok().filter(|&v| v <= i64::MAX as usize).ok_or_else(|| bad(format!("no valid {k}")))
    };
    if let Some(p) = &mut run.plateau {
        p.lr = real("plateau_lr")?;
        p.best = real("plateau_best")?;
        p.bad_epochs = count("plateau_bad_epochs")?;
        p.cooldown_left = count("plateau_cooldown_left")?;
    }
    if let Some(w) = &mut run.watch {
        w.best_epoch = count("early_stop_best_epoch")?;
        w.best = real("early_stop_best")?;
        w.wait = count("early_stop_wait")?;
        w.stopped_at = match text("early_stop_stopped_at")?.as_str() {
            "" => None,
            _ => Some(count("early_stop_stopped_at")?),
        };
        w.best_batches_tracked = text("early_stop_batches_tracked")?
            .parse()
            .map_err(|_| bad("its early_stop_batches_tracked is not a whole number".into()))?;
        let tensor = |name: &str, len: usize| -> Result<Vec<f32>> {
            let v = get(name).ok_or_else(|| bad(format!("no {name} tensor")))?;
            if w.best_epoch > 0 && v.len() != len {
                return Err(bad(format!("its {name} has {} values for {len}", v.len())));
            }
            Ok(v)
        };
        w.best_params = tensor(BEST_PARAMS, trainer.model.params.len())?;
        w.best_buffers = tensor(BEST_BUFFERS, trainer.model.buffers.len())?;
    }
    Ok(epoch as usize)
}
