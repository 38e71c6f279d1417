//! `convlab show RUN|MODEL [TENSOR] [--predictions --rows A:B]`: a tensor or predictions printed
//! as a notebook prints them.

use super::data_args::DataArgs;
use crate::inspect::show::format_tensor;
use crate::inspect::{outputs, Subject};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or model file (.safetensors)
    model: PathBuf,
    /// A tensor by its PyTorch name, e.g. 0.weight (omit to list them)
    tensor: Option<String>,
    /// Print the model's outputs for samples of its data (like `print(y_pred[:5])`)
    #[arg(long, conflicts_with = "tensor")]
    predictions: bool,
    /// Which samples, as a Python slice A:B (B excluded) [default: 0:5]
    #[arg(long, default_value = "0:5")]
    rows: String,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let s = Subject::open(&a.model)?;
    let tensors = s.model.tensors();
    if a.predictions {
        let ds = a.data.load(&s)?;
        let (start, end) = parse_rows(&a.rows, ds.len())?;
        let k = s.model.output().len();
        let out = outputs(&s.model, &ds, end);
        println!("{}", format_tensor(&out[start * k..end * k], &[end - start, k]));
        return Ok(0);
    }
    match &a.tensor {
        None => {
            for t in &tensors {
                println!("{:<24} {:?}", t.name, t.shape);
            }
        }
        Some(name) => {
            let Some(t) = tensors.iter().find(|t| &t.name == name) else {
                let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
                return Err(crate::Error::spec(format!(
                    "`{}` has no tensor {name}; its tensors are {}",
                    s.model.spec,
                    names.join(", ")
                )));
            };
            println!("{}", format_tensor(s.model.tensor(t), &t.shape));
        }
    }
    Ok(0)
}

/// `A:B`, `:B`, `A:` or `A` (one row), within `0..n`.
fn parse_rows(text: &str, n: usize) -> crate::Result<(usize, usize)> {
    let bad = || crate::Error::config(format!("--rows {text}: give A:B (a Python slice, B excluded) within 0..{n}"));
    let num = |t: &str, default: usize| {
        if t.trim().is_empty() {
            Ok(default)
        } else {
            t.trim().parse::<usize>().map_err(|_| bad())
        }
    };
    let (start, end) = match text.split_once(':') {
        Some((a, b)) => (num(a, 0)?, num(b, n)?.min(n)),
        None => {
            let i = num(text, 0)?;
            (i, i + 1)
        }
    };
    if start >= end || end > n {
        return Err(bad());
    }
    Ok((start, end))
}
