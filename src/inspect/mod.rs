//! Seeing what a network learned: each picture kind in its own file, all built from a
//! [`Subject`] (a run folder or a model file) and, where needed, its data.

use crate::error::{Error, Result};
pub mod activations;
pub mod confusion;
pub mod curves;
pub mod evaluate;
pub mod evolution;
pub mod examples;
pub mod explain;
pub mod filters;
pub mod histograms;
pub mod maximize;
pub mod model_diagram;
pub mod predict;
pub mod report;
pub mod rows;
pub mod samples;
pub mod scatter;
pub mod show;
pub mod tensors;

use crate::data::{Dataset, Targets};
use crate::layers::activation::sigmoid;
use crate::model::{io, Model, Task};
use crate::train::config::RunConfig;
use crate::train::folder::EpochMetrics;
use crate::train::run::{default_loss, load_run_data};
use std::path::{Path, PathBuf};

/// What is being inspected: a trained model, with its run folder when there is one.
pub struct Subject {
    pub model: Model<f32>,
    pub config: Option<RunConfig>,
    pub dir: Option<PathBuf>,
}

impl Subject {
    /// Opens a run folder (its `model.safetensors`) or a model file.
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_dir() {
            let file = path.join("model.safetensors");
            if !path.join("config.toml").exists() && !file.exists() {
                return Err(not_a_run(path));
            }
            if !file.exists() {
                return Err(Error::model_file(format!(
                    "{} has no model.safetensors: the run did not finish (continue it with `convlab train --resume {}`)",
                    path.display(),
                    path.display()
                )));
            }
            let config = match std::fs::read_to_string(path.join("config.toml")) {
                Ok(t) => Some(
                    RunConfig::from_toml(&t)
                        .map_err(|e| Error::config(format!("{}: {e}", path.join("config.toml").display())))?,
                ),
                Err(_) => None,
            };
            let mut model = io::load(&file)?;
            // Model files written before the task was recorded: the run's loss, as before.
            if model.task.is_none() {
                let loss = config.as_ref().and_then(|c| c.training.loss);
                model.task = loss.map(|l| Task::new(l, model.output().len(), None));
            }
            Ok(Subject { model, config, dir: Some(path.to_path_buf()) })
        } else if path.exists() {
            Ok(Subject { model: io::load(path)?, config: None, dir: None })
        } else {
            Err(Error::model_file(format!(
                "{} does not exist; give a run folder or a .safetensors model file",
                path.display()
            )))
        }
    }

    pub fn metrics(&self) -> Result<Vec<EpochMetrics>> {
        match &self.dir {
            // Reading needs no lock: a run may be training while it is drawn.
            Some(d) => crate::train::folder::read_metrics(d),
            None => Err(Error::model_file("training curves need a run folder (with metrics.jsonl), not a model file")),
        }
    }

    /// The data named by `data` or, failing that, the run's own; (train, test).
    pub fn data(&self, data: Option<&str>, data_dir: Option<&Path>) -> Result<(Dataset, Dataset)> {
        let cfg = self.config.clone().unwrap_or_default();
        let name = match (data, &self.config) {
            (Some(d), _) => d.to_string(),
            (None, Some(c)) => c.training.data.clone(),
            (None, None) => {
                return Err(Error::config(
                    "give the data with --data (a model file does not say what it was trained on)",
                ))
            }
        };
        let dir = data_dir.map(Path::to_path_buf).or(cfg.training.data_dir.clone().map(PathBuf::from));
        let (train, test) = load_run_data(&cfg, &name, dir.as_deref())?;
        if train.sample_shape != self.model.input.to_vec() {
            return Err(Error::shape(format!(
                "the model takes samples of {} but `{name}` has {:?}",
                self.model.input, train.sample_shape
            )));
        }
        Ok((train, test))
    }
}

