//! A whole pickled `nn.Sequential` (`torch.save(model)`) read as convlab's spec: each layer's
//! record holds its constructor's arguments as attributes (`in_channels`, `kernel_size`,
//! `stride`, `eps`, ...) and its tensors in `_parameters` and `_buffers`, so the spec and the
//! weights come out of the file without running any of it. Nested `Sequential`s are flattened.
//! Layer options convlab does not have (groups, ceil mode, a pool's dilation, ...) are refused,
//! naming the layer and the option.

use super::pickle::{Dict, Id, Pickle, Tensor, Value, MAX_DEPTH};
use crate::error::{Error, Result};

/// The spec of a pickled `Sequential`, with its tensors under the spec's state-dict names.
#[derive(Debug)]
pub struct SequentialSpec {
    pub spec: String,
    pub tensors: Vec<(String, Tensor)>,
}

/// One layer's record: its class and attribute dict.
struct Layer<'p> {
    p: &'p Pickle,
    class: &'static str,
    attrs: &'p Dict,
}

impl Layer<'_> {
    fn err(&self, what: impl std::fmt::Display) -> Error {
        Error::model_file(format!("its nn.{}: {what}", self.class))
    }

    fn attr(&self, name: &str) -> Result<&Value> {
        self.p
            .dict_get(self.attrs, name)
            .map(|id| self.p.get(id))
            .ok_or_else(|| self.err(format!("no attribute {name}")))
    }

    fn int(&self, name: &str) -> Result<i128> {
        match self.attr(name)? {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(*b as i128),
            other => Err(self.err(format!("{name} is {other:?}, not a number"))),
        }
    }

    fn size(&self, name: &str) -> Result<usize> {
        usize::try_from(self.int(name)?).map_err(|_| self.err(format!("{name} is negative")))
    }

    fn float(&self, name: &str) -> Result<f64> {
        match self.attr(name)? {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            Value::None => Err(self.err(format!("{name} is None, which convlab's layer does not support"))),
            other => Err(self.err(format!("{name} is {other:?}, not a number"))),
        }
    }

    fn flag(&self, name: &str) -> Result<bool> {
        match self.attr(name)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            other => Err(self.err(format!("{name} is {other:?}, not True or False"))),
        }
    }

    /// An int or a tuple of ints (`kernel_size=3` or `(3, 5)`).
    fn sizes(&self, name: &str) -> Result<Vec<usize>> {
        let one = |v: &Value| match v {
            Value::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        };
        let bad = || self.err(format!("{name} is not a size or a tuple of sizes"));
        match self.attr(name)? {
            Value::Tuple(items) | Value::List(items) => {
                items.iter().map(|&i| one(self.p.get(i)).ok_or_else(bad)).collect()
            }
            v => Ok(vec![one(v).ok_or_else(bad)?]),
        }
    }

    /// Refuses an option that is not at convlab's one value.
    fn require(&self, name: &str, ok: bool, why: &str) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(format!("{name} {why}; convlab's layer has no such option")))
        }
    }

    fn tensors(&self, group: &str) -> Result<Vec<(String, Option<Tensor>)>> {
        let Some(id) = self.p.dict_get(self.attrs, group) else { return Ok(vec![]) };
        let Value::Dict(d) = self.p.get(id) else { return Err(self.err(format!("{group} is not a dict"))) };
        d.entries
            .iter()
            .map(|&(k, v)| {
                let name = self.p.str_of(k).ok_or_else(|| self.err(format!("a name in {group} is not text")))?;
                match self.p.get(v) {
                    Value::Tensor(t) => Ok((name.to_string(), Some(t.clone()))),
                    Value::None => Ok((name.to_string(), None)),
                    other => Err(self.err(format!("{group}[{name}] is {other:?}, not a tensor"))),
                }
            })
            .collect()
    }
}

/// `3`, or `3x5` when a 2-D size differs between height and width.
fn pair(v: &[usize], two_d: bool) -> String {
    match v {
        [a] => a.to_string(),
        [a, b] if a == b || !two_d => a.to_string(),
        [a, b] => format!("{a}x{b}"),
        _ => v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("x"),
    }
}

