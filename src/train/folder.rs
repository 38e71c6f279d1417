//! A run folder: `config.toml` (replayable with `--config`), `metrics.jsonl` (one JSON object
//! per epoch), `model.safetensors` (final) and `checkpoint.safetensors` (latest, with the
//! optimizer state, for `--resume`). Every file is written atomically.

use crate::error::{Error, Result};
use crate::fs::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub seconds: f64,
}

pub struct RunFolder {
    pub dir: PathBuf,
}

impl RunFolder {
    /// Creates `dir` for a new run; an existing run is kept unless `force`.
    pub fn create(dir: &Path, force: bool) -> Result<Self> {
        if dir.join("config.toml").exists() && !force {
            return Err(Error::config(format!(
                "{} already holds a run; choose another --out, continue it with --resume {}, or pass --force to overwrite it",
                dir.display(),
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
        let probe = dir.join(".convlab-write-test");
        std::fs::write(&probe, b"").map_err(|e| Error::write(dir, e))?;
        let _ = std::fs::remove_file(probe);
        if force {
            for f in [
                "metrics.jsonl",
                "model.safetensors",
                "checkpoint.safetensors",
                crate::train::snapshots::FILE,
                "report.html",
            ] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        Ok(RunFolder { dir: dir.to_path_buf() })
    }

    /// Opens an existing run for `--resume`.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join("config.toml").exists() {
            return Err(Error::config(format!("{} is not a run folder (no config.toml)", dir.display())));
        }
        Ok(RunFolder { dir: dir.to_path_buf() })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(name), bytes)
    }

    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        let path = self.path("metrics.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(vec![]) };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| Error::data(format!("{}: bad line `{l}`: {e}", path.display())))
            })
            .collect()
    }

    /// Rewrites `metrics.jsonl` with `metrics` (atomic, so a kill never leaves half a line).
    pub fn write_metrics(&self, metrics: &[EpochMetrics]) -> Result<()> {
        let mut text = String::new();
        for m in metrics {
            text.push_str(&serde_json::to_string(m).map_err(|e| Error::numeric(e.to_string()))?);
            text.push('\n');
        }
        self.write("metrics.jsonl", text.as_bytes())
    }
}

/// Refuses to overwrite `existing` (an earlier result) unless `force`.
pub fn refuse_overwrite(existing: &Path, force: bool) -> Result<()> {
    if existing.exists() && !force {
        return Err(Error::config(format!(
            "{} already exists; pass --force to overwrite it, or choose another --out",
            existing.display()
        )));
    }
    Ok(())
}

/// A new dated run name under `runs/`, e.g. `runs/2026-11-22-213405-digits`.
pub fn default_dir(data: &str) -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let name: String =
        data.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(24).collect();
    PathBuf::from(format!("runs/{y:04}-{m:02}-{d:02}-{:02}{:02}{:02}-{name}", rem / 3600, rem / 60 % 60, rem % 60))
}
