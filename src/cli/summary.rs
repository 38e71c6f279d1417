//! `convlab summary SPEC|PRESET|RUN|MODEL.safetensors [--input C,H,W]`

use crate::inspect::Subject;
use crate::model::{presets, summary::summary, Model};
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// A model spec such as 'conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)', a preset
    /// name, a run folder or a model file (.safetensors)
    model: String,
    /// Input shape of one sample: C,H,W for images, C,L for 1-D signals (presets, runs and model
    /// files have their own)
    #[arg(long)]
    input: Option<String>,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let path = Path::new(&a.model);
    let model = if path.is_dir() || (path.is_file() && a.model.ends_with(".safetensors")) {
        Subject::open(path)?.model
    } else {
        let (spec, input) = presets::spec_and_input(&a.model, a.input.as_deref())?;
        Model::<f32>::new(&spec, input)?
    };
    print!("{}", summary(&model));
    if let Some(t) = &model.task {
        match t.is_classifier() {
            true => println!("task: {} classes ({}), {}", t.classes, t.names().join(", "), t.loss.name()),
            false => println!("task: {} outputs, {}", model.output().len(), t.loss.name()),
        }
    }
    // A run that stopped early says whose weights its model holds.
    if path.is_dir() {
        if let Some(r) = crate::train::early_stop::StopRecord::read(path)? {
            println!("{}", r.message());
        }
    }
    Ok(0)
}
