//! One replica's memory: every layer's output and output-gradient, and the layers' scratch,
//! allocated once for the largest batch so that a training step allocates nothing.
//! The activations stay here after a forward pass, so feature maps are free to inspect (except,
//! in `lean` workspaces, the output of a ReLU fused into the max-pool after it).

use super::Model;
use crate::engine::Float;
use crate::layers::{is_per_sample, relu_then_pool, Chunk, MaskKey, Mode, Op, Scratch};
use std::ops::Range;

/// Bytes of activations and gradients per chunk of the per-sample layers: a chunk's feature
/// maps stay in L2 from one layer to the next.
const CHUNK_BYTES: usize = 512 * 1024;

#[derive(Clone, Debug)]
pub struct Workspace<T> {
    capacity: usize,
    /// `acts[buf[i]]`: output of layer i.
    acts: Vec<Vec<T>>,
    /// `grads[buf[i]]`: gradient of the loss with respect to layer i's output.
    grads: Vec<Vec<T>>,
    /// `chunk_grad[b]`: `grads[b]` holds one chunk of samples, not the batch. Inside the
    /// per-sample prefix a gradient is written and read in the same chunk, so it can stay in
    /// L2 instead of streaming a batch of the largest feature maps through memory.
    chunk_grad: Vec<bool>,
    /// Which buffer holds layer i's output: its own, or for a flatten (a reshape) that of the
    /// layer before, so flattening copies nothing forward or backward.
    buf: Vec<usize>,
    scratch: Vec<Scratch<T>>,
    /// Gradient of the loss with respect to the model's parameters (accumulated by `backward`).
    pub dparams: Vec<T>,
    /// Gradient with respect to the input, kept only when asked for (checks, saliency).
    dinput: Option<Vec<T>>,
    /// Samples in the last forward pass.
    n: usize,
    /// Layers `..prefix` compute each sample on its own (`is_per_sample`): forward and
    /// backward run them `chunk` samples at a time, so a chunk's maps go from one layer to
    /// the next through L2 rather than memory. Results do not depend on the chunking: each
    /// layer takes the samples in batch order.
    prefix: usize,
    chunk: usize,
    /// `chunk_act[i]`: layer i's output holds one chunk of samples (lean workspaces: a conv
    /// whose output only a fused ReLU + 2×2 pool reads, in the same chunk; the pool records its
    /// winners, so the backward pass never reads it).
    chunk_act: Vec<bool>,
    /// Whether a ReLU fused into the max-pool after it writes its own output (for pictures);
    /// `lean` workspaces skip it and take the ReLU after the pool, on the pooled values.
    keep_fused_relu: bool,
}

impl<T: Float> Workspace<T> {
    /// Room for batches of up to `capacity` samples.
    pub fn new(model: &Model<T>, capacity: usize, keep_input_grad: bool) -> Self {
        let capacity = capacity.max(1);
        let mut buf: Vec<usize> = Vec::with_capacity(model.layers.len());
        for (i, l) in model.layers.iter().enumerate() {
            buf.push(if i > 0 && matches!(l.op, Op::Flatten) { buf[i - 1] } else { i });
        }
        let own = |i: usize, l: &crate::layers::Layer| if buf[i] == i { capacity * l.output.len() } else { 0 };
        let mut prefix = model.layers.iter().take_while(|l| is_per_sample(l)).count();
        if prefix > 0 && relu_then_pool(&model.layers, prefix - 1).is_some() {
            prefix -= 1; // a ReLU stays with the (whole-batch) pool it is fused into
        }
        let per_sample: usize = (0..prefix).map(|i| own(i, &model.layers[i]) / capacity).sum();
        let chunk = (CHUNK_BYTES / (2 * std::mem::size_of::<T>() * per_sample.max(1))).clamp(1, capacity);
        // The prefix's last gradient comes from the rest of the model, a whole batch at once.
        let chunk_grad: Vec<bool> = (0..buf.len()).map(|b| b < prefix && buf[b] == b && b != buf[prefix - 1]).collect();
        let grad_len =
            |i: usize, l: &crate::layers::Layer| if chunk_grad[i] { chunk * l.output.len() } else { own(i, l) };
        Workspace {
            capacity,
            acts: model.layers.iter().enumerate().map(|(i, l)| vec![T::ZERO; own(i, l)]).collect(),
            grads: model.layers.iter().enumerate().map(|(i, l)| vec![T::ZERO; grad_len(i, l)]).collect(),
            chunk_grad,
            buf,
            scratch: model.layers.iter().map(|l| l.scratch(capacity)).collect(),
            dparams: vec![T::ZERO; model.params.len()],
            dinput: keep_input_grad.then(|| vec![T::ZERO; capacity * model.input.len()]),
            n: 0,
            prefix,
            chunk,
            chunk_act: vec![false; model.layers.len()],
            keep_fused_relu: true,
        }
    }

