//! A sweep's results file: JSON lines, a header (the sweep's configuration, fingerprint and
//! shard) and then one line per run in run order. Shards write their part; `merge` checks the
//! parts are of one sweep, each shard once and complete, and writes the same file an
//! unsharded sweep writes.

use super::config::SweepConfig;
use super::runner::{RunResult, Shard};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub convlab_sweep: u32,
    pub fingerprint: String,
    pub shard: Shard,
    /// Runs in the whole sweep (all shards).
    pub runs: usize,
    pub config: SweepConfig,
}

impl Header {
    pub fn new(config: &SweepConfig, shard: Shard, runs: usize) -> Self {
        Header { convlab_sweep: 1, fingerprint: config.fingerprint(), shard, runs, config: config.clone() }
    }
}

/// `runs.jsonl` for a whole sweep, `runs-shard-I-of-N.jsonl` for a shard.
pub fn file_name(shard: Shard) -> String {
    if shard == Shard::ALL {
        "runs.jsonl".into()
    } else {
        format!("runs-shard-{}-of-{}.jsonl", shard.index, shard.count)
    }
}

pub fn write(path: &Path, header: &Header, runs: &[RunResult]) -> Result<()> {
    let mut text = serde_json::to_string(header).expect("a Header always serialises") + "\n";
    for r in runs {
        text += &(serde_json::to_string(r).expect("a RunResult always serialises") + "\n");
    }
    write_atomic(path, text.as_bytes())
}

pub fn read(path: &Path) -> Result<(Header, Vec<RunResult>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines
        .next()
        .ok_or_else(|| Error::config(format!("{} is empty; is it a sweep's results file?", path.display())))?;
    let header: Header = serde_json::from_str(first).map_err(|e| {
        Error::config(format!(
            "{}: the first line is not a sweep header ({e}); is it a sweep's results file?",
            path.display()
        ))
    })?;
    let runs = lines
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::config(format!("{}: line {}: {e}", path.display(), i + 2)))
        })
        .collect::<Result<Vec<RunResult>>>()?;
    Ok((header, runs))
}

/// The shard files among `inputs`: files as given, folders searched for `runs-shard-*.jsonl`.
pub fn shard_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = vec![];
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::read(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let n = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    n.starts_with("runs-shard-") && n.ends_with(".jsonl")
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(Error::config(format!("{} does not exist", p.display())));
        }
    }
    if files.is_empty() {
        return Err(Error::config("no shard files (runs-shard-I-of-N.jsonl) found; give the shards' folder or files"));
    }
    Ok(files)
}

/// Combines shard files into the whole sweep's header and runs.
pub fn merge(files: &[PathBuf]) -> Result<(Header, Vec<RunResult>)> {
    let mut parts = vec![];
    for f in files {
        parts.push((f, read(f)?));
    }
    for (file, (h, _)) in &parts {
        let max = crate::data::limits::MAX_SWEEP_RUNS;
        if h.runs > max || h.shard.count == 0 || h.shard.index >= h.shard.count || h.shard.count > h.runs.max(1) {
            return Err(Error::config(format!(
                "{}: the header claims shard {}/{} of {} runs, which is impossible (shards are \
                 I/N with 0 ≤ I < N ≤ runs, sweeps at most {max} runs); the file was edited or \
                 damaged: run that shard again",
                file.display(),
                h.shard.index,
                h.shard.count,
                h.runs
            )));
        }
    }
    let (first_file, (h0, _)) = &parts[0];
    let n = h0.shard.count;
    let mut seen: std::collections::BTreeMap<usize, &PathBuf> = Default::default();
    let mut runs = vec![];
    for (file, (h, part)) in &parts {
        if h.fingerprint != h0.fingerprint || h.config != h0.config {
            return Err(Error::config(format!(
                "{} is from another sweep than {} (fingerprint {} vs {}); merge only the shards of one sweep",
                file.display(),
                first_file.display(),
                h.fingerprint,
                h0.fingerprint
            )));
        }
        if h.shard.count != n || h.runs != h0.runs {
            return Err(Error::config(format!(
                "{} is shard {}/{} but {} is {}/{}; all shards must split the sweep the same way",
                file.display(),
                h.shard.index,
                h.shard.count,
                first_file.display(),
                h0.shard.index,
                n
            )));
        }
        if let Some(other) = seen.insert(h.shard.index, file) {
            return Err(Error::config(format!(
                "shard {}/{n} is given twice: {} and {}",
                h.shard.index,
                other.display(),
                file.display()
            )));
        }
        // Runs i, i+n, i+2n, ... below the total.
        let expected = h.runs / n + usize::from(h.shard.index < h.runs % n);
        if let Some(r) = part.iter().find(|r| !h.shard.owns(r.run) || r.run >= h.runs) {
            return Err(Error::config(format!(
                "{} holds run {}, which does not belong to shard {}/{n} (its runs are {}, {}, ... \
                 below {}); the file was edited or mixed up: run that shard again",
                file.display(),
                r.run,
                h.shard.index,
                h.shard.index,
                h.shard.index + n,
                h.runs
            )));
        }
        if part.len() != expected {
            return Err(Error::config(format!(
                "{} holds {} runs but shard {}/{n} has {expected}; it did not finish (or was edited): run it again",
                file.display(),
                part.len(),
                h.shard.index
            )));
        }
        runs.extend(part.iter().cloned());
    }
    if let Some(missing) = (0..n).find(|i| !seen.contains_key(i)) {
        return Err(Error::config(format!(
            "shard {missing}/{n} is missing; run it (convlab sweep ... --shard {missing}/{n}) and merge again"
        )));
    }
    runs.sort_by_key(|r| r.run);
    if runs.windows(2).any(|w| w[0].run == w[1].run) {
        return Err(Error::config("a run appears in two shards; the files were edited"));
    }
    Ok((Header { shard: Shard::ALL, ..h0.clone() }, runs))
}
