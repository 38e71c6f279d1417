//! Grid points: every combination of the grid's values, each applied to the base training
//! setup. Keys are run settings (`epochs`, `batch_size`, `optimizer`, `model`, ...) or
//! shorthands that edit a spec: `filters` (the first convolution's output channels), `lr`,
//! `momentum`, `weight_decay` (the optimizer's arguments).

use crate::error::{Error, Result};
use crate::model::presets;
use crate::spec::call::{parse_call, parse_calls, split_top, Call};
use crate::train::config::RunConfig;
use std::collections::BTreeMap;

const KEYS: &str =
    "filters, lr, momentum, weight_decay, epochs, batch_size, optimizer, model, data, loss, rng, schedule, early_stop, clip_grad_norm";

/// One combination of grid values, keys in alphabetical order.
#[derive(Clone, Debug, PartialEq)]
pub struct Point(pub Vec<(String, String)>);

impl Point {
    /// `filters=3 lr=0.05`, or `(base)` for a sweep without a grid.
    pub fn label(&self) -> String {
        if self.0.is_empty() {
            return "(base)".into();
        }
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

/// Parses `--grid key=v1,v2,...` (commas inside parentheses belong to the value).
pub fn parse_flag(text: &str) -> Result<(String, Vec<String>)> {
    let (key, values) = text
        .split_once('=')
        .ok_or_else(|| Error::config(format!("--grid `{text}` is not KEY=V1,V2,..., e.g. --grid filters=3,4")))?;
    let values = split_top(values, |c| c == ',')?;
    Ok((key.trim().to_string(), values))
}

/// Every combination of the grid's values; the last key varies fastest.
pub fn points(grid: &BTreeMap<String, Vec<String>>) -> Result<Vec<Point>> {
    let mut out = vec![Point(vec![])];
    for (key, values) in grid {
        if !KEYS.split(", ").any(|k| k == key) {
            return Err(Error::config(format!("the grid's `{key}` is not a setting a sweep can vary; use {KEYS}")));
        }
        if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
            return Err(Error::config(format!(
                "the grid's `{key}` has an empty value list; give values, e.g. --grid {key}=3,4"
            )));
        }
        out = out
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.0.clone();
                    q.push((key.clone(), v.trim().to_string()));
                    Point(q)
                })
            })
            .collect();
    }
    Ok(out)
}

fn call_text(c: &Call) -> String {
    if c.args.is_empty() {
        return c.name.clone();
    }
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| match &a.key {
            Some(k) => format!("{k}={}", a.value),
            None => a.value.clone(),
        })
        .collect();
    format!("{}({})", c.name, args.join(","))
}

/// Sets argument `keys[0]` of `call` (found by any of `keys`, or at `position`) to `value`.
fn set_arg(call: &mut Call, keys: &[&str], position: Option<usize>, value: &str) {
    if let Some(a) = call.args.iter_mut().find(|a| a.key.as_deref().is_some_and(|k| keys.contains(&k))) {
        a.value = value.into();
    } else if let Some(a) = position.and_then(|p| call.args.iter_mut().filter(|a| a.key.is_none()).nth(p)) {
        a.value = value.into();
    } else {
        call.args.push(crate::spec::call::Arg { key: Some(keys[0].into()), value: value.into() });
    }
}

fn number<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.parse().map_err(|_| Error::config(format!("the grid's {key}={v} is not a valid number")))
}

/// `base` with the point's values applied.
pub fn apply(base: &RunConfig, point: &Point) -> Result<RunConfig> {
    let mut c = base.clone();
    for (key, v) in &point.0 {
        match key.as_str() {
            "filters" => {
                let f: usize = number(key, v)?;
                if f == 0 {
                    return Err(Error::config("the grid's filters must be at least 1"));
                }
                let (spec, _) = presets::resolve(&c.training.model);
                let mut calls = parse_calls(&spec)?;
                let conv = calls.iter_mut().find(|c| c.name.starts_with("conv")).ok_or_else(|| {
                    Error::config(format!("the grid varies filters but the model `{spec}` has no convolution"))
                })?;
                set_arg(conv, &["out", "out_channels", "filters"], Some(0), v);
                c.training.model = calls.iter().map(call_text).collect::<Vec<_>>().join(" ");
            }
            "lr" | "momentum" | "weight_decay" => {
                number::<f64>(key, v)?;
                let mut call = parse_call(&c.training.optimizer)?;
                let keys: &[&str] = match key.as_str() {
                    "lr" => &["lr", "learning_rate"],
                    "momentum" => &["momentum"],
                    _ => &["weight_decay", "wd"],
                };
                set_arg(&mut call, keys, (key == "lr").then_some(0), v);
                c.training.optimizer = call_text(&call);
            }
            "epochs" => c.training.epochs = number(key, v)?,
            "batch_size" => {
                c.training.batch_size =
                    crate::train::config::parse_batch_size(v).map_err(|e| Error::config(format!("grid: {e}")))?
            }
            "optimizer" => c.training.optimizer = v.clone(),
            "model" => c.training.model = v.clone(),
            "data" => c.training.data = v.clone(),
            "loss" => c.training.loss = Some(crate::losses::Loss::parse(v)?),
            "rng" => c.training.rng = crate::train::config::InitStream::parse(v)?,
            "schedule" => {
                crate::optim::Schedule::parse(v)?;
                c.training.schedule = Some(v.clone());
            }
            "early_stop" => {
                crate::train::early_stop::EarlyStop::parse(v)?;
                c.training.early_stop = Some(v.clone());
            }
            "clip_grad_norm" => c.training.clip_grad_norm = Some(number(key, v)?),
            other => {
                return Err(Error::config(format!(
                    "the grid's `{other}` is not a setting a sweep can vary; use {KEYS}"
                )))
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_the_product_and_edit_the_specs() {
        let mut g = BTreeMap::new();
        g.insert("filters".to_string(), vec!["3".to_string(), "4".to_string()]);
        g.insert("lr".to_string(), vec!["0.01".to_string(), "0.1".to_string()]);
        let p = points(&g).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].label(), "filters=3 lr=0.1");
        let mut base = RunConfig::default();
        base.training.model = "pattern1d".into();
        base.training.optimizer = "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)".into();
        let c = apply(&base, &p[1]).unwrap();
        assert_eq!(c.training.model, "conv1d(3,k=5,p=2) relu maxpool1d(20) flatten linear(1)");
        assert_eq!(c.training.optimizer, "sgd(lr=0.1,momentum=0.9,weight_decay=1e-3)");
        let mut positional = base.clone();
        positional.training.optimizer = "adam(0.001)".into();
        assert_eq!(apply(&positional, &p[1]).unwrap().training.optimizer, "adam(0.1)");
        assert_eq!(parse_flag("optimizer=adam(lr=1e-3,betas=(0.9,0.99)),sgd").unwrap().1.len(), 2);
    }

    #[test]
    fn bad_grids_are_refused() {
        let one = |k: &str, v: &[&str]| BTreeMap::from([(k.to_string(), v.iter().map(|s| s.to_string()).collect())]);
        assert!(points(&one("filters", &[])).unwrap_err().to_string().contains("empty"));
        assert!(points(&one("filterz", &["3"])).unwrap_err().to_string().contains("filterz"));
        let p = points(&one("filters", &["x"])).unwrap();
        assert!(apply(&RunConfig::default(), &p[0]).unwrap_err().to_string().contains("not a valid number"));
    }
}
