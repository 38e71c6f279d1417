//! A training run's settings: every `convlab train` flag, also readable from and written to a
//! TOML file, so a run folder's `config.toml` replays the run with `--config`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// `--data SOURCE`: digits, fashion-mnist, mnist, idx:DIR, npz:FILE, images:DIR, sim1d, pattern1d, lines.
    pub data: String,
    /// Folder to look for named data sets in (`--data-dir`).
    pub data_dir: Option<String>,
    /// A model spec, a preset name, or `auto`: a small CNN for the data's shape (the spec chosen
    /// is what a run folder's config.toml records).
    pub model: String,
    /// Optimizer spec, e.g. `sgd(lr=0.05,momentum=0.9)`.
    pub optimizer: String,
    pub epochs: usize,
    /// Samples per step; 0 means the whole training set (full batch).
    pub batch_size: usize,
    pub seed: u64,
    /// mse, bce_with_logits or cross_entropy; chosen from the data when absent.
    pub loss: Option<String>,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
    /// Fraction held out for testing when the data has no test set of its own.
    pub test_fraction: f64,
    /// Initial weights: `convlab` (own stream) or `torch` (what torch.manual_seed(seed) gives).
    pub rng: String,
    /// Save a checkpoint every N epochs (the final model is always saved).
    pub checkpoint_every: usize,
    /// Turn a classification set into a detector of this one class (targets 1 for it, 0 otherwise).
    pub one_vs_rest: Option<u32>,
    /// Record conv kernels every N epochs (0: never), for `convlab plot evolution`.
    pub snapshot_every: usize,
    /// Train this many times from seeds seed, seed+1, ... and keep the best by final train loss.
    pub restarts: usize,
    /// Print every Nth epoch's line (and always the first and the last); 0: about 20 lines.
    pub print_every: usize,
}

/// The most epochs one run may ask for.
pub const MAX_EPOCHS: usize = 1_000_000_000;
/// The most worker threads (each has a stack and a model replica).
pub const MAX_THREADS: usize = 1024;
/// The most restarts of one run.
pub const MAX_RESTARTS: usize = 1_000_000;

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            data: "digits".into(),
            data_dir: None,
            model: crate::model::auto::AUTO.into(),
            optimizer: "adam(lr=1e-3)".into(),
            epochs: 10,
            batch_size: 32,
            seed: 0,
            loss: None,
            threads: 0,
            test_fraction: 0.2,
            rng: "convlab".into(),
            checkpoint_every: 1,
            snapshot_every: 0,
            one_vs_rest: None,
            restarts: 1,
            print_every: 0,
        }
    }
}

/// `--batch-size`: a positive number, or `full` (stored as 0) for the whole training set.
pub fn parse_batch_size(text: &str) -> Result<usize> {
    match text.trim() {
        "full" => Ok(0),
        n => n
            .parse::<usize>()
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| Error::config(format!("--batch-size must be a positive number or `full`, not `{n}`"))),
    }
}

impl RunConfig {
    /// Initial weights for `seed` from the stream this run asks for (`--rng`).
    pub fn init(&self, model: &mut crate::model::Model<f32>, seed: u64) {
        if self.rng == "convlab" {
            model.init(seed)
        } else {
            model.init_torch(seed)
        }
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::config(format!("config: {e}")))
    }

    /// Whether the line of `epoch` is printed (see `print_every`).
    pub fn prints_epoch(&self, epoch: usize, first: usize) -> bool {
        let every = if self.print_every == 0 { self.epochs.div_ceil(20).max(1) } else { self.print_every };
        epoch == first || epoch == self.epochs || epoch.is_multiple_of(every)
    }

    /// The settings as TOML (`config.toml`). Settings that passed [`RunConfig::validate`]
    /// always serialise.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# settings that TOML cannot hold: {e}\n"))
    }

    /// Refuses settings that cannot run, with what to do instead.
    pub fn validate(&self) -> Result<()> {
        // Counts far beyond any real run are typing slips (or overflow `config.toml`, whose
        // integers stop at i64::MAX); each limit is named in the message.
        for (flag, value, max) in [
            ("--epochs", self.epochs, MAX_EPOCHS),
            ("--batch-size", self.batch_size, i64::MAX as usize),
            ("--threads", self.threads, MAX_THREADS),
            ("--checkpoint-every", self.checkpoint_every, i64::MAX as usize),
            ("--snapshot-every", self.snapshot_every, i64::MAX as usize),
            ("--restarts", self.restarts, MAX_RESTARTS),
            ("--print-every", self.print_every, i64::MAX as usize),
        ] {
            if value > max {
                return Err(Error::config(format!("{flag} {value} is more than convlab accepts ({max})")));
            }
        }
        if self.checkpoint_every == 0 {
            return Err(Error::config(
                "checkpoint_every must be at least 1 (a run without checkpoints cannot be resumed)",
            ));
        }
        // config.toml stores the seed, and TOML integers stop at i64::MAX.
        if self.seed.checked_add(self.restarts as u64).is_none_or(|end| end > i64::MAX as u64) {
            return Err(Error::config(format!("--seed must be at most {} (minus the number of restarts)", i64::MAX)));
        }
        if self.restarts > 1 && self.snapshot_every > 0 {
            return Err(Error::config("--snapshot-every records one run; it does not combine with --restarts"));
        }
        if self.epochs == 0 {
            return Err(Error::config("--epochs must be at least 1"));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(Error::config(format!(
                "--test-fraction must be between 0 and 1 (exclusive), not {}",
                self.test_fraction
            )));
        }
        if self.rng != "convlab" && self.rng != "torch" && self.rng != "numpy" {
            return Err(Error::config(format!(
                "--rng must be convlab or numpy (torch-compatible weights), not `{}`",
                self.rng
            )));
        }
        if self.restarts == 0 {
            return Err(Error::config("--restarts must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trips_and_rejects_unknown_keys() {
        let c = RunConfig { epochs: 3, loss: Some("mse".into()), ..RunConfig::default() };
        assert_eq!(RunConfig::from_toml(&c.to_toml()).unwrap(), c);
        assert!(RunConfig::from_toml("epochz = 3").unwrap_err().to_string().contains("epochz"));
        assert!(RunConfig { epochs: 0, ..RunConfig::default() }.validate().is_err());
        assert!(RunConfig { checkpoint_every: 0, ..RunConfig::default() }.validate().is_err());
    }

    #[test]
    fn counts_beyond_the_limits_are_refused_before_serialising() {
        for c in [
            RunConfig { epochs: usize::MAX, ..RunConfig::default() },
            RunConfig { batch_size: 1 << 63, ..RunConfig::default() },
            RunConfig { threads: 100_000, ..RunConfig::default() },
            RunConfig { checkpoint_every: usize::MAX, ..RunConfig::default() },
            RunConfig { snapshot_every: 1 << 63, ..RunConfig::default() },
        ] {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("more than convlab accepts"), "{e}");
        }
        // What passes validation serialises and reads back.
        let c = RunConfig { batch_size: i64::MAX as usize, epochs: MAX_EPOCHS, ..RunConfig::default() };
        c.validate().unwrap();
        assert_eq!(RunConfig::from_toml(&c.to_toml()).unwrap(), c);
    }
}
