//! Running a sweep: every (grid point, seed) is one run, trained on one thread; runs are
//! spread over a pool of `jobs` threads. A run's result depends only on its grid point and
//! seed, and results are collected in run order, so the output is bit-identical for any
//! number of cores and any sharding.

use super::config::SweepConfig;
use super::criterion::Criterion;
use super::grid::{apply, points, Point};
use crate::error::{Error, Result};
use crate::train::run::{prepare, train_interruptible, Prepared};
use crate::train::step::has_accuracy;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// A run that `stop` ended early (its result is not kept).
const INTERRUPTED: &str = "interrupted";

/// A sweep ready to run: the resolved configuration, its points, their data and models.
pub struct Plan {
    pub config: SweepConfig,
    pub points: Vec<Point>,
    pub criterion: Criterion,
    prepared: Vec<Prepared>,
}

/// `--jobs`: 0 is all cores.
pub fn resolve_jobs(jobs: usize) -> usize {
    if jobs == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        jobs
    }
}

/// What one run left: its place in the sweep and how training ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Index in the sweep: point × seeds + seed offset.
    pub run: usize,
    pub point: BTreeMap<String, String>,
    pub seed: u64,
    pub final_train_loss: Option<f64>,
    pub final_train_accuracy: Option<f64>,
    pub final_test_loss: Option<f64>,
    pub final_test_accuracy: Option<f64>,
    pub success: bool,
    /// The epoch from which the criterion held to the end.
    pub epochs_to_success: Option<usize>,
    /// Why training stopped early (e.g. a NaN loss); such a run counts as a failure.
    pub error: Option<String>,
}

/// `--shard I/N`: this process runs the runs whose index is I modulo N.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::config(format!("--shard `{text}` is not I/N with 0 ≤ I < N, e.g. 0/4 (shards are numbered from 0)"))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn owns(&self, run: usize) -> bool {
        run % self.count == self.index
    }
}

impl Plan {
    /// Checks the whole sweep before any run: the grid, every point's data and model, and the
    /// criterion (chosen from the task when not given).
    pub fn new(mut config: SweepConfig) -> Result<Self> {
        if config.seeds == 0 {
            return Err(Error::config("--seeds must be at least 1"));
        }
        // A run's success is judged at its last epoch.
        if config.training.epochs == 0 {
            return Err(Error::config("a sweep's --epochs must be at least 1"));
        }
        // Seeds are written to TOML and JSON, whose integers stop at i64::MAX.
        if config.seed_start.checked_add(config.seeds as u64).is_none_or(|end| end > i64::MAX as u64) {
            return Err(Error::config(format!(
                "--seed-start {} with {} seeds goes past {}; use smaller seeds",
                config.seed_start,
                config.seeds,
                i64::MAX
            )));
        }
        // Count the runs before building the grid: a product of many value lists is huge.
        let max = crate::data::limits::MAX_SWEEP_RUNS;
        let runs = config.grid.values().try_fold(config.seeds, |acc, v| acc.checked_mul(v.len().max(1)));
        if runs.is_none_or(|r| r > max) {
            return Err(Error::config(format!(
                "the sweep would train more than {max} runs (grid points × seeds); split it into several sweeps or use fewer seeds or values"
            )));
        }
        let points = points(&config.grid)?;
        let mut prepared = vec![];
        for p in &points {
            let cfg = apply(&config.run_config(config.data_seed), p)?;
            let prep = prepare(&cfg).map_err(|e| Error::config(format!("grid point {}: {e}", p.label())))?;
            prepared.push(prep);
        }
        let first = &prepared[0];
        // The criterion must make sense at every grid point (a grid over the loss can mix tasks).
        let accuracy = prepared.iter().all(|p| has_accuracy(p.loss, p.model.output().len()));
        let text = config
            .success
            .clone()
            .unwrap_or_else(|| if accuracy { "train_accuracy >= 1" } else { "train_loss < 0.05" }.to_string());
        let criterion = Criterion::parse(&text)?;
        if criterion.needs_accuracy() && !accuracy {
            return Err(Error::config(format!(
                "the success criterion `{criterion}` needs accuracy, but this task ({} loss) has none; use e.g. --success 'train_loss < 0.05'",
                first.loss.name()
            )));
        }
        config.success = Some(criterion.to_string());
        Ok(Plan { config, points, criterion, prepared })
    }

