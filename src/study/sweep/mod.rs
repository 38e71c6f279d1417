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

/// Writes a whole sweep's `runs.jsonl`, `summary.json`, `summary.txt`, `final-loss.png` and
/// `sweep.toml` into `dir`; returns the summary table and the files.
pub fn write_outputs(
    dir: &Path,
    config: &SweepConfig,
    points: &[Point],
    runs: &[RunResult],
) -> Result<(String, Vec<PathBuf>)> {
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
    Ok((table, files))
}
