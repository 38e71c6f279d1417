//! The layers. Each file holds one layer's configuration with its `forward` and `backward`
//! over explicit buffers; this module only dispatches and describes them.
//!
//! Parameters live outside the layers, in the model's one flat vector, so replicas on
//! several threads can share them; scratch (`Scratch`: im2col columns, pooling winners, batch
//! statistics, dropout masks) lives in each replica's workspace. One file holds a pair of
//! layers: `relu_maxpool`, a ReLU and the max-pool after it run as one (see `model::plan`).

pub mod activation;
pub mod adaptive_pool;
pub mod avgpool;
pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod linear;
pub mod maxpool;
pub mod relu_maxpool;

pub use activation::Activation;
pub use adaptive_pool::{AdaptivePool, PoolKind};
pub use avgpool::AvgPool;
pub use batchnorm::BatchNorm;
pub use conv::{Conv, ConvScratch};
pub use dropout::{Dropout, MaskKey};
pub use linear::Linear;
pub use maxpool::{MaxPool, MaxPoolScratch};

use crate::engine::{Dims, Float};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// What a layer computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Conv(Conv),
    MaxPool(MaxPool),
    AvgPool(AvgPool),
    /// Adaptive average or max pooling to a given output size.
    AdaptivePool(AdaptivePool),
    BatchNorm(BatchNorm),
    Dropout(Dropout),
    Activation(Activation),
    Flatten,
    Linear(Linear),
}

/// A layer placed in a model: its operation, shapes and the spec text it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub op: Op,
    pub input: Dims,
    pub output: Dims,
    /// As written in the spec, e.g. `conv2d(16,k=3,p=1)`.
    pub text: String,
}

/// Per-replica working memory of one layer, sized once for the largest batch: one variant per
/// kind of layer that needs any, each buffer with one meaning.
#[derive(Clone, Debug, Default)]
pub enum Scratch<T> {
    /// Layers that keep nothing between forward and backward.
    #[default]
    None,
    Conv(Box<ConvScratch<T>>),
    MaxPool(MaxPoolScratch),
    /// Batch norm, per channel: the mean used, 1/√(var + ε), and the unbiased batch variance.
    BatchNorm(Vec<T>),
    /// Dropout: the mask of the last training forward pass (0 or 1/(1 − p) per input).
    Dropout(Vec<T>),
}

impl<T> Scratch<T> {
    /// A max-pool's scratch; panics for another layer's (a workspace bug).
    pub fn max_pool(&self) -> &MaxPoolScratch {
        match self {
            Scratch::MaxPool(s) => s,
            _ => panic!("not a max-pool's scratch"),
        }
    }

    /// A convolution's scratch; panics for another layer's (a workspace bug).
    pub fn conv_mut(&mut self) -> &mut ConvScratch<T> {
        match self {
            Scratch::Conv(s) => s,
            _ => panic!("not a convolution's scratch"),
        }
    }

    pub fn max_pool_mut(&mut self) -> &mut MaxPoolScratch {
        match self {
            Scratch::MaxPool(s) => s,
            _ => panic!("not a max-pool's scratch"),
        }
    }

    /// A batch norm's statistics of the last training forward pass; panics for another layer's.
    pub fn batch_stats(&self) -> &[T] {
        match self {
            Scratch::BatchNorm(s) => s,
            _ => panic!("not a batch norm's scratch"),
        }
    }
}

/// Which part of a batch a backward call covers, when the batch runs in chunks of samples
/// (see `Conv::backward`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub first: bool,
    pub last: bool,
}

impl Chunk {
    pub const WHOLE: Chunk = Chunk { first: true, last: true };
}

/// Whether a layer computes each sample on its own, forward and backward (no batch
/// statistics, no batch-wide matrix product, no per-batch random mask): such layers may run
/// a few samples at a time with unchanged results. Max-pools other than 2×2 keep their
/// winners in scratch indexed from the call's first sample, so they run on whole batches.
pub fn is_per_sample(layer: &Layer) -> bool {
    match &layer.op {
        Op::Conv(_) | Op::AvgPool(_) | Op::AdaptivePool(_) | Op::Activation(_) | Op::Flatten => true,
        Op::MaxPool(m) => m.is_2x2(),
        _ => false,
    }
}

