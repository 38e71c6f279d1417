//! `convlab train`: train a model on a data set into a run folder.

use super::training_args::TrainingArgs;
use crate::train::config::RunConfig;
use crate::train::session::Session;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    training: TrainingArgs,
    /// Seed of the initial weights, the batch order and any data split [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// Threads (0 = all cores) [default: 0]
    #[arg(long)]
    threads: Option<usize>,
    /// Save a checkpoint (model and optimizer state, for --resume) every N epochs [default: 1];
    /// at most one a second, and always after the last epoch
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Record conv kernels every N epochs, for `convlab plot evolution` [default: never]
    #[arg(long)]
    snapshot_every: Option<usize>,
    /// Train a detector of one class: targets 1 for class K, 0 for the rest (BCE)
    #[arg(long)]
    one_vs_rest: Option<u32>,
    /// Write report.html into the run folder at the end
    #[arg(long)]
    report: bool,
    /// Train K times from seeds seed..seed+K-1 and keep the run with the lowest final training loss [default: 1]
    #[arg(long)]
    restarts: Option<usize>,
    /// Settings from a TOML file (a run folder's config.toml replays that run); flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder (default: runs/DATE-TIME-DATA)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite an existing run folder
    #[arg(long)]
    force: bool,
    /// Continue the run in this folder from its last checkpoint
    /// (with --resume only --threads and --epochs, to extend the run, may be given)
    #[arg(long, conflicts_with_all = ["config", "out", "force", "data", "data_dir", "model", "optimizer", "batch_size", "seed", "loss", "test_fraction", "rng", "schedule", "early_stop", "clip_grad_norm", "checkpoint_every", "restarts", "one_vs_rest", "snapshot_every", "print_every"])]
    resume: Option<PathBuf>,
    /// Print only the final summary
    #[arg(long)]
    quiet: bool,
    /// Print every Nth epoch's line (always the first and the last) [default: about 20 lines]
    #[arg(long)]
    print_every: Option<usize>,
    /// Write TensorBoard event files into DIR while training (scalars and histograms every
    /// epoch, the first conv layer's kernels at each snapshot and at the end); view them live
    /// with `tensorboard --logdir DIR` [default: none]
    #[arg(long, value_name = "DIR")]
    tensorboard: Option<PathBuf>,
}

/// The effective configuration: file (or defaults), then flags.
fn config_of(a: &Args) -> crate::Result<RunConfig> {
    let mut c = match &a.config {
        Some(p) => RunConfig::from_toml(&std::fs::read_to_string(p).map_err(|e| crate::Error::read(p, e))?)?,
        None => RunConfig::default(),
    };
    a.training.apply(&mut c.training)?;
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.threads {
        c.threads = v;
    }
    if let Some(v) = a.checkpoint_every {
        if v == 0 {
            return Err(crate::Error::config(
                "--checkpoint-every must be at least 1 (a run without checkpoints cannot be resumed)",
            ));
        }
        c.checkpoint_every = v;
    }
    if let Some(v) = a.one_vs_rest {
        c.one_vs_rest = Some(v);
    }
    if let Some(v) = a.snapshot_every {
        c.snapshot_every = v;
    }
    if let Some(v) = a.print_every {
        if v == 0 {
            return Err(crate::Error::config("--print-every must be at least 1"));
        }
        c.print_every = v;
    }
    if let Some(v) = a.restarts {
        c.restarts = v;
    }
    c.tensorboard = a.tensorboard.clone();
    c.validate()?;
    Ok(c)
}

pub fn run(a: Args) -> crate::Result<i32> {
    let mut session = match &a.resume {
        Some(dir) => Session::resume(dir, a.threads, a.training.epochs)?,
        None => {
            let cfg = config_of(&a)?;
            Session::create(cfg, a.out.as_deref(), a.force)?
        }
    };
    // Not in config.toml, so given again for a resumed run.
    session.config.tensorboard = a.tensorboard.clone();
    if !a.quiet {
        let p = &session.prepared;
        println!(
            "data: {} ({} train, {} test)   model: {}   loss: {}   optimizer: {}",
            p.train.name,
            p.train.len(),
            p.test.len(),
            p.model.spec,
            p.loss.name(),
            p.optimizer.to_spec()
        );
        if a.training.model.is_none() && a.resume.is_none() && a.config.is_none() {
            println!(
                "(the model was chosen for the data's {} samples; give --model '...' to change it)",
                p.model.input
            );
        }
        println!("run folder: {}", session.folder.dir.display());
        if let Some(dir) = &a.tensorboard {
            println!("tensorboard: {} (view with `tensorboard --logdir {}`)", dir.display(), dir.display());
        }
    }
    let dir = session.folder.dir.clone();
    let done = session.run(a.quiet)?;
    if !a.quiet {
        for (i, r) in done.restarts.iter().enumerate() {
            println!("restart {} (seed {}): final train loss {:.4}", i + 1, r.seed, r.final_train_loss);
        }
    }
    // A resumed run's report is refreshed, so it never shows the run as it was.
    if a.report || (a.resume.is_some() && dir.join("report.html").exists()) {
        println!("report: {}", crate::inspect::report::write(&dir)?.display());
    }
    if done.outcome.metrics.is_empty() {
        println!("done: no epochs trained; the initial model → {}", dir.join("model.safetensors").display());
    }
    if let Some(r) = &done.outcome.early_stop {
        println!("{}", r.message());
    }
    if let Some(m) = done.outcome.metrics.last() {
        println!(
            "done: epoch {}  train loss {:.4}{}  test loss {}{}  → {}",
            m.epoch,
            m.train_loss,
            m.train_accuracy.map(|a| format!(" (acc {:.2}%)", 100.0 * a)).unwrap_or_default(),
            m.test_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
            m.test_accuracy.map(|a| format!(" (acc {:.2}%)", 100.0 * a)).unwrap_or_default(),
            dir.join("model.safetensors").display()
        );
    }
    Ok(0)
}