/// The sizes of one attribute, one per spatial axis of the layer.
fn axes(l: &Layer, name: &str, two_d: bool) -> Result<Vec<usize>> {
    let v = l.sizes(name)?;
    let want = if two_d { 2 } else { 1 };
    match v.len() {
        1 => Ok(vec![v[0]; want]),
        n if n == want => Ok(v),
        n => Err(l.err(format!("{name} has {n} sizes for a {want}-D layer"))),
    }
}

/// Reads the `Sequential` record `id`.
pub fn sequential_spec(p: &Pickle, id: Id) -> Result<SequentialSpec> {
    let mut layers = vec![];
    collect(p, id, 0, &mut layers)?;
    if layers.is_empty() {
        return Err(Error::model_file("its nn.Sequential has no layers"));
    }
    let mut texts = vec![];
    let mut tensors = vec![];
    for (i, l) in layers.iter().enumerate() {
        texts.push(layer_text(l).map_err(|e| e.context(format!("layer {i}")))?);
        for group in ["_parameters", "_buffers"] {
            for (name, t) in l.tensors(group)? {
                if let Some(t) = t {
                    tensors.push((format!("{i}.{name}"), t));
                }
            }
        }
    }
    Ok(SequentialSpec { spec: texts.join(" "), tensors })
}

/// The layers of a `Sequential`, in order, with nested `Sequential`s flattened.
fn collect<'p>(p: &'p Pickle, id: Id, depth: usize, out: &mut Vec<Layer<'p>>) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::model_file(format!("its modules are nested more than {MAX_DEPTH} deep")));
    }
    let Value::Object(o) = p.get(id) else {
        return Err(Error::model_file(format!("a layer of its nn.Sequential is {}", p.describe(id))));
    };
    let attrs = match o.state.map(|s| p.get(s)) {
        Some(Value::Dict(d)) => d,
        // (dict, slots) states: the dict is the first.
        Some(Value::Tuple(t)) if matches!(t.first().map(|&i| p.get(i)), Some(Value::Dict(_))) => match p.get(t[0]) {
            Value::Dict(d) => d,
            _ => unreachable!(),
        },
        _ => return Err(Error::model_file(format!("its nn.{} has no attributes (the file is damaged)", o.class))),
    };
    if o.class != "Sequential" {
        out.push(Layer { p, class: o.class, attrs });
        return Ok(());
    }
    let modules = p
        .dict_get(attrs, "_modules")
        .map(|m| p.get(m))
        .ok_or_else(|| Error::model_file("its nn.Sequential has no _modules (the file is damaged)"))?;
    let Value::Dict(modules) = modules else {
        return Err(Error::model_file("its nn.Sequential's _modules is not a dict (the file is damaged)"));
    };
    for &(_, m) in &modules.entries {
        collect(p, m, depth + 1, out)?;
    }
    Ok(())
}

