//! `convlab bench --compare-pytorch`: the same workloads in PyTorch (`bench_pytorch.py`, built
//! into the binary), run by a Python that has torch, alternating with convlab's own runs in one
//! sitting, so the ratio is measured, not quoted.

use super::{run_best, Images, Workload};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = include_str!("bench_pytorch.py");

/// The ratio the project aims at per workload (issue: speed), PyTorch's time over ours.
pub fn target_ratio(name: &str) -> f64 {
    match name {
        "mnist-lab" => 8.0,
        "simplecnn-b16" => 7.0,
        "simplecnn-b128" => 5.0,
        "pattern1d" => 50.0,
        _ => 10.0, // infer
    }
}

/// A Python with torch: `$CONVLAB_PYTHON`, else `python3`.
pub struct TorchPython {
    python: String,
    script: PathBuf,
    pub version: String,
}

impl TorchPython {
    pub fn find() -> Result<TorchPython> {
        let python = std::env::var("CONVLAB_PYTHON").unwrap_or_else(|_| "python3".into());
        let out = Command::new(&python).args(["-c", "import torch; print(torch.__version__)"]).output();
        let version = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            _ => {
                return Err(Error::config(format!(
                    "--compare-pytorch needs a Python with PyTorch, and `{python}` has none: install it (`pip install torch`; the CPU-only wheels are smaller: `pip install torch --index-url https://download.pytorch.org/whl/cpu`) or point CONVLAB_PYTHON at a Python that has it"
                )))
            }
        };
        let script = std::env::temp_dir().join(format!("convlab-bench-pytorch-{}.py", std::process::id()));
        crate::fs::write_atomic(&script, SCRIPT.as_bytes())?;
        Ok(TorchPython { python, script, version })
    }

    /// Seconds of one PyTorch run of `w` on `threads` threads.
    pub fn run(&self, w: &Workload, threads: usize) -> Result<f64> {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .args([w.name, &threads.to_string()])
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .output()
            .map_err(|e| Error::config(format!("cannot run {}: {e}", self.python)))?;
        if !out.status.success() {
            return Err(Error::config(format!(
                "the PyTorch run of {} failed: {}",
                w.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.trim().lines().last().unwrap_or(""))
            .map_err(|e| Error::config(format!("the PyTorch run of {} printed no result ({e}): {text}", w.name)))?;
        v["seconds"].as_f64().ok_or_else(|| Error::config(format!("the PyTorch run of {} printed no seconds", w.name)))
    }
}

impl Drop for TorchPython {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.script);
    }
}

/// One workload side by side: the fastest of `runs` alternating runs each.
pub struct Comparison {
    pub workload: &'static str,
    pub convlab_seconds: f64,
    pub pytorch_seconds: f64,
    /// The PyTorch thread count of its fastest run (the better of 1 and all cores).
    pub pytorch_threads: usize,
}

impl Comparison {
    pub fn ratio(&self) -> f64 {
        self.pytorch_seconds / self.convlab_seconds
    }
}

/// Alternates convlab's run of `w` with PyTorch's on 1 thread and on `cores`, `runs` times.
pub fn compare(
    w: &'static Workload,
    images: &Images,
    threads: usize,
    runs: usize,
    torch: &TorchPython,
) -> Result<Comparison> {
    let cores = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let (mut ours, mut theirs, mut their_threads) = (f64::INFINITY, f64::INFINITY, 1);
    for _ in 0..runs {
        ours = ours.min(run_best(w, images, threads, 1)?.seconds);
        for t in if cores > 1 { vec![1, cores] } else { vec![1] } {
            let s = torch.run(w, t)?;
            if s < theirs {
                (theirs, their_threads) = (s, t);
            }
        }
    }
    Ok(Comparison { workload: w.name, convlab_seconds: ours, pytorch_seconds: theirs, pytorch_threads: their_threads })
}