/// Named tensor of a layer, e.g. (`weight`, [16, 1, 3, 3]).
pub type TensorInfo = (&'static str, Vec<usize>);

impl Layer {
    /// Trainable tensors, in PyTorch's state-dict order.
    pub fn param_tensors(&self) -> Vec<TensorInfo> {
        match &self.op {
            Op::Conv(c) => {
                let mut v = vec![("weight", c.weight_shape())];
                if c.bias {
                    v.push(("bias", vec![c.out_channels]));
                }
                v
            }
            Op::Linear(l) => {
                let mut v = vec![("weight", vec![l.out_features, l.in_features])];
                if l.bias {
                    v.push(("bias", vec![l.out_features]));
                }
                v
            }
            Op::BatchNorm(b) => vec![("weight", vec![b.channels]), ("bias", vec![b.channels])],
            _ => vec![],
        }
    }

    /// Non-trainable state (batch norm's running statistics).
    pub fn buffer_tensors(&self) -> Vec<TensorInfo> {
        match &self.op {
            Op::BatchNorm(b) => vec![("running_mean", vec![b.channels]), ("running_var", vec![b.channels])],
            _ => vec![],
        }
    }

    pub fn param_len(&self) -> usize {
        self.param_tensors().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }

    pub fn buffer_len(&self) -> usize {
        self.buffer_tensors().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }

    /// Floating-point operations of one sample's forward pass (multiply-add = 2).
    pub fn flops(&self) -> usize {
        match &self.op {
            Op::Conv(c) => c.flops(),
            Op::Linear(l) => l.flops(),
            Op::MaxPool(p) => p.geom.c * p.geom.col_cols() * p.geom.wh.kernel * p.geom.ww.kernel,
            Op::AvgPool(p) => p.geom.c * p.geom.col_cols() * p.geom.wh.kernel * p.geom.ww.kernel,
            Op::AdaptivePool(p) => p.reads(),
            Op::BatchNorm(_) | Op::Dropout(_) | Op::Activation(_) => 2 * self.input.len(),
            Op::Flatten => 0,
        }
    }

    pub fn scratch<T: Float>(&self, capacity: usize) -> Scratch<T> {
        match &self.op {
            Op::Conv(c) => Scratch::Conv(Box::new(c.scratch(capacity))),
            Op::MaxPool(m) => Scratch::MaxPool(m.scratch(capacity)),
            Op::BatchNorm(b) => Scratch::BatchNorm(vec![T::ZERO; b.stats_len()]),
            Op::Dropout(_) => Scratch::Dropout(vec![T::ZERO; capacity * self.input.len()]),
            _ => Scratch::None,
        }
    }

    /// Computes `y` from `x` for `n` samples.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Float>(
        &self,
        p: &[T],
        buffers: &[T],
        x: &[T],
        y: &mut [T],
        n: usize,
        s: &mut Scratch<T>,
        mode: Mode,
        key: MaskKey,
        chunk: Chunk,
    ) {
        let (xi, yo) = (&x[..n * self.input.len()], &mut y[..n * self.output.len()]);
        match (&self.op, s) {
            (Op::Conv(c), Scratch::Conv(s)) => c.forward(p, xi, yo, n, s, chunk.first),
            (Op::MaxPool(m), Scratch::MaxPool(s)) => m.forward(xi, yo, n, s),
            (Op::AvgPool(a), _) => a.forward(xi, yo, n),
            (Op::AdaptivePool(a), _) => a.forward(xi, yo, n),
            (Op::BatchNorm(b), Scratch::BatchNorm(s)) => b.forward(p, buffers, xi, yo, n, s, mode),
            (Op::Dropout(d), Scratch::Dropout(mask)) => d.forward(xi, yo, n, mask, mode == Mode::Train, key),
            (Op::Activation(a), _) => a.forward(xi, yo),
            (Op::Flatten, _) => yo.copy_from_slice(xi),
            (Op::Linear(l), _) => l.forward(p, xi, yo, n),
            (op, _) => panic!("{op:?} was given another layer's scratch"),
        }
    }

    /// Accumulates parameter gradients into `dp` and, when `dx` is given, writes the input gradient.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(
        &self,
        p: &[T],
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        dp: &mut [T],
        n: usize,
        s: &mut Scratch<T>,
        mode: Mode,
        chunk: Chunk,
    ) {
        let (xi, yo, dyo) = (&x[..n * self.input.len()], &y[..n * self.output.len()], &dy[..n * self.output.len()]);
        let dx = dx.map(|d| &mut d[..n * self.input.len()]);
        match (&self.op, s, dx) {
            (Op::Conv(c), Scratch::Conv(s), dx) => c.backward(p, xi, dyo, dx, dp, n, s, chunk),
            (Op::Linear(l), _, dx) => l.backward(p, xi, dyo, dx, dp, n),
            (Op::BatchNorm(b), Scratch::BatchNorm(s), dx) => b.backward(p, xi, dyo, dx, dp, n, s, mode),
            (_, _, None) => {}
            (Op::MaxPool(m), Scratch::MaxPool(s), Some(dx)) => m.backward(xi, yo, dyo, dx, n, s),
            (Op::AvgPool(a), _, Some(dx)) => a.backward(dyo, dx, n),
            (Op::AdaptivePool(a), _, Some(dx)) => a.backward(xi, dyo, dx, n),
            (Op::Dropout(d), Scratch::Dropout(mask), Some(dx)) => d.backward(dyo, dx, n, mask, mode == Mode::Train),
            (Op::Activation(a), _, Some(dx)) => a.backward(xi, yo, dyo, dx),
            (Op::Flatten, _, Some(dx)) => dx.copy_from_slice(dyo),
            (op, _, _) => panic!("{op:?} was given another layer's scratch"),
        }
    }
}