    pub fn total_runs(&self) -> usize {
        self.points.len() * self.config.seeds
    }

    /// The line a sweep starts with: its fingerprint, grid points, seeds, runs and threads.
    pub fn header(&self, shard: Shard, jobs: usize) -> String {
        let total = self.total_runs();
        let mine = (0..total).filter(|&r| shard.owns(r)).count();
        format!(
            "sweep {}: {} grid point{} × {} seeds = {total} runs{}; {} at a time, one thread each",
            self.config.fingerprint(),
            self.points.len(),
            if self.points.len() == 1 { "" } else { "s" },
            self.config.seeds,
            if shard == Shard::ALL {
                String::new()
            } else {
                format!(", shard {}/{} runs {mine}", shard.index, shard.count)
            },
            resolve_jobs(jobs)
        )
    }

    fn run_one(&self, run: usize, stop: &AtomicBool) -> RunResult {
        let (p, offset) = (run / self.config.seeds, run % self.config.seeds);
        let seed = self.config.seed_start + offset as u64;
        let mut result = RunResult {
            run,
            point: self.points[p].to_map(),
            seed,
            final_train_loss: None,
            final_train_accuracy: None,
            final_test_loss: None,
            final_test_accuracy: None,
            success: false,
            epochs_to_success: None,
            error: None,
        };
        // The data seed stays fixed; the run's seed sets weights and batch order.
        let cfg = match apply(&self.config.run_config(seed), &self.points[p]) {
            Ok(c) => c,
            Err(e) => {
                result.error = Some(e.to_string());
                return result;
            }
        };
        let prep = &self.prepared[p];
        let mut model = prep.model.clone();
        cfg.init(&mut model, seed);
        match train_interruptible(&cfg, prep, model, true, stop) {
            Ok(out) if out.interrupted => result.error = Some(INTERRUPTED.into()),
            Ok(out) => {
                if let Some(m) = out.metrics.last() {
                    result.final_train_loss = Some(m.train_loss);
                    result.final_train_accuracy = m.train_accuracy;
                    result.final_test_loss = m.test_loss;
                    result.final_test_accuracy = m.test_accuracy;
                }
                (result.success, result.epochs_to_success) = self.criterion.judge(&out.metrics);
            }
            Err(e) => result.error = Some(e.to_string()),
        }
        result
    }

    /// Runs this shard's runs on `jobs` threads (0 = all cores), calling `done` after each. Once
    /// `stop` is set (a Python caller's Ctrl-C), runs end after their step under way, the rest
    /// do not start, and this returns an error.
    pub fn run(&self, shard: Shard, jobs: usize, done: impl Fn() + Sync, stop: &AtomicBool) -> Result<Vec<RunResult>> {
        let runs: Vec<usize> = (0..self.total_runs()).filter(|&r| shard.owns(r)).collect();
        crate::data::limits::check_jobs(jobs)?;
        let jobs = resolve_jobs(jobs);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| Error::config(format!("cannot start {jobs} threads: {e}")))?;
        let results: Vec<RunResult> = pool.install(|| {
            runs.par_iter()
                .map(|&r| {
                    let out = self.run_one(r, stop);
                    done();
                    out
                })
                .collect()
        });
        if stop.load(Ordering::Relaxed) {
            return Err(Error::config("the sweep was interrupted before its runs finished; nothing was written"));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_runs_and_refuse_bad_indices() {
        let s = Shard::parse("1/3").unwrap();
        assert_eq!((0..9).filter(|&r| s.owns(r)).collect::<Vec<_>>(), [1, 4, 7]);
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2"] {
            assert!(Shard::parse(bad).unwrap_err().to_string().contains("0 ≤ I < N"), "{bad}");
        }
    }
}
