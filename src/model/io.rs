//! Model files: safetensors with PyTorch `nn.Sequential` state-dict names (`0.weight`,
//! `1.running_mean`, ...) and the spec and input shape in the metadata, so the same file loads
//! into PyTorch (`model.load_state_dict(safetensors.torch.load_file(path))`) and back.
//!
//! The metadata also records the model's [`Task`] when it is known: `loss`, `classes` (a
//! number) and `class_names` (an array). Files without them (older ones, imports without
//! `--loss`) load with no task.

use super::{Model, Store, Task};
use crate::engine::{Dims, Float};
use crate::error::{Error, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensorError;
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::Path;

/// The one metadata key convlab writes: a JSON object (`spec`, `input`, ...). One key, because
/// safetensors writes metadata in hash order, and files must be byte-identical across runs.
const META_KEY: &str = "convlab";

/// Encodes the model's state (as float32) with its spec in the metadata.
pub fn to_bytes<T: Float>(model: &Model<T>, extra_meta: &[(&str, String)]) -> Result<Vec<u8>> {
    to_bytes_with(model, extra_meta, &[])
}

/// As `to_bytes`, plus extra flat float32 tensors (little-endian bytes), e.g. optimizer state.
pub fn to_bytes_with<T: Float>(
    model: &Model<T>,
    extra_meta: &[(&str, String)],
    extra: &[(String, Vec<u8>)],
) -> Result<Vec<u8>> {
    let tensors = model.tensors();
    let data: Vec<Vec<u8>> =
        tensors.iter().map(|t| model.tensor(t).iter().flat_map(|v| v.to_f32().to_le_bytes()).collect()).collect();
    let mut views: Vec<(String, TensorView)> = vec![];
    for (t, bytes) in tensors.iter().zip(&data) {
        views.push((t.name.clone(), TensorView::new(Dtype::F32, t.shape.clone(), bytes).map_err(encoding_error)?));
    }
    // PyTorch's BatchNorm keeps num_batches_tracked in its state dict; strict loading wants it.
    let tracked = model.batches_tracked.to_le_bytes();
    for (i, l) in model.layers.iter().enumerate() {
        if matches!(l.op, crate::layers::Op::BatchNorm(_)) {
            views.push((
                format!("{i}.num_batches_tracked"),
                TensorView::new(Dtype::I64, vec![], &tracked).map_err(encoding_error)?,
            ));
        }
    }
    for (name, bytes) in extra {
        views.push((name.clone(), TensorView::new(Dtype::F32, vec![bytes.len() / 4], bytes).map_err(encoding_error)?));
    }
    let mut info = serde_json::Map::new();
    info.insert("spec".into(), model.spec.clone().into());
    info.insert(
        "input".into(),
        model.input.to_vec().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",").into(),
    );
    if let Some(task) = &model.task {
        info.insert("loss".into(), task.loss.name().into());
        info.insert("classes".into(), task.classes.into());
        if !task.class_names.is_empty() {
            info.insert("class_names".into(), task.class_names.clone().into());
        }
    }
    for (k, v) in extra_meta {
        info.insert(k.to_string(), v.clone().into());
    }
    let meta = HashMap::from([(META_KEY.to_string(), serde_json::Value::Object(info).to_string())]);
    safetensors::serialize(views, &Some(meta)).map_err(encoding_error)
}

pub fn save<T: Float>(model: &Model<T>, path: &Path) -> Result<()> {
    crate::fs::write_atomic(path, &to_bytes(model, &[])?)?;
    Ok(())
}

/// Reads a tensor of any float dtype as f64 values.
pub fn read_f64(view: &TensorView) -> Result<Vec<f64>> {
    let b = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        Dtype::F64 => b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        Dtype::I64 => b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        Dtype::I32 => b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        Dtype::U8 => b.iter().map(|&v| v as f64).collect(),
        other => {
            return Err(Error::model_file(format!("tensors of type {other:?} are not supported; save them as float32")))
        }
    })
}

/// convlab's metadata of a safetensors file as text values (empty when absent).
pub fn read_info(meta: &safetensors::tensor::Metadata) -> HashMap<String, String> {
    let raw = meta.metadata().as_ref().and_then(|m| m.get(META_KEY)).cloned().unwrap_or_default();
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&raw) else {
        return HashMap::new();
    };
    map.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect()
}

