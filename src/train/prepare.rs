//! Everything a run needs before its first step: the data (with a test set and the run's
//! target transform), the model fitted to the data's sample shape, the loss and the optimizer.

use super::config::RunConfig;
use crate::data::source::DataSource;
use crate::data::split::{split_seeded, unify_num_classes};
use crate::data::{synthetic, Dataset, Split, Targets};
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::losses::{Loss, Target};
use crate::model::{auto, presets, Model, Task};
use crate::optim::OptimizerConfig;
use std::path::Path;

/// Everything a run needs, checked before the first step.
pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
    pub model: Model<f32>,
    pub loss: Loss,
    pub optimizer: OptimizerConfig,
}

/// Loads the data a `--data` string names (generating synthetic sets), keeps its `n=`,
/// `test_n=` and `classes=` selection, and splits off a test set when it has none.
pub fn load_data(data: &str, data_dir: Option<&Path>, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let (source, selection) = DataSource::parse_selected(data)?;
    let mut split = match &source {
        DataSource::Synthetic { name, params } => synthetic::generate(name, params),
        other => other.load(data_dir),
    }?;
    selection.apply(&mut split)?;
    if split.test.is_none() {
        split = split_seeded(&split.train, test_fraction, seed)?;
    }
    unify_num_classes(&mut split);
    let test = split.test.ok_or_else(|| Error::data(format!("the data set `{data}` has no test set")))?;
    if split.train.is_empty() {
        return Err(Error::data(format!("the data set `{data}` has no training samples")));
    }
    Ok((split.train, test))
}

/// The run's data: `load_data` plus the run's target transform (`one_vs_rest`).
pub fn load_run_data(cfg: &RunConfig, data: &str, data_dir: Option<&Path>) -> Result<(Dataset, Dataset)> {
    let (mut train, mut test) = load_data(data, data_dir, cfg.training.test_fraction, cfg.seed)?;
    if let Some(k) = cfg.one_vs_rest {
        for ds in [&mut train, &mut test] {
            let Targets::Classes { labels, num_classes } = &ds.targets else {
                return Err(Error::config(format!(
                    "--one-vs-rest needs class labels, but {} has real-valued targets",
                    ds.name
                )));
            };
            if k as usize >= *num_classes {
                return Err(Error::config(format!(
                    "--one-vs-rest {k}: {} has classes 0..{}",
                    ds.name,
                    num_classes - 1
                )));
            }
            let values = labels.iter().map(|&l| f32::from(u8::from(l == k))).collect();
            ds.targets = Targets::Values { values, width: 1 };
            ds.name = format!("{} (class {k} vs rest)", ds.name);
            // Class 0 is every other class, class 1 the chosen one.
            let name = ds.class_names.as_ref().and_then(|n| n.get(k as usize).cloned()).unwrap_or(k.to_string());
            ds.class_names = Some(vec![format!("not {name}"), name]);
        }
    }
    Ok((train, test))
}

/// The loss the task implies: classes → cross-entropy, one 0/1 output → BCE, else MSE.
pub fn default_loss(targets: &Targets) -> Loss {
    match targets {
        Targets::Classes { .. } => Loss::CrossEntropy,
        Targets::Values { values, width: 1 } if values.iter().all(|&v| v == 0.0 || v == 1.0) => Loss::BceWithLogits,
        Targets::Values { .. } => Loss::Mse,
    }
}

/// A view of a data set's targets for the loss.
pub fn target_of(ds: &Dataset) -> Target<'_, f32> {
    match &ds.targets {
        Targets::Classes { labels, .. } => Target::Classes(labels),
        Targets::Values { values, .. } => Target::Values(values),
    }
}

/// Builds the model for the data: spec, preset or `auto` (a small CNN for the data's shape and
/// outputs, [`auto::spec_for`]); the input shape comes from the data, the output is checked.
pub fn build_model(model: &str, train: &Dataset) -> Result<Model<f32>> {
    let dims = Dims::from_shape(&train.sample_shape)?;
    if model == auto::AUTO {
        let outputs = match &train.targets {
            Targets::Classes { num_classes, .. } => *num_classes,
            Targets::Values { width, .. } => *width,
        };
        let spec = auto::spec_for(dims, outputs);
        return Model::new(&spec, dims).map_err(|e| e.context(format!("the automatic model `{spec}`")));
    }
    let (spec, preset_input) = presets::resolve(model);
    if let Some(p) = preset_input.filter(|p| *p != dims) {
        return Err(Error::spec(format!(
            "the preset `{model}` is for inputs of {p}, but the data's samples are {dims}; give a model spec instead (see `convlab summary`), or leave out --model for one that fits"
        )));
    }
    Model::new(&spec, dims).map_err(|e| e.context(format!("the model does not fit the data's samples ({dims})")))
}

pub fn prepare(cfg: &RunConfig) -> Result<Prepared> {
    cfg.validate()?;
    let (train, test) = load_run_data(cfg, &cfg.training.data, cfg.training.data_dir.as_deref().map(Path::new))?;
    let model = build_model(&cfg.training.model, &train)?;
    Prepared::from_datasets(train, Some(test), model, cfg.training.loss, &cfg.training.optimizer)
}

impl Prepared {
    /// A run from data sets in hand (what `prepare` loaded, or a Python caller's arrays): both
    /// sets count the same classes, the loss is `loss` or the one the targets imply, the model
    /// records its task, the loss is checked against both sets, and the optimizer is parsed.
    /// Without `test`, the run evaluates nothing after its epochs.
    pub fn from_datasets(
        train: Dataset,
        test: Option<Dataset>,
        mut model: Model<f32>,
        loss: Option<Loss>,
        optimizer: &str,
    ) -> Result<Prepared> {
        let test = test.unwrap_or_else(|| empty_like(&train, "test"));
        let mut split = Split { train, test: Some(test) };
        unify_num_classes(&mut split);
        let Split { train, test: Some(test) } = split else { unreachable!("the test set was given above") };
        let loss = loss.unwrap_or_else(|| default_loss(&train.targets));
        let k = model.output().len();
        // Recorded in every model file the run writes, so the file alone predicts classes.
        model.task = Some(Task::new(loss, k, train.class_names.as_deref()));
        for ds in [&train, &test] {
            loss.check(ds.len(), k, target_of(ds)).map_err(|e| e.context(&ds.name))?;
        }
        let optimizer = OptimizerConfig::parse(optimizer)?;
        Ok(Prepared { train, test, model, loss, optimizer })
    }
}

/// A data set of no samples with `ds`'s sample shape and kind of targets (without copying its
/// samples, which may be hundreds of megabytes).
fn empty_like(ds: &Dataset, name: &str) -> Dataset {
    let targets = match &ds.targets {
        Targets::Classes { num_classes, .. } => Targets::Classes { labels: vec![], num_classes: *num_classes },
        Targets::Values { width, .. } => Targets::Values { values: vec![], width: *width },
    };
    Dataset {
        name: name.into(),
        x: Vec::new().into(),
        sample_shape: ds.sample_shape.clone(),
        targets,
        class_names: ds.class_names.clone(),
    }
}
