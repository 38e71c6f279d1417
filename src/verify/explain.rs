//! An `explain` fixture: a model's input gradient and Grad-CAM for one sample in evaluation
//! mode, in float32, through the same backward pass `convlab explain` uses.

use super::compare::Comparison;
use super::fixture::Fixture;
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::inspect::explain::gradcam::{check_layer, gradcam};
use crate::inspect::explain::gradient::backprop;
use crate::model::{io, Model};
use serde_json::Value;

/// float32 against float32 with another summation order.
const TOLERANCE: f64 = 1e-5;

pub fn run(f: &Fixture) -> Result<Vec<Comparison>> {
    let shape = f.list("input_shape").ok_or_else(|| Error::data("case has no `input_shape`"))?;
    let dims = Dims::from_shape(&shape)?;
    let spec = f.str("model")?;
    let mut model = Model::<f32>::new(spec, dims).map_err(|e| e.context(format!("model `{spec}`")))?;
    io::load_state_prefixed(&mut model, &f.tensors(), "state.")?;
    let index = |key: &str| -> Result<usize> {
        let v = f.case.get(key).and_then(Value::as_u64).ok_or_else(|| Error::data(format!("case has no `{key}`")))?;
        Ok(v as usize)
    };
    let (target, layer) = (index("target")?, check_layer(&model, index("gradcam_layer")?)?);
    if target >= model.output().len() {
        return Err(Error::data(format!("target {target} is beyond the model's {} outputs", model.output().len())));
    }
    let x: Vec<f32> = f.array("input")?.values.iter().map(|&v| v as f32).collect();
    if x.len() != dims.len() {
        return Err(Error::data(format!("`input` has {} values, the model takes {dims}", x.len())));
    }
    let pass = backprop(&model, &x, target, Some(layer));
    let (activation, _) = pass.layer.expect("asked for the layer");
    let cam = gradcam(&model, &x, target, layer);
    let wide = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let mut out = vec![];
    for (name, got) in [
        ("logits", wide(&pass.outputs)),
        ("gradient", wide(&pass.input_grad)),
        ("gradcam_activation", wide(&activation)),
        ("gradcam_weights", wide(&cam.weights)),
        ("gradcam", wide(&cam.map)),
    ] {
        out.push(Comparison::new(name, &got, &f.array(name)?.values, TOLERANCE));
    }
    Ok(out)
}
