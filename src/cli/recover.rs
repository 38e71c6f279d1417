//! `convlab recover DIR`: fit replicates to a simulation and compare them with the truth.

use crate::study::recover::{self, RecoverOptions};
use crate::study::recover_report::{explanation, heading, table};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args)]
pub struct Args {
    /// A folder written by `convlab simulate`
    dir: PathBuf,
    /// Model to fit, spec or preset (default: the true network's spec)
    #[arg(long)]
    model: Option<String>,
    /// Fits from seeds seed, seed+1, ...
    #[arg(long, default_value_t = 5)]
    replicates: usize,
    #[arg(long, default_value = "adam(lr=0.02)")]
    optimizer: String,
    #[arg(long, default_value_t = 500)]
    epochs: usize,
    /// Samples per step, or `full`
    #[arg(long, default_value = "full")]
    batch_size: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Held-out fraction for the prediction check (the same split for every replicate)
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Compare with this truth file instead of DIR/truth.safetensors
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Replicates trained at once (0 = all cores), each on one thread
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Report folder [default: DIR/recover, or DIR/recover-MODEL with --model]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite earlier results in the output folder
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let batch_size = crate::train::config::parse_batch_size(&a.batch_size)?;
    let opts = RecoverOptions {
        model: a.model.clone(),
        replicates: a.replicates,
        optimizer: a.optimizer.clone(),
        epochs: a.epochs,
        batch_size,
        seed: a.seed,
        test_fraction: a.test_fraction,
        jobs: a.jobs,
        truth: a.truth.clone(),
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let report = recover::run(&a.dir, &opts, a.out.as_deref(), a.force, &command, &AtomicBool::new(false))?;
    let rec = &report.recovery;
    println!("{}", heading(rec));
    print!("{}", table(rec));
    println!();
    for para in explanation(rec).lines() {
        println!("- {para}");
    }
    let files = report.files;
    println!("\nwrote {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(0)
}
