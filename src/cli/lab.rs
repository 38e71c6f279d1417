//! `convlab lab [NAME]`: the tutorials' workflows, each one command with the tutorial's
//! settings, printing what the notebook printed and leaving a run folder.

use crate::train::config::RunConfig;
use crate::train::folder::RunFolder;
use crate::train::run::{prepare, train, Outcome};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The lab to run (omit to list them)
    name: Option<String>,
    /// Parent folder of the lab's run folder(s)
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Overwrite the lab's earlier run folders
    #[arg(long)]
    force: bool,
}

struct Lab {
    name: &'static str,
    about: &'static str,
    config: fn() -> RunConfig,
    /// Epochs whose loss the notebook prints.
    report: fn(usize) -> bool,
}

fn base(data: &str, model: &str, optimizer: &str, epochs: usize, batch: usize) -> RunConfig {
    RunConfig {
        data: data.into(),
        model: model.into(),
        optimizer: optimizer.into(),
        epochs,
        batch_size: batch,
        rng: "numpy".into(),
        ..RunConfig::default()
    }
}

const SGD_LAB: &str = "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)";

const LABS: &[Lab] = &[
    Lab {
        name: "pattern1d",
        about: "002 part 1: a 1-D CNN learns to detect [0,1,0]; with 3 filters it gets stuck, with 4 it succeeds",
        config: || base("pattern1d", "pattern1d", SGD_LAB, 500, 0),
        report: |e| e == 1 || e % 50 == 0,
    },
    Lab {
        name: "sim1d",
        about: "000: fit the tutorial's CNN to data simulated from a known CNN (SGD lr 0.001, full batch)",
        config: || RunConfig { seed: 1, ..base("sim1d(test_fraction=0.2)", "sim1d", "sgd(lr=0.001)", 1000, 0) },
        report: |e| e % 100 == 0,
    },
    Lab {
        name: "digits",
        about: "004: a small CNN on scikit-learn's 8x8 digits (built in)",
        config: || RunConfig { rng: "convlab".into(), ..base("digits", "digits", "adam(lr=1e-3)", 10, 32) },
        report: |_| true,
    },
    Lab {
        name: "lines",
        about: "003: horizontal vs vertical lines, 2 conv layers (Adam 1e-3, batch 10, 10 epochs)",
        config: || RunConfig { seed: 4, ..base("lines", "lines", "adam(lr=1e-3)", 10, 10) },
        report: |_| true,
    },
    Lab {
        name: "mnist-lab",
        about: "002 part 2: the lab's 2-D ConvNet on Fashion-MNIST (SGD .05/.9/1e-3, batch 100, 5 epochs)",
        config: || RunConfig { seed: 2, ..base("fashion-mnist", "mnist-lab", SGD_LAB, 5, 100) },
        report: |_| true,
    },
    Lab {
        name: "simplecnn",
        about: "001: SimpleCNN on Fashion-MNIST (Adam 1e-3, batch 16, 5 epochs)",
        config: || RunConfig { seed: 42, ..base("fashion-mnist", "simplecnn", "adam(lr=1e-3)", 5, 16) },
        report: |_| true,
    },
];

fn run_one(
    name: &str,
    cfg: &RunConfig,
    dir: PathBuf,
    report: fn(usize) -> bool,
    force: bool,
) -> Result<Outcome, String> {
    let mut p = prepare(cfg)?;
    cfg.init(&mut p.model, cfg.seed);
    let folder = RunFolder::create(&dir, force)?;
    folder.write("config.toml", cfg.to_toml().as_bytes())?;
    println!(
        "{name}: {} on {} ({} train, {} test), {}",
        p.model.spec,
        p.train.name,
        p.train.len(),
        p.test.len(),
        p.optimizer.to_spec()
    );
    let o = train(cfg, &p, Some(&folder), false, true)?;
    for m in o.metrics.iter().filter(|m| report(m.epoch)) {
        let acc = m.test_accuracy.map(|a| format!(", test accuracy {:.2}%", 100.0 * a)).unwrap_or_default();
        println!("Epoch {} had training loss {:.4}{acc}", m.epoch, m.train_loss);
    }
    println!("run folder: {}", dir.display());
    println!("report: {}\n", crate::inspect::report::write(&dir)?.display());
    Ok(o)
}

pub fn run(a: Args) -> Result<i32, String> {
    let Some(name) = a.name else {
        println!("labs (convlab lab NAME):");
        for l in LABS {
            println!("  {:<11} {}", l.name, l.about);
        }
        return Ok(0);
    };
    let lab = LABS.iter().find(|l| l.name == name).ok_or(format!(
        "unknown lab `{name}`; choose from {}",
        LABS.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
    ))?;
    let cfg = RunConfig { threads: a.threads, ..(lab.config)() };
    if lab.name == "pattern1d" {
        // The lab's lesson: 3 filters get stuck in a local minimum, 4 find the detector.
        let three = RunConfig { model: "conv1d(3,k=5,p=2) relu maxpool1d(20) flatten linear(1)".into(), ..cfg.clone() };
        println!("-- with 3 filters (the lab's first attempt) --");
        run_one("pattern1d-3filters", &three, a.out.join("lab-pattern1d-3filters"), lab.report, a.force)?;
        println!("-- with 4 filters --");
    }
    run_one(lab.name, &cfg, a.out.join(format!("lab-{}", lab.name)), lab.report, a.force)?;
    if lab.name == "digits" {
        // Tutorial 004's lesson: one 8x8 kernel trained to spot 3s turns into a "3" (see the
        // report's kernel evolution).
        println!("-- one 8x8 kernel learning to detect the digit 3 --");
        let three = RunConfig {
            model: "conv2d(1,k=8) flatten".into(),
            one_vs_rest: Some(3),
            snapshot_every: 1,
            batch_size: 1,
            ..cfg.clone()
        };
        run_one("digits-kernel-3", &three, a.out.join("lab-digits-kernel-3"), lab.report, a.force)?;
    }
    Ok(0)
}

/// A lab's training setup, for `convlab sweep --lab NAME`.
pub(super) fn lab_config(name: &str) -> Result<RunConfig, String> {
    LABS.iter().find(|l| l.name == name).map(|l| (l.config)()).ok_or(format!(
        "unknown lab `{name}`; choose from {}",
        LABS.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
    ))
}
