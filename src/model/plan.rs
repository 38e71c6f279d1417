//! A workspace's plan: every decision about how a model runs in one workspace, made once when
//! the workspace is built, from the layers alone. `Workspace::forward` and `backward` only read
//! it. The decisions, in the order they are made:
//!
//! 1. **Flatten aliasing** (`buf`, [`Role::Alias`]): a flatten is a reshape, so its output is
//!    the buffer of the layer before; flattening copies nothing forward or backward.
//! 2. **ReLU + max-pool fusion** ([`Role::FusedRelu`], [`Role::FusedPool`]): a ReLU directly
//!    followed by a max-pool runs as one layer (`layers::relu_maxpool`), one pass over the
//!    largest activation and its gradient instead of two. The pool's call does both, forward
//!    and backward; the ReLU's own call is skipped.
//! 3. **The per-sample prefix** (`prefix`): layers `..prefix` compute each sample on its own
//!    (`layers::is_per_sample`), so forward and backward run them a chunk of samples at a time,
//!    and a chunk's feature maps go from one layer to the next through L2 rather than memory.
//!    A fused pair is never split: when the prefix would end between a ReLU and its pool, it
//!    ends before the ReLU. Results do not depend on the chunking: every layer takes the
//!    samples in batch order.
//! 4. **The chunk size** (`chunk`): as many samples as keep the prefix's activations and
//!    gradients within `CHUNK_BYTES`, at least 1 and at most the capacity.
//! 5. **Chunk-sized gradients** (`chunk_grad`): inside the prefix a gradient is written and
//!    read in the same chunk, so its buffer holds one chunk, not the batch, and stays in L2.
//!    The prefix's last gradient is the exception: the rest of the model writes it for the
//!    whole batch at once.
//! 6. **Lean buffers** (`lean`, `chunk_act`), for training and prediction, where no one looks
//!    at the feature maps afterwards: a ReLU fused into the pool after it writes no output
//!    (the pool is taken first and the ReLU on the pooled values), and a conv inside the
//!    prefix whose output only such a fused ReLU + 2×2 pool reads keeps one chunk of output
//!    (the pool records its winners, so the backward pass never reads it).
//! 7. **Pooled convolutions** (`pooled_conv`), in lean plans: such a conv on the direct path
//!    runs the fused ReLU + 2×2 pool itself, on each sample's extended grid while it is in L1
//!    (`Conv::forward_pooled`), and writes no output of its own; the pool's forward call is
//!    skipped (its backward runs as before). So does a Conv1d on the direct path followed by
//!    a fused ReLU + another unpadded pool, on its samples' interleaved grid (the 1-D lab's).
//! 8. **Weight gradients from a pool's winners** (`from_winners`), in lean plans without an
//!    input gradient: a first conv followed by a fused ReLU + a max-pool whose winners say
//!    where its gradient is (`Conv::learns_from_winners`) gets dW and db straight from them,
//!    and the pool's backward writes nothing. On the tiny `chunk_dw` path with a pool whose
//!    windows do not overlap, bit for bit the sums of the dense gradient (the 1-D lab's pool
//!    keeps one value in 20); with few taps and the 2×2 pool, as sums over each channel's
//!    listed winners (mnist-lab's and SimpleCNN's first convs: one output in four at most).

use crate::layers::{is_per_sample, Activation, Layer, MaxPool, Op};
use std::ops::Range;

/// Bytes of activations and gradients per chunk of the per-sample layers: a chunk's feature
/// maps stay in L2 from one layer to the next.
const CHUNK_BYTES: usize = 512 * 1024;

/// How one layer runs in the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Its own call, on its own output and gradient buffers.
    Own,
    /// A flatten: its output and gradient are the buffers of the layer before; nothing runs.
    Alias,
    /// A ReLU run by the max-pool after it; its own call is skipped.
    FusedRelu,
    /// A max-pool that also runs the ReLU before it, forward and backward.
    FusedPool,
}

/// The plan of one workspace (see the module doc for each decision).
#[derive(Clone, Debug)]
pub struct Plan {
    /// `role[i]`: how layer i runs.
    pub role: Vec<Role>,
    /// `buf[i]`: the buffer that holds layer i's output and gradient: i, or for a flatten
    /// that of the layer before.
    pub buf: Vec<usize>,
    /// Layers `..prefix` run a chunk of samples at a time.
    pub prefix: usize,
    /// Samples per chunk of the prefix.
    pub chunk: usize,
    /// `chunk_grad[b]`: buffer b's gradient holds one chunk of samples, from 0.
    pub chunk_grad: Vec<bool>,
    /// `chunk_act[b]`: buffer b's output holds one chunk of samples, from 0 (lean plans only).
    pub chunk_act: Vec<bool>,
    /// `pooled_conv[i]`: conv i runs the fused ReLU + pool at i + 1, i + 2 forward.
    pub pooled_conv: Vec<bool>,
    /// `from_winners[i]`: conv i takes its weight gradient from the winners of the fused
    /// ReLU + pool at i + 2 (`Conv::backward_from_winners`), and that pool's backward is skipped.
    pub from_winners: Vec<bool>,
    /// Fused ReLUs write no output of their own.
    pub lean: bool,
}

