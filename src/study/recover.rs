//! `convlab recover`: fit replicates of a model, from different seeds, to a simulation's data
//! and compare each with the truth. Every replicate sees the same train/test split; the seed
//! sets its initial weights (and batch order). Replicates run one per core, each on one
//! thread, so results do not depend on the number of cores.

use super::compare::{compare, Comparison, Samples};
use super::simulate::{load, SimInfo, Simulation};
use crate::data::split::split_seeded;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::model::{presets, Model};
use crate::train::config::{RunConfig, TrainingSettings};
use crate::train::run::{train_interruptible, Prepared};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Clone, Debug)]
pub struct RecoverOptions {
    /// Spec or preset to fit; the truth's own spec when absent.
    pub model: Option<String>,
    pub replicates: usize,
    pub optimizer: String,
    pub epochs: usize,
    /// 0 = full batch.
    pub batch_size: usize,
    /// Replicate r uses seed `seed + r`.
    pub seed: u64,
    pub test_fraction: f64,
    /// Parallel replicates (0 = all cores).
    pub jobs: usize,
    /// Compare with this truth instead of the folder's `truth.safetensors`.
    pub truth: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Replicate {
    pub seed: u64,
    pub final_train_loss: f64,
    #[serde(flatten)]
    pub comparison: Comparison,
}

#[derive(Debug, Serialize)]
pub struct Recovery {
    pub simulation: SimInfo,
    pub truth_spec: String,
    pub truth_parameters: usize,
    pub model: String,
    pub model_parameters: usize,
    pub optimizer: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub train_samples: usize,
    pub test_samples: usize,
    pub replicates: Vec<Replicate>,
    #[serde(skip)]
    pub truth: Model<f32>,
    /// The fitted models, in replicate order.
    #[serde(skip)]
    pub models: Vec<Model<f32>>,
    /// Test targets and the first replicate's predictions, for the plot.
    #[serde(skip)]
    pub test_predictions: (Vec<f64>, Vec<f64>),
}

fn samples(ds: &Dataset) -> (Vec<f64>, Vec<f64>) {
    let y = match &ds.targets {
        Targets::Values { values, .. } => values.iter().map(|&v| v as f64).collect(),
        Targets::Classes { .. } => unreachable!("simulations are regressions"),
    };
    (ds.x.iter().map(|&v| v as f64).collect(), y)
}

/// Fits the replicates and compares each with the truth; once `stop` is set (a Python caller's
/// Ctrl-C), the replicates end after their step under way and this returns an error.
pub fn recover(dir: &Path, o: &RecoverOptions, stop: &AtomicBool) -> Result<Recovery> {
    if o.replicates == 0 {
        return Err(Error::config("--replicates must be at least 1"));
    }
    let sim: Simulation = load(dir, o.truth.as_deref())?;
    let input = sim.truth.input;
    let k = sim.outputs();
    let spec = match &o.model {
        Some(m) => {
            let (spec, preset_input) = presets::resolve(m);
            if let Some(p) = preset_input.filter(|p| *p != input) {
                return Err(Error::spec(format!(
                    "the preset `{m}` is for inputs of {p}, but the simulation's are {input}"
                )));
            }
            spec
        }
        None => sim.truth.spec.clone(),
    };
    let template = Model::<f32>::new(&spec, input)
        .map_err(|e| Error::spec(format!("the model does not fit the simulation's inputs ({input}): {e}")))?;
    if template.output().len() != k {
        return Err(Error::spec(format!(
            "the model `{spec}` has {} outputs but the simulation has {k}; end it with linear({k})",
            template.output().len()
        )));
    }
    let all = Dataset {
        name: "simulation".into(),
        x: sim.x.clone().into(),
        sample_shape: input.to_vec(),
        targets: Targets::Values { values: sim.y.clone(), width: k },
        class_names: None,
    };
    // One fixed split for all replicates, so they differ only in their starting point.
    let split = split_seeded(&all, o.test_fraction, 0)?;
    let test = split.test.ok_or(Error::config("--test-fraction leaves no test set; raise it"))?;
    let p = Prepared::from_datasets(split.train, Some(test), template.clone(), Some(Loss::Mse), &o.optimizer)?;
    let training = TrainingSettings {
        optimizer: o.optimizer.clone(),
        epochs: o.epochs,
        batch_size: o.batch_size,
        ..TrainingSettings::default()
    };
    let base = RunConfig { training, threads: 1, ..RunConfig::default() };
    base.validate()?;
    let fit = |r: usize| -> Result<(Model<f32>, f64)> {
        let seed = o.seed + r as u64;
        let mut start = template.clone();
        start.init(seed);
        let out = train_interruptible(&RunConfig { seed, ..base.clone() }, &p, start, true, stop)
            .map_err(|e| Error::numeric(format!("replicate {} (seed {seed}): {e}", r + 1)))?;
        if out.interrupted {
            return Err(Error::config("recover was interrupted before its replicates finished; nothing was written"));
        }
        let last = out.metrics.last().map(|m| m.train_loss).unwrap_or(f64::NAN);
        Ok((out.model, last))
    };
    crate::data::limits::check_jobs(o.jobs)?;
    let jobs = if o.jobs == 0 { rayon::current_num_threads() } else { o.jobs };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::config(format!("cannot start {jobs} threads: {e}")))?;
    let fitted: Vec<(Model<f32>, f64)> =
        pool.install(|| (0..o.replicates).into_par_iter().map(fit).collect::<Result<_>>())?;
    let (train_x, train_y) = samples(&p.train);
    let (test_x, test_y) = samples(&p.test);
    let train_s = Samples { x: &train_x, y: &train_y, n: p.train.len() };
    let test_s = Samples { x: &test_x, y: &test_y, n: p.test.len() };
    let replicates = fitted
        .iter()
        .enumerate()
        .map(|(r, (m, loss))| Replicate {
            seed: o.seed + r as u64,
            final_train_loss: *loss,
            comparison: compare(&sim.truth, m, &train_s, &test_s),
        })
        .collect();
    let first = super::forward::predict(&fitted[0].0, &test_x, p.test.len());
    Ok(Recovery {
        simulation: sim.info.clone(),
        truth_spec: sim.truth.spec.clone(),
        truth_parameters: sim.truth.params.len(),
        model: template.spec.clone(),
        model_parameters: template.params.len(),
        optimizer: p.optimizer.to_spec(),
        epochs: o.epochs,
        batch_size: o.batch_size,
        train_samples: p.train.len(),
        test_samples: p.test.len(),
        replicates,
        truth: sim.truth,
        models: fitted.into_iter().map(|(m, _)| m).collect(),
        test_predictions: (test_y, first),
    })
}

