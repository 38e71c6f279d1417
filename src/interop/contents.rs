//! What a `.pt` file holds, and which part of it is the model: the file itself when it is a
//! state dict or a whole `nn.Sequential`; in a checkpoint dict, the entry `--key` names, or the
//! one entry that looks like a state dict or a `Sequential` (searched through nested dicts of
//! string keys, so an optimizer's state, keyed by numbers, is never taken for one).
//! DataParallel's `module.` prefix is removed.

use super::pickle::{Id, Pickle, Tensor, Value, MAX_DEPTH};
use crate::error::{Error, Result};

/// The part of a file that holds the model.
#[derive(Debug)]
pub enum Found {
    /// Named tensors (`0.weight`, ...), under `at` (the checkpoint's key path, empty for the file).
    StateDict { at: String, tensors: Vec<(String, Tensor)>, prefix_removed: bool },
    /// A pickled `nn.Sequential` record.
    Module { at: String, id: Id },
}

/// True for a non-empty dict of string keys and tensor values.
fn is_state_dict(p: &Pickle, id: Id) -> bool {
    match p.get(id) {
        Value::Dict(d) => {
            !d.entries.is_empty()
                && d.entries.iter().all(|&(k, v)| p.str_of(k).is_some() && matches!(p.get(v), Value::Tensor(_)))
        }
        _ => false,
    }
}

fn is_sequential(p: &Pickle, id: Id) -> bool {
    matches!(p.get(id), Value::Object(o) if o.class == "Sequential")
}

/// Everything below `id` that looks like a model, with its key path.
fn candidates(p: &Pickle, id: Id, path: &str, depth: usize, out: &mut Vec<(String, Id)>) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::model_file(format!("its dicts are nested more than {MAX_DEPTH} deep")));
    }
    if is_state_dict(p, id) || is_sequential(p, id) {
        out.push((path.to_string(), id));
        return Ok(());
    }
    if let Value::Dict(d) = p.get(id) {
        if d.entries.iter().all(|&(k, _)| p.str_of(k).is_some()) {
            for &(k, v) in &d.entries {
                let key = p.str_of(k).unwrap_or_default();
                let sub = if path.is_empty() { key.to_string() } else { format!("{path}/{key}") };
                candidates(p, v, &sub, depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// `dict[key]`, or for a path `a/b`, `dict["a"]["b"]`.
fn lookup(p: &Pickle, root: Id, key: &str) -> Option<Id> {
    let entry = |id: Id, k: &str| match p.get(id) {
        Value::Dict(d) => p.dict_get(d, k),
        _ => None,
    };
    entry(root, key).or_else(|| key.split('/').try_fold(root, entry))
}

/// The keys of a dict, for messages.
fn keys(p: &Pickle, id: Id) -> String {
    match p.get(id) {
        Value::Dict(d) => d
            .entries
            .iter()
            .map(|&(k, v)| {
                format!("{} ({})", p.str_of(k).map(str::to_string).unwrap_or_else(|| p.describe(k)), p.describe(v))
            })
            .take(12)
            .collect::<Vec<_>>()
            .join(", "),
        _ => p.describe(id),
    }
}

/// Finds the model in the pickle whose result is `root`.
pub fn find(p: &Pickle, root: Id, key: Option<&str>) -> Result<Found> {
    let (at, id) = match key {
        Some(k) => {
            let id = lookup(p, root, k)
                .ok_or_else(|| Error::model_file(format!("it has no entry `{k}`; it holds {}", keys(p, root))))?;
            if !is_state_dict(p, id) && !is_sequential(p, id) {
                return Err(Error::model_file(format!(
                    "its entry `{k}` is {}, not a state dict (names to tensors) or an nn.Sequential",
                    p.describe(id)
                )));
            }
            (k.to_string(), id)
        }
        None => {
            let mut found = vec![];
            candidates(p, root, "", 0, &mut found)?;
            match found.len() {
                1 => found.pop().unwrap(),
                0 => {
                    return Err(Error::model_file(format!(
                        "it holds {}, and nothing in it is a state dict (names to tensors) or an nn.Sequential; \
                         save one with torch.save(model.state_dict(), path)",
                        if matches!(p.get(root), Value::Dict(_)) {
                            format!("a dict: {}", keys(p, root))
                        } else {
                            p.describe(root)
                        }
                    )))
                }
                _ => {
                    let paths: Vec<String> = found.iter().map(|(k, _)| format!("`{k}`")).collect();
                    return Err(Error::model_file(format!(
                        "it holds {} models ({}); say which with --key",
                        found.len(),
                        paths.join(", ")
                    )));
                }
            }
        }
    };
    if is_sequential(p, id) {
        return Ok(Found::Module { at, id });
    }
    let Value::Dict(d) = p.get(id) else { unreachable!("a state dict is a dict") };
    let mut tensors: Vec<(String, Tensor)> = d
        .entries
        .iter()
        .map(|&(k, v)| match p.get(v) {
            Value::Tensor(t) => (p.str_of(k).unwrap_or_default().to_string(), t.clone()),
            _ => unreachable!("a state dict holds tensors"),
        })
        .collect();
    // DataParallel and DistributedDataParallel save the model under `module.`.
    let prefix_removed = tensors.iter().all(|(n, _)| n.starts_with("module."));
    if prefix_removed {
        for (n, _) in &mut tensors {
            n.drain(.."module.".len());
        }
    }
    Ok(Found::StateDict { at, tensors, prefix_removed })
}
