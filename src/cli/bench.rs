//! `convlab bench [--workload NAME] [--threads N] [--json]`

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
}

pub fn run(_a: Args) -> Result<i32, String> {
    Err("bench is not written yet".into())
}
