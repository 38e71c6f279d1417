//! `convlab_rs.lab(NAME)`: a tutorial's workflow, printing what the notebook printed.

use crate::errors::OrPy;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// Runs lab `name` into `out` (as `convlab lab NAME --out OUT`); prints each line through
/// Python's `print` as it comes, and returns [{"folder", "history"}] per run.
#[pyfunction]
#[pyo3(signature = (name, out=PathBuf::from("runs"), threads=0, force=false))]
pub fn lab<'py>(
    py: Python<'py>,
    name: &str,
    out: PathBuf,
    threads: usize,
    force: bool,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let lab = convlab::train::labs::find(name).or_py()?;
    let print = py.import("builtins")?.getattr("print")?.unbind();
    let results = py
        .detach(|| {
            lab.run(&out, threads, force, &mut |line| {
                // A line that cannot be printed (a closed stdout) is not worth stopping the lab for.
                let _ = Python::attach(|py| print.call1(py, (line,)));
            })
        })
        .or_py()?;
    results
        .iter()
        .map(|r| {
            let d = PyDict::new(py);
            d.set_item("folder", r.dir.display().to_string())?;
            d.set_item("history", crate::history::history(py, &r.metrics)?)?;
            Ok(d)
        })
        .collect()
}
