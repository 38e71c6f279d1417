//! A `loss` fixture: the loss value and its input gradient, for one reduction.

use super::compare::Comparison;
use super::fixture::Fixture;
use super::layer::TOLERANCE;
use crate::error::{Error, Result};
use crate::losses::{Loss, Reduction, Target};

pub fn run(f: &Fixture) -> Result<Vec<Comparison>> {
    let loss = Loss::parse(f.str("loss")?)?;
    let reduction = match f.str("reduction").unwrap_or("mean") {
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "none" => Reduction::None,
        other => return Err(Error::data(format!("unknown reduction `{other}`"))),
    };
    let input = f.array("input")?;
    let k = if input.shape.len() >= 2 { input.shape[1..].iter().product() } else { 1 };
    let n = input.values.len() / k.max(1);
    let target = f.array("target")?;
    let labels: Vec<u32>;
    let t = if target.is_integer {
        labels = target.values.iter().map(|&v| v as u32).collect();
        Target::Classes(&labels)
    } else {
        Target::Values(&target.values)
    };
    loss.check(n, k, t)?;
    let output = loss.forward(&input.values, k, t, reduction);
    let grad = loss.backward(&input.values, k, t, reduction, &f.array("grad_output")?.values);
    Ok(vec![
        Comparison::new("output", &output, &f.array("output")?.values, TOLERANCE),
        Comparison::new("grad_input", &grad, &f.array("grad_input")?.values, TOLERANCE),
    ])
}