impl Plan {
    /// The plan for `layers` in a workspace of `capacity` samples of `elem_bytes`-byte values;
    /// `input_grad`: the workspace keeps the gradient with respect to the model's input.
    pub fn new(layers: &[Layer], capacity: usize, elem_bytes: usize, lean: bool, input_grad: bool) -> Self {
        let n = layers.len();
        let mut buf: Vec<usize> = Vec::with_capacity(n);
        let mut role = vec![Role::Own; n];
        for (i, l) in layers.iter().enumerate() {
            let alias = i > 0 && matches!(l.op, Op::Flatten);
            buf.push(if alias { buf[i - 1] } else { i });
            if alias {
                role[i] = Role::Alias;
            } else if relu_then_pool(layers, i).is_some() {
                role[i] = Role::FusedRelu;
                role[i + 1] = Role::FusedPool;
            }
        }
        let mut prefix = layers.iter().take_while(|l| is_per_sample(l)).count();
        if prefix > 0 && role[prefix - 1] == Role::FusedRelu {
            prefix -= 1; // the ReLU stays with the (whole-batch) pool it is fused into
        }
        let own_len = |i: usize| if buf[i] == i { layers[i].output.len() } else { 0 };
        let per_sample: usize = (0..prefix).map(own_len).sum();
        let chunk = (CHUNK_BYTES / (2 * elem_bytes * per_sample.max(1))).clamp(1, capacity.max(1));
        let chunk_grad = (0..n).map(|b| b < prefix && buf[b] == b && b != buf[prefix - 1]).collect();
        let chunk_act: Vec<bool> = (0..n)
            .map(|i| {
                let pool_2x2 = relu_then_pool(layers, i + 1).is_some_and(MaxPool::is_2x2);
                lean && matches!(layers[i].op, Op::Conv(_)) && pool_2x2 && i + 2 < prefix
            })
            .collect();
        let pooled_conv = (0..n)
            .map(|i| {
                let grid_2x2 = chunk_act[i] && matches!(&layers[i].op, Op::Conv(c) if c.pools_on_its_grid());
                let signals = match (&layers[i].op, relu_then_pool(layers, i + 1)) {
                    (Op::Conv(c), Some(pool)) => lean && !pool.is_2x2() && c.pools_on_its_grid_with(pool),
                    _ => false,
                };
                grid_2x2 || signals
            })
            .collect();
        let mut from_winners = vec![false; n];
        if let (Some(Op::Conv(c)), Some(pool)) = (layers.first().map(|l| &l.op), relu_then_pool(layers, 1)) {
            from_winners[0] = lean && !input_grad && c.learns_from_winners(pool);
        }
        Plan { role, buf, prefix, chunk, chunk_grad, chunk_act, pooled_conv, from_winners, lean }
    }

    /// The same plan with every ReLU and max-pool running on its own, so that every layer's
    /// output gradient is written (explanations read a ReLU's). Not for lean plans, whose
    /// chunk-sized conv outputs only a fused pool may follow.
    pub fn unfused(mut self) -> Self {
        assert!(
            !self.lean && !self.pooled_conv.contains(&true) && !self.from_winners.contains(&true),
            "a lean plan stays fused"
        );
        for r in &mut self.role {
            if matches!(r, Role::FusedRelu | Role::FusedPool) {
                *r = Role::Own;
            }
        }
        self
    }

    /// Values of buffer `b`'s output (`out` per sample) for `capacity` samples: none for a
    /// flatten's, one chunk for a lean conv's.
    pub fn act_len(&self, b: usize, out: usize, capacity: usize) -> usize {
        match (self.buf[b] == b, self.chunk_act[b]) {
            (false, _) => 0,
            (true, true) => self.chunk * out,
            (true, false) => capacity * out,
        }
    }

    /// Where the samples `s` of buffer `b`'s output are (from 0 if it holds one chunk).
    pub fn act_at(&self, b: usize, s: &Range<usize>, len: usize) -> Range<usize> {
        if self.chunk_act[b] {
            0..s.len() * len
        } else {
            s.start * len..s.end * len
        }
    }

    /// As `act_len`, for the gradient buffer.
    pub fn grad_len(&self, b: usize, out: usize, capacity: usize) -> usize {
        match (self.buf[b] == b, self.chunk_grad[b]) {
            (false, _) => 0,
            (true, true) => self.chunk * out,
            (true, false) => capacity * out,
        }
    }
}

/// The max-pool at `i + 1` when layer `i` is a ReLU feeding it.
fn relu_then_pool(layers: &[Layer], i: usize) -> Option<&MaxPool> {
    match (layers.get(i).map(|l| &l.op), layers.get(i + 1).map(|l| &l.op)) {
        (Some(Op::Activation(Activation::Relu)), Some(Op::MaxPool(m))) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;
    use crate::model::build::build_layers;

    #[test]
    fn the_plan_fuses_aliases_and_chunks() {
        let spec = "conv2d(8,k=3,p=1) relu maxpool2d(2) conv2d(4,k=3,p=1) relu maxpool2d(3) flatten linear(3)";
        let layers = build_layers(spec, Dims::image(1, 16, 16)).unwrap();
        let p = Plan::new(&layers, 100, 4, true, false);
        use Role::*;
        assert_eq!(p.role, [Own, FusedRelu, FusedPool, Own, FusedRelu, FusedPool, Alias, Own]);
        assert_eq!(p.buf, [0, 1, 2, 3, 4, 5, 5, 7]);
        // The 3×3 pool is not per-sample, so its ReLU leaves the prefix with it.
        assert_eq!(p.prefix, 4);
        assert_eq!(p.chunk, 13); // 512 KiB / (2 × 4 B × (8·16·16 + 8·16·16 + 8·8·8 + 4·8·8))
        assert_eq!(p.chunk_grad, [true, true, true, false, false, false, false, false]);
        assert_eq!(p.chunk_act, [true, false, false, false, false, false, false, false]);
        assert_eq!(p.pooled_conv, p.chunk_act, "the 3×3 conv is on the direct path");
        assert!(!Plan::new(&layers, 100, 4, false, false).chunk_act.contains(&true));
        let unfused = Plan::new(&layers, 100, 4, false, false).unfused();
        assert_eq!(unfused.role, [Own, Own, Own, Own, Own, Own, Alias, Own]);
    }
}