/// Loads a file written by `save` (spec and input from its metadata).
pub fn load<T: Float>(path: &Path) -> Result<Model<T>> {
    let bytes = crate::fs::read_file(path)?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::model_file(format!("{} is not a safetensors file: {}", path.display(), describe(&e))))?;
    let info = read_info(&meta);
    let (Some(spec), Some(input)) = (info.get("spec"), info.get("input")) else {
        return Err(Error::model_file(format!(
            "{} has no convlab spec in its metadata (saved by PyTorch?); this command needs a model file written by convlab (PyTorch state dicts load through the library: model::io::load_state)",
            path.display()
        )));
    };
    let input = Dims::parse(input)
        .map_err(|e| Error::model_file(format!("{}: the stored input shape is unusable: {e}", path.display())))?;
    let mut model = Model::new(spec, input)
        .map_err(|e| Error::model_file(format!("{}: stored spec does not build: {e}", path.display())))?;
    load_state(&mut model, &bytes).map_err(|e| e.context(path.display()))?;
    model.task = read_task(&info, model.output().len()).map_err(|e| e.context(path.display()))?;
    Ok(model)
}

/// The task recorded in convlab's metadata (`None` when the file has none), checked against
/// the model's `outputs`.
pub fn read_task(info: &HashMap<String, String>, outputs: usize) -> Result<Option<Task>> {
    let Some(loss) = info.get("loss") else { return Ok(None) };
    let damaged = |what: String| Error::model_file(format!("{what}; the file's metadata is damaged"));
    let loss = crate::losses::Loss::parse(loss).map_err(|e| damaged(format!("its task's loss: {e}")))?;
    let classes = match info.get("classes") {
        Some(c) => c.parse::<usize>().map_err(|_| damaged(format!("its number of classes `{c}` is not a count")))?,
        None => Task::new(loss, outputs, None).classes,
    };
    let class_names = match info.get("class_names") {
        Some(n) => serde_json::from_str::<Vec<String>>(n)
            .map_err(|_| damaged("its class names are not a list of strings".into()))?,
        None => vec![],
    };
    let task = Task { loss, classes, class_names };
    task.check(outputs).map_err(|e| damaged(e.to_string()))?;
    Ok(Some(task))
}

/// Fills `model` from safetensors bytes with state-dict names (e.g. saved by PyTorch's
/// `safetensors.torch.save_file(model.state_dict(), ...)`). `prefix` selects names such as
/// `init.` in a fixture. Every tensor of the model must be present with its exact shape.
pub fn load_state_prefixed<T: Float>(model: &mut Model<T>, st: &SafeTensors, prefix: &str) -> Result<()> {
    let mut missing = vec![];
    for t in model.tensors() {
        let name = format!("{prefix}{}", t.name);
        match st.tensor(&name) {
            Ok(view) => {
                if view.shape() != t.shape.as_slice() {
                    return Err(Error::model_file(format!(
                        "tensor {name} has shape {:?} but the model `{}` needs {:?}",
                        view.shape(),
                        model.spec,
                        t.shape
                    )));
                }
                let vals = read_f64(&view)?;
                check_values(&name, &vals)?;
                for (d, v) in model.tensor_mut(&t).iter_mut().zip(vals) {
                    *d = T::from_f64(v);
                }
            }
            Err(_) if t.store == Store::Buffer => {} // running statistics may be absent: keep defaults
            Err(_) => missing.push(name),
        }
    }
    if !missing.is_empty() {
        let msg = format!("missing tensors {missing:?} for the model `{}`; is it the right spec?", model.spec);
        return Err(Error::model_file(msg));
    }
    if let Some(v) = st.names().iter().find(|n| n.starts_with(prefix) && n.ends_with("num_batches_tracked")) {
        if let Ok(view) = st.tensor(v) {
            model.batches_tracked = read_f64(&view)?.first().copied().unwrap_or(0.0) as i64;
        }
    }
    // Unknown names mean a different architecture: refuse rather than silently ignore.
    let known: std::collections::HashSet<String> =
        model.tensors().iter().map(|t| format!("{prefix}{}", t.name)).collect();
    if let Some(extra) = st.names().into_iter().find(|n| {
        n.starts_with(prefix)
            && !n.ends_with("num_batches_tracked")
            && !n.starts_with("optimizer.")
            && !known.contains(*n)
    }) {
        let msg = format!("tensor {extra} does not belong to the model `{}`; is it the right spec?", model.spec);
        return Err(Error::model_file(msg));
    }
    Ok(())
}

