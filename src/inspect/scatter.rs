//! `plot scatter`: true against learned parameters (data simulated from a known network) or
//! predictions against targets (regression), with the identity line and R². Classifiers (also
//! one BCE logit against 0/1 targets) get no prediction scatter: see `plot confusion`.

use super::{outputs, task_of};
use crate::data::source::DataSource;
use crate::data::synthetic::sim1d_with_truth;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::plot::{scatter, Figure};

/// The true first-layer conv weights, when `data` names the sim1d generator.
pub fn true_conv_weights(data: &str) -> Option<Vec<f32>> {
    match DataSource::parse(data).ok()? {
        DataSource::Synthetic { name, params } if name == "sim1d" => {
            sim1d_with_truth(&params).ok().map(|(_, t)| t.conv_weight)
        }
        _ => None,
    }
}

/// True against learned conv weights (raw, element by element, as tutorial 000 plots them).
pub fn parameters(model: &Model<f32>, data: &str) -> Result<Figure> {
    let truth = true_conv_weights(data).ok_or_else(|| Error::config(format!("`{data}` is not simulated from a known network (use --data sim1d...), so there are no true parameters; try `--what predictions`")))?;
    let learned = model.tensors().into_iter().find(|t| t.name == "0.weight").map(|t| model.tensor(&t).to_vec()).ok_or(
        Error::spec("the model's first layer has no weight to compare; fit a model that starts with a conv layer"),
    )?;
    if learned.len() != truth.len() {
        return Err(Error::shape(format!(
            "the model's first layer has {} weights but the true network has {}; fit the same architecture",
            learned.len(),
            truth.len()
        )));
    }
    Ok(scatter(
        &truth,
        &learned,
        true,
        "true vs learned conv weights (raw: see `convlab recover` for identifiable comparisons)",
        "true weight",
        "learned weight",
    ))
}

/// Predictions against targets on a regression set.
pub fn predictions(model: &Model<f32>, ds: &Dataset) -> Result<Figure> {
    let Targets::Values { values, .. } = &ds.targets else {
        return Err(Error::data(format!(
            "{} has class labels; a prediction scatter needs real-valued targets (see `plot confusion`)",
            ds.name
        )));
    };
    if task_of(model, ds).is_classifier() {
        return Err(Error::data(format!(
            "the model is a classifier ({} loss) and {} has 0/1 targets; a prediction scatter is for regression (see `plot confusion` and `plot examples`)",
            task_of(model, ds).loss.name(),
            ds.name
        )));
    }
    let out = outputs(model, ds, ds.len());
    if out.len() != values.len() {
        return Err(Error::shape(format!(
            "the model gives {} outputs for {} samples but {} has {} target values; the model does not fit this data",
            out.len(),
            ds.len(),
            ds.name,
            values.len()
        )));
    }
    Ok(scatter(values, &out, true, &format!("predictions vs targets, {}", ds.name), "target", "prediction"))
}
