//! The tutorials' workflows ("labs"), each a list of runs with the tutorial's settings.
//!
//! `convlab lab NAME` runs them and prints what the notebook printed; `convlab sweep --lab
//! NAME` starts from a lab's setup.

use super::config::{InitStream, RunConfig, TrainingSettings};
use super::folder::{EpochMetrics, RunFolder};
use super::kernel_lab::class_mean;
use super::run::{prepare, target_of, train, Outcome, Prepared};
use super::Trainer;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::OptimizerConfig;
use std::path::{Path, PathBuf};

/// One tutorial's workflow.
pub struct Lab {
    pub name: &'static str,
    /// One line: which tutorial, what it shows.
    pub about: &'static str,
    /// The lab's main training setup.
    pub config: fn() -> RunConfig,
    /// Epochs whose line the notebook prints.
    pub prints_epoch: fn(usize) -> bool,
    /// What the notebook prints each of those epochs.
    pub prints: Prints,
    /// What the lab says after its main run, from its metrics (e.g. why a notebook's figure
    /// differs from convlab's).
    pub remark: Option<fn(&[EpochMetrics]) -> String>,
    /// A part of the notebook that is not a training run of its own kind, run after the runs
    /// with the lab's output folder and `--force`; returns its heading and the lines it prints.
    pub extra: Option<Extra>,
}

/// See [`Lab::extra`]: `(output folder, force) → (heading, lines)`.
pub type Extra = fn(&Path, bool) -> Result<(String, Vec<String>)>;

/// The notebook's per-epoch lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prints {
    /// `Epoch 5 had training loss 0.3170` (tutorials 000, 002, 003, 004).
    Loss,
    /// `Epoch 1 final minibatch had loss 0.2441` (tutorial 002's Fashion-MNIST part), with the
    /// epoch's mean beside it.
    FinalMinibatch,
    /// Accuracy before training, `[Epoch 001] train_acc: 0.874` each epoch, and after
    /// (tutorial 001).
    Accuracy,
}

/// One run of a lab: a heading (when the lab has several runs), its folder name and settings.
pub struct LabRun {
    pub heading: Option<&'static str>,
    pub folder: String,
    pub config: RunConfig,
}

/// A lab's run: PyTorch's initial weights (`--rng numpy`) unless it says otherwise.
fn base(data: &str, model: &str, optimizer: &str, epochs: usize, batch: usize, seed: u64) -> RunConfig {
    let training = TrainingSettings {
        data: data.into(),
        model: model.into(),
        optimizer: optimizer.into(),
        epochs,
        batch_size: batch,
        rng: InitStream::Numpy,
        ..TrainingSettings::default()
    };
    RunConfig { training, seed, ..RunConfig::default() }
}

/// `config` with one change.
fn with(mut config: RunConfig, change: impl FnOnce(&mut RunConfig)) -> RunConfig {
    change(&mut config);
    config
}

const SGD_LAB: &str = "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)";

