//! Python bindings of convlab (the `convlab_rs` package). The Rust crate does all the work;
//! these files only translate: NumPy arrays to data sets, keyword arguments to settings, and
//! convlab's errors to Python exceptions. The Python layer (`convlab_rs/__init__.py`) adds
//! dtype conversion and the lazy PyTorch bridges.

mod arrays;
mod errors;
mod explain;
mod figure;
mod history;
mod interrupt;
mod labs;
mod model;
mod study;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::Model>()?;
    m.add_class::<figure::Figure>()?;
    m.add_function(wrap_pyfunction!(model::load, m)?)?;
    m.add_function(wrap_pyfunction!(labs::lab, m)?)?;
    m.add_function(wrap_pyfunction!(explain::explain, m)?)?;
    m.add_function(wrap_pyfunction!(arrays::load_data, m)?)?;
    m.add_function(wrap_pyfunction!(study::sweep, m)?)?;
    m.add_function(wrap_pyfunction!(study::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(study::recover, m)?)?;
    m.add_function(wrap_pyfunction!(figure::plot_filters, m)?)?;
    m.add_function(wrap_pyfunction!(figure::plot_curves, m)?)?;
    m.add_function(wrap_pyfunction!(figure::plot_activations, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
