//! One replica's memory: every layer's output and output-gradient, and the layers' scratch,
//! allocated once for the largest batch so that a training step allocates nothing.
//! The activations stay here after a forward pass, so feature maps are free to inspect (except,
//! in `lean` workspaces, the output of a ReLU fused into the max-pool after it). How the layers
//! run here (fusion, aliasing, chunking, lean buffers) is decided once, in the `Plan`.

use super::plan::{Plan, Role};
use super::Model;
use crate::engine::Float;
use crate::layers::{Chunk, MaskKey, Mode, Op, Scratch};
use std::ops::Range;

#[derive(Clone, Debug)]
pub struct Workspace<T> {
    capacity: usize,
    /// How the model runs here: fusion, aliasing, chunking, lean buffers (see `plan`).
    plan: Plan,
    /// `acts[plan.buf[i]]`: output of layer i.
    acts: Vec<Vec<T>>,
    /// `grads[plan.buf[i]]`: gradient of the loss with respect to layer i's output.
    grads: Vec<Vec<T>>,
    scratch: Vec<Scratch<T>>,
    /// Gradient of the loss with respect to the model's parameters (accumulated by `backward`).
    pub dparams: Vec<T>,
    /// Gradient with respect to the input, kept only when asked for (checks, saliency).
    dinput: Option<Vec<T>>,
    /// Samples in the last forward pass.
    n: usize,
    /// Whether the last forward pass recorded the max-pools' winners for a backward pass
    /// (a lean workspace's evaluation forward does not).
    winners_kept: bool,
}

impl<T: Float> Workspace<T> {
    /// Room for batches of up to `capacity` samples.
    pub fn new(model: &Model<T>, capacity: usize, keep_input_grad: bool) -> Self {
        let capacity = capacity.max(1);
        let plan = Plan::new(&model.layers, capacity, std::mem::size_of::<T>(), false, keep_input_grad);
        let mut ws = Workspace {
            capacity,
            acts: vec![],
            grads: vec![],
            scratch: model.layers.iter().map(|l| l.scratch(capacity)).collect(),
            dparams: vec![T::ZERO; model.params.len()],
            dinput: keep_input_grad.then(|| vec![T::ZERO; capacity * model.input.len()]),
            n: 0,
            winners_kept: false,
            plan,
        };
        ws.allocate(model);
        ws
    }

    /// Sizes the output and gradient buffers for the plan.
    fn allocate(&mut self, model: &Model<T>) {
        let (plan, cap) = (&self.plan, self.capacity);
        let layers = model.layers.iter().enumerate();
        self.acts = layers.clone().map(|(i, l)| vec![T::ZERO; plan.act_len(i, l.output.len(), cap)]).collect();
        self.grads = layers.map(|(i, l)| vec![T::ZERO; plan.grad_len(i, l.output.len(), cap)]).collect();
    }

    /// Keeps only what the backward pass needs (a lean plan: see `plan`). For training and
    /// prediction; feature maps are then not all available to inspect.
    pub fn lean(mut self, model: &Model<T>) -> Self {
        self.plan = Plan::new(&model.layers, self.capacity, std::mem::size_of::<T>(), true, self.dinput.is_some());
        self.allocate(model);
        self
    }

