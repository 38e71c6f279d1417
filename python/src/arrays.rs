//! NumPy arrays ↔ convlab data sets. The Python layer has already made X float32 and
//! C-contiguous with a channel axis, and y either uint32 classes (1-D) or float32 targets (2-D).

use crate::errors::OrPy;
use convlab::data::{Dataset, SharedValues, Targets, Values};
use numpy::{
    PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use std::sync::Arc;

/// The values of a C-contiguous array (the Python layer guarantees it), without a copy.
pub fn slice<'a>(x: &'a PyReadonlyArrayDyn<'_, f32>) -> PyResult<&'a [f32]> {
    x.as_slice().map_err(|_| PyValueError::new_err("X must be C-contiguous (np.ascontiguousarray(X))"))
}

/// X's values where NumPy keeps them: the data set holds a reference to the array, which
/// keeps it alive, and reads its buffer without a copy (as `torch.from_numpy` shares memory).
struct NumpyValues {
    _owner: Py<PyArrayDyn<f32>>,
    ptr: *const f32,
    len: usize,
}

// SAFETY: the buffer is only read, and NumPy neither frees nor moves it while `_owner` holds
// a reference (an in-place resize of a referenced array is refused). Python code that writes
// into X while `fit` runs races with it, as it would with PyTorch's shared tensors.
unsafe impl Send for NumpyValues {}
unsafe impl Sync for NumpyValues {}

impl SharedValues for NumpyValues {
    fn values(&self) -> &[f32] {
        // SAFETY: see above; ptr and len come from the C-contiguous array `_owner`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// X shared with the data set, without a copy.
fn shared(x: &PyReadonlyArrayDyn<'_, f32>) -> PyResult<Values> {
    let values = slice(x)?;
    let (ptr, len) = (values.as_ptr(), values.len());
    let owner: Bound<'_, PyArrayDyn<f32>> = (**x).clone();
    Ok(Values::Shared(Arc::new(NumpyValues { _owner: owner.unbind(), ptr, len })))
}

/// A data set from X (N, C, L) or (N, C, H, W) and y: class labels (`classes`, N) or targets
/// (`values`, N × width).
pub fn dataset(
    name: &str,
    x: &PyReadonlyArrayDyn<'_, f32>,
    classes: Option<PyReadonlyArray1<'_, u32>>,
    values: Option<PyReadonlyArray2<'_, f32>>,
) -> PyResult<Dataset> {
    let shape = x.shape().to_vec();
    if !(3..=4).contains(&shape.len()) || shape[0] == 0 {
        return Err(PyValueError::new_err(format!(
            "{name}: X has shape {shape:?}; give (N, C, L), (N, C, H, W) or (N, H, W) with N ≥ 1"
        )));
    }
    let n = shape[0];
    let targets = match (classes, values) {
        (Some(c), None) => {
            let labels = c.as_slice().map_err(|_| PyValueError::new_err("y must be contiguous"))?.to_vec();
            let num_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
            Targets::Classes { labels, num_classes }
        }
        (None, Some(v)) => {
            let width = v.shape()[1];
            Targets::Values {
                values: v.as_slice().map_err(|_| PyValueError::new_err("y must be contiguous"))?.to_vec(),
                width,
            }
        }
        _ => return Err(PyValueError::new_err("give y as class labels or as float targets")),
    };
    let rows = match &targets {
        Targets::Classes { labels, .. } => labels.len(),
        Targets::Values { values, width } => values.len() / (*width).max(1),
    };
    if rows != n {
        return Err(PyValueError::new_err(format!("{name}: X has {n} samples but y has {rows}")));
    }
    Ok(Dataset { name: name.into(), x: shared(x)?, sample_shape: shape[1..].to_vec(), targets, class_names: None })
}

/// X as an (N, *sample_shape) array.
pub fn samples<'py>(py: Python<'py>, ds: &Dataset) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let mut shape = vec![ds.len()];
    shape.extend(&ds.sample_shape);
    PyArray1::from_slice(py, &ds.x).reshape(shape)
}

/// y as int64 classes (N,) or float32 targets (N, width).
pub fn targets<'py>(py: Python<'py>, ds: &Dataset) -> PyResult<Bound<'py, PyAny>> {
    Ok(match &ds.targets {
        Targets::Classes { labels, .. } => {
            PyArray1::from_vec(py, labels.iter().map(|&l| i64::from(l)).collect()).into_any()
        }
        Targets::Values { values, width } => {
            PyArray1::from_slice(py, values).reshape([values.len() / (*width).max(1), *width])?.into_any()
        }
    })
}

/// `X, y, X_test, y_test`.
type Arrays<'py> = (Bound<'py, PyArrayDyn<f32>>, Bound<'py, PyAny>, Bound<'py, PyArrayDyn<f32>>, Bound<'py, PyAny>);

/// `X, y, X_test, y_test` of any `--data` source (`digits`, `fashion-mnist(n=1000)`, ...);
/// sources without a test set are split with `test_fraction` and `seed`.
#[pyfunction]
#[pyo3(signature = (source, data_dir=None, test_fraction=0.2, seed=0))]
pub fn load_data<'py>(
    py: Python<'py>,
    source: &str,
    data_dir: Option<std::path::PathBuf>,
    test_fraction: f64,
    seed: u64,
) -> PyResult<Arrays<'py>> {
    let (train, test) = py.detach(|| convlab::load_data(source, data_dir.as_deref(), test_fraction, seed)).or_py()?;
    Ok((samples(py, &train)?, targets(py, &train)?, samples(py, &test)?, targets(py, &test)?))
}

/// A 2-D float32 array of `rows` × `cols`.
pub fn matrix<'py>(py: Python<'py>, values: Vec<f32>, cols: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let rows = values.len() / cols.max(1);
    PyArray1::from_vec(py, values).reshape([rows, cols])
}
