//! A `Model` is a sequence of layers with all parameters in one flat vector, built from a
//! one-line spec; a `Workspace` holds the activations and gradients of one replica.

pub mod auto;
pub mod build;
pub mod io;
pub mod plan;
pub mod presets;
pub mod summary;
pub mod task;
pub mod workspace;

pub use task::Task;
pub use workspace::Workspace;

use crate::engine::{Dims, Float};
use crate::error::Result;
use crate::layers::{Layer, Op};
use crate::rng::Rng;

/// Which part of the model's state a named tensor lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Param,
    Buffer,
}

/// A tensor of the model under its PyTorch `nn.Sequential` state-dict name.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub store: Store,
    pub offset: usize,
    pub len: usize,
    pub layer: usize,
}

#[derive(Clone, Debug)]
pub struct Model<T> {
    pub spec: String,
    pub input: Dims,
    pub layers: Vec<Layer>,
    /// Start of each layer's parameters in `params` (one more entry: the total).
    pub param_offsets: Vec<usize>,
    pub buffer_offsets: Vec<usize>,
    pub params: Vec<T>,
    pub buffers: Vec<T>,
    /// Batch norm's `num_batches_tracked`, shared by all its layers.
    pub batches_tracked: i64,
    /// What the outputs mean, when known (set from the data and loss when a run is prepared,
    /// read back from model files).
    pub task: Option<Task>,
}

impl<T: Float> Model<T> {
    /// Builds the layers; parameters start at zero (call `init` or load them), batch-norm
    /// weights at one and running variances at one, as PyTorch does.
    pub fn new(spec: &str, input: Dims) -> Result<Self> {
        let layers = build::build_layers(spec, input)?;
        let mut param_offsets = vec![0];
        let mut buffer_offsets = vec![0];
        for l in &layers {
            param_offsets.push(param_offsets.last().unwrap() + l.param_len());
            buffer_offsets.push(buffer_offsets.last().unwrap() + l.buffer_len());
        }
        let mut m = Model {
            spec: spec.split_whitespace().collect::<Vec<_>>().join(" "),
            input,
            params: vec![T::ZERO; *param_offsets.last().unwrap()],
            buffers: vec![T::ZERO; *buffer_offsets.last().unwrap()],
            layers,
            param_offsets,
            buffer_offsets,
            batches_tracked: 0,
            task: None,
        };
        m.reset_batchnorm();
        Ok(m)
    }

    fn reset_batchnorm(&mut self) {
        for i in 0..self.layers.len() {
            if let Op::BatchNorm(b) = &self.layers[i].op {
                let c = b.channels;
                let p = self.param_offsets[i];
                self.params[p..p + c].fill(T::ONE);
                self.params[p + c..p + 2 * c].fill(T::ZERO);
                let q = self.buffer_offsets[i];
                self.buffers[q..q + c].fill(T::ZERO);
                self.buffers[q + c..q + 2 * c].fill(T::ONE);
            }
        }
        self.batches_tracked = 0;
    }

    /// PyTorch's default initialisation drawn from convlab's stream: conv and linear weights and
    /// biases uniform in ±1/√fan_in (kaiming-uniform with a = √5), batch norm 1 and 0.
    pub fn init(&mut self, seed: u64) {
        let mut rng = Rng::new(seed);
        for i in 0..self.layers.len() {
            let fan_in = match &self.layers[i].op {
                Op::Conv(c) => c.fan_in(),
                Op::Linear(l) => l.in_features,
                _ => continue,
            };
            let bound = 1.0 / (fan_in as f64).sqrt();
            let range = self.param_offsets[i]..self.param_offsets[i + 1];
            for v in &mut self.params[range] {
                *v = T::from_f64(rng.uniform_in(-bound, bound));
            }
        }
        self.reset_batchnorm();
    }

    /// PyTorch's own initial weights: what `torch.manual_seed(seed)` followed by building the
    /// same `nn.Sequential` gives on the CPU (conv and linear layers in order, weight then bias).
    pub fn init_torch(&mut self, seed: u64) {
        let mut g = crate::rng::torch::TorchGenerator::manual_seed(seed);
        for i in 0..self.layers.len() {
            let (fan_in, weight_len) = match &self.layers[i].op {
                Op::Conv(c) => (c.fan_in(), c.weight_len()),
                Op::Linear(l) => (l.in_features, l.weight_len()),
                _ => continue,
            };
            let mut values = vec![0f32; self.param_offsets[i + 1] - self.param_offsets[i]];
            let (w, b) = values.split_at_mut(weight_len);
            g.init_conv_or_linear(w, (!b.is_empty()).then_some(b), fan_in);
            for (d, v) in self.params[self.param_offsets[i]..self.param_offsets[i + 1]].iter_mut().zip(values) {
                *d = T::from_f32(v);
            }
        }
        self.reset_batchnorm();
    }