/// The largest weight magnitude a model file may hold: no trained network comes near it, and
/// past it outputs overflow to infinity, so predictions would be silently meaningless.
pub const MAX_ABS_WEIGHT: f64 = 1e10;

/// Refuses tensors that cannot be a trained model's: NaN, infinite or absurd values, a
/// negative running variance.
fn check_values(name: &str, vals: &[f64]) -> Result<()> {
    let damaged =
        "the file is damaged or comes from a training that diverged; train again (with a smaller learning rate)";
    if let Some(v) = vals.iter().find(|v| !v.is_finite() || v.abs() > MAX_ABS_WEIGHT) {
        let what = if v.is_finite() { format!("the value {v:e}, beyond ±{MAX_ABS_WEIGHT:e}") } else { format!("{v}") };
        return Err(Error::model_file(format!("tensor {name} holds {what}: {damaged}")));
    }
    if name.ends_with("running_var") {
        if let Some(v) = vals.iter().find(|&&v| v < 0.0) {
            return Err(Error::model_file(format!("tensor {name} holds the negative variance {v}: {damaged}")));
        }
    }
    Ok(())
}

pub fn load_state<T: Float>(model: &mut Model<T>, bytes: &[u8]) -> Result<()> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::model_file(format!("not a valid safetensors file: {}", describe(&e))))?;
    load_state_prefixed(model, &st, "")
}

/// What a safetensors error means, in words (the crate's own `Display` prints the variant's
/// name, such as `MetadataIncompleteBuffer`).
pub fn describe(e: &SafeTensorError) -> String {
    use SafeTensorError as E;
    match e {
        E::InvalidHeader => "its header is not UTF-8 text".into(),
        E::InvalidHeaderStart => "its header does not start with `{`".into(),
        E::InvalidHeaderDeserialization => "its header is not valid JSON".into(),
        E::HeaderTooLarge => "its header is larger than 100 MB".into(),
        E::HeaderTooSmall => "the file is shorter than its 8-byte header length".into(),
        E::InvalidHeaderLength => "its header length is past the end of the file (the file is truncated?)".into(),
        E::TensorNotFound(name) => format!("it has no tensor `{name}`"),
        E::TensorInvalidInfo => "a tensor's shape, type and offsets disagree".into(),
        E::InvalidOffset(name) => format!("the offsets of tensor `{name}` are invalid (the file is truncated?)"),
        E::IoError(io) => format!("it cannot be read: {io}"),
        E::JsonError(json) => format!("its header is not valid JSON: {json}"),
        E::InvalidTensorView(dtype, shape, len) => {
            format!("a {dtype:?} tensor of shape {shape:?} cannot hold {len} bytes")
        }
        E::MetadataIncompleteBuffer => "the file is truncated (or has bytes its tensors do not cover)".into(),
        E::ValidationOverflow => "a tensor's size overflows (the header is corrupt)".into(),
    }
}

