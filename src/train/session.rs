//! A run from its settings to its run folder: starting a new run, resuming a stopped one,
//! extending a finished one to more epochs, and restarts that keep the best of several seeds.
//!
//! This is the workflow behind `convlab train`; the command only parses flags and prints.

use super::config::RunConfig;
use super::early_stop;
use super::folder::{new_default_dir, EpochMetrics, RunFolder};
use super::run::{check_settings, prepare, train, Outcome, Prepared};
use crate::error::{Error, Result};
use crate::model::io;
use crate::optim::Schedule;
use std::path::Path;

/// A run ready to train: its settings, its folder (with `config.toml` written) and its data,
/// model, loss and optimizer, all checked.
pub struct Session {
    pub config: RunConfig,
    pub folder: RunFolder,
    pub prepared: Prepared,
    resume: bool,
}

/// One start of a run with `restarts > 1`: its seed and final training loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Restart {
    pub seed: u64,
    pub final_train_loss: f64,
}

/// How a session ended: the trained model and its metrics, and each restart's result.
pub struct SessionOutcome {
    pub outcome: Outcome,
    /// Empty unless the run trained with `restarts > 1`.
    pub restarts: Vec<Restart>,
}

impl Session {
    /// A new run in `dir` (`None`: a new dated folder under `runs/`). Bad settings and data
    /// are refused before anything is created; an existing run in `dir` is kept unless `force`.
    pub fn create(mut config: RunConfig, dir: Option<&Path>, force: bool) -> Result<Self> {
        let prepared = prepare(&config)?;
        check_settings(&config, &prepared)?;
        // Record the model and loss actually used, so the run replays and evaluation and
        // prediction read them back.
        config.training.loss = Some(prepared.loss);
        if config.training.model == crate::model::auto::AUTO {
            config.training.model = prepared.model.spec.clone();
        }
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => new_default_dir(Path::new("runs"), &config.training.data)?,
        };
        let folder = RunFolder::create(&dir, force)?;
        folder.write("config.toml", config.to_toml().as_bytes())?;
        Ok(Session { config, folder, prepared, resume: false })
    }

    /// The stopped or finished run in `dir`, to continue from its last checkpoint. `threads`
    /// replaces the run's thread count; `epochs` extends the run to that many epochs.
    pub fn resume(dir: &Path, threads: Option<usize>, epochs: Option<usize>) -> Result<Self> {
        let folder = RunFolder::open(dir)?;
        let config_path = folder.path("config.toml");
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::read(&config_path, e))?;
        let mut config = RunConfig::from_toml(&text)?;
        if config.restarts > 1 {
            return Err(Error::config(format!(
                "{} was trained with --restarts, which keeps no checkpoint; it cannot be resumed",
                dir.display()
            )));
        }
        if let Some(t) = threads {
            config.threads = t;
        }
        let extend_to = match epochs {
            Some(e) => {
                let done = folder.read_metrics()?.last().map_or(0, |m| m.epoch);
                if e < done {
                    return Err(Error::config(format!("--epochs {e}: the run has already trained {done} epochs")));
                }
                Some(e)
            }
            None => None,
        };
        if let Some(e) = extend_to.filter(|&e| e != config.training.epochs) {
            // onecycle spans the run's batches: more epochs would change the rates already used.
            if let Some(Schedule::OneCycle { total_steps: 0, .. }) = config.training.schedule()? {
                return Err(Error::config(format!(
                    "{} uses onecycle over its {} epochs, which cannot be extended to {e}; train a new run, \
                     or give onecycle a total_steps that covers the longer run",
                    dir.display(),
                    config.training.epochs
                )));
            }
            config.training.epochs = e;
        }
        // config.toml is rewritten (with the new epochs) once the checkpoint has loaded.
        let prepared = prepare(&config)?;
        Ok(Session { config, folder, prepared, resume: true })
    }

    /// Trains the run to its last epoch, writing metrics, checkpoints and the model into the
    /// folder. With `restarts > 1` it trains from seeds `seed..seed+restarts` in memory and
    /// writes the one with the lowest final training loss.
    pub fn run(mut self, quiet: bool) -> Result<SessionOutcome> {
        let cfg = &self.config;
        let p = &mut self.prepared;
        if cfg.restarts <= 1 || self.resume {
            cfg.init(&mut p.model, cfg.seed);
            let outcome = train(cfg, p, Some(&self.folder), self.resume, quiet)?;
            self.folder.finish();
            return Ok(SessionOutcome { outcome, restarts: vec![] });
        }
        let mut best: Option<Outcome> = None;
        let mut restarts = vec![];
        for r in 0..cfg.restarts {
            let seed = cfg.seed + r as u64;
            cfg.init(&mut p.model, seed);
            let o = train(&RunConfig { seed, ..cfg.clone() }, p, None, false, true)?;
            let final_train_loss = last_train_loss(&o.metrics);
            restarts.push(Restart { seed, final_train_loss });
            if best.as_ref().is_none_or(|b| final_train_loss < last_train_loss(&b.metrics)) {
                best = Some(o);
            }
        }
        let best = best.ok_or_else(|| Error::config("--restarts must be at least 1"))?;
        self.folder.write_metrics(&best.metrics)?;
        if let Some(r) = &best.early_stop {
            self.folder.write(early_stop::FILE, r.to_json()?.as_bytes())?;
        }
        io::save(&best.model, &self.folder.path("model.safetensors"))?;
        self.folder.finish();
        Ok(SessionOutcome { outcome: best, restarts })
    }
}

fn last_train_loss(metrics: &[EpochMetrics]) -> f64 {
    metrics.last().map(|m| m.train_loss).unwrap_or(f64::INFINITY)
}
