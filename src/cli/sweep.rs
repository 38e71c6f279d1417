//! `convlab sweep`: run a grid of trainings over seeds (or a shard of it), and `sweep merge`.

use super::training_args::TrainingArgs;
use crate::study::sweep::results::{self, file_name, Header};
use crate::study::sweep::{grid, write_outputs, Plan, Shard, SweepConfig};
use std::io::IsTerminal;
use std::path::PathBuf;
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
    let mut c = match (&a.config, &a.lab) {
        (Some(p), _) => SweepConfig::from_toml(&std::fs::read_to_string(p).map_err(|e| crate::Error::read(p, e))?)?,
        (None, Some(lab)) => SweepConfig::from_run(&(crate::train::labs::find(lab)?.config)()),
        (None, None) => SweepConfig::default(),
    };
    if let (Some(_), Some(lab)) = (&a.config, &a.lab) {
        return Err(crate::Error::config(format!("give either --config or --lab {lab}, not both")));
    }
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
    let config = config_of(&a)?;
    let plan = Plan::new(config)?;
    // Distinct defaults: a lab's sweep, a config file's sweep and a data set's sweep.
    let name = match (&a.lab, &a.config) {
        (Some(lab), _) => lab.clone(),
        (None, Some(file)) => file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or("sweep".into()),
        (None, None) => plan.config.training.data.chars().take_while(|c| c.is_ascii_alphanumeric()).collect(),
    };
    let dir = a.out.clone().unwrap_or_else(|| PathBuf::from("sweeps").join(name));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::create(&dir, e))?;
    // The shards of one sweep write their own files into one folder, side by side (a job
    // array): each locks only its own part.
    let _lock = if shard == Shard::ALL {
        crate::fs::lock_dir(&dir)?
    } else {
        crate::fs::lock_in(&dir, &format!(".{}.lock", file_name(shard)))?
    };
    let existing = if shard == Shard::ALL { dir.join("summary.json") } else { dir.join(file_name(shard)) };
    crate::train::folder::refuse_overwrite(&existing, a.force)?;
    let total = plan.total_runs();
    let mine = (0..total).filter(|&r| shard.owns(r)).count();
    let jobs = if a.jobs == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { a.jobs };
    if !a.quiet {
        println!(
            "sweep {}: {} grid point{} × {} seeds = {total} runs{}; {jobs} at a time, one thread each",
            plan.config.fingerprint(),
            plan.points.len(),
            if plan.points.len() == 1 { "" } else { "s" },
            plan.config.seeds,
            if shard == Shard::ALL {
                String::new()
            } else {
                format!(", shard {}/{} runs {mine}", shard.index, shard.count)
            },
        );
    }
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| indicatif::ProgressBar::new(mine as u64));
    let start = Instant::now();
    let runs = plan.run(shard, jobs, || {
        if let Some(b) = &bar {
            b.inc(1)
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    if shard != Shard::ALL {
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::create(&dir, e))?;
        let path = dir.join(file_name(shard));
        results::write(&path, &Header::new(&plan.config, shard, total), &runs)?;
        println!("shard {}/{}: {mine} runs in {secs:.1} s → {}", shard.index, shard.count, path.display());
        println!("when every shard is done: convlab sweep merge {}", dir.display());
        return Ok(0);
    }
    let (table, files) = write_outputs(&dir, &plan.config, &plan.points, &runs)?;
    print!("{table}");
    println!(
        "{total} runs in {secs:.1} s; wrote {}",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    );
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
    let (table, out) = write_outputs(&dir, &header.config, &points, &runs)?;
    println!("merged {} shards ({} runs) of sweep {}", files.len(), runs.len(), header.fingerprint);
    print!("{table}");
    println!("wrote {}", out.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(0)
}
