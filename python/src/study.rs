//! `convlab_rs.sweep`, `simulate` and `recover`: the studies, over the same library entries
//! as `convlab sweep`, `simulate` and `recover`. Tables of results cross as JSON text, which
//! the Python layer turns into lists of dicts.

use crate::arrays::matrix;
use crate::errors::OrPy;
use crate::interrupt::interruptible;
use crate::model::Model;
use convlab::model::presets;
use convlab::study::recover::{self as recovery, RecoverOptions};
use convlab::study::recover_report::{explanation, heading, table, to_json};
use convlab::study::simulate::{self as simulation, SimSpec};
use convlab::study::sweep::{self as sweeps, default_dir, Plan, Shard, SweepConfig};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes `text` to Python's stdout at once (a notebook shows it as it comes).
fn say(py: Python<'_>, text: &str) {
    // A stdout that cannot be written (closed) is not worth stopping the study for.
    let _ = py.import("sys").and_then(|sys| {
        let out = sys.getattr("stdout")?;
        out.call_method1("write", (text,))?;
        out.call_method0("flush")
    });
}

fn paths(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| f.display().to_string()).collect()
}

/// Runs a sweep (see the Python wrapper): `settings` is a JSON object of sweep.toml's keys.
#[pyfunction]
#[pyo3(signature = (settings, lab=None, config=None, out=None, shard=None, jobs=0, force=false, progress=true))]
#[allow(clippy::too_many_arguments)]
pub fn sweep<'py>(
    py: Python<'py>,
    settings: &str,
    lab: Option<&str>,
    config: Option<PathBuf>,
    out: Option<PathBuf>,
    shard: Option<&str>,
    jobs: usize,
    force: bool,
    progress: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let shard = shard.map(Shard::parse).transpose().or_py()?.unwrap_or(Shard::ALL);
    convlab::data::limits::check_jobs(jobs).or_py()?;
    let mut c = SweepConfig::base(config.as_deref(), lab).or_py()?;
    let values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(settings)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("sweep settings: {e}")))?;
    c.override_with(values).or_py()?;
    let plan = py.detach(|| Plan::new(c)).or_py()?;
    let dir = out.unwrap_or_else(|| default_dir(lab, config.as_deref(), &plan.config.training.data));
    let total = (0..plan.total_runs()).filter(|&r| shard.owns(r)).count();
    if progress {
        say(py, &format!("{}\n", plan.header(shard, jobs)));
    }
    let finished = AtomicUsize::new(0);
    let done = || {
        let k = finished.fetch_add(1, Ordering::Relaxed) + 1;
        if progress {
            Python::attach(|py| say(py, &format!("\r{k}/{total} runs done")));
        }
    };
    let (outcome, signal) = interruptible(py, |stop| sweeps::run(&plan, &dir, shard, jobs, force, done, stop));
    if progress && finished.load(Ordering::Relaxed) > 0 {
        say(py, "\n");
    }
    signal?;
    let outcome = outcome.or_py()?;
    let d = PyDict::new(py);
    d.set_item("folder", dir.display().to_string())?;
    d.set_item("runs", serde_json::to_string(&outcome.runs).expect("run results always serialise"))?;
    d.set_item("fingerprint", plan.config.fingerprint())?;
    d.set_item("success", plan.config.success.clone())?;
    match &outcome.written {
        Some(w) => {
            d.set_item("summary", serde_json::to_string(&w.summary).expect("a summary always serialises"))?;
            d.set_item("table", &w.table)?;
            d.set_item("files", paths(&w.files))?;
            if progress {
                say(py, &w.table);
            }
        }
        None => {
            d.set_item("summary", "null")?;
            d.set_item("table", py.None())?;
            d.set_item("files", paths(&outcome.shard_file.into_iter().collect::<Vec<_>>()))?;
        }
    }
    Ok(d)
}

/// Simulates data from a known network (see the Python wrapper); saves into `out` when given.
#[pyfunction]
#[pyo3(signature = (model, input, n, noise, seed, bias, truth, out, force))]
#[allow(clippy::too_many_arguments)]
pub fn simulate<'py>(
    py: Python<'py>,
    model: &str,
    input: Option<Vec<usize>>,
    n: usize,
    noise: f64,
    seed: u32,
    bias: Option<f64>,
    truth: Option<PathBuf>,
    out: Option<PathBuf>,
    force: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let text = input.map(|s| s.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
    let (spec, input) = presets::spec_and_input(model, text.as_deref()).or_py()?;
    let s = SimSpec { model: spec, input, n, noise, seed, bias, truth };
    let sim = py
        .detach(|| match &out {
            Some(dir) => simulation::run(&s, dir, force),
            None => simulation::simulate(&s),
        })
        .or_py()?;
    let mut shape = vec![n];
    shape.extend(sim.truth.input.to_vec());
    let k = sim.outputs();
    let x: Bound<'py, PyArrayDyn<f32>> = PyArray1::from_slice(py, &sim.x).reshape(shape)?;
    let y = if k == 1 { PyArray1::from_slice(py, &sim.y).into_any() } else { matrix(py, sim.y.clone(), k)?.into_any() };
    let d = PyDict::new(py);
    d.set_item("X", x)?;
    d.set_item("y", y)?;
    d.set_item("info", serde_json::to_string(&sim.info).expect("a SimInfo always serialises"))?;
    d.set_item("folder", out.map(|o| o.display().to_string()))?;
    d.set_item("truth", Model::wrap(sim.truth))?;
    Ok(d)
}

/// Fits replicates to a simulation and compares them with the truth (see the Python wrapper).
#[pyfunction]
#[pyo3(signature = (dir, model, replicates, optimizer, epochs, batch_size, seed, test_fraction, truth, jobs, out, force, progress, command))]
#[allow(clippy::too_many_arguments)]
pub fn recover<'py>(
    py: Python<'py>,
    dir: PathBuf,
    model: Option<String>,
    replicates: usize,
    optimizer: String,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    test_fraction: f64,
    truth: Option<PathBuf>,
    jobs: usize,
    out: Option<PathBuf>,
    force: bool,
    progress: bool,
    command: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let o = RecoverOptions { model, replicates, optimizer, epochs, batch_size, seed, test_fraction, jobs, truth };
    let (report, signal) = interruptible(py, |stop| recovery::run(&dir, &o, out.as_deref(), force, command, stop));
    signal?;
    let report = report.or_py()?;
    let rec = &report.recovery;
    let (table, explanation) = (table(rec), explanation(rec));
    if progress {
        say(py, &format!("{}\n{table}\n", heading(rec)));
    }
    let d = PyDict::new(py);
    d.set_item("json", to_json(rec).to_string())?;
    d.set_item("table", table)?;
    d.set_item("explanation", explanation)?;
    d.set_item("folder", report.dir.display().to_string())?;
    d.set_item("report", report.dir.join("report.md").display().to_string())?;
    d.set_item("files", paths(&report.files))?;
    d.set_item("models", report.recovery.models.iter().cloned().map(Model::wrap).collect::<Vec<_>>())?;
    Ok(d)
}