    /// Keeps only what the backward pass needs: a ReLU fused into the following max-pool
    /// writes no output of its own (max commutes with ReLU). For training and prediction.
    pub fn lean(mut self, model: &Model<T>) -> Self {
        self.keep_fused_relu = false;
        for (i, l) in model.layers.iter().enumerate() {
            let pool_2x2 = relu_then_pool(&model.layers, i + 1).is_some_and(|p| p.is_2x2());
            if matches!(l.op, Op::Conv(_)) && pool_2x2 && i + 2 < self.prefix {
                self.chunk_act[i] = true;
                self.acts[i] = vec![T::ZERO; self.chunk * l.output.len()];
            }
        }
        self
    }

    /// Where the samples `s` of layer `b`'s output are in its buffer (from 0 if chunk-sized).
    fn act_at(&self, b: usize, s: &Range<usize>, len: usize) -> Range<usize> {
        if self.chunk_act[b] {
            0..s.len() * len
        } else {
            s.start * len..s.end * len
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn scratch(&self, layer: usize) -> &Scratch<T> {
        &self.scratch[layer]
    }

    /// Output of layer `i` for the last forward pass (`n` samples). Not for a conv that feeds
    /// a fused ReLU + 2×2 pool in a `lean` workspace, which keeps one chunk only.
    pub fn activation(&self, i: usize, model: &Model<T>) -> &[T] {
        assert!(!self.chunk_act[self.buf[i]], "layer {i}'s output is not kept in a lean workspace");
        &self.acts[self.buf[i]][..self.n * model.layers[i].output.len()]
    }

    /// The model's output for the last forward pass.
    pub fn output(&self, model: &Model<T>) -> &[T] {
        self.activation(model.layers.len() - 1, model)
    }

    /// Where the loss writes its gradient with respect to the output.
    pub fn output_grad_mut(&mut self, model: &Model<T>) -> &mut [T] {
        let len = self.n * model.output().len();
        let last = *self.buf.last().expect("a model has at least one layer");
        &mut self.grads[last][..len]
    }

    /// The output and its gradient buffer together, for the loss to read one and write the other.
    pub fn output_and_grad(&mut self, model: &Model<T>) -> (&[T], &mut [T]) {
        let len = self.n * model.output().len();
        let last = *self.buf.last().expect("a model has at least one layer");
        (&self.acts[last][..len], &mut self.grads[last][..len])
    }

    pub fn input_grad(&self, model: &Model<T>) -> Option<&[T]> {
        self.dinput.as_ref().map(|d| &d[..self.n * model.input.len()])
    }

    /// Runs `n` samples of `x` through the model. `key` seeds dropout.
    pub fn forward(&mut self, model: &Model<T>, x: &[T], n: usize, mode: Mode, key: MaskKey) {
        assert!(n <= self.capacity, "batch of {n} exceeds the workspace's {}", self.capacity);
        assert!(x.len() >= n * model.input.len(), "input holds fewer than {n} samples");
        self.n = n;
        for a in (0..n).step_by(self.chunk) {
            self.forward_layers(model, x, 0..self.prefix, a..(a + self.chunk).min(n), mode, key);
        }
        self.forward_layers(model, x, self.prefix..model.layers.len(), 0..n, mode, key);
    }

    /// Runs `layers` forward on the samples `s` of the batch.
    fn forward_layers(
        &mut self,
        model: &Model<T>,
        x: &[T],
        layers: Range<usize>,
        s: Range<usize>,
        mode: Mode,
        key: MaskKey,
    ) {
        let mut i = layers.start;
        while i < layers.end {
            let layer = &model.layers[i];
            if self.buf[i] != i {
                i += 1;
                continue; // a flatten: nothing to do
            }
            let (li, lo) = (layer.input.len(), layer.output.len());
            let in_at = if i == 0 { s.start * li..s.end * li } else { self.act_at(self.buf[i - 1], &s, li) };
            let out_at = self.act_at(i, &s, lo);
            let (before, after) = self.acts.split_at_mut(i);
            let input: &[T] = if i == 0 { x } else { &before[self.buf[i - 1]] };
            let input = &input[in_at];
            // (The range check holds by construction of `prefix`; it keeps a pair from straddling ranges.)
            if let Some(pool) = relu_then_pool(&model.layers, i).filter(|_| i + 1 < layers.end) {
                let (r, y) = after.split_at_mut(1);
                let lp = model.layers[i + 1].output.len();
                let y = &mut y[0][s.start * lp..s.end * lp];
                let scratch = &mut self.scratch[i + 1];
                if self.keep_fused_relu {
                    pool.fused_forward_keeping_relu(
                        input,
                        &mut r[0][s.start * lo..s.end * lo],
                        y,
                        s.len(),
                        scratch,
                        s.start,
                    );
                } else {
                    pool.fused_forward(input, y, s.len(), scratch, s.start);
                }
                i += 2;
                continue;
            }
            layer.forward(
                model.layer_params(i),
                model.layer_buffers(i),
                input,
                &mut after[0][out_at],
                s.len(),
                &mut self.scratch[i],
                mode,
                MaskKey { layer: i as u64, ..key },
                Chunk { first: s.start == 0, last: s.end == self.n },
            );
            i += 1;
        }
    }

    /// Back-propagates the gradient in `output_grad_mut()`, adding parameter gradients into
    /// `dparams` (zero it first for a fresh step). `x` is the input of the last forward pass.
    pub fn backward(&mut self, model: &Model<T>, x: &[T], mode: Mode) {
        let n = self.n;
        self.backward_layers(model, x, self.prefix..model.layers.len(), 0..n, mode, Chunk::WHOLE);
        for a in (0..n).step_by(self.chunk) {
            let b = (a + self.chunk).min(n);
            self.backward_layers(model, x, 0..self.prefix, a..b, mode, Chunk { first: a == 0, last: b == n });
        }
    }

    /// Runs `layers` backward (last first) on the samples `s` of the batch.
    #[allow(clippy::too_many_arguments)]
    fn backward_layers(
        &mut self,
        model: &Model<T>,
        x: &[T],
        layers: Range<usize>,
        s: Range<usize>,
        mode: Mode,
        chunk: Chunk,
    ) {
        let mut i = layers.end;
        while i > layers.start {
            i -= 1;
            if self.buf[i] != i {
                continue; // a flatten: its gradient is the layer before's
            }
            let layer = &model.layers[i];
            let (li, lo) = (layer.input.len(), layer.output.len());
            let at =
                |b: usize, len: usize| if self.chunk_grad[b] { 0..s.len() * len } else { s.start * len..s.end * len };
            let dy_at = at(i, lo);
            let dx_at = |before: usize| at(self.buf[before], li);
            let in_at = if i == 0 { s.start * li..s.end * li } else { self.act_at(self.buf[i - 1], &s, li) };
            let out_at = self.act_at(i, &s, lo);
            let (gb, ga) = self.grads.split_at_mut(i);
            let dy = &ga[0][dy_at];
            let fused = i.checked_sub(1).filter(|&r| r >= layers.start).and_then(|r| relu_then_pool(&model.layers, r));
            if let Some(pool) = fused {
                // Gradient before the ReLU, from the pool's output gradient directly.
                let dx: Option<&mut [T]> = if i > 1 {
                    Some(&mut gb[self.buf[i - 2]][dx_at(i - 2)])
                } else {
                    self.dinput.as_deref_mut().map(|d| &mut d[s.start * li..s.end * li])
                };
                if let Some(dx) = dx {
                    let y = &self.acts[i][s.start * lo..s.end * lo];
                    pool.fused_backward(y, dy, dx, s.len(), &self.scratch[i], s.start);
                }
                i -= 1; // the ReLU's gradient came through the pool
                continue;
            }
            let dx: Option<&mut [T]> = if i > 0 {
                Some(&mut gb[self.buf[i - 1]][dx_at(i - 1)])
            } else {
                self.dinput.as_deref_mut().map(|d| &mut d[s.start * li..s.end * li])
            };
            let input: &[T] = if i == 0 { x } else { &self.acts[self.buf[i - 1]] };
            let range = model.param_offsets[i]..model.param_offsets[i + 1];
            layer.backward(
                model.layer_params(i),
                &input[in_at],
                &self.acts[i][out_at],
                dy,
                dx,
                &mut self.dparams[range],
                s.len(),
                &mut self.scratch[i],
                mode,
                chunk,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;
    use crate::layers::MaskKey;

    /// Forward and backward; returns the output, the parameter gradients and the input gradient.
    fn pass(spec: &str, side: usize, lean: bool, x: &[f32], n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut model = Model::<f32>::new(spec, Dims::image(1, side, side)).unwrap();
        model.init(7);
        let ws = Workspace::new(&model, n, true);
        let mut ws = if lean { ws.lean(&model) } else { ws };
        ws.forward(&model, x, n, Mode::Train, MaskKey::default());
        let out = ws.output(&model).to_vec();
        ws.output_grad_mut(&model).iter_mut().enumerate().for_each(|(i, g)| *g = (i as f32 * 0.37).sin());
        ws.backward(&model, x, Mode::Train);
        (out, ws.dparams.clone(), ws.input_grad(&model).unwrap().to_vec())
    }

    #[test]
    fn a_lean_workspace_computes_the_same_outputs_and_gradients() {
        let n = 3;
        // 64×64 images make the per-sample layers run one sample at a time (chunk-sized buffers).
        for (spec, side) in [
            ("conv2d(4,k=3,p=1) relu maxpool2d(2) conv2d(6,k=3,p=1) relu maxpool2d(2) flatten linear(3)", 8),
            ("conv2d(4,k=3,p=1) relu maxpool2d(3,s=2,p=1) conv2d(2,k=2) relu maxpool2d(2,s=1) flatten linear(3)", 8),
            ("conv2d(8,k=3,p=1) relu maxpool2d(2) conv2d(4,k=3,p=1) relu maxpool2d(2) flatten linear(3)", 64),
        ] {
            // Many exact ties and negatives, so first-maximum and ReLU-at-zero cases occur.
            let x: Vec<f32> = (0..n * side * side).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
            let full = pass(spec, side, false, &x, n);
            let lean = pass(spec, side, true, &x, n);
            assert_eq!(full, lean, "{spec}");
            assert!(full.2.iter().any(|&g| g != 0.0), "the input gradient reaches the input");
        }
    }
}
