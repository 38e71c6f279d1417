//! `convlab verify`: runs reference fixtures (tests/fixtures/README.md format) of every kind
//! (layer, loss, optimizer, training, schedule) and reports each compared tensor's largest errors.

pub mod compare;
pub mod explain;
pub mod fixture;
pub mod gradcheck;
pub mod layer;
pub mod loss;
pub mod optimizer;
pub mod schedule;
pub mod training;

use crate::error::{Error, Result};
use compare::Comparison;
use fixture::Fixture;
use std::path::{Path, PathBuf};

pub enum Outcome {
    Passed(Vec<Comparison>),
    Failed(Vec<Comparison>),
    /// The fixture could not be run (unsupported or malformed): counts as a failure.
    Error(Error),
    /// Reference arrays for data generators, not a computation (checked by the generators' tests).
    Data,
}

pub fn run_fixture(path: &Path, threads: usize) -> Outcome {
    let f = match Fixture::open(path) {
        Ok(f) => f,
        Err(e) => return Outcome::Error(e),
    };
    let result = match f.kind() {
        "layer" => layer::run(&f),
        "loss" => loss::run(&f),
        "optimizer" => optimizer::run(&f),
        "training" => training::run(&f, threads),
        "explain" => explain::run(&f),
        "schedule" => schedule::run(&f),
        "data" => return Outcome::Data,
        other => Err(Error::data(format!(
            "unknown fixture kind `{other}` (expected layer, loss, optimizer, training, schedule or data)"
        ))),
    };
    match result {
        Ok(c) if c.iter().all(|c| c.passed) => Outcome::Passed(c),
        Ok(c) => Outcome::Failed(c),
        Err(e) => Outcome::Error(e),
    }
}

/// Expands folders into the `.safetensors` files they hold, sorted.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::read(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(Error::read(p, std::io::Error::new(std::io::ErrorKind::NotFound, "it does not exist")));
        }
    }
    Ok(out)
}

/// Runs every file, prints the report to `out`, and returns (passed, failed, skipped).
pub fn run_all(paths: &[PathBuf], threads: usize, out: &mut impl std::io::Write) -> Result<(usize, usize, usize)> {
    report(paths, threads, out).map_err(|e| Error::write(Path::new("the verify report"), e))
}

fn report(paths: &[PathBuf], threads: usize, out: &mut impl std::io::Write) -> std::io::Result<(usize, usize, usize)> {
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    writeln!(out, "(max rel = largest absolute error / largest magnitude of the reference tensor)")?;
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let start = std::time::Instant::now();
        match run_fixture(path, threads) {
            Outcome::Passed(c) | Outcome::Failed(c) if !c.is_empty() => {
                let ok = c.iter().all(|c| c.passed);
                writeln!(out, "{} {name} ({:.2} s)", if ok { "PASS" } else { "FAIL" }, start.elapsed().as_secs_f64())?;
                for cmp in &c {
                    writeln!(out, "{cmp}")?;
                }
                if ok {
                    passed += 1
                } else {
                    failed += 1
                }
            }
            Outcome::Passed(_) | Outcome::Failed(_) => {
                writeln!(out, "FAIL {name}: nothing was compared")?;
                failed += 1;
            }
            Outcome::Error(e) => {
                writeln!(out, "FAIL {name}: {e}")?;
                failed += 1;
            }
            Outcome::Data => {
                writeln!(
                    out,
                    "SKIP {name}: data fixture (reference arrays for the data generators, checked by their tests)"
                )?;
                skipped += 1;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok((passed, failed, skipped))
}
