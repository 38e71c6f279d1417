//! `convlab_rs.explain(model, x, method=...)`: one prediction explained, as `convlab explain`.

use crate::arrays::slice;
use crate::errors::OrPy;
use crate::figure::Figure;
use crate::model::Model;
use convlab::inspect::explain::{explain as explain_one, picture, Method, Options};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Explains `model`'s output `target` (default: the predicted class) for one sample `x`
/// ((1, C, ...) as the model takes it) with `method`: gradient, saliency, smoothgrad,
/// input-x-gradient, gradcam or occlusion. Returns {"method", "target", "score", "outputs",
/// "map" (an array of "map_shape"), "gradient" (or None), "figure"}.
#[pyfunction]
#[pyo3(signature = (model, x, method, target=None, layer=None, samples=None, noise=None, seed=0, patch=None, stride=None, class_name=None))]
#[allow(clippy::too_many_arguments)]
pub fn explain<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f32>,
    method: &str,
    target: Option<usize>,
    layer: Option<usize>,
    samples: Option<usize>,
    noise: Option<f32>,
    seed: u64,
    patch: Option<usize>,
    stride: Option<usize>,
    class_name: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let m = &model.inner;
    if x.shape()[1..] != m.input.to_vec()[..] || x.shape()[0] != 1 {
        return Err(PyValueError::new_err(format!("explain takes one sample of shape {:?}", m.input.to_vec())));
    }
    let opts =
        Options { target, layer, samples, noise, seed, patch, stride, ..Options::new(Method::parse(method).or_py()?) };
    let xs = slice(&x)?;
    let e = py.detach(|| explain_one(m, xs, &opts)).or_py()?;
    let class_name = class_name.or_else(|| m.task.as_ref().filter(|t| t.is_classifier()).map(|t| t.name(e.target)));
    let caption = picture::Caption { class_name, sample: String::new() };
    let fig = picture::figure(&e, xs, m.input, &caption);
    let d = PyDict::new(py);
    d.set_item("method", e.method.name())?;
    d.set_item("target", e.target)?;
    d.set_item("score", e.score)?;
    d.set_item("outputs", &e.outputs)?;
    let map: Bound<'py, PyArrayDyn<f32>> = PyArray1::from_slice(py, &e.map).reshape(e.map_shape.clone())?;
    d.set_item("map", map)?;
    let gradient = match &e.gradient {
        Some(g) => Some(PyArray1::from_slice(py, g).reshape(e.input_shape.clone())?),
        None => None,
    };
    d.set_item("gradient", gradient)?;
    d.set_item("figure", Figure::new(fig))?;
    Ok(d)
}
