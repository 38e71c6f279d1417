//! `convlab predict MODEL INPUT`: class probabilities for one PNG/JPEG image or one row of an
//! npz file's `X`.

use crate::inspect::predict::{predict, read_sample, Prediction};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or model file
    model: PathBuf,
    /// A PNG or JPEG image, or an .npz file with an array X (use --row)
    input: PathBuf,
    /// Which row of the npz file's X
    #[arg(long, default_value_t = 0)]
    row: usize,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let subject = crate::inspect::Subject::open(&a.model)?;
    let x = read_sample(&subject.model, &a.input, a.row)?;
    let loss = subject.config.as_ref().and_then(|c| c.training.loss);
    match predict(&subject.model, &x, loss) {
        Prediction::Values(out) => out.iter().enumerate().for_each(|(i, v)| println!("output {i:<3} {v:.6}")),
        Prediction::Binary { probability, logit } => println!("p(class 1) = {probability:.4}   (logit {logit:.4})"),
        Prediction::Classes(probs) => probs.iter().for_each(|(class, p)| println!("class {class:<3} {p:.4}")),
        Prediction::Raw(out) => {
            println!("(a model file without its run: raw outputs; for class probabilities use the run folder)");
            out.iter().enumerate().for_each(|(i, v)| println!("output {i:<3} {v:.6}"));
        }
    }
    Ok(0)
}
