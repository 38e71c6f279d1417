//! The training loop behind `convlab train`: data and model from a `RunConfig`, seeded
//! shuffling, per-epoch metrics, progress, checkpoints and resumption.

use super::config::RunConfig;
use super::folder::{EpochMetrics, RunFolder};
use super::step::{has_accuracy, StepError, Trainer};
use crate::data::source::DataSource;
use crate::data::split::{split_seeded, unify_num_classes};
use crate::data::{synthetic, Dataset, Targets};
use crate::engine::Dims;
use crate::losses::{Loss, Target};
use crate::model::{io, presets, Model};
use crate::optim::OptimizerConfig;
use crate::rng::Rng;
use safetensors::SafeTensors;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// Everything a run needs, checked before the first step.
pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
    pub model: Model<f32>,
    pub loss: Loss,
    pub optimizer: OptimizerConfig,
}

/// Loads the data a `--data` string names (generating synthetic sets), with a test set.
pub fn load_data(
    data: &str,
    data_dir: Option<&Path>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), String> {
    let source = DataSource::parse(data).map_err(|e| e.to_string())?;
    let mut split = match &source {
        DataSource::Synthetic { name, params } => synthetic::generate(name, params),
        other => other.load(data_dir),
    }
    .map_err(|e| e.to_string())?;
    if split.test.is_none() {
        split = split_seeded(&split.train, test_fraction, seed).map_err(|e| e.to_string())?;
    }
    unify_num_classes(&mut split);
    let test = split.test.ok_or("no test set")?;
    if split.train.is_empty() {
        return Err(format!("the data set `{data}` has no training samples"));
    }
    Ok((split.train, test))
}

/// The run's data: `load_data` plus the run's target transform (`one_vs_rest`).
pub fn load_run_data(cfg: &RunConfig, data: &str, data_dir: Option<&Path>) -> Result<(Dataset, Dataset), String> {
    let (mut train, mut test) = load_data(data, data_dir, cfg.test_fraction, cfg.seed)?;
    if let Some(k) = cfg.one_vs_rest {
        for ds in [&mut train, &mut test] {
            let Targets::Classes { labels, num_classes } = &ds.targets else {
                return Err(format!("--one-vs-rest needs class labels, but {} has real-valued targets", ds.name));
            };
            if k as usize >= *num_classes {
                return Err(format!("--one-vs-rest {k}: {} has classes 0..{}", ds.name, num_classes - 1));
            }
            let values = labels.iter().map(|&l| f32::from(u8::from(l == k))).collect();
            ds.targets = Targets::Values { values, width: 1 };
            ds.name = format!("{} (class {k} vs rest)", ds.name);
            ds.class_names = None;
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

/// Builds the model for the data: spec or preset, input shape from the data, output checked.
pub fn build_model(model: &str, train: &Dataset) -> Result<Model<f32>, String> {
    let dims = Dims::from_shape(&train.sample_shape)?;
    let (spec, preset_input) = presets::resolve(model);
    if let Some(p) = preset_input.filter(|p| *p != dims) {
        return Err(format!(
            "the preset `{model}` is for inputs of {p}, but the data's samples are {dims}; give a model spec instead (see `convlab summary`)"
        ));
    }
    Model::new(&spec, dims).map_err(|e| format!("the model does not fit the data's samples ({dims}): {e}"))
}

pub fn prepare(cfg: &RunConfig) -> Result<Prepared, String> {
    cfg.validate()?;
    let (train, test) = load_run_data(cfg, &cfg.data, cfg.data_dir.as_deref().map(Path::new))?;
    let model = build_model(&cfg.model, &train)?;
    let loss = match &cfg.loss {
        Some(l) => Loss::parse(l)?,
        None => default_loss(&train.targets),
    };
    let k = model.output().len();
    for ds in [&train, &test] {
        loss.check(ds.len(), k, target_of(ds)).map_err(|e| format!("{}: {e}", ds.name))?;
    }
    let optimizer = OptimizerConfig::parse(&cfg.optimizer)?;
    Ok(Prepared { train, test, model, loss, optimizer })
}

/// How a run ended.
pub struct Outcome {
    pub model: Model<f32>,
    pub metrics: Vec<EpochMetrics>,
}

/// Progress on a terminal (a bar with ETA, loss and samples/s), plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
}

impl Progress {
    fn new(steps: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(steps);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  eta {eta}  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Progress { bar, quiet }
    }
    fn step(&self, loss: f64, rate: f64) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(format!("loss {loss:.4}  {rate:.0} samples/s"));
        }
    }
    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.println(text),
            None => println!("{text}"),
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|a| format!("  acc {:.2}%", 100.0 * a)).unwrap_or_default()
}

