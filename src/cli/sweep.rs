//! `convlab sweep`: run a grid of trainings over seeds (or a shard of it), and `sweep merge`.

use super::training_args::TrainingArgs;
use crate::study::sweep::{self, default_dir, grid, results, write_outputs, Plan, Shard, SweepConfig};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Combine the shards' files (runs-shard-I-of-N.jsonl) into the whole sweep's results
    Merge(MergeArgs),
}

#[derive(clap::Args)]
struct MergeArgs {
    /// Shard files, or folders holding them
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Folder for the merged results (default: the first input's folder)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an earlier merged sweep in the output folder
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Settings from a TOML file (the keys below, and a [grid] table); flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from a lab's setup (e.g. pattern1d: SGD .05/.9/1e-3, full batch, 500 epochs, numpy init)
    #[arg(long)]
    lab: Option<String>,
    #[command(flatten)]
    training: TrainingArgs,
    /// Seeds per grid point
    #[arg(long)]
    seeds: Option<usize>,
    /// First seed
    #[arg(long)]
    seed_start: Option<u64>,
    /// A setting to vary, KEY=V1,V2,... (repeat for more keys): filters, lr, momentum, weight_decay, epochs, batch_size, optimizer, model, data, loss, rng
    #[arg(long)]
    grid: Vec<String>,
    /// Success criterion, e.g. 'train_accuracy >= 1' (default for classification) or 'train_loss < 0.05' (default otherwise)
    #[arg(long)]
    success: Option<String>,
    /// Runs at once (0 = all cores); each run uses one thread
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Run only shard I of N (runs whose index is I mod N) and write its partial results
    #[arg(long)]
    shard: Option<String>,
    /// Results folder [default: sweeps/LAB, sweeps/CONFIG-FILE-NAME or sweeps/DATA]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite earlier results in the output folder
    #[arg(long)]
    force: bool,
    /// Print only the summary
    #[arg(long)]
    quiet: bool,
}

fn config_of(a: &RunArgs) -> crate::Result<SweepConfig> {
    let mut c = SweepConfig::base(a.config.as_deref(), a.lab.as_deref())?;
    a.training.apply(&mut c.training)?;
    if let Some(v) = a.seeds {
        c.seeds = v;
    }
    if let Some(v) = a.seed_start {
        c.seed_start = v;
    }
    if let Some(v) = &a.success {
        c.success = Some(v.clone());
    }
    let mut given = std::collections::BTreeSet::new();
    for g in &a.grid {
        let (k, v) = grid::parse_flag(g)?;
        if !given.insert(k.clone()) {
            return Err(crate::Error::config(format!(
                "--grid {k}=... is given twice; list all values in one: {k}=A,B,C"
            )));
        }
        c.grid.insert(k, v);
    }
    Ok(c)
}

pub fn run(a: Args) -> crate::Result<i32> {
    if let Some(Sub::Merge(m)) = a.command {
        return merge(m);
    }
    let a = a.run;
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?.unwrap_or(Shard::ALL);
    crate::data::limits::check_jobs(a.jobs)?;
    let plan = Plan::new(config_of(&a)?)?;
    let dir =
        a.out.clone().unwrap_or_else(|| default_dir(a.lab.as_deref(), a.config.as_deref(), &plan.config.training.data));
    let total = plan.total_runs();
    let mine = (0..total).filter(|&r| shard.owns(r)).count();
    if !a.quiet {
        println!("{}", plan.header(shard, a.jobs));
    }
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| indicatif::ProgressBar::new(mine as u64));
    let start = Instant::now();
    let done = || {
        if let Some(b) = &bar {
            b.inc(1)
        }
    };
    let outcome = sweep::run(&plan, &dir, shard, a.jobs, a.force, done, &AtomicBool::new(false))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    match (outcome.written, outcome.shard_file) {
        (Some(w), _) => {
            print!("{}", w.table);
            println!(
                "{total} runs in {secs:.1} s; wrote {}",
                w.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        (None, path) => {
            let path = path.unwrap_or_default();
            println!("shard {}/{}: {mine} runs in {secs:.1} s → {}", shard.index, shard.count, path.display());
            println!("when every shard is done: convlab sweep merge {}", dir.display());
        }
    }
    Ok(0)
}

fn merge(m: MergeArgs) -> crate::Result<i32> {
    let files = results::shard_files(&m.inputs)?;
    let (header, runs) = results::merge(&files)?;
    let points = grid::points(&header.config.grid)?;
    let dir = m.out.clone().unwrap_or_else(|| {
        let first = &m.inputs[0];
        if first.is_dir() {
            first.clone()
        } else {
            first.parent().map(PathBuf::from).unwrap_or_default()
        }
    });
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::create(&dir, e))?;
    let _lock = crate::fs::lock_dir(&dir)?;
    crate::train::folder::refuse_overwrite(&dir.join("summary.json"), m.force)?;
    let w = write_outputs(&dir, &header.config, &points, &runs)?;
    println!("merged {} shards ({} runs) of sweep {}", files.len(), runs.len(), header.fingerprint);
    print!("{}", w.table);
    println!("wrote {}", w.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(0)
}
