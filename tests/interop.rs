//! ONNX export and TensorBoard logs, end to end: what convlab writes decodes back (always), and
//! the real tools accept it (ignored by default: they need a Python with onnx, onnxruntime and
//! tensorboard, which `.ci/python-venv.sh` makes and `.ci/run` uses).
//!
//! The Python is `$CONVLAB_TEST_PYTHON`, else the repository's `.venv/bin/python`, else
//! `python3`; without the modules the ignored tests fail and say how to get them.

mod common;

use common::{convlab, repo_file, scratch, text};
use convlab::interop::onnx::proto::{self as onnx, tensor_shape_proto::dimension, type_proto};
use convlab::interop::tensorboard::proto::summary::value::Value;
use convlab::interop::tensorboard::reader::{event_files, read_events, scalars, values};
use convlab::model::presets::PRESETS;
use convlab::rng::Rng;
use convlab::{Dims, Model};
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::Command;

const NEEDS_PYTHON: &str = "needs python with onnx, onnxruntime, tensorboard: run .ci/python-venv.sh";

/// The Python for the checks against the real tools.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CONVLAB_TEST_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// Runs a script of tests/python with `python()`; panics with how to get the modules when they
/// are missing, so an ignored test that is run never passes without checking.
fn run_python(script: &str, args: &[&Path]) -> String {
    let py = python();
    let probe = Command::new(&py).args(["-c", "import onnx, onnxruntime, tensorboard, numpy"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            panic!("{} lacks a module ({}); {NEEDS_PYTHON}", py.display(), String::from_utf8_lossy(&o.stderr).trim())
        }
        Err(e) => panic!("cannot run {}: {e}; {NEEDS_PYTHON}", py.display()),
    }
    let o = Command::new(&py).arg(repo_file(&format!("python/{script}"))).args(args).output().unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{script} failed:\n{out}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A model with random weights and, for batch norms, random non-trivial running statistics.
fn random_model(spec: &str, input: Dims, seed: u64) -> Model<f32> {
    let mut m = Model::<f32>::new(spec, input).unwrap();
    m.init(seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    for t in m.tensors() {
        let is_bn = matches!(m.layers[t.layer].op, convlab::layers::Op::BatchNorm(_));
        if !is_bn {
            continue;
        }
        let values: Vec<f32> = (0..t.len)
            .map(|_| match t.name.rsplit('.').next().unwrap() {
                "running_var" => rng.uniform_in(0.3, 2.0) as f32,
                "weight" => rng.uniform_in(0.5, 1.5) as f32,
                _ => rng.uniform_in(-0.5, 0.5) as f32,
            })
            .collect();
        m.tensor_mut(&t).copy_from_slice(&values);
    }
    m
}

/// The layer settings the exporter must get right, beyond the presets.
const ZOO: &[(&str, &str)] = &[
    ("conv1d(4,k=5,s=2,p=3,d=2) relu maxpool1d(3,s=2,p=1) flatten linear(3)", "2,40"),
    ("conv1d(3,k=4,p=same) leakyrelu(0.2) avgpool1d(4,s=3,p=2) flatten linear(2,bias=false)", "1,30"),
    ("conv1d(4,k=3,p=1,bias=false) batchnorm1d(eps=1e-3) tanh dropout(0.3) adaptiveavgpool1d(5) flatten linear(1)", "2,17"),
    ("conv1d(3,k=3) sigmoid adaptivemaxpool1d(4) flatten batchnorm1d linear(2)", "1,14"),
    ("adaptivemaxpool1d(3) flatten linear(2)", "2,11"),
    ("adaptiveavgpool1d(3) adaptivemaxpool1d(1) flatten", "3,10"),
    ("conv2d(4,k=3x5,s=2x1,p=1x2,d=2x1) relu maxpool2d(3,s=2,p=1) flatten linear(4)", "3,15,13"),
    ("conv2d(6,k=3,p=same) batchnorm2d leakyrelu(0.05) avgpool2d(3,s=2,p=1) conv2d(4,k=2,s=2,bias=false) tanh flatten dropout linear(3)", "2,12,12"),
    ("conv2d(4,k=4,p=same,d=2) sigmoid adaptiveavgpool2d(3x2) flatten linear(2)", "1,10,9"),
    ("conv2d(3,k=3) relu adaptivemaxpool2d(3) flatten linear(2)", "1,11,11"),
    ("conv2d(3,k=3) adaptivemaxpool2d(4x3) flatten", "1,12,12"),
    ("conv2d(2,k=3) adaptiveavgpool2d(1) flatten linear(2)", "1,7,6"),
    ("batchnorm2d adaptivemaxpool2d(1) flatten", "3,5,4"),
    ("conv2d(4,k=3,p=1) relu maxpool2d(2) relu maxpool2d(3,s=1) flatten linear(2)", "1,12,12"),
    ("conv2d(4,k=2,s=3,p=1) leakyrelu(-0.5) maxpool2d(2,s=1,p=1) avgpool2d(2) flatten linear(3) sigmoid", "2,13,11"),
    ("flatten linear(5) relu linear(3,bias=false) tanh", "1,4,4"),
    ("batchnorm1d dropout(0.5)", "6"),
    ("dropout(0.5)", "3"),
];

/// The presets and the zoo, each as (name, model).
fn all_models() -> Vec<(String, Model<f32>)> {
    let mut out = vec![];
    for (i, p) in PRESETS.iter().enumerate() {
        out.push((format!("preset {}", p.name), random_model(p.spec, Dims::parse(p.input).unwrap(), i as u64)));
    }
    for (i, (spec, input)) in ZOO.iter().enumerate() {
        out.push((spec.to_string(), random_model(spec, Dims::parse(input).unwrap(), 100 + i as u64)));
    }
    out
}

/// Random inputs for `n` samples.
fn inputs(model: &Model<f32>, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n * model.input.len()).map(|_| rng.normal() as f32).collect()
}

fn dims_of(v: &onnx::ValueInfoProto) -> Vec<String> {
    let Some(type_proto::Value::TensorType(t)) = &v.r#type.as_ref().unwrap().value else { panic!("not a tensor") };
    let dims = t.shape.as_ref().unwrap().dim.iter();
    dims.map(|d| match d.value.as_ref().unwrap() {
        dimension::Value::DimValue(v) => v.to_string(),
        dimension::Value::DimParam(p) => p.clone(),
    })
    .collect()
}

/// A short training run of a model with a batch norm and a dropout, so the exported running
/// statistics are what training left.
fn trained_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let spec = "conv2d(4,k=3,p=1) batchnorm2d relu maxpool2d(2) dropout(0.2) flatten linear(2)";
    let args = ["train", "--data", "lines", "--model", spec, "--epochs", "2", "--seed", "3", "--quiet", "--out"];
    let o = convlab(&[&args[..], &[run.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", text(&o));
    run
}

#[test]
fn exported_onnx_decodes_with_every_layer_shape_and_weight() {
    let dir = scratch("interop", "onnx-decode");
    let run = trained_run(&dir);
    let out = dir.join("model.onnx");
    let o = convlab(&["export", run.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("opset 17"), "{}", text(&o));
    let m = onnx::ModelProto::decode(std::fs::read(&out).unwrap().as_slice()).unwrap();
    let g = m.graph.as_ref().unwrap();
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_deref().unwrap()).collect();
    assert_eq!(ops, ["Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm"]);
    let shapes: Vec<Vec<String>> = g.value_info.iter().map(dims_of).collect();
    let want = [
        ["N", "4", "11", "11"].as_slice(),
        &["N", "4", "11", "11"],
        &["N", "4", "11", "11"],
        &["N", "4", "5", "5"],
        &["N", "100"],
    ];
    assert_eq!(shapes, want);
    assert_eq!(dims_of(&g.output[0]), ["N", "2"]);
    // The initializers are the trained model's tensors, bit for bit, trained running stats included.
    let model: Model<f32> = convlab::model::io::load(&run.join("model.safetensors")).unwrap();
    for t in model.tensors() {
        let init = g.initializer.iter().find(|i| i.name.as_deref() == Some(t.name.as_str())).expect(&t.name);
        let raw: Vec<f32> = init
            .raw_data
            .as_ref()
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(raw, model.tensor(&t), "{}", t.name);
        assert_eq!(init.dims, t.shape.iter().map(|&d| d as i64).collect::<Vec<_>>());
    }
    let var = model.tensors().into_iter().find(|t| t.name == "1.running_var").unwrap();
    assert!(model.tensor(&var).iter().any(|&v| v != 1.0), "training should have moved the running variance");
}

#[test]
fn export_refuses_what_it_cannot_write() {
    let dir = scratch("interop", "export-errors");
    let run = trained_run(&dir);
    let r = run.to_str().unwrap();
    common::fails_cleanly(
        &["export", r, "--out", dir.join("m.txt").to_str().unwrap()],
        "--format pt|torch-code|onnx|tensorboard",
    );
    common::fails_cleanly(&["export", dir.join("nothing").to_str().unwrap(), "--out", "x.onnx"], "does not exist");
    let model = run.join("model.safetensors");
    let tb = dir.join("tb");
    common::fails_cleanly(
        &["export", model.to_str().unwrap(), "--out", tb.to_str().unwrap()],
        "not a finished run folder",
    );
    common::fails_cleanly(
        &["train", "--data", "lines", "--restarts", "2", "--tensorboard", tb.to_str().unwrap()],
        "--restarts",
    );
}

/// Trains with `--tensorboard` and `--snapshot-every 2` for 3 epochs; returns (run, log dir).
fn logged_run(dir: &Path) -> (PathBuf, PathBuf) {
    let (run, log) = (dir.join("run"), dir.join("tb"));
    let o = convlab(&[
        "train",
        "--data",
        "lines",
        "--model",
        "lines",
        "--epochs",
        "3",
        "--snapshot-every",
        "2",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--tensorboard",
        log.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    (run, log)
}

/// The run's metrics.jsonl: (epoch, train loss, test accuracy).
fn metrics(run: &Path) -> Vec<(i64, f32, f32)> {
    let m = convlab::train::folder::read_metrics(run).unwrap();
    m.iter().map(|m| (m.epoch as i64, m.train_loss as f32, m.test_accuracy.unwrap() as f32)).collect()
}

/// The steps at which `tag` appears in the events.
fn steps(events: &[convlab::interop::tensorboard::proto::Event], tag: &str) -> Vec<i64> {
    values(events).into_iter().filter(|(_, v)| v.tag == tag).map(|(s, _)| s).collect()
}

#[test]
fn training_and_export_logs_read_back() {
    let dir = scratch("interop", "tb-read");
    let (run, log) = logged_run(&dir);
    let files = event_files(&log).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let events = read_events(&files[0]).unwrap();
    let want = metrics(&run);
    let loss: Vec<(i64, f32)> = want.iter().map(|m| (m.0, m.1)).collect();
    assert_eq!(scalars(&events, "loss/train"), loss);
    let acc: Vec<(i64, f32)> = want.iter().map(|m| (m.0, m.2)).collect();
    assert_eq!(scalars(&events, "accuracy/test"), acc);
    assert_eq!(steps(&events, "parameters/0.weight"), [0, 1, 2, 3]);
    assert_eq!(steps(&events, "parameters/7.bias"), [0, 1, 2, 3]);
    // Kernels at the start, at the snapshot (epoch 2) and after the last epoch.
    assert_eq!(steps(&events, "kernels/0.weight"), [0, 2, 3]);
    for (_, v) in values(&events) {
        if let Some(Value::Image(img)) = &v.value {
            assert!(img.encoded_image_string.starts_with(b"\x89PNG"), "{}", v.tag);
        }
    }

    // The same run exported afterwards: the metrics, the snapshots, the final model.
    let out = dir.join("tb-export");
    let o = convlab(&["export", run.to_str().unwrap(), "--out", out.to_str().unwrap(), "--format", "tensorboard"]);
    assert!(o.status.success(), "{}", text(&o));
    let events = read_events(&event_files(&out).unwrap()[0]).unwrap();
    assert_eq!(scalars(&events, "loss/train"), loss);
    assert_eq!(steps(&events, "kernels/0.weight"), [0, 2, 3]);
    assert_eq!(steps(&events, "parameters/0.weight"), [0, 2, 3]);
    // Snapshots hold every trainable tensor, linear ones too.
    assert_eq!(steps(&events, "parameters/7.weight"), [0, 2, 3]);
    common::fails_cleanly(
        &["export", run.to_str().unwrap(), "--out", out.to_str().unwrap()],
        "already holds TensorBoard event files",
    );

    // Extended with --resume: a second file in the log, from the epoch after the checkpoint on.
    let o = convlab(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--epochs",
        "4",
        "--quiet",
        "--tensorboard",
        log.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let files = event_files(&log).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    let added: Vec<_> =
        files.iter().map(|f| read_events(f).unwrap()).filter(|e| steps(e, "parameters/0.weight") == [4]).collect();
    assert_eq!(added.len(), 1, "the resumed run should log epoch 4 alone");
    assert_eq!(scalars(&added[0], "loss/train"), [(4, metrics(&run)[3].1)]);
}

#[test]
#[ignore = "needs python with onnx, onnxruntime, tensorboard: run .ci/python-venv.sh"]
fn onnx_export_matches_onnxruntime_for_every_preset_and_the_zoo() {
    let dir = scratch("interop", "onnx-ort");
    let mut models = all_models();
    // And a trained run's model as `convlab export` writes it.
    let run = trained_run(&dir);
    let trained = dir.join("trained.onnx");
    let o = convlab(&["export", run.to_str().unwrap(), "--out", trained.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    models.push((
        "trained run (batchnorm2d, dropout)".into(),
        convlab::model::io::load(&run.join("model.safetensors")).unwrap(),
    ));
    let mut cases = vec![];
    for (i, (name, model)) in models.iter().enumerate() {
        let path = if name.starts_with("trained") {
            trained.clone()
        } else {
            let p = dir.join(format!("case{i}.onnx"));
            convlab::interop::onnx::export(model, &p).unwrap();
            p
        };
        let runs: Vec<serde_json::Value> = [1usize, 3]
            .iter()
            .map(|&n| {
                let x = inputs(model, n, i as u64 * 10 + n as u64);
                let y = model.predict(&x, n);
                let mut shape = vec![n];
                shape.extend(model.input.to_vec());
                serde_json::json!({ "shape": shape, "x": x, "y": y })
            })
            .collect();
        cases.push(serde_json::json!({ "name": name, "onnx": path, "tolerance": 1e-5, "runs": runs }));
    }
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, serde_json::to_vec(&serde_json::json!({ "cases": cases })).unwrap()).unwrap();
    let out = run_python("check_onnx.py", &[&manifest]);
    println!("{out}");
    let total = models.len();
    assert!(out.contains(&format!("{total} of {total} models agree")), "{out}");
    assert!(total > PRESETS.len() + ZOO.len());
}

#[test]
#[ignore = "needs python with onnx, onnxruntime, tensorboard: run .ci/python-venv.sh"]
fn tensorboards_own_reader_reads_the_logs() {
    let dir = scratch("interop", "tb-accumulator");
    let (run, log) = logged_run(&dir);
    let exported = dir.join("tb-export");
    let o = convlab(&["export", run.to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let want = metrics(&run);
    for (what, folder, kernel_steps) in [("live", &log, [0, 2, 3]), ("exported", &exported, [0, 2, 3])] {
        let found: serde_json::Value = serde_json::from_str(&run_python("read_tensorboard.py", &[folder])).unwrap();
        let loss = &found["scalars"]["loss/train"];
        let got: Vec<(i64, f32)> =
            loss.as_array().unwrap().iter().map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap() as f32)).collect();
        assert_eq!(got, want.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>(), "{what}");
        assert!(found["scalars"]["accuracy/test"].as_array().is_some_and(|a| a.len() == 3), "{what}: {found}");
        let hist = found["histograms"]["parameters/0.weight"].as_array().unwrap().clone();
        // 2 kernels of 2×2 on one channel: 8 values in each histogram.
        assert!(hist.iter().all(|h| h[1].as_f64() == Some(8.0)), "{what}: {hist:?}");
        let images = found["images"]["kernels/0.weight"].as_array().unwrap();
        let image_steps: Vec<i64> = images.iter().map(|i| i[0].as_i64().unwrap()).collect();
        assert_eq!(image_steps, kernel_steps, "{what}");
        assert!(images.iter().all(|i| i[1].as_i64().unwrap() > 0 && i[2].as_i64().unwrap() > 0));
    }
}
