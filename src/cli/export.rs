//! `convlab export RUN|MODEL --out PATH [--format pt|torch-code|onnx|tensorboard]`: a model for
//! other tools: the `.pt` state dict `torch.load(path, weights_only=True)` reads, the Python of
//! the `nn.Sequential` it loads into, an ONNX model, or a run's TensorBoard logs.

use crate::error::{Error, Result};
use crate::inspect::Subject;
use crate::interop::{self, pt_write, torch_code};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A state dict as torch.save writes it (zip format)
    Pt,
    /// The Python code of the equivalent nn.Sequential, loading the .pt file
    TorchCode,
    /// An ONNX model (opset 17) for onnxruntime and Netron
    Onnx,
    /// TensorBoard event files of a finished run (a folder)
    Tensorboard,
}

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or a convlab model file (.safetensors); TensorBoard export needs a run folder
    model: PathBuf,
    /// Where to write: FILE.pt (or .pth), FILE.py, FILE.onnx, or a folder for TensorBoard event
    /// files. Without it, --format torch-code prints the code
    #[arg(long)]
    out: Option<PathBuf>,
    /// What to write [default: from --out: .pt/.pth pt, .py torch-code, .onnx onnx, a folder or a name without extension tensorboard]
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// The format `out` asks for when `--format` is not given.
fn format_of(out: Option<&Path>, given: Option<Format>) -> Result<Format> {
    if let Some(f) = given {
        return Ok(f);
    }
    let Some(out) = out else {
        return Err(Error::config(
            "give --out FILE.pt|.py|.onnx or a folder (TensorBoard), or --format torch-code to print the code",
        ));
    };
    match out.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("pt" | "pth") => Ok(Format::Pt),
        Some("py") => Ok(Format::TorchCode),
        Some("onnx") => Ok(Format::Onnx),
        None => Ok(Format::Tensorboard),
        _ if out.is_dir() => Ok(Format::Tensorboard),
        Some(e) => Err(Error::config(format!(
            "cannot tell the format from `.{e}`: name the file .pt, .py or .onnx, give a folder for TensorBoard, or pass --format pt|torch-code|onnx|tensorboard"
        ))),
    }
}

fn weights_next_to(code: &Path) -> String {
    code.with_extension("pt").file_name().map_or("model.pt".into(), |n| n.to_string_lossy().into_owned())
}

fn need_out(out: Option<PathBuf>, what: &str) -> Result<PathBuf> {
    out.ok_or_else(|| Error::config(format!("give the {what} to write with --out")))
}

pub fn run(a: Args) -> Result<i32> {
    match format_of(a.out.as_deref(), a.format)? {
        Format::Pt => {
            let out = need_out(a.out, "file (FILE.pt)")?;
            let model = Subject::open(&a.model)?.model;
            let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("archive");
            crate::fs::write_atomic(&out, &pt_write::pt_bytes(&model, stem)?)?;
            println!("wrote {} (state dict of `{}`, {} parameters)", out.display(), model.spec, model.params.len());
            println!(
                "in Python: `convlab export {} --format torch-code` prints the nn.Sequential to load it into",
                a.model.display()
            );
        }
        Format::TorchCode => {
            let model = Subject::open(&a.model)?.model;
            // Next to FILE.py, the code loads FILE.pt.
            let weights = a.out.as_ref().map_or("model.pt".into(), |o| weights_next_to(o));
            let code = torch_code::sequential_code(&model, &weights);
            match a.out {
                Some(out) => {
                    crate::fs::write_atomic(&out, code.as_bytes())?;
                    println!("wrote {}", out.display());
                }
                None => print!("{code}"),
            }
        }
        Format::Onnx => {
            let out = need_out(a.out, "file (FILE.onnx)")?;
            let model = Subject::open(&a.model)?.model;
            interop::onnx::export(&model, &out)?;
            println!(
                "wrote {} (ONNX opset {}, input {} with batch dimension N; open it in Netron or onnxruntime)",
                out.display(),
                interop::onnx::OPSET,
                model.input
            );
        }
        Format::Tensorboard => {
            let out = need_out(a.out, "folder")?;
            let file = interop::tensorboard::export_run(&a.model, &out)?;
            println!("wrote {} (view with `tensorboard --logdir {}`)", file.display(), out.display());
        }
    }
    Ok(0)
}
