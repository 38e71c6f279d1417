//! `convlab simulate`: data from a known network, with its true parameters, for `recover`.

use crate::model::presets;
use crate::study::simulate::{SimSpec, DATA_FILE, INFO_FILE, TRUTH_FILE};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The true network: a spec or preset (default: tutorial 000's conv1d(4,k=3,p=1,bias=false) flatten linear(1))
    #[arg(long, default_value = "sim1d-linear")]
    model: String,
    /// Input shape C,L or C,H,W (default: the preset's)
    #[arg(long)]
    input: Option<String>,
    /// Samples
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Standard deviation of the Gaussian noise added to the outputs
    #[arg(long, default_value_t = 1.0)]
    noise: f64,
    /// numpy seed (1337 is the tutorial's)
    #[arg(long, default_value_t = 1337)]
    seed: u32,
    /// The output layer's bias when the truth is drawn
    #[arg(long, allow_hyphen_values = true)]
    bias: Option<f64>,
    /// True parameters from this safetensors file instead of N(0,1) draws
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Folder for data.npz, truth.safetensors and simulation.json
    #[arg(long, default_value = "sim")]
    out: PathBuf,
    /// Overwrite earlier results in the output folder
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let (spec, input) = presets::spec_and_input(&a.model, a.input.as_deref())?;
    let spec = SimSpec { model: spec, input, n: a.n, noise: a.noise, seed: a.seed, bias: a.bias, truth: a.truth };
    let sim = crate::study::simulate::run(&spec, &a.out, a.force)?;
    let t = &sim.truth;
    println!(
        "simulated {} samples of {} → {} from `{}` ({} parameters, {}), noise sd {}, seed {}",
        a.n,
        t.input,
        t.output(),
        t.spec,
        t.params.len(),
        sim.info.truth_from.as_deref().map(|f| format!("from {f}")).unwrap_or("drawn N(0,1)".into()),
        a.noise,
        a.seed
    );
    for f in [DATA_FILE, TRUTH_FILE, INFO_FILE] {
        println!("  {}", a.out.join(f).display());
    }
    println!("recover them with: convlab recover {}", a.out.display());
    Ok(0)
}