/// The spec text of one layer.
fn layer_text(l: &Layer) -> Result<String> {
    let two_d = l.class.ends_with("2d");
    let d = if two_d { "2d" } else { "1d" };
    let has_bias = || -> Result<bool> { Ok(l.tensors("_parameters")?.iter().any(|(n, t)| n == "bias" && t.is_some())) };
    let text = match l.class {
        "Conv1d" | "Conv2d" => {
            l.require("groups", l.int("groups")? == 1, "is not 1")?;
            l.require("transposed", !l.flag("transposed")?, "is True")?;
            let mode = l.attr("padding_mode")?;
            l.require("padding_mode", matches!(mode, Value::Str(s) if s == "zeros"), "is not 'zeros'")?;
            let mut args = vec![
                l.size("out_channels")?.to_string(),
                format!("k={}", pair(&axes(l, "kernel_size", two_d)?, two_d)),
            ];
            let stride = axes(l, "stride", two_d)?;
            if stride.iter().any(|&s| s != 1) {
                args.push(format!("s={}", pair(&stride, two_d)));
            }
            match l.attr("padding")? {
                Value::Str(s) if s == "same" || s == "valid" => args.push(format!("p={s}")),
                Value::Str(s) => return Err(l.err(format!("padding '{s}' is not 'same' or 'valid'"))),
                _ => {
                    let pad = axes(l, "padding", two_d)?;
                    if pad.iter().any(|&v| v != 0) {
                        args.push(format!("p={}", pair(&pad, two_d)));
                    }
                }
            }
            let dil = axes(l, "dilation", two_d)?;
            if dil.iter().any(|&v| v != 1) {
                args.push(format!("d={}", pair(&dil, two_d)));
            }
            if !has_bias()? {
                args.push("bias=false".into());
            }
            format!("conv{d}({})", args.join(","))
        }
        "MaxPool1d" | "MaxPool2d" | "AvgPool1d" | "AvgPool2d" => {
            l.require("ceil_mode", !l.flag("ceil_mode")?, "is True")?;
            let max = l.class.starts_with("Max");
            if max {
                l.require("return_indices", !l.flag("return_indices")?, "is True")?;
                l.require("dilation", axes(l, "dilation", two_d)?.iter().all(|&v| v == 1), "is not 1")?;
            } else {
                let pad = axes(l, "padding", two_d)?;
                let counts = l.flag("count_include_pad")?;
                l.require("count_include_pad", counts || pad.iter().all(|&v| v == 0), "is False with padding")?;
                l.require(
                    "divisor_override",
                    l.p.dict_get(l.attrs, "divisor_override").is_none_or(|v| l.p.get(v) == &Value::None),
                    "is set",
                )?;
            }
            let k = axes(l, "kernel_size", two_d)?;
            let mut args = vec![pair(&k, two_d)];
            // `stride=None` means the kernel size (PyTorch stores the kernel size then).
            let s = match l.attr("stride")? {
                Value::None => k.clone(),
                Value::Tuple(t) if t.is_empty() => k.clone(),
                _ => axes(l, "stride", two_d)?,
            };
            if s != k {
                args.push(format!("s={}", pair(&s, two_d)));
            }
            let pad = axes(l, "padding", two_d)?;
            if pad.iter().any(|&v| v != 0) {
                args.push(format!("p={}", pair(&pad, two_d)));
            }
            format!("{}pool{d}({})", if max { "max" } else { "avg" }, args.join(","))
        }
        "AdaptiveAvgPool1d" | "AdaptiveAvgPool2d" | "AdaptiveMaxPool1d" | "AdaptiveMaxPool2d" => {
            if l.class.contains("Max") {
                l.require("return_indices", !l.flag("return_indices")?, "is True")?;
            }
            let size = axes(l, "output_size", two_d)
                .map_err(|_| l.err("output_size holds None (keep the input's size), which convlab does not support"))?;
            format!("adaptive{}pool{d}({})", if l.class.contains("Max") { "max" } else { "avg" }, pair(&size, two_d))
        }
        "BatchNorm1d" | "BatchNorm2d" => {
            l.require("affine", l.flag("affine")?, "is False")?;
            l.require("track_running_stats", l.flag("track_running_stats")?, "is False")?;
            let (eps, momentum) = (l.float("eps")?, l.float("momentum")?);
            let mut args = vec![];
            if eps != 1e-5 {
                args.push(format!("eps={eps}"));
            }
            if momentum != 0.1 {
                args.push(format!("momentum={momentum}"));
            }
            if args.is_empty() {
                format!("batchnorm{d}")
            } else {
                format!("batchnorm{d}({})", args.join(","))
            }
        }
        "Dropout" => {
            let p = l.float("p")?;
            if p == 0.5 {
                "dropout".into()
            } else {
                format!("dropout({p})")
            }
        }
        "ReLU" => "relu".into(),
        "Sigmoid" => "sigmoid".into(),
        "Tanh" => "tanh".into(),
        "LeakyReLU" => {
            let s = l.float("negative_slope")?;
            if s == 0.01 {
                "leakyrelu".into()
            } else {
                format!("leakyrelu({s})")
            }
        }
        "Flatten" => {
            l.require("start_dim", l.int("start_dim")? == 1, "is not 1")?;
            l.require("end_dim", l.int("end_dim")? == -1, "is not -1")?;
            "flatten".into()
        }
        "Linear" => {
            let out = l.size("out_features")?;
            if has_bias()? {
                format!("linear({out})")
            } else {
                format!("linear({out},bias=false)")
            }
        }
        other => return Err(Error::model_file(format!("nn.{other} is not a layer convlab has"))),
    };
    Ok(text)
}
