//! One replica's memory: every layer's output and output-gradient, and the layers' scratch,
//! allocated once for the largest batch so that a training step allocates nothing.
//! The activations stay here after a forward pass, so feature maps are free to inspect.

use super::Model;
use crate::engine::Float;
use crate::layers::{relu_then_pool, MaskKey, Mode, Op, Scratch};

/// Samples per round of a fused conv → ReLU → pool (a few feature maps, well inside L2).
const FUSE_SAMPLES: usize = 4;

#[derive(Clone, Debug)]
pub struct Workspace<T> {
    capacity: usize,
    /// `acts[buf[i]]`: output of layer i.
    acts: Vec<Vec<T>>,
    /// `grads[buf[i]]`: gradient of the loss with respect to layer i's output.
    grads: Vec<Vec<T>>,
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
        Workspace {
            capacity,
            acts: model.layers.iter().enumerate().map(|(i, l)| vec![T::ZERO; own(i, l)]).collect(),
            grads: model.layers.iter().enumerate().map(|(i, l)| vec![T::ZERO; own(i, l)]).collect(),
            buf,
            scratch: model.layers.iter().map(|l| l.scratch(capacity)).collect(),
            dparams: vec![T::ZERO; model.params.len()],
            dinput: keep_input_grad.then(|| vec![T::ZERO; capacity * model.input.len()]),
            n: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn scratch(&self, layer: usize) -> &Scratch<T> {
        &self.scratch[layer]
    }

    /// Output of layer `i` for the last forward pass (`n` samples).
    pub fn activation(&self, i: usize, model: &Model<T>) -> &[T] {
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
        let mut skip = 0usize;
        for (i, layer) in model.layers.iter().enumerate() {
            if skip > 0 || self.buf[i] != i {
                skip = skip.saturating_sub(1);
                continue; // computed with the layers before it, or a flatten (nothing to do)
            }
            let (before, after) = self.acts.split_at_mut(i);
            let input: &[T] = if i == 0 { x } else { &before[self.buf[i - 1]] };
            if let Some(pool) = relu_then_pool(&model.layers, i) {
                let (r, y) = after.split_at_mut(1);
                pool.forward_after_relu(&input[..n * layer.input.len()], &mut r[0], &mut y[0], n);
                skip = 1;
                continue;
            }
            if let (Op::Conv(_), Some(pool)) = (&layer.op, relu_then_pool(&model.layers, i + 1)) {
                // Conv, ReLU and pool a few samples at a time, so the pool reads the conv's
                // output while it is still in L2 rather than after the whole batch.
                let (conv_out, rest) = after.split_at_mut(1);
                let (r, y) = rest.split_at_mut(1);
                let (li, lo, lp) = (layer.input.len(), layer.output.len(), model.layers[i + 2].output.len());
                for a in (0..n).step_by(FUSE_SAMPLES) {
                    let b = (a + FUSE_SAMPLES).min(n);
                    let out = &mut conv_out[0][a * lo..b * lo];
                    let (params, buffers, key) = (model.layer_params(i), model.layer_buffers(i), MaskKey::default());
                    layer.forward(params, buffers, &input[a * li..b * li], out, b - a, &mut self.scratch[i], mode, key);
                    pool.forward_after_relu(out, &mut r[0][a * lo..b * lo], &mut y[0][a * lp..b * lp], b - a);
                }
                skip = 2;
                continue;
            }
            let key = MaskKey { layer: i as u64, ..key };
            layer.forward(
                model.layer_params(i),
                model.layer_buffers(i),
                input,
                &mut after[0],
                n,
                &mut self.scratch[i],
                mode,
                key,
            );
        }
    }

    /// Back-propagates the gradient in `output_grad_mut()`, adding parameter gradients into
    /// `dparams` (zero it first for a fresh step). `x` is the input of the last forward pass.
    pub fn backward(&mut self, model: &Model<T>, x: &[T], mode: Mode) {
        let n = self.n;
        let mut fused_relu = false;
        for i in (0..model.layers.len()).rev() {
            if std::mem::take(&mut fused_relu) || self.buf[i] != i {
                continue; // its gradient came through the pool after it, or a flatten
            }
            let layer = &model.layers[i];
            if let Some(pool) = i.checked_sub(1).and_then(|r| relu_then_pool(&model.layers, r)) {
                // Gradient before the ReLU, from the pool's output gradient directly.
                let (gb, ga) = self.grads.split_at_mut(i);
                let dx: Option<&mut [T]> =
                    if i > 1 { Some(&mut gb[self.buf[i - 2]]) } else { self.dinput.as_deref_mut() };
                if let Some(dx) = dx {
                    let (r, y) = (&self.acts[i - 1][..n * layer.input.len()], &self.acts[i][..n * layer.output.len()]);
                    pool.backward_through_relu(
                        r,
                        y,
                        &ga[0][..n * layer.output.len()],
                        &mut dx[..n * layer.input.len()],
                        n,
                    );
                }
                fused_relu = true;
                continue;
            }
            let (gb, ga) = self.grads.split_at_mut(i);
            let dy = &ga[0];
            let dx: Option<&mut [T]> = if i > 0 { Some(&mut gb[self.buf[i - 1]]) } else { self.dinput.as_deref_mut() };
            let input: &[T] = if i == 0 { x } else { &self.acts[self.buf[i - 1]] };
            let range = model.param_offsets[i]..model.param_offsets[i + 1];
            layer.backward(
                model.layer_params(i),
                input,
                &self.acts[i],
                dy,
                dx,
                &mut self.dparams[range],
                n,
                &mut self.scratch[i],
                mode,
            );
        }
    }
}
