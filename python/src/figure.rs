//! `convlab_rs.Figure`: a convlab picture that shows itself inline in Jupyter
//! (`_repr_png_`, `_repr_svg_`) and saves as PNG or SVG.

use crate::arrays::dataset;
use crate::errors::OrPy;
use crate::model::Model;
use convlab::inspect::{activations, curves, filters};
use convlab::plot::Colormap;
use convlab::train::folder::EpochMetrics;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;

#[pyclass(module = "convlab_rs._native")]
pub struct Figure {
    inner: convlab::plot::Figure,
}

impl Figure {
    pub fn new(inner: convlab::plot::Figure) -> Figure {
        Figure { inner }
    }
}

#[pymethods]
impl Figure {
    #[getter]
    fn width(&self) -> u32 {
        self.inner.width()
    }

    #[getter]
    fn height(&self) -> u32 {
        self.inner.height()
    }

    fn _repr_png_<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_png())
    }

    fn _repr_svg_(&self) -> String {
        self.inner.to_svg()
    }

    /// Writes the picture; the extension (.png or .svg) chooses the format.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner.save(&path).or_py()
    }
}

fn colormap(name: Option<&str>, default: Colormap) -> PyResult<Colormap> {
    match name {
        None => Ok(default),
        Some(n) => Colormap::from_name(n).ok_or_else(|| PyValueError::new_err(format!("unknown colormap {n:?}"))),
    }
}

/// The conv kernels and linear weights of `model`, as `convlab plot filters`.
#[pyfunction]
#[pyo3(signature = (model, cmap=None))]
pub fn plot_filters(model: &Model, cmap: Option<&str>) -> PyResult<Figure> {
    Ok(Figure { inner: filters::figure(&model.inner, colormap(cmap, Colormap::Bwr)?).or_py()? })
}

/// Loss and accuracy by epoch from a `fit` history, as `convlab plot curves`.
#[pyfunction]
pub fn plot_curves(history: &Bound<'_, PyDict>) -> PyResult<Figure> {
    let column = |key: &str| -> PyResult<Vec<Option<f64>>> {
        match history.get_item(key)? {
            Some(v) => v.extract(),
            None => Ok(vec![]),
        }
    };
    let epochs: Vec<usize> = history
        .get_item("epoch")?
        .ok_or_else(|| PyValueError::new_err("the history has no 'epoch' list: pass what fit returned"))?
        .extract()?;
    let (train_loss, train_acc, test_loss, test_acc) =
        (column("train_loss")?, column("train_accuracy")?, column("test_loss")?, column("test_accuracy")?);
    let at = |v: &[Option<f64>], i: usize| v.get(i).copied().flatten();
    let metrics: Vec<EpochMetrics> = epochs
        .iter()
        .enumerate()
        .map(|(i, &epoch)| EpochMetrics {
            epoch,
            train_loss: at(&train_loss, i).unwrap_or(f64::NAN),
            train_accuracy: at(&train_acc, i),
            test_loss: at(&test_loss, i),
            test_accuracy: at(&test_acc, i),
            seconds: 0.0,
            ..EpochMetrics::default()
        })
        .collect();
    Ok(Figure { inner: curves::figure(&metrics).or_py()? })
}

/// One sample (x: (1, C, ...)) and every layer's feature maps for it, as `convlab plot
/// activations`; `classes`/`values` is its target, for the title.
#[pyfunction]
#[pyo3(signature = (model, x, classes=None, values=None, cmap=None))]
pub fn plot_activations(
    model: &Model,
    x: PyReadonlyArrayDyn<'_, f32>,
    classes: Option<PyReadonlyArray1<'_, u32>>,
    values: Option<PyReadonlyArray2<'_, f32>>,
    cmap: Option<&str>,
) -> PyResult<Figure> {
    let ds = dataset("sample", &x, classes, values)?;
    Ok(Figure { inner: activations::figure(&model.inner, &ds, 0, colormap(cmap, Colormap::Seismic)?).or_py()? })
}
