//! convlab's one error type as Python exceptions, with the same messages: files are
//! `OSError`, everything else the caller can fix (specs, shapes, data, settings) `ValueError`,
//! a diverged training `ArithmeticError`.

use pyo3::exceptions::{PyArithmeticError, PyOSError, PyValueError};
use pyo3::PyErr;

pub fn to_py(e: convlab::Error) -> PyErr {
    let message = e.to_string();
    match e {
        convlab::Error::Io { .. } => PyOSError::new_err(message),
        convlab::Error::Numeric(_) => PyArithmeticError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// `result.map_err(to_py)`, shorter.
pub trait OrPy<T> {
    fn or_py(self) -> pyo3::PyResult<T>;
}

impl<T> OrPy<T> for convlab::Result<T> {
    fn or_py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