/// A folder that is not a run: the runs it holds, or what a run folder is.
fn not_a_run(dir: &Path) -> Error {
    let mut runs: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("config.toml").exists())
        .map(|e| e.path().display().to_string())
        .collect();
    runs.sort();
    if runs.is_empty() {
        return Error::config(format!(
            "{} is not a run folder (it has no config.toml or model.safetensors); give a folder written by `convlab train` or a .safetensors model file",
            dir.display()
        ));
    }
    let more = if runs.len() > 20 { format!(" and {} more", runs.len() - 20) } else { String::new() };
    runs.truncate(20);
    Error::config(format!(
        "{} is a folder of runs, not a run; give one of them:\n  {}{more}",
        dir.display(),
        runs.join("\n  ")
    ))
}

/// Checks that `out` holds `model`'s outputs for every sample of `ds`, as [`outputs`] gives
/// them, before a figure reads them.
pub(crate) fn check_outputs(model: &Model<f32>, ds: &Dataset, out: &[f32]) -> crate::error::Result<()> {
    let expected = ds.len() * model.output().len();
    if out.len() == expected {
        Ok(())
    } else {
        Err(crate::error::Error::config(format!(
            "{} outputs given for {} samples of {} with {} outputs each ({expected} expected)",
            out.len(),
            ds.len(),
            ds.name,
            model.output().len()
        )))
    }
}

/// The model's outputs for the first `n` samples of `ds`, in evaluation mode.
pub fn outputs(model: &Model<f32>, ds: &Dataset, n: usize) -> Vec<f32> {
    let n = n.min(ds.len());
    model.predict(&ds.x[..n * ds.sample_len()], n)
}

/// Outputs turned into probabilities: softmax over classes, or the sigmoid of one logit.
pub fn probabilities(out: &[f32], k: usize) -> Vec<f32> {
    if k == 1 {
        return out.iter().map(|&v| sigmoid(v)).collect();
    }
    out.chunks_exact(k)
        .flat_map(|row| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let z: f32 = row.iter().map(|v| (v - max).exp()).sum();
            row.iter().map(move |v| (v - max).exp() / z)
        })
        .collect()
}

/// What `model`'s outputs mean on `ds`: its recorded task (class names from `ds` when it has
/// none), or, for a model file without one, the task `ds`'s targets imply.
pub fn task_of(model: &Model<f32>, ds: &Dataset) -> Task {
    let k = model.output().len();
    match &model.task {
        Some(t) if t.class_names.is_empty() && t.is_classifier() => Task::new(t.loss, k, ds.class_names.as_deref()),
        Some(t) => t.clone(),
        None => Task::new(default_loss(&ds.targets), k, ds.class_names.as_deref()),
    }
}

/// `ds`'s targets as class labels for `task`: class targets as they are, the 0/1 targets of a
/// binary task as classes 0 and 1; `None` when there are no classes (regression).
pub fn class_labels(task: &Task, ds: &Dataset) -> Option<Vec<u32>> {
    match &ds.targets {
        Targets::Classes { labels, .. } if task.is_classifier() => Some(labels.clone()),
        Targets::Values { values, width: 1 } if task.is_binary() => {
            Some(values.iter().map(|&v| u32::from(v > 0.5)).collect())
        }
        _ => None,
    }
}

/// The class names of a data set, or their numbers.
pub fn class_names(ds: &Dataset) -> Vec<String> {
    let n = match &ds.targets {
        Targets::Classes { num_classes, .. } => *num_classes,
        Targets::Values { width, .. } => *width,
    };
    (0..n).map(|i| ds.class_names.as_ref().and_then(|c| c.get(i).cloned()).unwrap_or(i.to_string())).collect()
}

/// A sample index that exists, or a message saying how many there are.
pub fn check_index(ds: &Dataset, index: usize) -> Result<()> {
    if index >= ds.len() {
        Err(Error::config(format!(
            "--index {index} is beyond the data: {} has {} samples (0..{})",
            ds.name,
            ds.len(),
            ds.len().saturating_sub(1)
        )))
    } else {
        Ok(())
    }
}
