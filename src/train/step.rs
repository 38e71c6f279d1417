//! One training step, data-parallel: the batch is cut into a fixed number of shards, each
//! shard runs forward, loss and backward on its own replica (workspace), the shards'
//! gradients are summed in a fixed order and the optimizer runs once.
//!
//! The number of shards depends only on the model and the batch size, never on the number of
//! threads, so a seed gives bit-identical results on 1 thread or many. Tiny models run in one
//! shard without forking: the fork would cost more than the work.
//!
//! With `clip_grad_norm`, the shards' gradients are summed (in the same order) before the
//! optimizer runs, so the clipping sees the whole gradient, as PyTorch's `clip_grad_norm_`
//! between `backward()` and `step()` does.

use crate::engine::Float;
use crate::error::{Error, Result};
use crate::layers::{MaskKey, Mode};
use crate::losses::{Loss, Target};
use crate::model::{Model, Workspace};
use crate::optim::{clip_grad_norm, Optimizer};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// Below this much work per step (forward + backward FLOPs), one shard is faster.
const MIN_FLOPS_TO_SHARD: usize = 4_000_000;
const MAX_SHARDS: usize = 4;
/// Each shard costs a zeroing and a summation of the whole gradient per step: SimpleCNN at
/// batch 16 ran 7 % faster in 2 shards of 8 than in 4 of 4 (`convlab bench`, 2 threads).
const MIN_SAMPLES_PER_SHARD: usize = 8;

/// A step's input samples: contiguous, or rows of a data set picked by index (a shuffled
/// batch), which each shard copies for itself, so that the copy runs on every thread.
#[derive(Clone, Copy, Debug)]
pub enum Samples<'a, T> {
    Contiguous(&'a [T]),
    Rows { data: &'a [T], rows: &'a [usize] },
}

/// What a shard keeps besides its workspace.
#[derive(Clone, Debug, Default)]
struct Shard<T> {
    /// Loss sum and correctly classified samples of the last pass.
    stats: (f64, usize),
    /// The shard's samples copied from `Samples::Rows` (allocated on first use).
    gathered: Vec<T>,
}

impl<T: Float> Shard<T> {
    /// The shard's samples `r` of `x` (`in_len` values each), copied here when they are rows.
    fn inputs<'a>(gathered: &'a mut Vec<T>, x: Samples<'a, T>, r: Range<usize>, in_len: usize) -> &'a [T] {
        match x {
            Samples::Contiguous(x) => &x[r.start * in_len..r.end * in_len],
            Samples::Rows { data, rows } => {
                if gathered.len() < r.len() * in_len {
                    gathered.resize(r.len() * in_len, T::ZERO);
                }
                for (dst, &row) in gathered.chunks_exact_mut(in_len).zip(&rows[r.clone()]) {
                    dst.copy_from_slice(&data[row * in_len..(row + 1) * in_len]);
                }
                &gathered[..r.len() * in_len]
            }
        }
    }
}

pub struct Trainer<T: Float> {
    pub model: Model<T>,
    pub optimizer: Optimizer<T>,
    pub loss: Loss,
    /// Seeds dropout masks.
    pub seed: u64,
    /// Steps taken so far.
    pub step: u64,
    /// Scale each step's gradient to at most this global 2-norm (`--clip-grad-norm`).
    pub clip_grad_norm: Option<f64>,
    workspaces: Vec<Workspace<T>>,
    shards: Vec<Shard<T>>,
    max_shards: usize,
    max_batch: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// The `i`-th of `s` nearly equal contiguous parts of `0..n`.
pub fn shard_range(n: usize, s: usize, i: usize) -> Range<usize> {
    let (base, extra) = (n / s, n % s);
    let start = i * base + i.min(extra);
    start..start + base + usize::from(i < extra)
}

impl<T: Float> Trainer<T> {
    /// A trainer for batches of up to `max_batch` samples on `threads` threads (0 = all cores).
    pub fn new(
        model: Model<T>,
        optimizer: Optimizer<T>,
        loss: Loss,
        max_batch: usize,
        threads: usize,
        seed: u64,
    ) -> Result<Self> {
        if max_batch == 0 {
            return Err(Error::config("the batch size must be at least 1"));
        }
        let work = 3 * model.flops_per_sample() * max_batch;
        // Batch norm needs the whole batch's statistics in one place.
        let max_shards = if model.has_batchnorm() || work < MIN_FLOPS_TO_SHARD {
            1
        } else {
            MAX_SHARDS.min(max_batch / MIN_SAMPLES_PER_SHARD).max(1)
        };
        let threads =
            if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
        let pool = if threads > 1 && max_shards > 1 {
            Some(Arc::new(rayon::ThreadPoolBuilder::new().num_threads(threads.min(max_shards)).build().map_err(
                |e| Error::config(format!("cannot start {threads} threads: {e}; give fewer with --threads")),
            )?))
        } else {
            None
        };
        let capacity = max_batch.div_ceil(max_shards).max(2 * MIN_SAMPLES_PER_SHARD).min(max_batch);
        let workspaces = (0..max_shards).map(|_| Workspace::new(&model, capacity, false).lean(&model)).collect();
        Ok(Trainer {
            model,
            optimizer,
            loss,
            seed,
            step: 0,
            clip_grad_norm: None,
            workspaces,
            shards: vec![Shard::default(); max_shards],
            max_shards,
            max_batch,
            pool,
        })
    }

