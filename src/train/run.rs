//! The training loop behind `convlab train`: seeded shuffling, per-epoch metrics, progress,
//! checkpoints and resumption, the learning-rate schedule (`scheduler.step()` after each epoch,
//! or each batch for `onecycle`, as PyTorch's loops do), gradient clipping and early stopping.

use super::checkpoint::{self, RunState};
use super::config::RunConfig;
use super::early_stop::{self, Metric, StopRecord, Watch};
use super::folder::{EpochMetrics, RunFolder};
use super::progress::{pct, Progress};
use super::step::{has_accuracy, Samples, Trainer};
use crate::data::Targets;
use crate::error::{Error, Result};
use crate::losses::Target;
use crate::model::{io, Model};
use crate::optim::Scheduler;
use crate::rng::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use super::prepare::{build_model, default_loss, load_data, load_run_data, prepare, target_of, Prepared};

/// Checkpoints (synced to disk) are at least this far apart, except the last.
const MIN_SECONDS_BETWEEN_CHECKPOINTS: f64 = 1.0;

/// How a run ended.
pub struct Outcome {
    /// With an early stop, the best epoch's weights.
    pub model: Model<f32>,
    pub metrics: Vec<EpochMetrics>,
    /// Where and why the run stopped early, if it did.
    pub early_stop: Option<StopRecord>,
    /// Stopped from outside ([`train_interruptible`]) before the last epoch: the model is at its
    /// last completed step, and `metrics` holds the epochs that finished.
    pub interrupted: bool,
}

/// Refuses a schedule or early stop that watches a metric this run will not have (a test
/// metric without test data, an accuracy without classes).
pub fn check_settings(cfg: &RunConfig, p: &Prepared) -> Result<()> {
    if let Some(rule) = cfg.training.early_stop()? {
        let has_accuracy = has_accuracy(p.loss, p.model.output().len());
        rule.metric.check_available(!p.test.is_empty(), has_accuracy, "--early-stop")?;
    }
    if let Some(s) = cfg.training.schedule()? {
        Scheduler::new(s, p.optimizer.lr(), batches_per_epoch(cfg, p) * cfg.training.epochs)?;
    }
    Ok(())
}

/// The batch size of the run (`batch_size` 0 or beyond the data: the whole training set).
fn batch_of(cfg: &RunConfig, p: &Prepared) -> usize {
    let n = p.train.len();
    if cfg.training.batch_size == 0 || cfg.training.batch_size >= n {
        n
    } else {
        cfg.training.batch_size
    }
}

fn batches_per_epoch(cfg: &RunConfig, p: &Prepared) -> usize {
    p.train.len().div_ceil(batch_of(cfg, p))
}

/// What `plateau` watches: the test loss, or the training loss without test data.
fn plateau_metric(p: &Prepared) -> Metric {
    if p.test.is_empty() {
        Metric::TrainLoss
    } else {
        Metric::TestLoss
    }
}

/// Trains from `p.model`'s current weights for `cfg.epochs` epochs, writing into `folder` when
/// given. With `resume`, continues from the folder's checkpoint.
pub fn train(cfg: &RunConfig, p: &Prepared, folder: Option<&RunFolder>, resume: bool, quiet: bool) -> Result<Outcome> {
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
) -> Result<Outcome> {
    run_loop(cfg, p, start, folder, resume, quiet, &AtomicBool::new(false))
}

/// As `train_from` without a run folder, checking `stop` before every step: once it is set, the
/// run ends after the step under way, with [`Outcome::interrupted`] (a Python caller's Ctrl-C).
pub fn train_interruptible(
    cfg: &RunConfig,
    p: &Prepared,
    start: Model<f32>,
    quiet: bool,
    stop: &AtomicBool,
) -> Result<Outcome> {
    run_loop(cfg, p, start, None, false, quiet, stop)
}