/// Every lab, in the order `convlab lab` lists them.
pub const LABS: &[Lab] = &[
    Lab {
        name: "pattern1d",
        about: "002 part 1: a 1-D CNN learns to detect [0,1,0]; with 3 filters it gets stuck, with 4 it succeeds",
        config: || base("pattern1d", "pattern1d", SGD_LAB, 500, 0, 0),
        prints_epoch: |e| e == 1 || e % 50 == 0,
        prints: Prints::Loss,
        remark: None,
        extra: None,
    },
    Lab {
        name: "sim1d",
        about: "000: fit the tutorial's CNN to data simulated from a known CNN (SGD lr 0.001, full batch)",
        config: || base("sim1d(test_fraction=0.2)", "sim1d", "sgd(lr=0.001)", 1000, 0, 1),
        prints_epoch: |e| e % 100 == 0,
        prints: Prints::Loss,
        remark: Some(sim1d_remark),
        extra: None,
    },
    Lab {
        name: "digits",
        about: "004: a small CNN on scikit-learn's 8x8 digits (built in)",
        config: || with(base("digits", "digits", "adam(lr=1e-3)", 10, 32, 0), |c| c.training.rng = InitStream::Convlab),
        prints_epoch: |_| true,
        prints: Prints::Loss,
        remark: None,
        extra: Some(notebook_kernel),
    },
    Lab {
        name: "lines",
        about: "003: horizontal vs vertical lines, 2 conv layers (Adam 1e-3, batch 10, 10 epochs)",
        config: || base("lines", "lines", "adam(lr=1e-3)", 10, 10, 4),
        prints_epoch: |_| true,
        prints: Prints::Loss,
        remark: None,
        extra: None,
    },
    Lab {
        name: "mnist-lab",
        about: "002 part 2: the lab's 2-D ConvNet on Fashion-MNIST (SGD .05/.9/1e-3, batch 100, 5 epochs)",
        config: || base("fashion-mnist", "mnist-lab", SGD_LAB, 5, 100, 2),
        prints_epoch: |_| true,
        prints: Prints::FinalMinibatch,
        remark: None,
        extra: None,
    },
    Lab {
        name: "simplecnn",
        about: "001: SimpleCNN on Fashion-MNIST (Adam 1e-3, batch 16, 5 epochs)",
        config: || base("fashion-mnist", "simplecnn", "adam(lr=1e-3)", 5, 16, 42),
        prints_epoch: |_| true,
        prints: Prints::Accuracy,
        remark: None,
        extra: None,
    },
];

/// Tutorial 000 printed a training loss of about 161 that never fell: its predictions have
/// shape (1000, 1) and its targets (1000,), so `nn.MSELoss` broadcast them to a 1000 × 1000
/// matrix and compared every prediction with every target.
fn sim1d_remark(metrics: &[EpochMetrics]) -> String {
    let test = metrics.last().and_then(|m| m.test_loss).unwrap_or(f64::NAN);
    let gap = if test > 1.5 {
        format!(" This fit is still {test:.1} times the noise floor: SGD at lr 0.001 has not converged in these epochs (`convlab simulate` and `convlab recover` fit the same network to convergence).")
    } else {
        String::new()
    };
    format!(
        "The notebook printed a loss of about 161 that never fell: its predictions are (1000, 1) and its targets (1000,), so MSELoss broadcast them to a 1000x1000 matrix and compared every prediction with every target. convlab's targets have the model's shape. Honest figures: test MSE {test:.3} against the noise variance of 1 (the best any model can do on average; the training loss is higher because dropout is active while training).{gap}"
    )
}

/// Tutorial 004's own one-kernel cell ([`super::kernel_lab`]), beside the lab's
/// 3-against-the-rest kernel, whose loss does see the other digits.
fn notebook_kernel(out: &Path, force: bool) -> Result<(String, Vec<String>)> {
    let digits = crate::data::DataSource::Digits.load(None)?.train;
    let run = super::kernel_lab::run(&digits)?;
    let dir = out.join("lab-digits-kernel-notebook");
    run.write(&dir, force)?;
    let mut lines = run.lines();
    let discriminative = out.join("lab-digits-kernel-3").join("model.safetensors");
    if discriminative.exists() {
        let m: Model<f32> = crate::model::io::load(&discriminative)?;
        let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let kernel = wide(&m.params[..64]);
        // Where threes differ from the rest: mean 3 minus the mean of the other digits.
        let three = super::kernel_lab::DIGIT;
        let (threes, others) = (class_mean(&digits, |l| l == three), class_mean(&digits, |l| l != three));
        let r = crate::stats::pearson(&kernel, &threes);
        let difference: Vec<f64> = threes.iter().zip(&others).map(|(t, o)| t - o).collect();
        let rd = crate::stats::pearson(&kernel, &difference);
        lines.push(format!(
            "Next to it, the 3-against-the-rest kernel (lab-digits-kernel-3: BCE against 0/1 targets, all digits) correlates {r:+.2} with the mean 3 and {rd:+.2} with the mean 3 minus the mean of the other digits: a discriminative kernel weighs where threes differ from the rest."
        ));
    }
    lines.push(format!("kernels: {}", dir.join("kernels.png").display()));
    Ok(("one 8x8 kernel trained on the threes, as tutorial 004's cell trains it".into(), lines))
}

