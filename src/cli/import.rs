//! `convlab import FILE --out MODEL [--model SPEC] [--input SHAPE] [--key KEY]`: turn weights
//! saved by PyTorch into a convlab model file: a `.pt`/`.pth`/`.bin` file from `torch.save` (a
//! state dict, a checkpoint dict holding one, or a whole `nn.Sequential`; zip or legacy
//! format, read without running anything from it) or a safetensors state dict. Every tensor's
//! name and shape is checked against the spec.
//! `--loss` (and `--class-names`) record what the outputs mean, so `predict` gives classes.

use crate::interop::import::{import_file, ImportOptions};
use crate::losses::Loss;
use crate::model::{io, Task};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A .pt/.pth/.bin file written by torch.save, or a safetensors file, with nn.Sequential
    /// state-dict names (0.weight, 1.running_mean, ...); the format is read from the content
    file: PathBuf,
    /// The model spec (or preset) the weights belong to; not needed when the file holds a
    /// whole nn.Sequential (torch.save(model)), whose layers are read from the file
    #[arg(long)]
    model: Option<String>,
    /// Input shape C,H,W or C,L; presets know theirs, and a network starting with a linear layer
    /// takes its first weight's width. Default: inferred that way, else an error asks for it
    #[arg(long)]
    input: Option<String>,
    /// In a checkpoint dict, the entry holding the state dict (e.g. model_state_dict; a/b for a
    /// nested one). Default: the one entry that is a state dict or an nn.Sequential
    #[arg(long)]
    key: Option<String>,
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
    let opts = ImportOptions { model: a.model, input: a.input, key: a.key };
    let imported = import_file(&a.file, &opts)?;
    for note in &imported.notes {
        println!("{note}");
    }
    let mut model = imported.model;
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
    println!(
        "wrote {} ({} parameters of `{}`, input {}{task})",
        a.out.display(),
        model.params.len(),
        model.spec,
        model.input
    );
    Ok(0)
}
