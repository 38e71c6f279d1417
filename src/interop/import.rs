//! From a file PyTorch wrote to a convlab model: a safetensors state dict, or any `.pt` file
//! [`super::contents`] finds a model in. The spec comes from `--model` or, for a whole pickled
//! `nn.Sequential`, from the file; the input shape from `--input`, the preset whose spec it is,
//! or (for a network that starts with a linear layer) the first weight. A conv net's input size
//! is in neither a state dict nor a pickled module (its weights fit any size), so it is asked for.
//!
//! The tensors then go through the same loader as convlab's own files
//! ([`crate::model::io::load_state`]), which checks every name, shape and value against the spec.

use super::contents::{self, Found};
use super::pickle::Tensor;
use super::pt_read::{looks_like_pt, read_pt, PtFile, TensorData};
use super::torch_module::sequential_spec;
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::model::{io, presets, Model};
use safetensors::tensor::{Dtype as StDtype, TensorView};
use std::path::Path;

/// What the user said about the file (`--model`, `--input`, `--key`).
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub model: Option<String>,
    pub input: Option<String>,
    pub key: Option<String>,
}

/// An imported model and what was found on the way, to tell the user.
pub struct Imported {
    pub model: Model<f32>,
    pub notes: Vec<String>,
}

/// Reads `path`: a `.pt`/`.pth`/`.bin` file (either `torch.save` format) or safetensors.
pub fn import_file(path: &Path, opts: &ImportOptions) -> Result<Imported> {
    let bytes = crate::fs::read_file(path)?;
    let label = path.display().to_string();
    let pt_name = path.extension().and_then(|e| e.to_str()).is_some_and(|e| ["pt", "pth", "bin", "ckpt"].contains(&e));
    if looks_like_pt(&bytes) || pt_name {
        return import_pt(&bytes, &label, opts);
    }
    if opts.key.is_some() {
        return Err(Error::config("--key picks an entry of a .pt checkpoint; a safetensors file has none"));
    }
    let model = opts.model.as_deref().ok_or_else(|| {
        Error::config(format!(
            "{label}: a safetensors state dict holds the weights, not the layers; give them with --model SPEC (or a preset: {})",
            presets::names()
        ))
    })?;
    let (spec, input) = presets::spec_and_input(model, opts.input.as_deref())?;
    let mut m = Model::<f32>::new(&spec, input)?;
    io::load_state(&mut m, &bytes).map_err(|e| e.context(&label))?;
    Ok(Imported { model: m, notes: vec![] })
}

/// Reads the bytes of a `.pt` file called `label`.
pub fn import_pt(bytes: &[u8], label: &str, opts: &ImportOptions) -> Result<Imported> {
    let file = read_pt(bytes, label)?;
    let found = contents::find(&file.pickle, file.root, opts.key.as_deref()).map_err(|e| e.context(label))?;
    let mut notes = vec![];
    let under = |at: &str| if at.is_empty() { String::new() } else { format!(" under `{at}`") };
    let (spec, tensors) = match found {
        Found::StateDict { at, tensors, prefix_removed } => {
            notes.push(format!(
                "{label} ({} format): a state dict{} of {} tensors",
                file.format,
                under(&at),
                tensors.len()
            ));
            if prefix_removed {
                notes.push("removed DataParallel's `module.` prefix from the names".into());
            }
            let model = opts.model.as_deref().ok_or_else(|| {
                Error::config(format!(
                    "{label} holds a state dict ({}): the weights, not the layers; give them with --model SPEC (or a preset: {})",
                    summary(&tensors),
                    presets::names()
                ))
            })?;
            let spec = presets::resolve(model).0;
            (spec, tensors)
        }
        Found::Module { at, id } => {
            let seq = sequential_spec(&file.pickle, id).map_err(|e| e.context(label))?;
            notes.push(format!(
                "{label} ({} format): a whole nn.Sequential{}: `{}`",
                file.format,
                under(&at),
                seq.spec
            ));
            if let Some(model) = &opts.model {
                let given = presets::resolve(model).0;
                if normalise(&given) != normalise(&seq.spec) {
                    return Err(Error::config(format!(
                        "{label} holds the nn.Sequential `{}` but --model says `{given}`; leave out --model to use the file's",
                        seq.spec
                    )));
                }
            }
            (seq.spec, seq.tensors)
        }
    };
    let input = match opts.input.as_deref() {
        Some(text) => Dims::parse(text)?,
        None => infer_input(&spec, &tensors).ok_or_else(|| {
            Error::config(format!(
                "{label}: the input size of `{spec}` is not in the file (a conv net's weights fit any input size); \
                 give it with --input C,H,W (or C,L){}",
                channels_hint(&tensors)
            ))
        })?,
    };
    finish(&file, &spec, input, &tensors, label, notes)
}

fn finish(
    file: &PtFile,
    spec: &str,
    input: Dims,
    tensors: &[(String, Tensor)],
    label: &str,
    notes: Vec<String>,
) -> Result<Imported> {
    let mut model = Model::<f32>::new(spec, input)?;
    let bytes = to_safetensors(file, tensors)?;
    io::load_state(&mut model, &bytes).map_err(|e| e.context(label))?;
    Ok(Imported { model, notes })
}

fn normalise(spec: &str) -> String {
    spec.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The input shape when the file and spec settle it: the preset's, or a leading linear layer's.
fn infer_input(spec: &str, tensors: &[(String, Tensor)]) -> Option<Dims> {
    if let Some(p) = presets::PRESETS.iter().find(|p| normalise(p.spec) == normalise(spec)) {
        return Dims::parse(p.input).ok();
    }
    let first = spec.split_whitespace().next()?;
    if first.starts_with("linear") {
        let w = tensors.iter().find(|(n, _)| n == "0.weight")?;
        if let [_, features] = w.1.shape[..] {
            return Some(Dims::flat(usize::try_from(features).ok()?));
        }
    }
    None
}

/// "; its first layer takes 3 channels", from the first weight's shape.
fn channels_hint(tensors: &[(String, Tensor)]) -> String {
    match tensors.iter().find(|(n, _)| n == "0.weight").map(|(_, t)| &t.shape[..]) {
        Some([_, c, _]) => format!("; its first layer takes {c} channels, so C,L = {c},LENGTH"),
        Some([_, c, _, _]) => format!("; its first layer takes {c} channels, so C,H,W = {c},HEIGHT,WIDTH"),
        _ => String::new(),
    }
}

/// "0.weight [8, 1, 5, 5], 0.bias [8], ..." for messages.
fn summary(tensors: &[(String, Tensor)]) -> String {
    let mut s: Vec<String> = tensors.iter().take(6).map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
    if tensors.len() > 6 {
        s.push(format!("and {} more", tensors.len() - 6));
    }
    s.join(", ")
}

/// The tensors as an in-memory safetensors file, for convlab's checked loader: float32 values
/// (from float16, bfloat16 and float32), float64 (rounded once, by the loader, as `.float()`
/// does) and int64 (`num_batches_tracked`).
fn to_safetensors(file: &PtFile, tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let mut data = vec![];
    for (name, t) in tensors {
        let (dtype, bytes) = match file.values(t, name)? {
            TensorData::F32(v) => (StDtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()),
            TensorData::F64(v) => (StDtype::F64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            TensorData::I64(v) => (StDtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        };
        let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        data.push((name.clone(), dtype, shape, bytes));
    }
    let views = data
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::model_file(format!("tensor {n}: {}", io::describe(&e))))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, &None)
        .map_err(|e| Error::model_file(format!("cannot gather the tensors: {}", io::describe(&e))))
}