    /// Runs `f` (a loop of steps) on one of the trainer's own threads. A step started from
    /// outside the pool hands its work over and is woken when it is done, twice a step (shards,
    /// optimizer); from inside, the threads fork and join while running.
    pub fn on_own_threads<R: Send>(&mut self, f: impl FnOnce(&mut Self) -> R + Send) -> R {
        match self.pool.clone() {
            Some(pool) => pool.install(|| f(self)),
            None => f(self),
        }
    }

    /// How many shards a batch of `n` is cut into: a function of the model and `n` only.
    pub fn shards_for(&self, n: usize) -> usize {
        self.max_shards.min(n / MIN_SAMPLES_PER_SHARD).max(1)
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The replica that ran the first shard last (its activations are the first samples').
    pub fn workspace(&self) -> &Workspace<T> {
        &self.workspaces[0]
    }

    /// One optimizer step on the `n` samples in `x`; returns the batch's mean loss and correct
    /// count, both from before the update. A NaN or infinite loss is [`Error::Numeric`] and
    /// leaves the parameters as they were; targets that do not fit are [`Error::Shape`].
    pub fn train_step(&mut self, x: &[T], target: Target<T>, n: usize) -> Result<StepStats> {
        self.train_step_on(Samples::Contiguous(x), target, n)
    }

    /// `train_step` on samples given contiguously or as rows of a data set.
    pub fn train_step_on(&mut self, x: Samples<'_, T>, target: Target<T>, n: usize) -> Result<StepStats> {
        assert!(n >= 1 && n <= self.max_batch, "batch of {n} outside 1..={}", self.max_batch);
        if let Samples::Rows { rows, .. } = x {
            assert_eq!(rows.len(), n, "one row index per sample");
        }
        let k = self.model.output().len();
        self.loss.check(n, k, target)?;
        let shards = self.shards_for(n);
        let count = self.loss.count(n, k);
        let scale = T::from_f64(1.0 / count as f64);
        let (model, loss, in_len) = (&self.model, self.loss, self.model.input.len());
        let key = MaskKey { seed: self.seed, step: self.step, layer: 0, first_sample: 0 };
        for_shards(&self.pool, &mut self.workspaces[..shards], &mut self.shards[..shards], |i, ws, shard| {
            let r = shard_range(n, shards, i);
            let Shard { stats, gathered } = shard;
            let xs = Shard::inputs(gathered, x, r.clone(), in_len);
            ws.forward(model, xs, r.len(), Mode::Train, MaskKey { first_sample: r.start as u64, ..key });
            let t = match target {
                Target::Classes(l) => Target::Classes(&l[r.clone()]),
                Target::Values(v) => Target::Values(&v[r.start * k..r.end * k]),
            };
            let (out, dout) = ws.output_and_grad(model);
            *stats = (loss.sum_and_grad(out, k, t, Some((dout, scale))), count_correct(loss, out, k, t));
            ws.dparams.fill(T::ZERO);
            ws.backward(model, xs, Mode::Train);
        });
        let total: f64 = self.shards[..shards].iter().map(|s| s.stats.0).sum();
        let correct = self.shards[..shards].iter().map(|s| s.stats.1).sum();
        let mean = total / count as f64;
        if !mean.is_finite() {
            return Err(Error::numeric(format!("the loss became {mean}")));
        }
        let (first, rest) = self.workspaces.split_at_mut(1);
        let mut others: [&[T]; MAX_SHARDS - 1] = [&[]; MAX_SHARDS - 1];
        for (o, w) in others.iter_mut().zip(&rest[..shards - 1]) {
            *o = &w.dparams;
        }
        let mut others = &others[..shards - 1];
        if let Some(max_norm) = self.clip_grad_norm {
            let grads = &mut first[0].dparams;
            for o in others {
                grads.iter_mut().zip(*o).for_each(|(g, &v)| *g += v);
            }
            others = &[];
            clip_grad_norm(grads, max_norm);
        }
        self.optimizer.step_sharded(&mut self.model.params, &mut first[0].dparams, others, self.pool.as_deref());
        if self.model.has_batchnorm() {
            self.model.update_running_stats(&self.workspaces[0]);
        }
        self.step += 1;
        Ok(StepStats { loss: mean, correct })
    }

    /// Mean loss and, for class targets, accuracy over a whole set, in evaluation mode.
    pub fn evaluate(&mut self, x: &[T], target: Target<T>, n: usize) -> Result<(f64, Option<f64>)> {
        let k = self.model.output().len();
        self.loss.check(n, k, target)?;
        let in_len = self.model.input.len();
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        let mut start = 0;
        while start < n {
            let end = (start + self.max_batch).min(n);
            let m = end - start;
            let shards = self.shards_for(m);
            let (model, loss) = (&self.model, self.loss);
            for_shards(&self.pool, &mut self.workspaces[..shards], &mut self.shards[..shards], |i, ws, shard| {
                let r = shard_range(m, shards, i);
                let (a, b) = (start + r.start, start + r.end);
                ws.forward(model, &x[a * in_len..b * in_len], r.len(), Mode::Eval, MaskKey::default());
                let t = match target {
                    Target::Classes(l) => Target::Classes(&l[a..b]),
                    Target::Values(v) => Target::Values(&v[a * k..b * k]),
                };
                let out = ws.output(model);
                shard.stats = (loss.sum_and_grad(out, k, t, None), count_correct(loss, out, k, t));
            });
            loss_sum += self.shards[..shards].iter().map(|s| s.stats.0).sum::<f64>();
            correct += self.shards[..shards].iter().map(|s| s.stats.1).sum::<usize>();
            start = end;
        }
        let acc = has_accuracy(self.loss, k).then(|| correct as f64 / n as f64);
        Ok((loss_sum / self.loss.count(n, k) as f64, acc))
    }
}

/// Runs `job(shard index, workspace, shard)` over the shards, in parallel when a pool exists.
fn for_shards<T: Float>(
    pool: &Option<Arc<rayon::ThreadPool>>,
    ws: &mut [Workspace<T>],
    shards: &mut [Shard<T>],
    job: impl Fn(usize, &mut Workspace<T>, &mut Shard<T>) + Sync + Send,
) {
    match pool {
        Some(pool) if ws.len() > 1 => pool
            .install(|| ws.par_iter_mut().zip(shards.par_iter_mut()).enumerate().for_each(|(i, (w, s))| job(i, w, s))),
        _ => ws.iter_mut().zip(shards.iter_mut()).enumerate().for_each(|(i, (w, s))| job(i, w, s)),
    }
}

/// What one training step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mean loss of the batch, before the update.
    pub loss: f64,
    /// Correctly classified samples (0 when the task has no accuracy).
    pub correct: usize,
}

/// Accuracy is defined for class labels and for one binary (BCE) output.
pub fn has_accuracy(loss: Loss, k: usize) -> bool {
    loss == Loss::CrossEntropy || (loss == Loss::BceWithLogits && k == 1)
}

/// Correct predictions in an n×k output: argmax for classes, the sign of the logit for BCE.
pub fn count_correct<T: Float>(loss: Loss, out: &[T], k: usize, target: Target<T>) -> usize {
    match (loss, target) {
        (Loss::CrossEntropy, Target::Classes(labels)) => {
            out.chunks_exact(k).zip(labels).filter(|(row, &l)| argmax(row) == l as usize).count()
        }
        (Loss::BceWithLogits, Target::Values(v)) if k == 1 => {
            out.iter().zip(v).filter(|(&o, &t)| (o > T::ZERO) == (t > T::from_f64(0.5))).count()
        }
        _ => 0,
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows picked from a data set train exactly as the same samples copied side by side, on
    /// a model large enough to be cut into shards that run on two threads.
    #[test]
    fn rows_train_as_their_contiguous_copy() {
        use crate::{Dims, OptimizerConfig};
        let spec = "conv2d(16,k=3,p=1) relu maxpool2d(2) flatten linear(3)";
        let make = || {
            let mut m = Model::<f32>::new(spec, Dims::image(1, 16, 16)).unwrap();
            m.init(3);
            let opt = OptimizerConfig::parse("adam(lr=1e-2)").unwrap().build();
            Trainer::new(m, opt, Loss::CrossEntropy, 32, 2, 0).unwrap()
        };
        let (mut by_rows, mut copied) = (make(), make());
        assert!(by_rows.shards_for(32) > 1, "the test needs several shards");
        let data: Vec<f32> = (0..64 * 256).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
        let labels: Vec<u32> = (0..32).map(|i| i % 3).collect();
        for step in 0..2 {
            let rows: Vec<usize> = (0..32).map(|i| (i * 37 + step * 11) % 64).collect();
            let x: Vec<f32> = rows.iter().flat_map(|&r| data[r * 256..(r + 1) * 256].iter().copied()).collect();
            let a = by_rows.train_step_on(Samples::Rows { data: &data, rows: &rows }, Target::Classes(&labels), 32);
            let b = copied.train_step(&x, Target::Classes(&labels), 32);
            assert_eq!(a.unwrap(), b.unwrap());
        }
        assert_eq!(by_rows.model.params, copied.model.params);
    }

    #[test]
    fn shards_cover_the_batch_exactly() {
        for n in 1..40 {
            for s in 1..5 {
                let mut next = 0;
                for i in 0..s {
                    let r = shard_range(n, s, i);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
    }
}