/// A safetensors error while encoding: always a model-file error (the tensors do not fit).
fn encoding_error(e: SafeTensorError) -> Error {
    Error::model_file(format!("cannot encode the safetensors file: {}", describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip_every_tensor() {
        let mut m =
            Model::<f32>::new("conv1d(4,k=3,p=1,bias=false) batchnorm1d relu flatten linear(1)", Dims::signal(2, 5))
                .unwrap();
        m.init(3);
        m.buffers[1] = 0.25;
        m.batches_tracked = 7;
        let bytes = to_bytes(&m, &[]).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut names = st.names();
        names.sort();
        assert_eq!(
            names,
            [
                "0.weight",
                "1.bias",
                "1.num_batches_tracked",
                "1.running_mean",
                "1.running_var",
                "1.weight",
                "4.bias",
                "4.weight"
            ]
        );
        let dir = std::env::temp_dir().join(format!("convlab-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        save(&m, &path).unwrap();
        let back: Model<f32> = load(&path).unwrap();
        assert_eq!(back.params, m.params);
        assert_eq!(back.buffers, m.buffers);
        assert_eq!(back.batches_tracked, 7);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_nan_infinite_absurd_weights_and_negative_variances() {
        let spec = "conv1d(2,k=3,p=1) batchnorm1d relu flatten linear(1)";
        let mut good = Model::<f32>::new(spec, Dims::signal(1, 4)).unwrap();
        good.init(1);
        let var = good.tensors().into_iter().find(|t| t.name == "1.running_var").unwrap();
        type Spoil = Box<dyn Fn(&mut Model<f32>)>;
        let cases: Vec<(Spoil, &str)> = vec![
            (Box::new(|m| m.params[0] = f32::NAN), "NaN"),
            (Box::new(|m| m.params[1] = f32::INFINITY), "inf"),
            (Box::new(|m| m.params[2] = 1e30), "beyond"),
            (Box::new(move |m| m.tensor_mut(&var)[0] = -1.0), "negative variance"),
        ];
        for (spoil, expect) in cases {
            let mut bad = good.clone();
            spoil(&mut bad);
            let bytes = to_bytes(&bad, &[]).unwrap();
            let mut into = good.clone();
            let e = load_state(&mut into, &bytes).unwrap_err().to_string();
            assert!(e.contains(expect) && e.contains("damaged"), "{e}");
        }
        let mut into = good.clone();
        load_state(&mut into, &to_bytes(&good, &[]).unwrap()).unwrap();
    }

    #[test]
    fn refuses_files_of_another_model() {
        let m = Model::<f32>::new("flatten linear(3)", Dims::image(1, 2, 2)).unwrap();
        let bytes = to_bytes(&m, &[]).unwrap();
        let mut other = Model::<f32>::new("flatten linear(4)", Dims::image(1, 2, 2)).unwrap();
        let e = load_state(&mut other, &bytes).unwrap_err().to_string();
        assert!(e.contains("shape"), "{e}");
        let e = load_state(&mut other, b"garbage").unwrap_err();
        assert!(matches!(e, Error::ModelFile(_)) && e.to_string().contains("not a valid safetensors"), "{e}");
        let e = load_state(&mut other, &bytes[..bytes.len() - 4]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn the_task_round_trips_and_files_without_one_load_without_it() {
        use crate::losses::Loss;
        let dir = std::env::temp_dir().join(format!("convlab-io-task-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let mut m = Model::<f32>::new("flatten linear(3)", Dims::image(1, 2, 2)).unwrap();
        save(&m, &path).unwrap();
        assert_eq!(load::<f32>(&path).unwrap().task, None);
        let names: Vec<String> = ["cat", "dog", "émeu \"x\""].map(String::from).to_vec();
        m.task = Some(Task::new(Loss::CrossEntropy, 3, Some(&names)));
        save(&m, &path).unwrap();
        assert_eq!(load::<f32>(&path).unwrap().task, m.task);
        // PyTorch reads the same metadata: one JSON object with the names as a list.
        let bytes = std::fs::read(&path).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let raw = &meta.metadata().as_ref().unwrap()[META_KEY];
        let json: serde_json::Value = serde_json::from_str(raw).unwrap();
        assert_eq!((json["loss"].as_str(), json["classes"].as_u64()), (Some("cross_entropy"), Some(3)));
        assert_eq!(json["class_names"][2], "émeu \"x\"");
        // A task that does not fit the model is a damaged file, not a silent misreading.
        let info = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (pairs, expect) in [
            (vec![("loss", "cross_entropy"), ("classes", "4")], "claims 4 classes"),
            (vec![("loss", "hinge")], "unknown loss"),
            (vec![("loss", "mse"), ("classes", "-1")], "not a count"),
            (vec![("loss", "cross_entropy"), ("classes", "3"), ("class_names", "[1]")], "not a list"),
        ] {
            let e = read_task(&info(&pairs), 3).unwrap_err().to_string();
            assert!(e.contains(expect) && e.contains("damaged"), "{e}");
        }
        let binary = read_task(&info(&[("loss", "bce_with_logits")]), 1).unwrap().unwrap();
        assert!(binary.is_binary());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
