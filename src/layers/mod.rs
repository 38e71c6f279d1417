//! The layers. Each file holds one layer's configuration with its `forward` and `backward`
//! over explicit buffers; this module only dispatches and describes them.
//!
//! Parameters live outside the layers, in the model's one flat vector, so replicas on
//! several threads can share them; scratch (im2col columns, pooling winners, batch
//! statistics, dropout masks) lives in each replica's workspace.

pub mod activation;
pub mod avgpool;
pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod linear;
pub mod maxpool;

pub use activation::Activation;
pub use avgpool::AvgPool;
pub use batchnorm::BatchNorm;
pub use conv::Conv;
pub use dropout::{Dropout, MaskKey};
pub use linear::Linear;
pub use maxpool::MaxPool;

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

/// Per-replica working memory of one layer, sized once for the largest batch.
#[derive(Clone, Debug, Default)]
pub struct Scratch<T> {
    /// Conv input side: im2col columns, or padded planes (of x, or of dY for the direct input
    /// gradient), or a chunk's laid-out inputs (`chunk_dw`).
    pub cols: Vec<T>,
    /// Conv output side: column gradients, or extended output grids, or a chunk's dY (`chunk_dw`).
    pub dcols: Vec<T>,
    pub index: Vec<u32>,
    /// A fused ReLU + 2×2 max-pool's recorded winners (`MaxPool::codes_len`).
    pub codes: Vec<u16>,
    pub stats: Vec<T>,
    pub mask: Vec<T>,
    /// Weight-sized scratch (the direct convolution's tap-major blocks; dWᵀ in backward, as LANES
    /// partial sums per weight on the `chunk_dw` path).
    pub weights: Vec<T>,
    /// The direct input gradient's flipped, tap-major weights (arranged once per batch).
    pub flipped: Vec<T>,
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
        Op::Conv(_) | Op::AvgPool(_) | Op::Activation(_) | Op::Flatten => true,
        Op::MaxPool(m) => m.is_2x2(),
        _ => false,
    }
}

/// Named tensor of a layer, e.g. (`weight`, [16, 1, 3, 3]).
pub type TensorInfo = (&'static str, Vec<usize>);

/// The max-pool at `i + 1` when layer `i` is a ReLU feeding it: the pair runs fused
/// (`MaxPool::fused_forward`, `MaxPool::fused_backward`), saving a pass over the
/// largest activation and its gradient.
pub fn relu_then_pool(layers: &[Layer], i: usize) -> Option<&MaxPool> {
    match (layers.get(i).map(|l| &l.op), layers.get(i + 1).map(|l| &l.op)) {
        (Some(Op::Activation(Activation::Relu)), Some(Op::MaxPool(m))) => Some(m),
        _ => None,
    }
}

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
            Op::BatchNorm(_) | Op::Dropout(_) | Op::Activation(_) => 2 * self.input.len(),
            Op::Flatten => 0,
        }
    }

    pub fn scratch<T: Float>(&self, capacity: usize) -> Scratch<T> {
        let mut s = Scratch::default();
        match &self.op {
            Op::Conv(c) => {
                s.cols = vec![T::ZERO; c.scratch_len(capacity)];
                s.dcols = vec![T::ZERO; c.scratch_out_len(capacity)];
                s.weights = vec![T::ZERO; c.weight_scratch_len()];
                s.flipped = vec![T::ZERO; c.flipped_scratch_len()];
            }
            Op::MaxPool(m) => {
                s.index = vec![0; m.index_len(capacity)];
                s.codes = vec![0; m.codes_len(capacity)];
            }
            Op::BatchNorm(b) => s.stats = vec![T::ZERO; b.stats_len()],
            Op::Dropout(_) => s.mask = vec![T::ZERO; capacity * self.input.len()],
            _ => {}
        }
        s
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
        match &self.op {
            Op::Conv(c) => c.forward(p, xi, yo, n, s, chunk.first),
            Op::MaxPool(m) => m.forward(xi, yo, n, s),
            Op::AvgPool(a) => a.forward(xi, yo, n),
            Op::BatchNorm(b) => b.forward(p, buffers, xi, yo, n, s, mode),
            Op::Dropout(d) => d.forward(xi, yo, n, s, mode == Mode::Train, key),
            Op::Activation(a) => a.forward(xi, yo),
            Op::Flatten => yo.copy_from_slice(xi),
            Op::Linear(l) => l.forward(p, xi, yo, n),
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
        match (&self.op, dx) {
            (Op::Conv(c), dx) => c.backward(p, xi, dyo, dx, dp, n, s, chunk),
            (Op::Linear(l), dx) => l.backward(p, xi, dyo, dx, dp, n),
            (Op::BatchNorm(b), dx) => b.backward(p, xi, dyo, dx, dp, n, s, mode),
            (_, None) => {}
            (Op::MaxPool(m), Some(dx)) => m.backward(xi, yo, dyo, dx, n, s),
            (Op::AvgPool(a), Some(dx)) => a.backward(dyo, dx, n),
            (Op::Dropout(d), Some(dx)) => d.backward(dyo, dx, n, s, mode == Mode::Train),
            (Op::Activation(a), Some(dx)) => a.backward(xi, yo, dyo, dx),
            (Op::Flatten, Some(dx)) => dx.copy_from_slice(dyo),
        }
    }
}
