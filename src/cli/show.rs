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
        let (start, end) = crate::inspect::rows::parse_rows(&a.rows, ds.len()).map(|r| (r.start, r.end))?;
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