    /// Runs every ReLU and max-pool on its own (see `Plan::unfused`), so `layer_grad` can read
    /// any layer's output gradient. For explanations; training keeps the faster fused pair.
    pub fn unfused(mut self, model: &Model<T>) -> Self {
        self.plan =
            Plan::new(&model.layers, self.capacity, std::mem::size_of::<T>(), false, self.dinput.is_some()).unfused();
        self.allocate(model);
        self
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn scratch(&self, layer: usize) -> &Scratch<T> {
        &self.scratch[layer]
    }

    /// Output of layer `i` for the last forward pass (`n` samples). Not for a conv that feeds
    /// a fused ReLU + max-pool in a `lean` workspace, which keeps one chunk only or, when it
    /// runs the pool itself (`pooled_conv`), writes no output at all.
    pub fn activation(&self, i: usize, model: &Model<T>) -> &[T] {
        let b = self.plan.buf[i];
        let kept = !self.plan.chunk_act[b] && !self.plan.pooled_conv[i];
        assert!(kept, "layer {i}'s output is not kept in a lean workspace");
        &self.acts[b][..self.n * model.layers[i].output.len()]
    }

    /// The model's output for the last forward pass.
    pub fn output(&self, model: &Model<T>) -> &[T] {
        self.activation(model.layers.len() - 1, model)
    }

    /// Where the loss writes its gradient with respect to the output.
    pub fn output_grad_mut(&mut self, model: &Model<T>) -> &mut [T] {
        let len = self.n * model.output().len();
        let last = *self.plan.buf.last().expect("a model has at least one layer");
        &mut self.grads[last][..len]
    }

    /// The output and its gradient buffer together, for the loss to read one and write the other.
    pub fn output_and_grad(&mut self, model: &Model<T>) -> (&[T], &mut [T]) {
        let len = self.n * model.output().len();
        let last = *self.plan.buf.last().expect("a model has at least one layer");
        (&self.acts[last][..len], &mut self.grads[last][..len])
    }

    /// Gradient with respect to layer `i`'s output from the last backward pass (`n` samples).
    /// Needs an `unfused` workspace when layer i is a ReLU before a max-pool, and batches that
    /// fit one chunk when it is among the per-sample layers (their gradients hold one chunk).
    pub fn layer_grad(&self, i: usize, model: &Model<T>) -> &[T] {
        let b = self.plan.buf[i];
        assert!(self.plan.role[i] != Role::FusedRelu, "layer {i}'s gradient needs an unfused workspace");
        assert!(!self.plan.chunk_grad[b] || self.n <= self.plan.chunk, "layer {i}'s gradient holds one chunk");
        &self.grads[b][..self.n * model.layers[i].output.len()]
    }

    pub fn input_grad(&self, model: &Model<T>) -> Option<&[T]> {
        self.dinput.as_ref().map(|d| &d[..self.n * model.input.len()])
    }

    /// Runs `n` samples of `x` through the model. `key` seeds dropout.
    pub fn forward(&mut self, model: &Model<T>, x: &[T], n: usize, mode: Mode, key: MaskKey) {
        assert!(n <= self.capacity, "batch of {n} exceeds the workspace's {}", self.capacity);
        assert!(x.len() >= n * model.input.len(), "input holds fewer than {n} samples");
        self.n = n;
        self.winners_kept = !(self.plan.lean && mode == Mode::Eval);
        let (prefix, chunk) = (self.plan.prefix, self.plan.chunk);
        for a in (0..n).step_by(chunk) {
            self.forward_layers(model, x, 0..prefix, a..(a + chunk).min(n), mode, key);
        }
        self.forward_layers(model, x, prefix..model.layers.len(), 0..n, mode, key);
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
        let (plan, buf) = (&self.plan, &self.plan.buf);
        // The 2×2 pools' winners, for the samples from the call's first, unless no backward follows.
        let winners_from = self.winners_kept.then_some(s.start);
        for i in layers {
            let layer = &model.layers[i];
            let role = plan.role[i];
            if matches!(role, Role::Alias | Role::FusedRelu) {
                continue; // a flatten has nothing to do; a fused ReLU runs with its pool
            }
            let (li, lo) = (layer.input.len(), layer.output.len());
            if role == Role::FusedPool && i >= 2 && plan.pooled_conv[i - 2] {
                continue; // it ran with its conv
            }
            if plan.pooled_conv[i] {
                // This conv, then the fused ReLU + pool at i + 1, i + 2 on its extended grid.
                let (Op::Conv(conv), Op::MaxPool(pool)) = (&layer.op, &model.layers[i + 2].op) else {
                    unreachable!("the plan pools only a conv followed by a fused ReLU + max-pool")
                };
                let in_at = if i == 0 { s.start * li..s.end * li } else { plan.act_at(buf[i - 1], &s, li) };
                let pool_at = plan.act_at(i + 2, &s, model.layers[i + 2].output.len());
                let (before, after) = self.acts.split_at_mut(i);
                let input: &[T] = if i == 0 { x } else { &before[buf[i - 1]] };
                let (conv_scratch, pool_scratch) = self.scratch.split_at_mut(i + 2);
                conv.forward_pooled(
                    model.layer_params(i),
                    &input[in_at],
                    s.len(),
                    conv_scratch[i].conv_mut(),
                    s.start == 0,
                    pool,
                    &mut after[2][pool_at],
                    winners_from.map(|f| (pool_scratch[0].max_pool_mut(), f)),
                );
                continue;
            }
            if role == Role::FusedPool {
                // The ReLU (layer r = i - 1) and this pool, from the ReLU's input.
                let (r, rl) = (i - 1, model.layers[i - 1].input.len());
                let in_at = if r == 0 { s.start * rl..s.end * rl } else { plan.act_at(buf[r - 1], &s, rl) };
                let (before, after) = self.acts.split_at_mut(r);
                let input: &[T] = if r == 0 { x } else { &before[buf[r - 1]] };
                let (relu_out, pool_out) = after.split_at_mut(1);
                let y = &mut pool_out[0][s.start * lo..s.end * lo];
                let Op::MaxPool(pool) = &layer.op else { unreachable!("the plan fuses a ReLU into a max-pool only") };
                let scratch = self.scratch[i].max_pool_mut();
                if plan.lean {
                    pool.fused_forward(&input[in_at], y, s.len(), scratch, winners_from);
                } else {
                    let relu_out = &mut relu_out[0][s.start * rl..s.end * rl];
                    pool.fused_forward_keeping_relu(&input[in_at], relu_out, y, s.len(), scratch, s.start);
                }
                continue;
            }
            let (before, after) = self.acts.split_at_mut(i);
            let in_at = if i == 0 { s.start * li..s.end * li } else { plan.act_at(buf[i - 1], &s, li) };
            let out_at = plan.act_at(i, &s, lo);
            let input: &[T] = if i == 0 { x } else { &before[buf[i - 1]] };
            layer.forward(
                model.layer_params(i),
                model.layer_buffers(i),
                &input[in_at],
                &mut after[0][out_at],
                s.len(),
                &mut self.scratch[i],
                mode,
                MaskKey { layer: i as u64, ..key },
                Chunk { first: s.start == 0, last: s.end == self.n },
            );
        }
    }

    /// Back-propagates the gradient in `output_grad_mut()`, adding parameter gradients into
    /// `dparams` (zero it first for a fresh step). `x` is the input of the last forward pass.
    pub fn backward(&mut self, model: &Model<T>, x: &[T], mode: Mode) {
        assert!(self.winners_kept, "a lean workspace's evaluation forward keeps no winners to back-propagate through");
        let n = self.n;
        let (prefix, chunk) = (self.plan.prefix, self.plan.chunk);
        self.backward_layers(model, x, prefix..model.layers.len(), 0..n, mode, Chunk::WHOLE);
        for a in (0..n).step_by(chunk) {
            let b = (a + chunk).min(n);
            self.backward_layers(model, x, 0..prefix, a..b, mode, Chunk { first: a == 0, last: b == n });
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
        let (plan, buf, chunk_grad) = (&self.plan, &self.plan.buf, &self.plan.chunk_grad);
        let at = |b: usize, len: usize| if chunk_grad[b] { 0..s.len() * len } else { s.start * len..s.end * len };
        for i in layers.rev() {
            let role = plan.role[i];
            if matches!(role, Role::Alias | Role::FusedRelu) {
                continue; // a flatten's gradient is the layer before's; a fused ReLU's came through its pool
            }
            let layer = &model.layers[i];
            let (li, lo) = (layer.input.len(), layer.output.len());
            let (gb, ga) = self.grads.split_at_mut(i);
            let dy = &ga[0][at(i, lo)];
            // The layer whose input gradient this call writes: the fused ReLU's, for a fused pool.
            let first = if role == Role::FusedPool { i - 1 } else { i };
            let first_in = model.layers[first].input.len();
            let dx: Option<&mut [T]> = if first > 0 {
                Some(&mut gb[buf[first - 1]][at(buf[first - 1], first_in)])
            } else {
                self.dinput.as_deref_mut().map(|d| &mut d[s.start * first_in..s.end * first_in])
            };
            if role == Role::FusedPool && i >= 2 && plan.from_winners[i - 2] {
                continue; // the conv at i - 2 reads the winners itself
            }
            if plan.from_winners[i] {
                // dW and db from the winners of the fused pool at i + 2 (no input gradient).
                let (Op::Conv(conv), Op::MaxPool(pool)) = (&layer.op, &model.layers[i + 2].op) else {
                    unreachable!("the plan takes winners only from a fused pool after a conv")
                };
                let pool_lo = model.layers[i + 2].output.len();
                let (y, dy) = (&self.acts[i + 2][plan.act_at(i + 2, &s, pool_lo)], &ga[2][at(i + 2, pool_lo)]);
                let (conv_scratch, pool_scratch) = self.scratch.split_at_mut(i + 2);
                let range = model.param_offsets[i]..model.param_offsets[i + 1];
                conv.backward_from_winners(
                    &x[s.start * li..s.end * li],
                    pool,
                    pool_scratch[0].max_pool(),
                    (y, dy),
                    &mut self.dparams[range],
                    s.len(),
                    conv_scratch[i].conv_mut(),
                    (chunk, s.start),
                );
                continue;
            }
            if role == Role::FusedPool {
                // The gradient before the ReLU, from the pool's output gradient directly.
                if let (Some(dx), Op::MaxPool(pool)) = (dx, &layer.op) {
                    let y = &self.acts[i][s.start * lo..s.end * lo];
                    pool.fused_backward(y, dy, dx, s.len(), self.scratch[i].max_pool(), s.start);
                }
                continue;
            }
            let in_at = if i == 0 { s.start * li..s.end * li } else { plan.act_at(buf[i - 1], &s, li) };
            let out_at = plan.act_at(i, &s, lo);
            let input: &[T] = if i == 0 { x } else { &self.acts[buf[i - 1]] };
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
    type Shape = fn(Workspace<f32>, &Model<f32>) -> Workspace<f32>;

    fn pass(spec: &str, side: usize, shape: Shape, x: &[f32], n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut model = Model::<f32>::new(spec, Dims::image(1, side, side)).unwrap();
        model.init(7);
        let mut ws = shape(Workspace::new(&model, n, true), &model);
        ws.forward(&model, x, n, Mode::Train, MaskKey::default());
        let out = ws.output(&model).to_vec();
        ws.output_grad_mut(&model).iter_mut().enumerate().for_each(|(i, g)| *g = (i as f32 * 0.37).sin());
        ws.backward(&model, x, Mode::Train);
        (out, ws.dparams.clone(), ws.input_grad(&model).unwrap().to_vec())
    }

    /// A Conv1d that pools its signals on their interleaved grid (lean plans) against the
    /// unfused layers: the same outputs, parameter gradients and input gradients, bit for bit.
    /// 23 samples of 2 × 300 make three stacked calls (10, 10 and 3 samples); ties and
    /// negatives make the first-maximum and ReLU-at-zero cases occur.
    #[test]
    fn signals_pooled_on_their_interleaved_grid_equal_the_unfused_layers() {
        for (spec, input, n) in [
            ("conv1d(3,k=5,p=2) relu maxpool1d(4) flatten linear(2)", "2,300", 23),
            ("conv1d(4,k=3,p=1,d=2) relu maxpool1d(3,s=2) flatten linear(2)", "1,40", 37),
        ] {
            let mut model = Model::<f32>::new(spec, Dims::parse(input).unwrap()).unwrap();
            model.init(5);
            let x: Vec<f32> = (0..n * model.input.len()).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
            let run = |lean: bool, input_grad: bool| {
                let ws = Workspace::new(&model, n, input_grad);
                let mut ws = if lean { ws.lean(&model) } else { ws.unfused(&model) };
                assert_eq!(ws.plan.pooled_conv[0], lean, "{spec}");
                ws.forward(&model, &x, n, Mode::Train, MaskKey::default());
                let out = ws.output(&model).to_vec();
                ws.output_grad_mut(&model).iter_mut().enumerate().for_each(|(i, g)| *g = (i as f32 * 0.37).sin());
                ws.backward(&model, &x, Mode::Train);
                (out, ws.dparams.clone(), ws.input_grad(&model).map(<[f32]>::to_vec))
            };
            // With the input gradient the pool's backward runs; without, the conv reads the winners.
            for input_grad in [true, false] {
                let (want, got) = (run(false, input_grad), run(true, input_grad));
                assert!(want.1[..4].iter().any(|&g| g != 0.0), "{spec}: the conv gets a gradient");
                assert_eq!(want, got, "{spec}, input gradient {input_grad}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "keeps no winners")]
    fn a_lean_evaluation_forward_cannot_be_back_propagated() {
        let model =
            Model::<f32>::new("conv2d(2,k=3,p=1) relu maxpool2d(2) flatten linear(2)", Dims::image(1, 4, 4)).unwrap();
        let mut ws = Workspace::new(&model, 1, false).lean(&model);
        let x = vec![0.5; 16];
        ws.forward(&model, &x, 1, Mode::Eval, MaskKey::default());
        ws.backward(&model, &x, Mode::Eval);
    }

    #[test]
    fn weight_gradients_from_a_pools_winners_equal_the_dense_ones_bit_for_bit() {
        let n = 5;
        for (spec, input) in [
            ("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", "1,20"),
            ("conv1d(3,k=3,p=1,d=2) relu maxpool1d(4,s=5) flatten linear(2)", "2,21"),
            ("conv2d(3,k=3,p=1) relu maxpool2d(3) flatten linear(2)", "1,9,9"),
            ("conv2d(2,k=3) relu maxpool2d(2,s=3,p=1) flatten linear(2)", "2,8,8"),
        ] {
            let mut model = Model::<f32>::new(spec, Dims::parse(input).unwrap()).unwrap();
            model.init(3);
            let len = n * model.input.len();
            // Ties and negatives, so first-maximum and ReLU-at-zero cases occur.
            let x: Vec<f32> = (0..len).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
            let run = |lean: bool| {
                let ws = Workspace::new(&model, n, false);
                let mut ws = if lean { ws.lean(&model) } else { ws };
                assert_eq!(ws.plan.from_winners[0], lean, "{spec}");
                ws.forward(&model, &x, n, Mode::Train, MaskKey::default());
                ws.output_grad_mut(&model).iter_mut().enumerate().for_each(|(i, g)| *g = (i as f32 * 0.37).sin());
                ws.backward(&model, &x, Mode::Train);
                ws.dparams.clone()
            };
            let (dense, winners) = (run(false), run(true));
            assert!(dense[..4].iter().any(|&g| g != 0.0), "{spec}: the conv gets a gradient");
            assert_eq!(dense, winners, "{spec}");
        }
    }

    /// A first conv behind a ReLU and a 2×2 pool takes dW from the pool's listed winners in
    /// lean plans (on AVX-512 builds): the same gradients as the dense path up to rounding.
    /// mnist-lab's and SimpleCNN's first layers, and one of three input channels on 40×40
    /// images (a few samples per chunk).
    #[test]
    fn weight_gradients_from_a_2x2_pools_listed_winners_match_the_dense_ones() {
        let n = 7;
        for (spec, input) in [
            ("conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(3)", "1,28,28"),
            ("conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) flatten linear(4)", "1,28,28"),
            ("conv2d(5,k=3,p=1) relu maxpool2d(2) flatten linear(2)", "3,40,40"),
        ] {
            let mut model = Model::<f32>::new(spec, Dims::parse(input).unwrap()).unwrap();
            model.init(3);
            let len = n * model.input.len();
            let x: Vec<f32> = (0..len).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25 + (i as f32 * 0.013).sin()).collect();
            let run = |lean: bool| {
                let ws = Workspace::new(&model, n, false);
                let mut ws = if lean { ws.lean(&model) } else { ws };
                assert_eq!(ws.plan.from_winners[0], lean && crate::engine::simd::AVX512, "{spec}");
                ws.forward(&model, &x, n, Mode::Train, MaskKey::default());
                ws.output_grad_mut(&model).iter_mut().enumerate().for_each(|(i, g)| *g = (i as f32 * 0.37).sin());
                ws.backward(&model, &x, Mode::Train);
                ws.dparams.clone()
            };
            let (dense, listed) = (run(false), run(true));
            let Op::Conv(first) = &model.layers[0].op else { unreachable!("a conv first") };
            let weights = first.weight_len();
            let scale = dense[..weights].iter().fold(0f32, |m, g| m.max(g.abs()));
            assert!(scale > 0.0, "{spec}: the conv gets a gradient");
            for (k, (a, b)) in dense[..weights].iter().zip(&listed).enumerate() {
                assert!((a - b).abs() <= 1e-5 * scale, "{spec}: dW[{k}] {a} vs {b}");
            }
            for (k, (a, b)) in dense[weights..].iter().zip(&listed[weights..]).enumerate() {
                assert!((a - b).abs() <= 1e-5 * a.abs().max(scale), "{spec}: parameter {} {a} vs {b}", weights + k);
            }
        }
    }

    #[test]
    fn lean_and_unfused_workspaces_compute_the_same_outputs_and_gradients() {
        let n = 3;
        // 64×64 images make the per-sample layers run one sample at a time (chunk-sized buffers).
        for (spec, side) in [
            ("conv2d(4,k=3,p=1) relu maxpool2d(2) conv2d(6,k=3,p=1) relu maxpool2d(2) flatten linear(3)", 8),
            ("conv2d(4,k=3,p=1) relu maxpool2d(3,s=2,p=1) conv2d(2,k=2) relu maxpool2d(2,s=1) flatten linear(3)", 8),
            ("conv2d(8,k=3,p=1) relu maxpool2d(2) conv2d(4,k=3,p=1) relu maxpool2d(2) flatten linear(3)", 64),
        ] {
            // Many exact ties and negatives, so first-maximum and ReLU-at-zero cases occur.
            let x: Vec<f32> = (0..n * side * side).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
            let full = pass(spec, side, |ws, _| ws, &x, n);
            let lean = pass(spec, side, |ws, m| ws.lean(m), &x, n);
            let unfused = pass(spec, side, |ws, m| ws.unfused(m), &x, n);
            assert_eq!(full, lean, "{spec}");
            assert_eq!(full, unfused, "{spec}");
            assert!(full.2.iter().any(|&g| g != 0.0), "the input gradient reaches the input");
        }
    }
}