/// Saves model and optimizer state after `epoch` epochs, for `--resume`.
fn save_checkpoint(folder: &RunFolder, trainer: &Trainer<f32>, epoch: usize) -> Result<(), String> {
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
    folder.write("checkpoint.safetensors", &bytes)
}

/// Restores a checkpoint into `trainer`; returns the epochs it had completed.
fn load_checkpoint(folder: &RunFolder, trainer: &mut Trainer<f32>) -> Result<usize, String> {
    let path = folder.path("checkpoint.safetensors");
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("cannot read {}: {e}; the run has no checkpoint to resume from", path.display()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    io::load_state_prefixed(&mut trainer.model, &st, "").map_err(|e| format!("{}: {e}", path.display()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| e.to_string())?;
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

/// Trains from `p.model`'s current weights for `cfg.epochs` epochs, writing into `folder` when
/// given. With `resume`, continues from the folder's checkpoint.
pub fn train(
    cfg: &RunConfig,
    p: &Prepared,
    folder: Option<&RunFolder>,
    resume: bool,
    quiet: bool,
) -> Result<Outcome, String> {
    train_from(cfg, p, p.model.clone(), folder, resume, quiet)
}

/// As `train`, from `start` instead of `p.model`: many runs (a sweep's seeds) share one
/// `Prepared` and its data.
pub fn train_from(
    cfg: &RunConfig,
    p: &Prepared,
    start: Model<f32>,
    folder: Option<&RunFolder>,
    resume: bool,
    quiet: bool,
) -> Result<Outcome, String> {
    let n = p.train.len();
    let batch = if cfg.batch_size == 0 || cfg.batch_size >= n { n } else { cfg.batch_size };
    let mut trainer = Trainer::new(start, p.optimizer.build(), p.loss, batch, cfg.threads, cfg.seed)?;
    let mut metrics = vec![];
    let mut first_epoch = 1;
    if resume {
        let folder = folder.ok_or("resume needs a run folder")?;
        let done = load_checkpoint(folder, &mut trainer)?;
        metrics = folder.read_metrics()?.into_iter().filter(|m| m.epoch <= done).collect();
        first_epoch = done + 1;
    }
    let in_len = p.train.sample_len();
    let k = trainer.model.output().len();
    let steps_per_epoch = n.div_ceil(batch);
    let progress = Progress::new((steps_per_epoch * (cfg.epochs + 1 - first_epoch.min(cfg.epochs + 1))) as u64, quiet);
    // Batch buffers, allocated once.
    let mut bx = vec![0f32; batch * in_len];
    let mut bl = vec![0u32; batch];
    let mut bv = vec![0f32; batch * k];
    let mut order: Vec<usize> = (0..n).collect();
    let mut snapshots = super::snapshots::Snapshots::default();
    if cfg.snapshot_every > 0 {
        match folder.map(|f| f.path(super::snapshots::FILE)).filter(|p| resume && p.exists()) {
            Some(p) => snapshots = super::snapshots::Snapshots::load(&p)?,
            None => snapshots.take(&trainer.model, 0),
        }
    }
    for epoch in first_epoch..=cfg.epochs {
        let start = Instant::now();
        // Full batch: no shuffling, so runs match PyTorch's full-batch loops exactly.
        if batch < n {
            order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
            Rng::new(cfg.seed ^ (epoch as u64).wrapping_mul(0x9e3779b97f4a7c15)).shuffle(&mut order);
        }
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for (s, chunk) in order.chunks(batch).enumerate() {
            let m = chunk.len();
            for (j, &i) in chunk.iter().enumerate() {
                bx[j * in_len..(j + 1) * in_len].copy_from_slice(p.train.sample(i));
            }
            let target = match &p.train.targets {
                Targets::Classes { labels, .. } => {
                    chunk.iter().enumerate().for_each(|(j, &i)| bl[j] = labels[i]);
                    Target::Classes(&bl[..m])
                }
                Targets::Values { values, width } => {
                    for (j, &i) in chunk.iter().enumerate() {
                        bv[j * width..(j + 1) * width].copy_from_slice(&values[i * width..(i + 1) * width]);
                    }
                    Target::Values(&bv[..m * width])
                }
            };
            match trainer.train_step(&bx[..m * in_len], target, m) {
                Ok(st) => {
                    loss_sum += st.loss * m as f64;
                    correct += st.correct;
                    progress.step(st.loss, ((s + 1) * batch) as f64 / start.elapsed().as_secs_f64());
                }
                Err(StepError::NonFinite(v)) => {
                    progress.finish();
                    let kept = match folder {
                        Some(f) if f.path("checkpoint.safetensors").exists() => {
                            format!(
                                "; the last good checkpoint is {} (resume with --resume)",
                                f.path("checkpoint.safetensors").display()
                            )
                        }
                        _ => String::new(),
                    };
                    return Err(format!(
                        "the loss became {v} at epoch {epoch}, step {}{kept}. Try a smaller learning rate (e.g. half of {}), or check the inputs for NaN or huge values",
                        s + 1,
                        p.optimizer.lr()
                    ));
                }
                Err(StepError::BadTarget(e)) => return Err(e),
            }
        }
        // Training throughput excludes the test evaluation below.
        let train_seconds = start.elapsed().as_secs_f64();
        let train_loss = loss_sum / n as f64;
        let train_accuracy = has_accuracy(p.loss, k).then(|| correct as f64 / n as f64);
        let (test_loss, test_accuracy) = if p.test.is_empty() {
            (None, None)
        } else {
            let (l, a) = trainer.evaluate(&p.test.x, target_of(&p.test), p.test.len())?;
            (Some(l), a)
        };
        let m = EpochMetrics {
            epoch,
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        };
        progress.line(&format!(
            "epoch {epoch}/{}  train loss {train_loss:.4}{}  test loss {}{}  ({:.2} s, {:.0} samples/s training)",
            cfg.epochs,
            pct(train_accuracy),
            test_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
            pct(test_accuracy),
            m.seconds,
            n as f64 / train_seconds
        ));
        metrics.push(m);
        if cfg.snapshot_every > 0 && epoch % cfg.snapshot_every == 0 {
            snapshots.entries.retain(|e| e.0 != epoch);
            snapshots.take(&trainer.model, epoch);
        }
        if let Some(f) = folder {
            f.write_metrics(&metrics)?;
            if cfg.snapshot_every > 0 {
                f.write(super::snapshots::FILE, &snapshots.to_bytes()?)?;
            }
            if cfg.checkpoint_every > 0 && (epoch % cfg.checkpoint_every == 0 || epoch == cfg.epochs) {
                save_checkpoint(f, &trainer, epoch)?;
            }
        }
    }
    progress.finish();
    if let Some(f) = folder {
        io::save(&trainer.model, &f.path("model.safetensors"))?;
    }
    Ok(Outcome { model: trainer.model, metrics })
}