/// The lab called `name`, or an error listing them all.
pub fn find(name: &str) -> Result<&'static Lab> {
    LABS.iter().find(|l| l.name == name).ok_or_else(|| {
        Error::config(format!(
            "unknown lab `{name}`; choose from {}",
            LABS.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
        ))
    })
}

impl Lab {
    /// The lab's runs, in order, with `threads` worker threads each.
    pub fn runs(&self, threads: usize) -> Vec<LabRun> {
        let cfg = RunConfig { threads, ..(self.config)() };
        let main = |heading| LabRun { heading, folder: format!("lab-{}", self.name), config: cfg.clone() };
        match self.name {
            // The lab's lesson: 3 filters get stuck in a local minimum, 4 find the detector.
            "pattern1d" => vec![
                LabRun {
                    heading: Some("with 3 filters (the lab's first attempt)"),
                    folder: "lab-pattern1d-3filters".into(),
                    config: with(cfg.clone(), |c| {
                        c.training.model = "conv1d(3,k=5,p=2) relu maxpool1d(20) flatten linear(1)".into()
                    }),
                },
                main(Some("with 4 filters")),
            ],
            // Tutorial 004's lesson: one 8x8 kernel trained to spot 3s turns into a "3" (see
            // the report's kernel evolution).
            "digits" => vec![
                main(None),
                LabRun {
                    heading: Some("one 8x8 kernel learning to detect the digit 3"),
                    folder: "lab-digits-kernel-3".into(),
                    config: with(cfg.clone(), |c| {
                        c.training.model = "conv2d(1,k=8) flatten".into();
                        c.training.batch_size = 1;
                        c.one_vs_rest = Some(3);
                        c.snapshot_every = 1;
                    }),
                },
            ],
            _ => vec![main(None)],
        }
    }
}

/// What one of a lab's runs left: its folder and its epochs.
pub struct LabResult {
    pub dir: PathBuf,
    pub metrics: Vec<EpochMetrics>,
}

impl Lab {
    /// Runs the lab into `out` (earlier runs there are kept unless `force`), handing `say` each
    /// line the notebook printed, as `convlab lab NAME` prints them.
    pub fn run(&self, out: &Path, threads: usize, force: bool, say: &mut dyn FnMut(&str)) -> Result<Vec<LabResult>> {
        let mut results = vec![];
        for run in self.runs(threads) {
            if let Some(h) = run.heading {
                say(&format!("-- {h} --"));
            }
            let mut r = run.prepare(out, force)?;
            let p = &r.prepared;
            say(&format!(
                "{}: {} on {} ({} train, {} test), {}",
                run.folder.trim_start_matches("lab-"),
                p.model.spec,
                p.train.name,
                p.train.len(),
                p.test.len(),
                p.optimizer.to_spec()
            ));
            let accuracy = self.prints == Prints::Accuracy;
            if accuracy {
                let (train, test) = r.accuracy(&r.prepared.model)?;
                say(&format!("Train accuracy before training: {:.4}", train.unwrap_or(f64::NAN)));
                say(&format!("Test accuracy before training: {:.4}", test.unwrap_or(f64::NAN)));
            }
            let (outcome, report) = r.train()?;
            for m in outcome.metrics.iter().filter(|m| (self.prints_epoch)(m.epoch)) {
                say(&self.epoch_line(m));
            }
            if accuracy {
                let (train, test) = r.accuracy(&outcome.model)?;
                say(&format!("Train accuracy after training: {:.4}", train.unwrap_or(f64::NAN)));
                say(&format!("Test accuracy after training: {:.4}", test.unwrap_or(f64::NAN)));
            }
            if let Some(remark) = self.remark.filter(|_| run.heading.is_none()) {
                say(&remark(&outcome.metrics));
            }
            say(&format!("run folder: {}", r.dir.display()));
            say(&format!("report: {}\n", report.display()));
            results.push(LabResult { dir: r.dir.clone(), metrics: outcome.metrics });
        }
        if let Some(extra) = self.extra {
            let (heading, lines) = extra(out, force)?;
            say(&format!("-- {heading} --"));
            lines.iter().for_each(|l| say(l));
        }
        Ok(results)
    }

