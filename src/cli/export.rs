//! `convlab export RUN|MODEL --out FILE [--format pt|torch-code]`: a model for PyTorch: the
//! `.pt` state dict `torch.load(path, weights_only=True)` reads, or the Python of the
//! `nn.Sequential` it loads into.

use crate::error::{Error, Result};
use crate::interop::{pt_write, torch_code};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A state dict as torch.save writes it (zip format)
    Pt,
    /// The Python code of the equivalent nn.Sequential, loading the .pt file
    TorchCode,
}

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or a convlab model file
    model: PathBuf,
    /// Where to write: FILE.pt (or .pth) for the state dict, FILE.py for the code. Without it,
    /// --format torch-code prints the code
    #[arg(long)]
    out: Option<PathBuf>,
    /// What to write. Default: from --out's extension (.pt/.pth: pt, .py: torch-code)
    #[arg(long, value_enum)]
    format: Option<Format>,
}

fn format_of(out: Option<&Path>, given: Option<Format>) -> Result<Format> {
    if let Some(f) = given {
        return Ok(f);
    }
    match out.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
        Some("pt" | "pth") => Ok(Format::Pt),
        Some("py") => Ok(Format::TorchCode),
        _ => Err(Error::config("say what to write with --format pt|torch-code, or give --out FILE.pt or FILE.py")),
    }
}

fn weights_next_to(code: &Path) -> String {
    code.with_extension("pt").file_name().map_or("model.pt".into(), |n| n.to_string_lossy().into_owned())
}

pub fn run(a: Args) -> Result<i32> {
    let format = format_of(a.out.as_deref(), a.format)?;
    let model = crate::inspect::Subject::open(&a.model)?.model;
    match format {
        Format::Pt => {
            let out = a.out.ok_or_else(|| Error::config("give the file to write with --out FILE.pt"))?;
            let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("archive");
            crate::fs::write_atomic(&out, &pt_write::pt_bytes(&model, stem)?)?;
            println!("wrote {} (state dict of `{}`, {} parameters)", out.display(), model.spec, model.params.len());
            println!(
                "in Python: `convlab export {} --format torch-code` prints the nn.Sequential to load it into",
                a.model.display()
            );
        }
        Format::TorchCode => {
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
    }
    Ok(0)
}
