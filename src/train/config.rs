//! A training run's settings: every `convlab train` flag, also readable from and written to a
//! TOML file, so a run folder's `config.toml` replays the run with `--config`.

use super::early_stop::EarlyStop;
use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::optim::Schedule;
use serde::{Deserialize, Serialize};

/// What is trained and how: the data, the model, the optimizer and the schedule of epochs and
/// batches. One run ([`RunConfig`]) and every run of a sweep (`study::sweep::SweepConfig`) embed
/// it, so both read and write the same keys with the same defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingSettings {
    /// `--data SOURCE`: digits, fashion-mnist, mnist, idx:DIR, npz:FILE, images:DIR, sim1d, pattern1d, lines.
    pub data: String,
    /// Folder to look for named data sets in (`--data-dir`).
    pub data_dir: Option<String>,
    /// A model spec, a preset name, or `auto`: a small CNN for the data's shape (the spec chosen
    /// is what a run folder's config.toml records).
    pub model: String,
    /// Optimizer spec, e.g. `sgd(lr=0.05,momentum=0.9)`.
    pub optimizer: String,
    /// Epochs to train; 0 writes the initial model (to draw it "before training").
    pub epochs: usize,
    /// Samples per step; 0 means the whole training set (full batch).
    pub batch_size: usize,
    /// Chosen from the data when absent.
    #[serde(with = "loss_name", skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    /// Where the initial weights come from.
    pub rng: InitStream,
    /// Fraction held out for testing when the data has no test set of its own.
    pub test_fraction: f64,
    /// Learning-rate schedule, e.g. `cosine(t_max=50)` (`optim::Schedule`); none: a constant rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Early stopping, e.g. `test_loss,patience=5,min_delta=0` (`train::early_stop`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<String>,
    /// Clip each step's gradient to this global 2-norm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
}

/// The random stream of the initial weights (`--rng`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitStream {
    /// convlab's own seeded stream.
    #[default]
    Convlab,
    /// What `torch.manual_seed(seed)` gives the same `nn.Sequential` (and numpy-exact synthetic
    /// data).
    #[serde(alias = "torch")]
    Numpy,
}

impl InitStream {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "convlab" => Ok(InitStream::Convlab),
            "numpy" | "torch" => Ok(InitStream::Numpy),
            other => {
                Err(Error::config(format!("--rng must be convlab or numpy (torch-compatible weights), not `{other}`")))
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            InitStream::Convlab => "convlab",
            InitStream::Numpy => "numpy",
        }
    }
}

/// `loss = "mse"` in TOML, as [`Loss::parse`] reads it and [`Loss::name`] writes it.
mod loss_name {
    use crate::losses::Loss;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(loss: &Option<Loss>, s: S) -> Result<S::Ok, S::Error> {
        match loss {
            Some(l) => s.serialize_str(l.name()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Loss>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| Loss::parse(&t).map_err(|e| serde::de::Error::custom(e.to_string()))).transpose()
    }
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            data: "digits".into(),
            data_dir: None,
            model: crate::model::auto::AUTO.into(),
            optimizer: "adam(lr=1e-3)".into(),
            epochs: 10,
            batch_size: 32,
            loss: None,
            rng: InitStream::Convlab,
            test_fraction: 0.2,
            schedule: None,
            early_stop: None,
            clip_grad_norm: None,
        }
    }
}

impl TrainingSettings {
    /// The TOML keys of these settings.
    pub const KEYS: &'static [&'static str] = &[
        "data",
        "data_dir",
        "model",
        "optimizer",
        "epochs",
        "batch_size",
        "loss",
        "rng",
        "test_fraction",
        "schedule",
        "early_stop",
        "clip_grad_norm",
    ];

    /// The parsed `schedule`, if any.
    pub fn schedule(&self) -> Result<Option<Schedule>> {
        self.schedule.as_deref().map(Schedule::parse).transpose()
    }

    /// The parsed `early_stop`, if any.
    pub fn early_stop(&self) -> Result<Option<EarlyStop>> {
        self.early_stop.as_deref().map(EarlyStop::parse).transpose()
    }

    /// Refuses settings that cannot run, with what to do instead.
    pub fn validate(&self) -> Result<()> {
        for (flag, value, max) in
            [("--epochs", self.epochs, MAX_EPOCHS), ("--batch-size", self.batch_size, i64::MAX as usize)]
        {
            if value > max {
                return Err(Error::config(format!("{flag} {value} is more than convlab accepts ({max})")));
            }
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(Error::config(format!(
                "--test-fraction must be between 0 and 1 (exclusive), not {}",
                self.test_fraction
            )));
        }
        self.schedule()?;
        self.early_stop()?;
        if let Some(c) = self.clip_grad_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config(format!("--clip-grad-norm must be a positive number, not {c}")));
            }
        }
        Ok(())
    }
}

/// A training run's settings: every `convlab train` flag, also readable from and written to a
/// TOML file, so a run folder's `config.toml` replays the run with `--config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunConfig {
    #[serde(flatten)]
    pub training: TrainingSettings,
    pub seed: u64,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
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
    /// Write TensorBoard event files into this folder while training (`--tensorboard`). Not
    /// part of config.toml: where a log goes is not a setting of the run.
    #[serde(skip)]
    pub tensorboard: Option<std::path::PathBuf>,
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
            training: TrainingSettings::default(),
            seed: 0,
            threads: 0,
            checkpoint_every: 1,
            snapshot_every: 0,
            one_vs_rest: None,
            restarts: 1,
            print_every: 0,
            tensorboard: None,
        }
    }
}