/// A recovery and where its report went.
pub struct Report {
    pub recovery: Recovery,
    /// The report folder: `recover.json`, `report.md` and the scatter plots.
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// The report folder of a recovery from `dir`: `DIR/recover`, or `DIR/recover-MODEL` for a
/// model other than the truth's, so fits of several models sit side by side.
pub fn default_out(dir: &Path, model: Option<&str>) -> PathBuf {
    match model {
        None => dir.join("recover"),
        Some(m) => {
            let name: String =
                m.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect();
            dir.join(format!("recover-{name}"))
        }
    }
}

/// `convlab recover` (and Python's `recover`): checks that `out` (default [`default_out`]) holds
/// no earlier report unless `force`, fits and compares ([`recover`]), and writes the report,
/// which records `command`.
pub fn run(
    dir: &Path,
    o: &RecoverOptions,
    out: Option<&Path>,
    force: bool,
    command: &str,
    stop: &AtomicBool,
) -> Result<Report> {
    crate::data::limits::check_jobs(o.jobs)?;
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| default_out(dir, o.model.as_deref()));
    std::fs::create_dir_all(&out).map_err(|e| Error::create(&out, e))?;
    let _lock = crate::fs::lock_dir(&out)?;
    crate::train::folder::refuse_overwrite(&out.join("recover.json"), force)?;
    let recovery = recover(dir, o, stop)?;
    let files = super::recover_report::write(&recovery, &out, command)?;
    Ok(Report { recovery, dir: out, files })
}
