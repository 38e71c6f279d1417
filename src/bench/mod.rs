//! `convlab bench`: times the standard workloads through the real training step and reports
//! seconds, samples per second, GFLOP/s, heap allocations per step and the ratio to PyTorch.

pub mod compare;
pub mod workloads;

use crate::data::Targets;
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::layers::{MaskKey, Mode};
use crate::losses::{Loss, Target};
use crate::model::{Model, Workspace};
use crate::optim::OptimizerConfig;
use crate::rng::Rng;
use crate::train::Trainer;
use std::time::Instant;
pub use workloads::{Workload, WORKLOADS};

/// What one workload measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    pub workload: String,
    pub seconds: f64,
    pub samples_per_second: f64,
    pub gflops: f64,
    /// Heap allocations per training step (all of them, including the GEMM crate's packing buffers).
    pub allocations_per_step: f64,
    pub threads: usize,
    pub data: String,
    /// PyTorch's time divided by ours (for infer: our rate over PyTorch's).
    pub speedup_vs_pytorch: f64,
    pub meets_target: bool,
    /// Times the workload ran; `seconds` and the rates are the fastest run's.
    pub runs: usize,
    pub median_seconds: f64,
}

/// Images for the 28×28 workloads: Fashion-MNIST's training set when installed, else
/// deterministic synthetic images of the same shape (blobs and strokes, not noise).
pub struct Images {
    pub x: Vec<f32>,
    pub labels: Vec<u32>,
    pub source: String,
}

/// Fashion-MNIST's 60000 training images. With `data_dir` (`--data-dir`) they must be there
/// and readable, else it is an error; without it, the installed set is used when found, and
/// synthetic images of the same shape otherwise (the source says which, and why).
pub fn images(data_dir: Option<&std::path::Path>) -> crate::Result<Images> {
    let loaded = match data_dir {
        // Only the folder given (or its fashion-mnist/), never a fall back elsewhere.
        Some(d) => {
            let sub = d.join("fashion-mnist");
            crate::data::locate::load_idx_dir(if sub.is_dir() { &sub } else { d })
        }
        None => crate::data::locate::load_named("fashion-mnist", None),
    };
    match loaded {
        Ok(split) => {
            let Targets::Classes { labels, .. } = split.train.targets else {
                return Err(crate::Error::data("Fashion-MNIST loaded without class labels; fetch it again"));
            };
            let n = labels.len();
            Ok(Images {
                x: split.train.x.into_vec(),
                labels,
                source: format!("Fashion-MNIST training set ({n} images)"),
            })
        }
        Err(e) if data_dir.is_some() => Err(e.context("bench --data-dir")),
        Err(_) => {
            let mut s = synthetic_images(60000, 7);
            s.source += " (Fashion-MNIST not found; convlab data fetch fashion-mnist, or --data-dir DIR)";
            Ok(s)
        }
    }
}

pub fn synthetic_images(n: usize, seed: u64) -> Images {
    let mut rng = Rng::new(seed);
    let mut x = vec![0f32; n * 784];
    let mut labels = vec![0u32; n];
    for i in 0..n {
        let class = rng.below(10);
        labels[i] = class as u32;
        let img = &mut x[i * 784..(i + 1) * 784];
        // A class-dependent bar plus noise, so the classes are learnable.
        let (r0, c0) = (4 + class % 5 * 4, 4 + class / 5 * 10);
        for r in r0..(r0 + 6).min(28) {
            for c in c0..(c0 + 10).min(28) {
                img[r * 28 + c] = 0.8;
            }
        }
        for v in img.iter_mut() {
            *v = (*v + 0.2 * rng.uniform() as f32).min(1.0);
        }
    }
    Images { x, labels, source: format!("synthetic 28x28 ({n} images)") }
}

/// Counts heap allocations, when the binary installs `CountingAllocator` as its global allocator.
/// Public only for the binary and the allocation test.
#[doc(hidden)]
pub mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering};

    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    std::thread_local! {
        // `const`, with no destructor: reading it never allocates, so the allocator may.
        static ON_THIS_THREAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    fn counted() {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // A thread being torn down has no slot left; its allocations count only globally.
        let _ = ON_THIS_THREAD.try_with(|c| c.set(c.get() + 1));
    }

    pub struct CountingAllocator;

    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            counted();
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            counted();
            System.realloc(ptr, layout, new_size)
        }
    }

    /// Allocations by every thread (bench: a step's work runs on several).
    pub fn count() -> u64 {
        ALLOCATIONS.load(Ordering::Relaxed)
    }

    /// Allocations by the calling thread only: what a single-threaded step made, whatever the
    /// test harness's other threads do meanwhile.
    pub fn count_on_this_thread() -> u64 {
        ON_THIS_THREAD.with(|c| c.get())
    }
}

/// Samples per forward call in the inference benchmark (CONVLAB_INFER_CHUNK overrides, for tuning).
fn infer_chunk() -> usize {
    std::env::var("CONVLAB_INFER_CHUNK").ok().and_then(|v| v.parse().ok()).filter(|&c| c > 0).unwrap_or(16)
}

