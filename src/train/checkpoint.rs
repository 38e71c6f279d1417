//! `checkpoint.safetensors`: the model and the optimizer's state after an epoch, so `--resume`
//! continues exactly where an uninterrupted run would be.

use super::folder::RunFolder;
use super::step::Trainer;
use crate::error::{Error, Result};
use crate::model::io;
use safetensors::SafeTensors;

/// Saves model and optimizer state after `epoch` epochs, for `--resume`.
pub fn save(folder: &RunFolder, trainer: &Trainer<f32>, epoch: usize) -> Result<()> {
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
    let st = SafeTensors::deserialize(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    io::load_state_prefixed(&mut trainer.model, &st, "").map_err(|e| format!("{}: {e}", path.display()))?;
    let (_, meta) =
        SafeTensors::read_metadata(&bytes).map_err(|e| Error::model_file(format!("{}: {e}", path.display())))?;
    let meta = io::read_info(&meta);
    let num = |k: &str| {
        meta.get(k).and_then(|v| v.parse::<u64>().ok()).ok_or(format!("{}: no {k} in the checkpoint", path.display()))
    };
    let (epoch, step, opt_step) = (num("epoch")?, num("step")?, num("optimizer_step")?);
    let get = |name: &str| -> Option<Vec<f32>> {
        st.tensor(&format!("optimizer.{name}"))
            .ok()
            .map(|v| v.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    };
    // SGD's state has no step count of its own: use the trainer's.
    let started = if opt_step > 0 { opt_step } else { step };
    trainer
        .optimizer
        .restore(get, started, trainer.model.params.len())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    trainer.step = step;
    Ok(epoch as usize)
}
