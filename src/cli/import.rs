//! `convlab import FILE --model SPEC --input SHAPE --out MODEL`: turn weights saved by PyTorch
//! (`safetensors.torch.save_file(model.state_dict(), FILE)` of the equivalent `nn.Sequential`)
//! into a convlab model file, checking every tensor's name and shape against the spec.

use crate::model::{io, presets, Model};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A safetensors file with nn.Sequential state-dict names (0.weight, 1.running_mean, ...)
    file: PathBuf,
    /// The model spec (or preset) the weights belong to
    #[arg(long)]
    model: String,
    /// Input shape C,H,W or C,L (presets know theirs)
    #[arg(long)]
    input: Option<String>,
    /// Where to write the convlab model file
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let (spec, input) = presets::spec_and_input(&a.model, a.input.as_deref())?;
    let mut model = Model::<f32>::new(&spec, input)?;
    let bytes = std::fs::read(&a.file).map_err(|e| crate::Error::read(&a.file, e))?;
    io::load_state(&mut model, &bytes).map_err(|e| e.context(a.file.display()))?;
    io::save(&model, &a.out)?;
    println!("wrote {} ({} parameters of `{}`)", a.out.display(), model.params.len(), model.spec);
    Ok(0)
}