fn run_loop(
    cfg: &RunConfig,
    p: &Prepared,
    start: Model<f32>,
    folder: Option<&RunFolder>,
    resume: bool,
    quiet: bool,
    stop: &AtomicBool,
) -> Result<Outcome> {
    let n = p.train.len();
    let batch = batch_of(cfg, p);
    check_settings(cfg, p)?;
    let mut trainer = Trainer::new(start, p.optimizer.build(), p.loss, batch, cfg.threads, cfg.seed)?;
    trainer.clip_grad_norm = cfg.training.clip_grad_norm;
    let steps_per_epoch = batches_per_epoch(cfg, p);
    let mut scheduler = match cfg.training.schedule()? {
        Some(s) => Some(Scheduler::new(s, p.optimizer.lr(), steps_per_epoch * cfg.training.epochs)?),
        None => None,
    };
    let early_stop = cfg.training.early_stop()?;
    let mut state = RunState {
        plateau: scheduler.as_ref().and_then(|s| s.plateau.clone()),
        watch: early_stop.as_ref().map(Watch::new),
    };
    let mut metrics = vec![];
    let mut first_epoch = 1;
    if resume {
        let folder = folder.ok_or_else(|| Error::config("resume needs a run folder"))?;
        // A run killed before its first checkpoint starts again from its initial weights.
        let done = if checkpoint::exists(folder) { checkpoint::load(folder, &mut trainer, &mut state)? } else { 0 };
        if let (Some(s), Some(p)) = (&mut scheduler, &state.plateau) {
            s.plateau = Some(p.clone());
        }
        metrics = folder.read_metrics()?.into_iter().filter(|m| m.epoch <= done).collect();
        first_epoch = done + 1;
        // The settings as they now stand (extended epochs, threads), once the run has loaded.
        folder.write("config.toml", cfg.to_toml().as_bytes())?;
    }
    if let Some(f) = folder {
        // Epochs past the checkpoint (a killed run's) are trained again.
        f.write_metrics(&metrics)?;
    }
    let in_len = p.train.sample_len();
    let k = trainer.model.output().len();
    let progress = Progress::new(
        (steps_per_epoch * (cfg.training.epochs + 1 - first_epoch.min(cfg.training.epochs + 1))) as u64,
        quiet,
    );
    // Batch targets, allocated once (the trainer's shards copy the samples themselves).
    let mut bl = vec![0u32; batch];
    let mut bv = vec![0f32; batch * k];
    let mut order: Vec<usize> = (0..n).collect();
    let mut snapshots = super::snapshots::Snapshots::default();
    if cfg.snapshot_every > 0 {
        match folder.map(|f| f.path(super::snapshots::FILE)).filter(|p| resume && p.exists()) {
            Some(p) => {
                snapshots = super::snapshots::Snapshots::load(&p)?;
                snapshots.entries.retain(|e| e.0 < first_epoch);
            }
            None => snapshots.take(&trainer.model, 0),
        }
    }
    let mut tensorboard = match &cfg.tensorboard {
        Some(dir) => Some(crate::interop::tensorboard::TrainingLog::start(dir, &trainer.model, first_epoch)?),
        None => None,
    };
    let mut last_checkpoint: Option<Instant> = None;
    let mut interrupted = false;
    // Epochs run on the trainer's own threads (see `Trainer::on_own_threads`).
    trainer.on_own_threads(|trainer| -> Result<()> {
        'epochs: for epoch in first_epoch..=cfg.training.epochs {
            if state.watch.as_ref().is_some_and(|w| w.stopped_at.is_some()) {
                break;
            }
            let start = Instant::now();
            let mut lr = p.optimizer.lr();
            // Full batch: no shuffling, so runs match PyTorch's full-batch loops exactly.
            if batch < n {
                order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
                Rng::new(cfg.seed ^ (epoch as u64).wrapping_mul(0x9e3779b97f4a7c15)).shuffle(&mut order);
            }
            let (mut loss_sum, mut correct, mut last_batch_loss) = (0.0, 0usize, f64::NAN);
            for (s, chunk) in order.chunks(batch).enumerate() {
                if stop.load(Ordering::Relaxed) {
                    interrupted = true;
                    break 'epochs;
                }
                if let Some(sch) = &scheduler {
                    lr = sch.apply(&mut trainer.optimizer, epoch - 1, trainer.step);
                }
                let m = chunk.len();
                // A full batch is the data set in order: no copy.
                let samples = if batch < n {
                    Samples::Rows { data: &p.train.x, rows: chunk }
                } else {
                    Samples::Contiguous(&p.train.x[..m * in_len])
                };
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
                match trainer.train_step_on(samples, target, m) {
                    Ok(st) => {
                        loss_sum += st.loss * m as f64;
                        correct += st.correct;
                        last_batch_loss = st.loss;
                        progress.step(st.loss, ((s + 1) * batch) as f64 / start.elapsed().as_secs_f64());
                    }
                    Err(Error::Numeric(what)) => {
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
                        return Err(Error::numeric(format!(
                            "{what} at epoch {epoch}, step {}{kept}. Try a smaller learning rate (e.g. half of {}), or check the inputs for NaN or huge values",
                            s + 1,
                            p.optimizer.lr()
                        )));
                    }
                    Err(e) => return Err(e),
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
                lr: Some(lr),
                last_batch_loss: Some(last_batch_loss),
            };
            if let Some(sch) = &mut scheduler {
                // `scheduler.step(metric)`: only plateau looks at it.
                sch.end_epoch(plateau_metric(p).of(&m).unwrap_or(train_loss));
                state.plateau.clone_from(&sch.plateau);
            }
            let stops = match (&early_stop, &mut state.watch) {
                (Some(rule), Some(w)) => {
                    let value = rule.metric.of(&m).unwrap_or(f64::NAN);
                    w.end_epoch(rule, epoch, value, &trainer.model)
                }
                _ => false,
            };
            if cfg.prints_epoch(epoch, first_epoch) || stops {
                progress.line(&format!(
                    "epoch {epoch}/{}  train loss {train_loss:.4}{}  test loss {}{}{}  ({:.2} s, {:.0} samples/s training)",
                    cfg.training.epochs,
                    pct(train_accuracy),
                    test_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
                    pct(test_accuracy),
                    if scheduler.is_some() { format!("  lr {lr:.4e}") } else { String::new() },
                    m.seconds,
                    n as f64 / train_seconds
                ));
            }
            let snapshot = cfg.snapshot_every > 0 && epoch % cfg.snapshot_every == 0;
            if snapshot {
                snapshots.entries.retain(|e| e.0 != epoch);
                snapshots.take(&trainer.model, epoch);
            }
            if let Some(log) = &mut tensorboard {
                // Kernels at each snapshot and after the last epoch.
                log.epoch(&m, &trainer.model, snapshot || epoch == cfg.training.epochs)?;
            }
            if let Some(f) = folder {
                f.append_metrics(&m)?;
                // Checkpoints are synced to disk, which costs milliseconds: for epochs that
                // take microseconds, at most one a second (and always after the last epoch).
                let due = epoch % cfg.checkpoint_every.max(1) == 0
                    && last_checkpoint.is_none_or(|t| t.elapsed().as_secs_f64() >= MIN_SECONDS_BETWEEN_CHECKPOINTS);
                if due || epoch == cfg.training.epochs || stops {
                    if cfg.snapshot_every > 0 {
                        f.write(super::snapshots::FILE, &snapshots.to_bytes()?)?;
                    }
                    checkpoint::save(f, trainer, epoch, &state)?;
                    last_checkpoint = Some(Instant::now());
                }
            }
            metrics.push(m);
        }
        Ok(())
    })?;
    progress.finish();
    // Keras' restore_best_weights: a stopped run's model is its best epoch's.
    let record = match (&early_stop, &state.watch) {
        (Some(rule), Some(w)) => w.record(rule),
        _ => None,
    };
    if let (Some(_), Some(w), false) = (&record, &state.watch, interrupted) {
        w.restore(&mut trainer.model);
    }
    if let Some(f) = folder {
        // Also for a run of 0 epochs, whose only snapshot is its initial kernels.
        if cfg.snapshot_every > 0 {
            f.write(super::snapshots::FILE, &snapshots.to_bytes()?)?;
        }
        match &record {
            Some(r) => f.write(early_stop::FILE, r.to_json()?.as_bytes())?,
            None => remove_stale(&f.path(early_stop::FILE))?,
        }
        io::save(&trainer.model, &f.path("model.safetensors"))?;
    }
    Ok(Outcome { model: trainer.model, metrics, early_stop: record, interrupted })
}

/// Removes a file left by an earlier state of the run (none is fine).
fn remove_stale(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::write(path, e)),
        _ => Ok(()),
    }
}
