//! `convlab import FILE --model SPEC --input SHAPE --out MODEL`: turn weights saved by PyTorch
//! (`safetensors.torch.save_file(model.state_dict(), FILE)` of the equivalent `nn.Sequential`)
//! into a convlab model file, checking every tensor's name and shape against the spec.
//! `--loss` (and `--class-names`) record what the outputs mean, so `predict` gives classes.

use crate::losses::Loss;
use crate::model::{io, presets, Model, Task};
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
    /// The loss the model was trained with: cross_entropy (a classifier), bce_with_logits (one
    /// output: a binary classifier) or mse [default: not recorded; predict prints raw outputs]
    #[arg(long)]
    loss: Option<String>,
    /// The classes' names in class order, comma-separated, e.g. 'cat,dog' (needs --loss)
    /// [default: the class numbers]
    #[arg(long, requires = "loss", value_delimiter = ',')]
    class_names: Vec<String>,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let (spec, input) = presets::spec_and_input(&a.model, a.input.as_deref())?;
    let mut model = Model::<f32>::new(&spec, input)?;
    let bytes = std::fs::read(&a.file).map_err(|e| crate::Error::read(&a.file, e))?;
    io::load_state(&mut model, &bytes).map_err(|e| e.context(a.file.display()))?;
    if let Some(loss) = &a.loss {
        let names: Vec<String> = a.class_names.iter().map(|n| n.trim().to_string()).collect();
        model.task = Some(Task::with_names(Loss::parse(loss)?, model.output().len(), &names)?);
    }
    io::save(&model, &a.out)?;
    let task = match &model.task {
        Some(t) if t.is_classifier() => format!("; a classifier of {} classes", t.classes),
        Some(t) => format!("; {} outputs ({})", model.output().len(), t.loss.name()),
        None => String::new(),
    };
    println!("wrote {} ({} parameters of `{}`{task})", a.out.display(), model.params.len(), model.spec);
    Ok(0)
}
