//! `checkpoint.safetensors`: the model and the optimizer's state after an epoch, so `--resume`
//! continues exactly where an uninterrupted run would be.

use super::config::MAX_EPOCHS;
use super::folder::RunFolder;
use super::step::Trainer;
use crate::error::{Error, Result};
use crate::model::io;
use safetensors::SafeTensors;

/// Saves model and optimizer state after `epoch` epochs, for `--resume`. State that is no
/// longer finite is refused: the checkpoint already on disk stays the last good one.
pub fn save(folder: &RunFolder, trainer: &Trainer<f32>, epoch: usize) -> Result<()> {
    if !all_finite(trainer) {
        return Err(Error::numeric(format!(
            "the parameters or the optimizer's state became NaN or infinite by epoch {epoch}; try a smaller learning rate"
        )));
    }
    let (state, opt_step) = trainer.optimizer.state();
    let model = &trainer.model;
    // Optimizer vectors ride along as extra tensors, flat, named optimizer.<name>.
    let extra: Vec<(String, Vec<u8>)> = state
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (format!("optimizer.{n}"), v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let meta =
        [("epoch", epoch.to_string()), ("step", trainer.step.to_string()), ("optimizer_step", opt_step.to_string())];
    let bytes = io::to_bytes_with(model, &meta, &extra)?;
    folder.write(FILE, &bytes)
}

fn all_finite(trainer: &Trainer<f32>) -> bool {
    let (state, _) = trainer.optimizer.state();
    trainer.model.params.iter().chain(trainer.model.buffers.iter()).all(|v| v.is_finite())
        && state.iter().all(|(_, v)| v.iter().all(|x| x.is_finite()))
}

/// The checkpoint's file name in a run folder.
pub const FILE: &str = "checkpoint.safetensors";

/// Whether the run in `folder` has written a checkpoint.
pub fn exists(folder: &RunFolder) -> bool {
    folder.path(FILE).exists()
}

/// Restores a checkpoint into `trainer`; returns the epochs it had completed.
pub fn load(folder: &RunFolder, trainer: &mut Trainer<f32>) -> Result<usize> {
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
    let get = |name: &str| -> Option<Vec<f32>> {
        st.tensor(&format!("optimizer.{name}"))
            .ok()
            .map(|v| v.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    };
    // SGD's state has no step count of its own: use the trainer's.
    let started = if opt_step > 0 { opt_step } else { step };
    trainer.optimizer.restore(get, started, trainer.model.params.len()).map_err(|e| bad(e.to_string()))?;
    if !all_finite(trainer) {
        return Err(bad("it holds NaN or infinite values".into()));
    }
    trainer.step = step;
    Ok(epoch as usize)
}
