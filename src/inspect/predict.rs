//! One sample through a trained model (`convlab predict`): the sample read from an image or an
//! npz row and checked against the model's input, and its outputs read as the task implies.

use super::probabilities;
use crate::error::{Error, Result};
use crate::layers::{activation::sigmoid, Mode};
use crate::losses::Loss;
use crate::model::{Model, Workspace};
use std::path::Path;

/// A model's answer for one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// Regression: the outputs themselves.
    Values(Vec<f32>),
    /// One logit with BCE: the probability of class 1.
    Binary { probability: f32, logit: f32 },
    /// Class probabilities (softmax), most likely first.
    Classes(Vec<(usize, f32)>),
    /// Outputs of a model whose task is unknown (a model file without its run).
    Raw(Vec<f32>),
}

/// The sample in `path` for `model`: a PNG/JPEG image (a grey image for a colour model is
/// repeated over the channels) or row `row` of an npz file's `X`.
pub fn read_sample(model: &Model<f32>, path: &Path, row: usize) -> Result<Vec<f32>> {
    let name = path.display().to_string();
    let x: Vec<f32> = if path.extension().is_some_and(|e| e == "npz") {
        let ds = crate::data::npz::load_npz(path)?;
        if row >= ds.len() {
            return Err(Error::data(format!("{name} has {} rows; --row {row} is beyond them", ds.len())));
        }
        ds.sample(row).to_vec()
    } else {
        let bytes = crate::data::limits::read_data_file(path)?;
        let c = model.input.c;
        // The size is checked from the header, before decoding.
        let wrong = |w: usize, h: usize| {
            Error::shape(format!("{name} is {h}×{w} pixels but the model takes {}; resize the image", model.input))
        };
        let img = crate::data::images::decode_image_sized(&bytes, &name, Some((model.input.w, model.input.h, &wrong)))?;
        if (img.height, img.width) != (model.input.h, model.input.w) || !(img.channels == c || img.channels == 1) {
            return Err(Error::shape(format!(
                "{name} is {}×{}×{} but the model takes {}; resize the image",
                img.channels, img.height, img.width, model.input
            )));
        }
        img.to_planar(c)
    };
    if x.len() != model.input.len() {
        return Err(Error::shape(format!(
            "{name}: the sample has {} values, the model takes {} ({})",
            x.len(),
            model.input.len(),
            model.input
        )));
    }
    Ok(x)
}

/// `model`'s prediction for sample `x`; `loss` (the run's) says how to read the outputs.
pub fn predict(model: &Model<f32>, x: &[f32], loss: Option<Loss>) -> Prediction {
    let mut ws = Workspace::new(model, 1, false);
    ws.forward(model, x, 1, Mode::Eval, Default::default());
    let out = ws.output(model);
    match loss {
        Some(Loss::Mse) => Prediction::Values(out.to_vec()),
        Some(Loss::BceWithLogits) if out.len() == 1 => {
            Prediction::Binary { probability: sigmoid(out[0]), logit: out[0] }
        }
        Some(_) => {
            let mut probs: Vec<(usize, f32)> = probabilities(out, out.len()).into_iter().enumerate().collect();
            probs.sort_by(|a, b| b.1.total_cmp(&a.1));
            Prediction::Classes(probs)
        }
        None => Prediction::Raw(out.to_vec()),
    }
}
