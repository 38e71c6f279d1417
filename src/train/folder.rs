//! A run folder: `config.toml` (replayable with `--config`), `metrics.jsonl` (one JSON object
//! per epoch), `model.safetensors` (final) and `checkpoint.safetensors` (latest, with the
//! optimizer state, for `--resume`). Every file is written atomically.

use crate::error::{Error, Result};
use crate::fs::{lock_dir, write_atomic, DirLock};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub seconds: f64,
    /// The learning rate of the epoch (with `onecycle`, which changes it every batch: the rate
    /// of its last batch). Absent in files of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// The loss of the epoch's last batch, before its update (what tutorial 002 prints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_batch_loss: Option<f64>,
}

/// A run's folder, locked while this value lives (a second command on it is refused).
pub struct RunFolder {
    pub dir: PathBuf,
    _lock: DirLock,
    /// With `--force` over an earlier run: where its files wait until the new run has finished.
    /// Dropping the folder before [`RunFolder::finish`] puts them back, so a failed (or full
    /// disk) replacement leaves the earlier run as it was.
    replaced: Option<PathBuf>,
}

/// The files of a run, moved aside together by `--force`.
const RUN_FILES: &[&str] = &[
    "config.toml",
    METRICS,
    "model.safetensors",
    super::checkpoint::FILE,
    super::snapshots::FILE,
    super::early_stop::FILE,
    "report.html",
];

