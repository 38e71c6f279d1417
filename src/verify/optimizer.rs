//! An `optimizer` fixture: a parameter tensor after each of several steps with given gradients,
//! run in float32 as PyTorch did.

use super::compare::Comparison;
use super::fixture::Fixture;
use super::layer::TOLERANCE;
use crate::error::{Error, Result};
use crate::optim::{AdamConfig, OptimizerConfig, SgdConfig};
use serde_json::Value;

/// The optimizer a case describes (`optimizer` name plus PyTorch hyper-parameters), either at
/// the top level (optimizer fixtures) or in an object (training fixtures).
pub fn config_of(case: &Value) -> Result<OptimizerConfig> {
    let num = |k: &str, d: f64| case.get(k).and_then(Value::as_f64).unwrap_or(d);
    let name = case
        .get("optimizer")
        .and_then(Value::as_str)
        .or_else(|| case.get("name").and_then(Value::as_str))
        .ok_or_else(|| Error::data("no optimizer name"))?;
    let (beta1, beta2) = match case.get("betas").and_then(Value::as_array) {
        Some(b) if b.len() == 2 => (b[0].as_f64().unwrap_or(0.9), b[1].as_f64().unwrap_or(0.999)),
        _ => (0.9, 0.999),
    };
    Ok(match name {
        "sgd" => OptimizerConfig::Sgd(SgdConfig {
            lr: num("lr", 0.01),
            momentum: num("momentum", 0.0),
            dampening: num("dampening", 0.0),
            nesterov: case.get("nesterov").and_then(Value::as_bool).unwrap_or(false),
            weight_decay: num("weight_decay", 0.0),
        }),
        "adam" | "adamw" => OptimizerConfig::Adam(AdamConfig {
            lr: num("lr", 1e-3),
            beta1,
            beta2,
            eps: num("eps", 1e-8),
            weight_decay: num("weight_decay", if name == "adamw" { 0.01 } else { 0.0 }),
            decoupled: name == "adamw",
        }),
        other => return Err(Error::data(format!("optimizer `{other}` is not supported"))),
    })
}

pub fn run(f: &Fixture) -> Result<Vec<Comparison>> {
    let config = config_of(&f.case)?;
    let mut opt = config.build::<f32>();
    let mut param: Vec<f32> = f.array("param_initial")?.values.iter().map(|&v| v as f32).collect();
    let steps = f
        .case
        .get("steps")
        .and_then(Value::as_u64)
        .map(|s| s as usize)
        .unwrap_or_else(|| (0..).take_while(|i| f.has(&format!("grad_{i}"))).count());
    let mut out = vec![];
    for i in 0..steps {
        let grad: Vec<f32> = f.array(&format!("grad_{i}"))?.values.iter().map(|&v| v as f32).collect();
        opt.step(&mut param, &grad);
        let got: Vec<f64> = param.iter().map(|&v| v as f64).collect();
        out.push(Comparison::new(
            &format!("param_after_{i}"),
            &got,
            &f.array(&format!("param_after_{i}"))?.values,
            TOLERANCE,
        ));
    }
    Ok(out)
}
