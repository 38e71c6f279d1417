//! `convlab recover DIR`: fit replicates to a simulation and compare them with the truth.

use crate::study::recover::{recover, RecoverOptions};
use crate::study::recover_report::{explanation, table, write};
use std::path::PathBuf;

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
    crate::data::limits::check_jobs(a.jobs)?;
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
    // Each fitted model gets its own folder, so fits of several models sit side by side.
    let out_dir = a.out.clone().unwrap_or_else(|| match &a.model {
        None => a.dir.join("recover"),
        Some(m) => {
            let name: String =
                m.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect();
            a.dir.join(format!("recover-{name}"))
        }
    });
    std::fs::create_dir_all(&out_dir).map_err(|e| crate::Error::create(&out_dir, e))?;
    let _lock = crate::fs::lock_dir(&out_dir)?;
    crate::train::folder::refuse_overwrite(&out_dir.join("recover.json"), a.force)?;
    let rec = recover(&a.dir, &opts)?;
    println!(
        "truth: `{}` ({} parameters), {} samples, noise sd {}",
        rec.truth_spec, rec.truth_parameters, rec.simulation.n, rec.simulation.noise
    );
    println!(
        "fit:   `{}` ({} parameters), {}, {} epochs, {} train / {} test samples, {} replicates\n",
        rec.model,
        rec.model_parameters,
        rec.optimizer,
        rec.epochs,
        rec.train_samples,
        rec.test_samples,
        rec.replicates.len()
    );
    print!("{}", table(&rec));
    println!();
    for para in explanation(&rec).lines() {
        println!("- {para}");
    }
    let out = out_dir;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let files = write(&rec, &out, &command)?;
    println!("\nwrote {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(0)
}
