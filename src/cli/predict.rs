//! `convlab predict MODEL INPUT... [--rows A:B] [--json]`: class probabilities (or outputs) for
//! PNG/JPEG images or the rows of an npz file's `X`.

use crate::inspect::predict::{describe, describe_line, predict, read_samples};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or model file
    model: PathBuf,
    /// PNG or JPEG images, or one .npz file with an array X (all its rows, or --rows)
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Which rows of the npz file's X: a Python slice A:B (B excluded), or one row A [default: all]
    #[arg(long, alias = "row")]
    rows: Option<String>,
    /// One JSON object per line and input: `file` or `row`, `outputs` (raw) and, for a
    /// classifier, `probabilities`, `class` and `name` [default: text for a person]
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let subject = crate::inspect::Subject::open(&a.model)?;
    let samples = read_samples(&subject.model, &a.inputs, a.rows.as_deref())?;
    let task = subject.model.task.as_ref();
    if task.is_none() {
        eprintln!("(the model file does not say what its outputs mean, so they are printed raw; models trained by this version of convlab record it)");
    }
    let predictions = predict(&subject.model, task, &samples);
    for p in &predictions {
        if a.json {
            println!("{}", p.to_json());
        } else if predictions.len() == 1 {
            print!("{}", describe(p, task));
        } else {
            println!("{}", describe_line(p, task));
        }
    }
    Ok(0)
}
