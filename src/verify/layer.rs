//! A `layer` fixture: one module's forward and backward in float64, against PyTorch.

use super::compare::Comparison;
use super::fixture::Fixture;
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::layers::{MaskKey, Mode};
use crate::model::{Model, Workspace};

/// Layers and losses agree to about 1e-5 relative (see tests/fixtures/README.md).
pub const TOLERANCE: f64 = 1e-5;

/// The convlab spec of the fixture's layer, from its configuration.
fn spec_of(f: &Fixture) -> Result<String> {
    let layer = f.str("layer")?;
    let axes = |key: &str, default: usize| -> String {
        let v = f.list(key).unwrap_or_else(|| vec![default]);
        v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("x")
    };
    let bias = f.bool_or("bias", true);
    Ok(match layer {
        "conv1d" | "conv2d" => format!(
            "{layer}({},k={},s={},p={},d={},bias={bias})",
            f.f64_or("out_channels", 0.0) as usize,
            axes("kernel_size", 1),
            axes("stride", 1),
            axes("padding", 0),
            axes("dilation", 1)
        ),
        "maxpool1d" | "maxpool2d" | "avgpool1d" | "avgpool2d" => {
            let stride = if f.list("stride").is_some() { axes("stride", 1) } else { axes("kernel_size", 1) };
            format!("{layer}(k={},s={stride},p={})", axes("kernel_size", 1), axes("padding", 0))
        }
        "adaptiveavgpool1d" | "adaptiveavgpool2d" | "adaptivemaxpool1d" | "adaptivemaxpool2d" => {
            let size = f.list("output_size").ok_or_else(|| Error::data("the case lacks `output_size`"))?;
            format!("{layer}({})", size.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("x"))
        }
        "batchnorm1d" | "batchnorm2d" => {
            format!("{layer}(eps={},momentum={})", f.f64_or("eps", 1e-5), f.f64_or("momentum", 0.1))
        }
        "linear" => format!("linear({},bias={bias})", f.f64_or("out_features", 0.0) as usize),
        "leaky_relu" | "leakyrelu" => format!("leakyrelu({})", f.f64_or("negative_slope", 0.01)),
        "relu" | "sigmoid" | "tanh" | "flatten" => layer.to_string(),
        other => return Err(Error::data(format!("layer `{other}` is not supported by this verifier"))),
    })
}

pub fn run(f: &Fixture) -> Result<Vec<Comparison>> {
    let spec = spec_of(f)?;
    let input = f.array("input")?;
    let n = *input.shape.first().ok_or_else(|| Error::data("`input` has no batch dimension"))?;
    let dims = Dims::from_shape(&input.shape[1..])?;
    let mut model = Model::<f64>::new(&spec, dims).map_err(|e| e.context(format!("spec `{spec}`")))?;
    // The fixture names tensors as the module does (`weight`); the model as a Sequential (`0.weight`).
    for t in model.tensors() {
        let short = t.name.trim_start_matches("0.");
        if f.has(short) {
            let a = f.array(short)?;
            if a.values.len() != t.len {
                return Err(Error::data(format!("`{short}` has {} values, the layer needs {}", a.values.len(), t.len)));
            }
            model.tensor_mut(&t).copy_from_slice(&a.values);
        } else if t.store == crate::model::Store::Param {
            return Err(Error::data(format!("fixture lacks the parameter `{short}`")));
        }
    }
    let mode = if f.bool_or("train", true) { Mode::Train } else { Mode::Eval };
    let mut ws = Workspace::new(&model, n, true);
    ws.forward(&model, &input.values, n, mode, MaskKey::default());
    let mut out = vec![Comparison::new("output", ws.output(&model), &f.array("output")?.values, TOLERANCE)];
    let grad_output = f.array("grad_output")?;
    let dout = ws.output_grad_mut(&model);
    if dout.len() != grad_output.values.len() {
        return Err(Error::data(format!(
            "grad_output has {} values, the output {}",
            grad_output.values.len(),
            dout.len()
        )));
    }
    dout.copy_from_slice(&grad_output.values);
    ws.backward(&model, &input.values, mode);
    out.push(Comparison::new(
        "grad_input",
        ws.input_grad(&model).unwrap_or(&[]),
        &f.array("grad_input")?.values,
        TOLERANCE,
    ));
    for t in model.tensors() {
        let short = t.name.trim_start_matches("0.");
        let want = format!("grad_{short}");
        if f.has(&want) {
            out.push(Comparison::new(
                &want,
                &ws.dparams[t.offset..t.offset + t.len],
                &f.array(&want)?.values,
                TOLERANCE,
            ));
        }
    }
    if mode == Mode::Train {
        model.update_running_stats(&ws);
    }
    for t in model.tensors() {
        let want = format!("{}_after", t.name.trim_start_matches("0."));
        if f.has(&want) {
            out.push(Comparison::new(&want, model.tensor(&t), &f.array(&want)?.values, TOLERANCE));
        }
    }
    Ok(out)
}