    pub fn output(&self) -> Dims {
        self.layers.last().map(|l| l.output).unwrap_or(self.input)
    }

    pub fn layer_params(&self, i: usize) -> &[T] {
        &self.params[self.param_offsets[i]..self.param_offsets[i + 1]]
    }

    pub fn layer_buffers(&self, i: usize) -> &[T] {
        &self.buffers[self.buffer_offsets[i]..self.buffer_offsets[i + 1]]
    }

    pub fn has_batchnorm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l.op, Op::BatchNorm(_)))
    }

    /// Outputs (n × k) for `n` samples of `x` in evaluation mode, 256 samples at a time so
    /// memory stays small for any data set.
    pub fn predict(&self, x: &[T], n: usize) -> Vec<T> {
        const CHUNK: usize = 256;
        let (d, k) = (self.input.len(), self.output().len());
        let mut ws = Workspace::new(self, CHUNK.min(n.max(1)), false).lean(self);
        let mut out = Vec::with_capacity(n * k);
        for start in (0..n).step_by(CHUNK) {
            let end = (start + CHUNK).min(n);
            ws.forward(self, &x[start * d..end * d], end - start, crate::layers::Mode::Eval, Default::default());
            out.extend_from_slice(ws.output(self));
        }
        out
    }

    /// Forward FLOPs of one sample.
    pub fn flops_per_sample(&self) -> usize {
        self.layers.iter().map(|l| l.flops()).sum()
    }

    /// Every parameter and buffer under its state-dict name, in PyTorch's order.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            let mut p = self.param_offsets[i];
            for (n, shape) in l.param_tensors() {
                let len = shape.iter().product();
                out.push(NamedTensor {
                    name: format!("{i}.{n}"),
                    shape,
                    store: Store::Param,
                    offset: p,
                    len,
                    layer: i,
                });
                p += len;
            }
            let mut b = self.buffer_offsets[i];
            for (n, shape) in l.buffer_tensors() {
                let len = shape.iter().product();
                out.push(NamedTensor {
                    name: format!("{i}.{n}"),
                    shape,
                    store: Store::Buffer,
                    offset: b,
                    len,
                    layer: i,
                });
                b += len;
            }
        }
        out
    }

    /// The values of a named tensor.
    pub fn tensor(&self, t: &NamedTensor) -> &[T] {
        let store = if t.store == Store::Param { &self.params } else { &self.buffers };
        &store[t.offset..t.offset + t.len]
    }

    pub fn tensor_mut(&mut self, t: &NamedTensor) -> &mut [T] {
        let store = if t.store == Store::Param { &mut self.params } else { &mut self.buffers };
        &mut store[t.offset..t.offset + t.len]
    }

    /// The same model in another precision (f32 ↔ f64).
    pub fn cast<U: Float>(&self) -> Model<U> {
        Model {
            spec: self.spec.clone(),
            input: self.input,
            layers: self.layers.clone(),
            param_offsets: self.param_offsets.clone(),
            buffer_offsets: self.buffer_offsets.clone(),
            params: self.params.iter().map(|v| U::from_f64(v.to_f64())).collect(),
            buffers: self.buffers.iter().map(|v| U::from_f64(v.to_f64())).collect(),
            batches_tracked: self.batches_tracked,
            task: self.task.clone(),
        }
    }

    /// Folds a training forward pass's batch statistics into the running buffers.
    pub fn update_running_stats(&mut self, ws: &Workspace<T>) {
        let mut any = false;
        for i in 0..self.layers.len() {
            if let Op::BatchNorm(b) = &self.layers[i].op {
                let range = self.buffer_offsets[i]..self.buffer_offsets[i + 1];
                b.update_running(&mut self.buffers[range], ws.scratch(i).batch_stats());
                any = true;
            }
        }
        if any {
            self.batches_tracked += 1;
        }
    }
}