impl RunFolder {
    /// Creates `dir` for a new run; an existing run is kept unless `force`, and then only
    /// replaced once the new run has finished (see [`RunFolder::finish`]).
    pub fn create(dir: &Path, force: bool) -> Result<Self> {
        let holds_run = dir.join("config.toml").exists();
        if holds_run && !force {
            return Err(Error::config(format!(
                "{} already holds a run; choose another --out, continue it with --resume {}, or pass --force to overwrite it",
                dir.display(),
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
        let lock = lock_dir(dir)?;
        let mut folder = RunFolder { dir: dir.to_path_buf(), _lock: lock, replaced: None };
        if holds_run {
            let aside = dir.join(format!(".replaced-{}", std::process::id()));
            std::fs::create_dir_all(&aside).map_err(|e| Error::create(&aside, e))?;
            folder.replaced = Some(aside.clone());
            for f in RUN_FILES {
                let from = dir.join(f);
                if from.exists() {
                    std::fs::rename(&from, aside.join(f)).map_err(|e| Error::write(&from, e))?;
                }
            }
        }
        Ok(folder)
    }

    /// Opens an existing run for `--resume`.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join("config.toml").exists() {
            return Err(Error::config(format!("{} is not a run folder (no config.toml)", dir.display())));
        }
        Ok(RunFolder { dir: dir.to_path_buf(), _lock: lock_dir(dir)?, replaced: None })
    }

    /// The run has finished: an earlier run it replaced (`--force`) is deleted.
    pub fn finish(&mut self) {
        if let Some(aside) = self.replaced.take() {
            let _ = std::fs::remove_dir_all(aside);
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(name), bytes)
    }

    /// The epochs recorded in `metrics.jsonl` (see [`read_metrics`]).
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        read_metrics(&self.dir)
    }

    /// Replaces `metrics.jsonl` with `metrics` (atomically).
    pub fn write_metrics(&self, metrics: &[EpochMetrics]) -> Result<()> {
        let mut text = String::new();
        for m in metrics {
            text.push_str(&metrics_line(m)?);
        }
        self.write(METRICS, text.as_bytes())
    }

    /// Appends one epoch to `metrics.jsonl`. Appending keeps long runs linear in their epochs;
    /// a line torn by a kill is ignored by `read_metrics`, and `--resume` rewrites the file up
    /// to its checkpoint.
    pub fn append_metrics(&self, m: &EpochMetrics) -> Result<()> {
        let path = self.path(METRICS);
        let line = metrics_line(m)?;
        let mut f =
            std::fs::OpenOptions::new().append(true).create(true).open(&path).map_err(|e| Error::write(&path, e))?;
        f.write_all(line.as_bytes()).map_err(|e| Error::write(&path, e))
    }
}

impl Drop for RunFolder {
    /// A replacement that did not finish: the new run's files go, the earlier run's come back.
    fn drop(&mut self) {
        let Some(aside) = self.replaced.take() else { return };
        for f in RUN_FILES {
            let _ = std::fs::remove_file(self.dir.join(f));
            let _ = std::fs::rename(aside.join(f), self.dir.join(f));
        }
        let _ = std::fs::remove_dir_all(aside);
    }
}

/// The epochs recorded in `dir`'s `metrics.jsonl`, read without locking the run. A torn last line (the process was killed while
/// writing it) is left out: that epoch is trained again on `--resume`.
pub fn read_metrics(dir: &Path) -> Result<Vec<EpochMetrics>> {
    let path = dir.join(METRICS);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::read(&path, e)),
    };
    let complete = if text.ends_with('\n') { text.as_str() } else { &text[..text.rfind('\n').map_or(0, |i| i + 1)] };
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                Error::data(format!(
                    "{} line {}: not an epoch's metrics ({e}); the file was changed by hand or damaged",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

/// The run's per-epoch metrics file, one JSON object a line.
pub const METRICS: &str = "metrics.jsonl";

fn metrics_line(m: &EpochMetrics) -> Result<String> {
    let json = serde_json::to_string(m).map_err(|e| Error::numeric(format!("epoch {}'s metrics: {e}", m.epoch)))?;
    Ok(json + "\n")
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

/// Makes a new dated run folder in `root` (`runs`), e.g. `runs/2026-11-22-213405-digits`,
/// with `-2`, `-3`, ... appended when that name is taken (two runs started in the same second).
pub fn new_default_dir(root: &Path, data: &str) -> Result<PathBuf> {
    let base = root.join(dated_name(data));
    std::fs::create_dir_all(root).map_err(|e| Error::create(root, e))?;
    for k in 1..=1000 {
        let dir = if k == 1 { base.clone() } else { PathBuf::from(format!("{}-{k}", base.display())) };
        // create_dir is atomic: of two processes asking for one name, one gets it.
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::create(&dir, e)),
        }
    }
    Err(Error::config(format!("{}: a thousand runs of this second exist already; give --out", base.display())))
}

fn dated_name(data: &str) -> PathBuf {
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
    PathBuf::from(format!("{y:04}-{m:02}-{d:02}-{:02}{:02}{:02}-{name}", rem / 3600, rem / 60 % 60, rem % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: usize) -> EpochMetrics {
        EpochMetrics {
            epoch: e,
            train_loss: 0.5,
            train_accuracy: None,
            test_loss: None,
            test_accuracy: None,
            seconds: 0.1,
            ..EpochMetrics::default()
        }
    }

    #[test]
    fn metrics_append_and_a_torn_last_line_is_left_out() {
        let dir = std::env::temp_dir().join(format!("convlab-folder-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = RunFolder::create(&dir, false).unwrap();
        f.write_metrics(&[epoch(1)]).unwrap();
        f.append_metrics(&epoch(2)).unwrap();
        assert_eq!(f.read_metrics().unwrap(), [epoch(1), epoch(2)]);
        // A kill in the middle of a line.
        let mut text = std::fs::read_to_string(f.path(METRICS)).unwrap();
        text.push_str("{\"epoch\":3,\"train_lo");
        std::fs::write(f.path(METRICS), text).unwrap();
        assert_eq!(f.read_metrics().unwrap(), [epoch(1), epoch(2)]);
        // A damaged complete line is an error that says where.
        std::fs::write(f.path(METRICS), "{\"epoch\":1}\n").unwrap();
        let e = f.read_metrics().unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("damaged"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_names_never_collide() {
        let root = std::env::temp_dir().join(format!("convlab-names-test-{}", std::process::id()));
        let dirs: Vec<PathBuf> = (0..3).map(|_| new_default_dir(&root, "digits").unwrap()).collect();
        assert!(dirs[0] != dirs[1] && dirs[1] != dirs[2] && dirs[0] != dirs[2], "{dirs:?}");
        assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
