//! `convlab export RUN|MODEL --out PATH [--format onnx|tensorboard]`: a model for other tools.

use crate::inspect::Subject;
use crate::interop;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An ONNX model (opset 17) for onnxruntime and Netron
    Onnx,
    /// TensorBoard event files of a finished run (a folder)
    Tensorboard,
}

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or model file (.safetensors); TensorBoard export needs a run folder
    model: PathBuf,
    /// Where to write: a .onnx file, or a folder for TensorBoard event files
    #[arg(long)]
    out: PathBuf,
    /// What to write [default: onnx for a .onnx file, tensorboard for a folder or a name without extension]
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// The format `out` asks for when `--format` is not given.
fn format_of(out: &Path) -> crate::Result<Format> {
    match out.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()) {
        Some(e) if e == "onnx" => Ok(Format::Onnx),
        None => Ok(Format::Tensorboard),
        _ if out.is_dir() => Ok(Format::Tensorboard),
        Some(e) => Err(crate::Error::config(format!(
            "cannot tell the format from `.{e}`: name the file .onnx, give a folder for TensorBoard, or pass --format onnx|tensorboard"
        ))),
    }
}

pub fn run(a: Args) -> crate::Result<i32> {
    let format = match a.format {
        Some(f) => f,
        None => format_of(&a.out)?,
    };
    match format {
        Format::Onnx => {
            let subject = Subject::open(&a.model)?;
            interop::onnx::export(&subject.model, &a.out)?;
            println!(
                "wrote {} (ONNX opset {}, input {} with batch dimension N; open it in Netron or onnxruntime)",
                a.out.display(),
                interop::onnx::OPSET,
                subject.model.input
            );
        }
        Format::Tensorboard => {
            let file = interop::tensorboard::export_run(&a.model, &a.out)?;
            println!("wrote {} (view with `tensorboard --logdir {}`)", file.display(), a.out.display());
        }
    }
    Ok(0)
}