/// Reads TOML into `T`, refusing keys outside `keys` (serde's `deny_unknown_fields` does not
/// work through `flatten`).
pub fn from_toml_keys<T: serde::de::DeserializeOwned>(text: &str, keys: &[&str], what: &str) -> Result<T> {
    let table: toml::Table = toml::from_str(text).map_err(|e| Error::config(format!("{what}: {e}")))?;
    if let Some(k) = table.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(Error::config(format!("{what}: unknown key `{k}`; the keys are {}", keys.join(", "))));
    }
    table.try_into().map_err(|e| Error::config(format!("{what}: {e}")))
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
        match self.training.rng {
            InitStream::Convlab => model.init(seed),
            InitStream::Numpy => model.init_torch(seed),
        }
    }

    /// The TOML keys of a run's settings.
    pub fn keys() -> Vec<&'static str> {
        let own = ["seed", "threads", "checkpoint_every", "one_vs_rest", "snapshot_every", "restarts", "print_every"];
        TrainingSettings::KEYS.iter().copied().chain(own).collect()
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        from_toml_keys(text, &Self::keys(), "config")
    }

    /// Whether the line of `epoch` is printed (see `print_every`).
    pub fn prints_epoch(&self, epoch: usize, first: usize) -> bool {
        let last = self.training.epochs;
        let every = if self.print_every == 0 { last.div_ceil(20).max(1) } else { self.print_every };
        epoch == first || epoch == last || epoch.is_multiple_of(every)
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
        self.training.validate()?;
        for (flag, value, max) in [
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
        if self.restarts > 1 && self.tensorboard.is_some() {
            return Err(Error::config("--tensorboard logs one run; it does not combine with --restarts"));
        }
        if self.restarts > 1 && self.snapshot_every > 0 {
            return Err(Error::config("--snapshot-every records one run; it does not combine with --restarts"));
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

    fn with(f: impl FnOnce(&mut TrainingSettings)) -> RunConfig {
        let mut c = RunConfig::default();
        f(&mut c.training);
        c
    }

    #[test]
    fn toml_round_trips_and_rejects_unknown_keys() {
        let c = with(|t| {
            t.epochs = 3;
            t.loss = Some(Loss::Mse);
            t.rng = InitStream::Numpy;
        });
        assert_eq!(RunConfig::from_toml(&c.to_toml()).unwrap(), c);
        let e = RunConfig::from_toml("epochz = 3").unwrap_err().to_string();
        assert!(e.contains("unknown key `epochz`"), "{e}");
        assert!(RunConfig::from_toml("loss = \"hinge\"").unwrap_err().to_string().contains("hinge"));
        // Files of earlier versions: flat keys, `rng = "torch"`.
        let old =
            RunConfig::from_toml("data = \"lines\"\nrng = \"torch\"\nseed = 4\nloss = \"cross_entropy\"\n").unwrap();
        assert_eq!((old.training.data.as_str(), old.training.rng, old.seed), ("lines", InitStream::Numpy, 4));
        assert_eq!(old.training.loss, Some(Loss::CrossEntropy));
        with(|t| t.epochs = 0).validate().unwrap();
        let c = with(|t| {
            t.schedule = Some("step(3,gamma=0.5)".into());
            t.early_stop = Some("test_loss,patience=2".into());
            t.clip_grad_norm = Some(0.5);
        });
        assert_eq!(RunConfig::from_toml(&c.to_toml()).unwrap(), c);
        for bad in [
            with(|t| t.schedule = Some("warmup(3)".into())),
            with(|t| t.early_stop = Some("val_loss".into())),
            with(|t| t.clip_grad_norm = Some(0.0)),
            with(|t| t.clip_grad_norm = Some(f64::NAN)),
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
        assert!(RunConfig { checkpoint_every: 0, ..RunConfig::default() }.validate().is_err());
    }

    #[test]
    fn the_key_lists_are_the_serialised_keys() {
        let c = RunConfig {
            one_vs_rest: Some(3),
            ..with(|t| {
                t.loss = Some(Loss::Mse);
                t.data_dir = Some("d".into());
                t.schedule = Some("cosine(10)".into());
                t.early_stop = Some("train_loss".into());
                t.clip_grad_norm = Some(1.0);
            })
        };
        let table: toml::Table = toml::from_str(&c.to_toml()).unwrap();
        let mut written: Vec<&str> = table.keys().map(|k| k.as_str()).collect();
        let mut keys = RunConfig::keys();
        written.sort();
        keys.sort();
        assert_eq!(written, keys);
    }

    #[test]
    fn counts_beyond_the_limits_are_refused_before_serialising() {
        for c in [
            with(|t| t.epochs = usize::MAX),
            with(|t| t.batch_size = 1 << 63),
            RunConfig { threads: 100_000, ..RunConfig::default() },
            RunConfig { checkpoint_every: usize::MAX, ..RunConfig::default() },
            RunConfig { snapshot_every: 1 << 63, ..RunConfig::default() },
        ] {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("more than convlab accepts"), "{e}");
        }
        // What passes validation serialises and reads back.
        let c = with(|t| {
            t.batch_size = i64::MAX as usize;
            t.epochs = MAX_EPOCHS;
        });
        c.validate().unwrap();
        assert_eq!(RunConfig::from_toml(&c.to_toml()).unwrap(), c);
    }
}
