//! `convlab bench [--workload NAME] [--threads N] [--runs N] [--json]`

use crate::bench::{self, compare, workloads};

#[derive(clap::Args)]
pub struct Args {
    /// Run only this workload (mnist-lab, simplecnn-b16, simplecnn-b128, pattern1d, infer)
    #[arg(long)]
    workload: Option<String>,
    /// Threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// One JSON object per line instead of a table
    #[arg(long)]
    json: bool,
    /// Runs per workload: the table shows the fastest (and the median), as the machine may be
    /// shared and other work only ever slows a run down
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    runs: u64,
    /// Folder with Fashion-MNIST's IDX files (default: the usual places; synthetic images if absent)
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Run the same workloads in PyTorch too (a Python with torch: $CONVLAB_PYTHON or python3),
    /// alternating with convlab's runs, and print both and the ratio
    #[arg(long)]
    compare_pytorch: bool,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let selected: Vec<&workloads::Workload> = match &a.workload {
        Some(name) => vec![workloads::find(name).ok_or_else(|| {
            crate::Error::config(format!("unknown workload `{name}`; choose from {}", workloads::names()))
        })?],
        None => workloads::WORKLOADS.iter().collect(),
    };
    // Only the 28x28 workloads read images; pattern1d makes its own data.
    let needs_images = selected.iter().any(|w| w.name != "pattern1d");
    let images = if needs_images {
        bench::images(a.data_dir.as_deref())?
    } else {
        bench::Images { x: vec![], labels: vec![], source: "the lab's pattern data".into() }
    };
    if a.compare_pytorch {
        return compare(&a, selected, &images);
    }
    if !a.json {
        println!("data: {}", images.source);
        println!("vs PyTorch: PyTorch 2.15's times measured 2026-12-01 on a 2-core Intel Xeon VM with AVX-512, not on this machine (src/bench/workloads.rs); --compare-pytorch measures them here and now");
        println!(
            "{:<16} {:>9} {:>9} {:>12} {:>8} {:>12} {:>10} {:>8}",
            "workload", "seconds", "median", "samples/s", "GFLOP/s", "allocs/step", "vs PyTorch", "target"
        );
    }
    for w in selected {
        let r = bench::run_best(w, &images, a.threads, a.runs as usize)?;
        if a.json {
            println!("{}", serde_json::to_string(&r).map_err(|e| crate::Error::numeric(e.to_string()))?);
        } else {
            let target = if w.inference { format!("≥{:.0}/s", w.target) } else { format!("≤{} s", w.target) };
            println!(
                "{:<16} {:>9.3} {:>9.3} {:>12.0} {:>8.1} {:>12.1} {:>9.1}x {:>8} {}",
                r.workload,
                r.seconds,
                r.median_seconds,
                r.samples_per_second,
                r.gflops,
                r.allocations_per_step,
                r.speedup_vs_pytorch,
                target,
                if r.meets_target { "met" } else { "MISSED" }
            );
        }
    }
    Ok(0)
}

/// `--compare-pytorch`: both engines in one sitting, alternating.
fn compare(a: &Args, selected: Vec<&'static workloads::Workload>, images: &bench::Images) -> crate::Result<i32> {
    let torch = compare::TorchPython::find()?;
    println!("data: convlab {}; PyTorch {} uniform random images of the same shape", images.source, torch.version);
    println!("fastest of {} alternating runs each; PyTorch on 1 thread and on all cores, the faster shown", a.runs);
    println!(
        "{:<16} {:>12} {:>12} {:>9} {:>8} {:>8}",
        "workload", "convlab s", "PyTorch s", "threads", "ratio", "target"
    );
    for w in selected {
        let c = compare::compare(w, images, a.threads, a.runs as usize, &torch)?;
        let target = compare::target_ratio(w.name);
        println!(
            "{:<16} {:>12.3} {:>12.3} {:>9} {:>7.1}x {:>7.0}x {}",
            c.workload,
            c.convlab_seconds,
            c.pytorch_seconds,
            c.pytorch_threads,
            c.ratio(),
            target,
            if c.ratio() >= target { "met" } else { "MISSED" }
        );
    }
    Ok(0)
}