/// Training FLOPs per sample: forward, plus backward at twice the forward cost, less the first
/// layer's input gradient, which is never computed.
fn train_flops<T: crate::engine::Float>(model: &Model<T>) -> f64 {
    let fwd = model.flops_per_sample() as f64;
    let first = model.layers.first().map(|l| l.flops()).unwrap_or(0) as f64;
    3.0 * fwd - first
}

/// Runs `w` `runs` times from the same start and reports the fastest run, with the median:
/// on a shared machine the fastest run is the one least disturbed by other work.
pub fn run_best(w: &Workload, images: &Images, threads: usize, runs: usize) -> Result<BenchResult> {
    let mut all = (0..runs.max(1)).map(|_| run(w, images, threads)).collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let median_seconds = all[all.len() / 2].seconds;
    let runs = all.len();
    let best = all.swap_remove(0);
    Ok(BenchResult { runs, median_seconds, ..best })
}

pub fn run(w: &Workload, images: &Images, threads: usize) -> Result<BenchResult> {
    let input = Dims::parse(w.input)?;
    let mut model = Model::<f32>::new(w.spec, input)?;
    model.init(1);
    let in_len = input.len();
    let threads_used =
        if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
    let (x, labels, source): (Vec<f32>, Vec<u32>, String) = if w.name == "pattern1d" {
        let (x, y) = crate::data::tutorial::pattern1d(0, w.samples, 20);
        (x, y.iter().map(|&v| v as u32).collect(), "the lab's pattern data (75 x 1 x 20)".into())
    } else {
        let n = w.samples.min(images.labels.len());
        (images.x[..n * in_len].to_vec(), images.labels[..n].to_vec(), images.source.clone())
    };
    let n = labels.len();
    if w.inference {
        // Each thread takes a contiguous share of every batch and runs it through the whole
        // model a few samples at a time: the activations of a slice stay in L2, where a whole
        // share's first feature maps (500 images: 25 MB) would stream through memory.
        let chunk = infer_chunk();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads_used)
            .build()
            .map_err(|e| Error::config(format!("cannot start {threads_used} threads: {e}")))?;
        let shares = threads_used.max(1);
        let mut spaces: Vec<Workspace<f32>> =
            (0..shares).map(|_| Workspace::new(&model, chunk, false).lean(&model)).collect();
        let model = &model;
        let share = |i: usize, s: &mut Workspace<f32>, xs: &[f32], m: usize| {
            let r = crate::train::step::shard_range(m, shares, i);
            for a in r.clone().step_by(chunk) {
                let b = (a + chunk).min(r.end);
                s.forward(model, &xs[a * in_len..b * in_len], b - a, Mode::Eval, MaskKey::default());
            }
        };
        let start = Instant::now();
        for b in (0..n).step_by(w.batch) {
            let m = w.batch.min(n - b);
            let xs = &x[b * in_len..(b + m) * in_len];
            if shares == 1 {
                share(0, &mut spaces[0], xs, m);
            } else {
                use rayon::prelude::*;
                pool.install(|| spaces.par_iter_mut().enumerate().for_each(|(i, s)| share(i, s, xs, m)));
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let rate = n as f64 / secs;
        return Ok(BenchResult {
            workload: w.name.into(),
            seconds: secs,
            samples_per_second: rate,
            gflops: model.flops_per_sample() as f64 * rate / 1e9,
            allocations_per_step: 0.0,
            threads: threads_used,
            data: source,
            speedup_vs_pytorch: rate / w.pytorch,
            meets_target: rate >= w.target,
            runs: 1,
            median_seconds: secs,
        });
    }
    let (loss, values): (Loss, Vec<f32>) = if w.name == "pattern1d" {
        (Loss::BceWithLogits, labels.iter().map(|&l| l as f32).collect())
    } else {
        (Loss::CrossEntropy, vec![])
    };
    let opt = OptimizerConfig::parse(w.optimizer)?;
    let flops = train_flops(&model);
    let mut trainer = Trainer::new(model, opt.build(), loss, w.batch, threads, 0)?;
    let step = |b: usize, trainer: &mut Trainer<f32>| -> Result<()> {
        let m = w.batch.min(n - b);
        let t = if loss == Loss::CrossEntropy {
            Target::Classes(&labels[b..b + m])
        } else {
            Target::Values(&values[b..b + m])
        };
        trainer.train_step(&x[b * in_len..(b + m) * in_len], t, m).map(|_| ())
    };
    // One warm-up step outside the clock (thread pool start, first-touch of buffers).
    step(0, &mut trainer)?;
    let allocs_before = alloc_count::count();
    let start = Instant::now();
    let mut steps = 0;
    trainer.on_own_threads(|trainer| {
        for _ in 0..w.epochs {
            for b in (0..n).step_by(w.batch) {
                step(b, trainer)?;
                steps += 1;
            }
        }
        Ok::<(), Error>(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    let allocs = (alloc_count::count() - allocs_before) as f64 / steps as f64;
    let samples = (n * w.epochs) as f64;
    Ok(BenchResult {
        workload: w.name.into(),
        seconds: secs,
        samples_per_second: samples / secs,
        gflops: flops * samples / secs / 1e9,
        allocations_per_step: allocs,
        threads: threads_used,
        data: source,
        speedup_vs_pytorch: w.pytorch / secs,
        meets_target: secs <= w.target,
        runs: 1,
        median_seconds: secs,
    })
}
