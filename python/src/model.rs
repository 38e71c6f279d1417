//! `convlab_rs.Model`: a convlab model with its task, and `load`.

use crate::arrays::{dataset, matrix, slice};
use crate::errors::OrPy;
use crate::interrupt::interruptible;
use convlab::model::{io, presets, summary, Task};
use convlab::train::config::{RunConfig, TrainingSettings};
use convlab::train::run::{train_interruptible, Prepared};
use convlab::Loss;
use numpy::{
    PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

/// A small CNN: a spec in convlab's notation fitted to an input shape, with its weights.
#[pyclass(module = "convlab_rs._native")]
pub struct Model {
    pub inner: convlab::Model<f32>,
    /// Seeds the weights (at construction) and the shuffling and dropout of `fit`.
    seed: u64,
}

/// `(C, L)` or `(C, H, W)` as convlab's `C,H,W` text.
fn shape_text(input: &[usize]) -> String {
    input.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

impl Model {
    /// A model of convlab's (a simulation's truth, a recovered fit).
    pub fn wrap(inner: convlab::Model<f32>) -> Self {
        Model { inner, seed: 0 }
    }

    fn rows(&self, x: &PyReadonlyArrayDyn<'_, f32>) -> PyResult<usize> {
        let want = self.inner.input.to_vec();
        let shape = x.shape();
        if shape.len() != want.len() + 1 || shape[1..] != want[..] {
            return Err(PyValueError::new_err(format!(
                "X has shape {shape:?}, but the model takes (N, {})",
                shape_text(&want).replace(',', ", ")
            )));
        }
        Ok(shape[0])
    }

    fn task(&self) -> PyResult<&Task> {
        self.inner.task.as_ref().ok_or_else(|| {
            PyValueError::new_err(
                "the model's task is unknown (it was never fitted): fit it first, or load a model file convlab wrote",
            )
        })
    }
}

#[pymethods]
impl Model {
    /// Model(spec, input=None, seed=0, init="torch"): `spec` is convlab's notation
    /// (`"conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)"`) or a preset (`"simplecnn"`);
    /// `input` the sample shape (C, L) or (C, H, W) (presets know theirs); `init="torch"` gives
    /// the weights `torch.manual_seed(seed)` gives the equivalent `nn.Sequential`.
    #[new]
    #[pyo3(signature = (spec, input=None, seed=0, init="torch"))]
    fn new(spec: &str, input: Option<Vec<usize>>, seed: u64, init: &str) -> PyResult<Self> {
        let text = input.as_deref().map(shape_text);
        let (spec, dims) = presets::spec_and_input(spec, text.as_deref()).or_py()?;
        let mut inner = convlab::Model::new(&spec, dims).or_py()?;
        match init {
            "torch" => inner.init_torch(seed),
            "convlab" => inner.init(seed),
            other => return Err(PyValueError::new_err(format!("init={other:?}: choose \"torch\" or \"convlab\""))),
        }
        Ok(Model { inner, seed })
    }

    /// The spec as convlab writes it.
    #[getter]
    fn spec(&self) -> String {
        self.inner.spec.clone()
    }

    /// The sample shape, (C, L) or (C, H, W).
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        self.inner.input.to_vec()
    }

    /// The class names when the model is a classifier with a known task, else None.
    #[getter]
    fn class_names(&self) -> Option<Vec<String>> {
        self.inner.task.as_ref().filter(|t| t.is_classifier()).map(Task::names)
    }

    /// Layers, output shapes, parameter counts and the size arithmetic, as `convlab summary`.
    fn summary(&self) -> String {
        summary::summary(&self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Model({:?}, input={:?})", self.inner.spec, self.inner.input.to_vec())
    }

    /// Trains in place on convlab's own threads (the GIL is released) and returns the history;
    /// see the Python wrapper for the arguments.
    #[pyo3(signature = (x, classes, values, optimizer, epochs, batch_size, loss, test_x, test_classes, test_values, seed, threads, progress, schedule, early_stop, clip_grad_norm))]
    #[allow(clippy::too_many_arguments)]
    fn _fit<'py>(
        &mut self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        classes: Option<PyReadonlyArray1<'py, u32>>,
        values: Option<PyReadonlyArray2<'py, f32>>,
        optimizer: &str,
        epochs: usize,
        batch_size: usize,
        loss: Option<&str>,
        test_x: Option<PyReadonlyArrayDyn<'py, f32>>,
        test_classes: Option<PyReadonlyArray1<'py, u32>>,
        test_values: Option<PyReadonlyArray2<'py, f32>>,
        seed: Option<u64>,
        threads: usize,
        progress: bool,
        schedule: Option<String>,
        early_stop: Option<String>,
        clip_grad_norm: Option<f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.rows(&x)?;
        let train_set = dataset("train", &x, classes, values)?;
        let test_set = match &test_x {
            Some(tx) => {
                self.rows(tx)?;
                Some(dataset("test", tx, test_classes, test_values)?)
            }
            None => None,
        };
        let loss = loss.map(Loss::parse).transpose().or_py()?;
        let training = TrainingSettings {
            optimizer: optimizer.into(),
            epochs,
            batch_size,
            loss,
            schedule,
            early_stop,
            clip_grad_norm,
            ..TrainingSettings::default()
        };
        let cfg = RunConfig { training, seed: seed.unwrap_or(self.seed), threads, ..RunConfig::default() };
        cfg.validate().or_py()?;
        let prepared = Prepared::from_datasets(train_set, test_set, self.inner.clone(), loss, optimizer).or_py()?;
        let (outcome, signal) =
            interruptible(py, |stop| train_interruptible(&cfg, &prepared, prepared.model.clone(), !progress, stop));
        let outcome = outcome.or_py()?;
        let mut trained = outcome.model;
        trained.task = prepared.model.task.clone();
        self.inner = trained;
        // Ctrl-C: the model stays at its last completed step.
        signal?;
        let history = crate::history::history(py, &outcome.metrics)?;
        // With an early stop, the model holds the best epoch's weights (Keras' restore_best_weights).
        let stop = match &outcome.early_stop {
            Some(r) => {
                let d = PyDict::new(py);
                d.set_item("stopped_at_epoch", r.stopped_at_epoch)?;
                d.set_item("best_epoch", r.best_epoch)?;
                d.set_item("metric", &r.metric)?;
                d.set_item("best", r.best)?;
                Some(d)
            }
            None => None,
        };
        history.set_item("early_stop", stop)?;
        Ok(history)
    }

    /// The raw outputs (logits or values) for X, shape (N, outputs), in evaluation mode.
    fn _predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
        let n = self.rows(&x)?;
        let xs = slice(&x)?;
        let out = py.detach(|| self.inner.predict(xs, n));
        matrix(py, out, self.inner.output().len())
    }

    /// Class probabilities for X, shape (N, classes): softmax, or for one BCE output the
    /// probabilities of class 0 and class 1.
    fn _predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
        let task = self.task()?.clone();
        if !task.is_classifier() {
            return Err(PyValueError::new_err(format!(
                "the model is a regression ({}): predict gives its values; predict_proba is for classifiers",
                task.loss.name()
            )));
        }
        let n = self.rows(&x)?;
        let xs = slice(&x)?;
        let k = self.inner.output().len();
        let out = py.detach(|| self.inner.predict(xs, n));
        let probs: Vec<f32> = out.chunks_exact(k).flat_map(|row| task.probabilities(row)).collect();
        matrix(py, probs, task.classes)
    }

    /// Every layer's output for X, in evaluation mode: a list of (layer name, array).
    fn _activations<'py>(&self, py: Python<'py>, x: PyReadonlyArrayDyn<'py, f32>) -> PyResult<Bound<'py, PyList>> {
        let n = self.rows(&x)?;
        let xs = slice(&x)?;
        let m = &self.inner;
        let mut ws = convlab::Workspace::new(m, n, false);
        py.detach(|| ws.forward(m, xs, n, convlab::layers::Mode::Eval, Default::default()));
        let list = PyList::empty(py);
        for (i, layer) in m.layers.iter().enumerate() {
            let mut shape = vec![n];
            shape.extend(layer.output.to_vec());
            let a = PyArray1::from_slice(py, ws.activation(i, m)).reshape(shape)?;
            list.append((format!("{i} {}", layer.text), a))?;
        }
        Ok(list)
    }

    /// {PyTorch state-dict name: array}, as `nn.Sequential(...).state_dict()` names them.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for t in self.inner.tensors() {
            let a: Bound<'py, PyArrayDyn<f32>> =
                PyArray1::from_slice(py, self.inner.tensor(&t)).reshape(t.shape.clone())?;
            d.set_item(&t.name, a)?;
        }
        if self.inner.has_batchnorm() {
            for (i, l) in self.inner.layers.iter().enumerate() {
                if matches!(l.op, convlab::layers::Op::BatchNorm(_)) {
                    d.set_item(format!("{i}.num_batches_tracked"), self.inner.batches_tracked)?;
                }
            }
        }
        Ok(d)
    }

    /// Sets every tensor from {name: float32 array}; each must be present with its shape.
    fn _load_state_dict(&mut self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut next = self.inner.clone();
        for t in self.inner.tensors() {
            let value = state.get_item(&t.name)?.ok_or_else(|| {
                PyValueError::new_err(format!("the state dict lacks {} (shape {:?})", t.name, t.shape))
            })?;
            let a: PyReadonlyArrayDyn<f32> = value.extract()?;
            if a.shape() != t.shape.as_slice() {
                return Err(PyValueError::new_err(format!(
                    "{} has shape {:?}; the model's is {:?}",
                    t.name,
                    a.shape(),
                    t.shape
                )));
            }
            next.tensor_mut(&t).copy_from_slice(slice(&a)?);
        }
        self.inner = next;
        Ok(())
    }

    /// The Python expression `nn.Sequential(...)` of the equivalent PyTorch model (for `to_torch`).
    fn _torch_expr(&self) -> String {
        convlab::interop::torch_code::sequential_expr(&self.inner)
    }

    /// A model from the bytes `torch.save` wrote (a whole `nn.Sequential`, a state dict with
    /// `spec`, or a checkpoint), read without running anything from them (for `from_torch`).
    #[staticmethod]
    #[pyo3(signature = (data, spec=None, input=None))]
    fn _from_pt(py: Python<'_>, data: &[u8], spec: Option<String>, input: Option<Vec<usize>>) -> PyResult<Model> {
        let opts =
            convlab::interop::import::ImportOptions { model: spec, input: input.as_deref().map(shape_text), key: None };
        let imported = py.detach(|| convlab::interop::import::import_pt(data, "the torch model", &opts)).or_py()?;
        Ok(Model { inner: imported.model, seed: 0 })
    }

    /// Writes a convlab model file (safetensors with the spec, input shape and task).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        io::save(&self.inner, &path).or_py()
    }
}

/// A model from a convlab model file or a run folder.
#[pyfunction]
pub fn load(path: PathBuf) -> PyResult<Model> {
    let subject = convlab::inspect::Subject::open(&path).or_py()?;
    // Subject::open already gives a run folder's model its task (from config.toml for old files).
    let seed = subject.config.as_ref().map_or(0, |c| c.seed);
    let inner = subject.model;
    Ok(Model { inner, seed })
}
