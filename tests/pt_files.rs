//! PyTorch `.pt` files through the command line: every `tests/fixtures/pt/` file is imported or
//! refused as its `manifest.json` says, an imported model predicts bit for bit what its
//! safetensors twin predicts, a pickle that calls `os.system` runs nothing, and `convlab export`
//! writes a `.pt` that comes back bit for bit and that real PyTorch loads (when a Python with
//! torch is found: `$CONVLAB_TEST_PYTHON`, default `python3`).

mod common;
use common::{convlab, fails_cleanly, repo_file, scratch, text};
use convlab::model::{io, Model};
use std::path::{Path, PathBuf};
use std::process::Command;

fn pt(name: &str) -> PathBuf {
    repo_file(&format!("fixtures/pt/{name}"))
}

fn manifest() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(pt("manifest.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap().as_object().unwrap().clone()
}

fn run_ok(args: &[&str]) -> String {
    let o = convlab(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    text(&o)
}

/// Seeded inputs in [-1, 1) for `n` samples of `model`.
fn inputs(model: &Model<f32>, n: usize) -> Vec<f32> {
    let mut s = 0x1234_5678u64;
    (0..n * model.input.len())
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Both models hold the same values and predict the same bits.
fn assert_same(a: &Model<f32>, b: &Model<f32>, what: &str) {
    assert_eq!(a.spec, b.spec, "{what}");
    assert_eq!(a.input, b.input, "{what}");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.params), bits(&b.params), "{what}: parameters");
    assert_eq!(bits(&a.buffers), bits(&b.buffers), "{what}: buffers");
    let x = inputs(a, 16);
    assert_eq!(bits(&a.predict(&x, 16)), bits(&b.predict(&x, 16)), "{what}: predictions");
}

#[test]
fn every_fixture_is_read_or_refused_as_its_manifest_says() {
    let d = scratch("pt", "fixtures");
    let m = manifest();
    assert_eq!(m.len(), 8, "the manifest's files");
    let _ = std::fs::remove_file("/tmp/convlab-pwned-by-pickle");
    for (name, case) in &m {
        let file = pt(name);
        let out = d.join(format!("{name}.safetensors"));
        let (file, out) = (file.to_str().unwrap(), out.to_str().unwrap());
        let Some(twin) = case.get("same_as").and_then(|v| v.as_str()) else {
            // malicious.pt: refused, naming the call, and nothing executed.
            assert!(case["expect"].as_str().unwrap().contains("refused"));
            fails_cleanly(&["import", file, "--model", "pattern1d", "--out", out], "os.system");
            fails_cleanly(
                &["import", file, "--model", "pattern1d", "--out", out],
                "nothing from the file was executed",
            );
            assert!(!Path::new("/tmp/convlab-pwned-by-pickle").exists(), "the pickle's command ran");
            assert!(!Path::new(out).exists());
            continue;
        };
        let spec = case["spec"].as_str().unwrap();
        let input: Vec<String> = case["input"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
        let input = input.join(",");
        let whole = case["holds"].as_str().unwrap().contains("whole");
        let mut args = vec!["import", file, "--out", out];
        if !whole {
            // A whole nn.Sequential carries its spec (and this one is a preset's, so its input too).
            args.extend(["--model", spec, "--input", &input]);
        }
        let key = case.get("key").and_then(|v| v.as_str());
        if let Some(k) = key {
            args.extend(["--key", k]);
        }
        let said = run_ok(&args);
        if whole {
            assert!(said.contains("whole nn.Sequential"), "{said}");
        }
        if name.starts_with("dataparallel") {
            assert!(said.contains("module."), "{said}");
        }
        let twin_out = d.join(format!("{name}.twin.safetensors"));
        let twin_path = pt(twin);
        let twin_args = [
            "import",
            twin_path.to_str().unwrap(),
            "--model",
            spec,
            "--input",
            &input,
            "--out",
            twin_out.to_str().unwrap(),
        ];
        run_ok(&twin_args);
        let imported: Model<f32> = io::load(Path::new(out)).unwrap();
        let expected: Model<f32> = io::load(&twin_out).unwrap();
        assert_same(&imported, &expected, name);
        // A checkpoint's state dict is also found without --key.
        if key.is_some() {
            let said = run_ok(&["import", file, "--model", spec, "--input", &input, "--out", out]);
            assert!(said.contains("under `model_state_dict`"), "{said}");
        }
    }
}

#[test]
fn what_a_file_lacks_or_gets_wrong_is_said() {
    let d = scratch("pt", "refusals");
    let out = d.join("m.safetensors");
    let out = out.to_str().unwrap();
    let sd = pt("mnist_lab_state_dict.pt");
    let sd = sd.to_str().unwrap();
    fails_cleanly(&["import", sd, "--out", out], "the weights, not the layers; give them with --model");
    fails_cleanly(&["import", sd, "--model", "simplecnn", "--out", out], "tensor 0.weight has shape [8, 1, 5, 5]");
    fails_cleanly(&["import", sd, "--model", "conv2d(8,k=5,p=2) relu flatten linear(10)", "--out", out], "--input");
    fails_cleanly(&["import", sd, "--model", "mnist-lab", "--key", "model", "--out", out], "no entry `model`");
    let ck = pt("simplecnn_checkpoint.pt");
    fails_cleanly(
        &["import", ck.to_str().unwrap(), "--model", "simplecnn", "--key", "epoch", "--out", out],
        "the number 3",
    );
    // A conv net's input size is in no file.
    let whole = pt("whole_module_pattern1d.pt");
    let whole = whole.to_str().unwrap();
    fails_cleanly(
        &["import", whole, "--model", "conv1d(4,k=5,p=2) relu flatten linear(1)", "--out", out],
        "--model says",
    );
    let other = d.join("other.pt");
    // Not a model at all: a file of text, and a truncated one.
    std::fs::write(&other, b"not a pickle at all").unwrap();
    fails_cleanly(&["import", other.to_str().unwrap(), "--model", "mnist-lab", "--out", out], "not a PyTorch file");
    let bytes = std::fs::read(sd).unwrap();
    std::fs::write(&other, &bytes[..bytes.len() / 2]).unwrap();
    fails_cleanly(
        &["import", other.to_str().unwrap(), "--model", "mnist-lab", "--out", out],
        "not a valid PyTorch .pt",
    );
    let legacy = std::fs::read(pt("legacy_format.pt")).unwrap();
    std::fs::write(&other, &legacy[..legacy.len() - 100]).unwrap();
    fails_cleanly(&["import", other.to_str().unwrap(), "--model", "mnist-lab", "--out", out], "truncated");
    assert!(!Path::new(out).exists());
}

/// Exports `dir/model.safetensors` as `.pt` and code; returns (pt, py).
fn export(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("model.safetensors");
    let (pt, py) = (dir.join("model.pt"), dir.join("model.py"));
    run_ok(&["export", model.to_str().unwrap(), "--out", pt.to_str().unwrap()]);
    run_ok(&["export", model.to_str().unwrap(), "--out", py.to_str().unwrap()]);
    let printed = run_ok(&["export", model.to_str().unwrap(), "--format", "torch-code"]);
    assert!(printed.contains("model = nn.Sequential(") && printed.contains("weights_only=True"), "{printed}");
    (pt, py)
}

/// A model with every kind of tensor: conv without bias, batch norm with its statistics, linear.
fn trained_model(dir: &Path) -> Model<f32> {
    let spec = "conv2d(4,k=3,p=1,bias=false) batchnorm2d relu maxpool2d(2) dropout(0.25) adaptiveavgpool2d(2) flatten linear(3)";
    let mut m = Model::<f32>::new(spec, convlab::Dims::image(2, 8, 8)).unwrap();
    m.init(7);
    for (i, b) in m.buffers.iter_mut().enumerate() {
        *b = 0.5 + i as f32 / 16.0; // running statistics that are not the defaults
    }
    m.batches_tracked = 12;
    io::save(&m, &dir.join("model.safetensors")).unwrap();
    m
}

#[test]
fn exported_pt_files_import_back_bit_for_bit() {
    let d = scratch("pt", "roundtrip");
    let m = trained_model(&d);
    let (pt, _) = export(&d);
    let back = d.join("back.safetensors");
    run_ok(&["import", pt.to_str().unwrap(), "--model", &m.spec, "--input", "2,8,8", "--out", back.to_str().unwrap()]);
    let b: Model<f32> = io::load(&back).unwrap();
    assert_same(&m, &b, "export then import");
    assert_eq!(b.batches_tracked, 12);
    fails_cleanly(&["export", d.join("model.safetensors").to_str().unwrap(), "--out", "x.txt"], "--format");
}

/// The Python to test with, or why there is none.
fn python_with_torch() -> Result<String, String> {
    let python = std::env::var("CONVLAB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&python).args(["-c", "import torch, numpy"]).output() {
        Ok(o) if o.status.success() => Ok(python),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            Err(format!("{python} has no torch/numpy ({})", err.trim().lines().last().unwrap_or("")))
        }
        Err(e) => Err(format!("no {python} ({e})")),
    }
}

#[test]
fn pytorch_loads_the_export_and_computes_the_same_outputs() {
    let python = match python_with_torch() {
        Ok(p) => p,
        Err(why) => {
            println!("skipped: {why}; set CONVLAB_TEST_PYTHON to a Python with torch and numpy");
            return;
        }
    };
    let d = scratch("pt", "pytorch");
    let m = trained_model(&d);
    let (pt, py) = export(&d);
    let n = 5;
    let x = inputs(&m, n);
    let y = m.predict(&x, n);
    let arr = |shape: Vec<usize>, v: &[f32]| convlab::data::npy::NpyArray {
        shape,
        data: convlab::data::npy::NpyData::F32(v.to_vec()),
    };
    std::fs::write(d.join("x.npy"), convlab::data::npy::npy_bytes(&arr(vec![n, 2, 8, 8], &x))).unwrap();
    std::fs::write(d.join("y.npy"), convlab::data::npy::npy_bytes(&arr(vec![n, 3], &y))).unwrap();
    let script = format!(
        r#"
import os, numpy, torch
os.chdir({dir:?})
sd = torch.load({pt:?}, weights_only=True)
assert sd["1.num_batches_tracked"].item() == 12, sd["1.num_batches_tracked"]
ns = {{}}
exec(open({py:?}).read(), ns)
model = ns["model"]
with torch.no_grad():
    out = model(torch.from_numpy(numpy.load("x.npy"))).numpy()
diff = abs(out - numpy.load("y.npy")).max()
print("max difference", diff)
assert diff <= 1e-6, diff
"#,
        dir = d.display().to_string(),
        pt = pt.display().to_string(),
        py = py.display().to_string()
    );
    let o = Command::new(&python).args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    println!("{}", text(&o).trim());
}
