//! `convlab sweep`: a grid of trainings (seeds × settings), one run per core, summarised by
//! success rate; shardable across machines and merged back bit for bit.

use crate::error::{Error, Result};
pub mod config;
pub mod criterion;
pub mod grid;
pub mod results;
pub mod runner;
pub mod summary;

pub use config::SweepConfig;
pub use runner::{Plan, RunResult, Shard};

use grid::Point;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What a whole sweep's results say, and where they went.
pub struct Written {
    /// The per-point table `summary.txt` holds.
    pub table: String,
    pub summary: Vec<summary::PointSummary>,
    pub files: Vec<PathBuf>,
}

/// Writes a whole sweep's `runs.jsonl`, `summary.json`, `summary.txt`, `final-loss.png` and
/// `sweep.toml` into `dir`.
pub fn write_outputs(dir: &Path, config: &SweepConfig, points: &[Point], runs: &[RunResult]) -> Result<Written> {
    use crate::fs::write_atomic;
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    let header = results::Header::new(config, Shard::ALL, runs.len());
    let criterion = config.success.clone().unwrap_or_default();
    let s = summary::summarise(points, runs);
    let table = summary::table(points, &s, &criterion);
    let mut files = vec![];
    let path = dir.join(results::file_name(Shard::ALL));
    results::write(&path, &header, runs)?;
    files.push(path);
    let json = serde_json::json!({ "fingerprint": header.fingerprint, "success": criterion, "points": s });
    let path = dir.join("summary.json");
    write_atomic(
        &path,
        (serde_json::to_string_pretty(&json).expect("a JSON value always serialises") + "\n").as_bytes(),
    )?;
    files.push(path);
    let path = dir.join("summary.txt");
    write_atomic(&path, table.as_bytes())?;
    files.push(path);
    let path = dir.join("final-loss.png");
    summary::plot(points, &s, runs, &path)?;
    files.push(path);
    let path = dir.join("sweep.toml");
    write_atomic(&path, config.to_toml().as_bytes())?;
    files.push(path);
    Ok(Written { table, summary: s, files })
}

/// The results folder of a sweep without `--out`: `sweeps/LAB`, `sweeps/CONFIG-FILE-NAME` or
/// `sweeps/DATA`, so sweeps of different setups do not collide.
pub fn default_dir(lab: Option<&str>, config: Option<&Path>, data: &str) -> PathBuf {
    let name = match (lab, config) {
        (Some(lab), _) => lab.to_string(),
        (None, Some(file)) => file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or("sweep".into()),
        (None, None) => data.chars().take_while(|c| c.is_ascii_alphanumeric()).collect(),
    };
    PathBuf::from("sweeps").join(name)
}

/// How a sweep (or a shard of it) ended.
pub struct Outcome {
    /// The shard's runs, in run order.
    pub runs: Vec<RunResult>,
    /// The whole sweep's summary; `None` for a shard, whose results wait for `sweep merge`.
    pub written: Option<Written>,
    /// The shard's results file (`runs-shard-I-of-N.jsonl`); `None` for a whole sweep.
    pub shard_file: Option<PathBuf>,
}

/// `convlab sweep` (and Python's `sweep`): runs `plan`'s runs of `shard` on `jobs` threads into
/// `dir`, refusing to overwrite earlier results unless `force`; calls `done` after each run;
/// once `stop` is set, stops early and writes nothing ([`Plan::run`]).
pub fn run(
    plan: &Plan,
    dir: &Path,
    shard: Shard,
    jobs: usize,
    force: bool,
    done: impl Fn() + Sync,
    stop: &AtomicBool,
) -> Result<Outcome> {
    crate::data::limits::check_jobs(jobs)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    // The shards of one sweep write their own files into one folder, side by side (a job
    // array): each locks only its own part.
    let _lock = if shard == Shard::ALL {
        crate::fs::lock_dir(dir)?
    } else {
        crate::fs::lock_in(dir, &format!(".{}.lock", results::file_name(shard)))?
    };
    let existing = if shard == Shard::ALL { dir.join("summary.json") } else { dir.join(results::file_name(shard)) };
    crate::train::folder::refuse_overwrite(&existing, force)?;
    let runs = plan.run(shard, jobs, done, stop)?;
    if shard != Shard::ALL {
        let path = dir.join(results::file_name(shard));
        results::write(&path, &results::Header::new(&plan.config, shard, plan.total_runs()), &runs)?;
        return Ok(Outcome { runs, written: None, shard_file: Some(path) });
    }
    let written = write_outputs(dir, &plan.config, &plan.points, &runs)?;
    Ok(Outcome { runs, written: Some(written), shard_file: None })
}