    /// The notebook's line for one epoch.
    fn epoch_line(&self, m: &EpochMetrics) -> String {
        let acc = m.test_accuracy.map(|a| format!(", test accuracy {:.2}%", 100.0 * a)).unwrap_or_default();
        match self.prints {
            Prints::Accuracy => {
                format!("[Epoch {:03}] train_acc: {:.3}", m.epoch, m.train_accuracy.unwrap_or(f64::NAN))
            }
            Prints::FinalMinibatch => format!(
                "Epoch {} final minibatch had loss {:.4} (epoch mean {:.4}{acc})",
                m.epoch,
                m.last_batch_loss.unwrap_or(f64::NAN),
                m.train_loss
            ),
            Prints::Loss => format!("Epoch {} had training loss {:.4}{acc}", m.epoch, m.train_loss),
        }
    }
}

/// A lab run, checked and with its folder made, ready to train.
pub struct PreparedLabRun {
    pub dir: PathBuf,
    pub prepared: Prepared,
    config: RunConfig,
    folder: RunFolder,
}

impl LabRun {
    /// Checks the run's settings and data and creates its folder under `out` (an earlier run
    /// there is kept unless `force`).
    pub fn prepare(&self, out: &Path, force: bool) -> Result<PreparedLabRun> {
        let dir = out.join(&self.folder);
        if dir.join("config.toml").exists() && !force {
            return Err(Error::config(format!(
                "{} holds this lab's earlier run; run the lab again with --force to replace it, or give --out another folder",
                dir.display()
            )));
        }
        let mut prepared = prepare(&self.config)?;
        self.config.init(&mut prepared.model, self.config.seed);
        let folder = RunFolder::create(&dir, force)?;
        folder.write("config.toml", self.config.to_toml().as_bytes())?;
        Ok(PreparedLabRun { dir, prepared, config: self.config.clone(), folder })
    }
}

impl PreparedLabRun {
    /// Accuracy of `model` (the initial one, or the trained one) on the training and test sets,
    /// in evaluation mode.
    pub fn accuracy(&self, model: &Model<f32>) -> Result<(Option<f64>, Option<f64>)> {
        let p = &self.prepared;
        let frozen = OptimizerConfig::parse("sgd(lr=0)")?.build();
        let mut t = Trainer::new(model.clone(), frozen, p.loss, 256.min(p.train.len()), self.config.threads, 0)?;
        let (_, train) = t.evaluate(&p.train.x, target_of(&p.train), p.train.len())?;
        let test = if p.test.is_empty() { None } else { t.evaluate(&p.test.x, target_of(&p.test), p.test.len())?.1 };
        Ok((train, test))
    }

    /// Trains the run into its folder and writes its report; returns the outcome and the
    /// report's path.
    pub fn train(&mut self) -> Result<(Outcome, PathBuf)> {
        let outcome = train(&self.config, &self.prepared, Some(&self.folder), false, true)?;
        let report = crate::inspect::report::write(&self.dir)?;
        self.folder.finish();
        Ok((outcome, report))
    }
}
