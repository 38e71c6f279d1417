//! `convlab predict MODEL INPUT`: class probabilities for one PNG/JPEG image or one row of an
//! npz file's `X`.

use crate::inspect::probabilities;
use crate::layers::{activation::sigmoid, Mode};
use crate::model::Workspace;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or model file
    model: PathBuf,
    /// A PNG or JPEG image, or an .npz file with an array X (use --row)
    input: PathBuf,
    /// Which row of the npz file's X
    #[arg(long, default_value_t = 0)]
    row: usize,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let subject = crate::inspect::Subject::open(&a.model)?;
    let loss = subject.config.as_ref().and_then(|c| c.loss.clone());
    let model = subject.model;
    let need = model.input.len();
    let name = a.input.display().to_string();
    let x: Vec<f32> = if a.input.extension().is_some_and(|e| e == "npz") {
        let ds = crate::data::npz::load_npz(&a.input).map_err(|e| e.to_string())?;
        if a.row >= ds.len() {
            return Err(crate::Error::data(format!("{name} has {} rows; --row {} is beyond them", ds.len(), a.row)));
        }
        ds.sample(a.row).to_vec()
    } else {
        let bytes = std::fs::read(&a.input).map_err(|e| format!("cannot read {name}: {e}"))?;
        let img = crate::data::images::decode_image(&bytes, &name).map_err(|e| e.to_string())?;
        // The model's channel count decides: a grey image for a colour model is repeated.
        let c = model.input.c;
        if (img.height, img.width) != (model.input.h, model.input.w) || !(img.channels == c || img.channels == 1) {
            return Err(crate::Error::shape(format!(
                "{name} is {}×{}×{} but the model takes {}; resize the image",
                img.channels, img.height, img.width, model.input
            )));
        }
        img.to_planar(c)
    };
    if x.len() != need {
        return Err(crate::Error::shape(format!(
            "{name}: the sample has {} values, the model takes {} ({})",
            x.len(),
            need,
            model.input
        )));
    }
    let mut ws = Workspace::new(&model, 1, false);
    ws.forward(&model, &x, 1, Mode::Eval, Default::default());
    let out = ws.output(&model);
    match loss.as_deref() {
        Some("mse") => {
            // Regression: the outputs themselves.
            for (i, v) in out.iter().enumerate() {
                println!("output {i:<3} {v:.6}");
            }
        }
        Some("bce_with_logits") if out.len() == 1 => {
            println!("p(class 1) = {:.4}   (logit {:.4})", sigmoid(out[0]), out[0])
        }
        Some(_) => {
            let mut probs: Vec<(usize, f32)> = probabilities(out, out.len()).into_iter().enumerate().collect();
            probs.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (class, p) in probs {
                println!("class {class:<3} {p:.4}");
            }
        }
        None => {
            // A bare model file does not say what its outputs mean: show them raw.
            println!("(a model file without its run: raw outputs; for class probabilities use the run folder)");
            for (i, v) in out.iter().enumerate() {
                println!("output {i:<3} {v:.6}");
            }
        }
    }
    Ok(0)
}
