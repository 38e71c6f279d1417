//! Explanations checked where the right answer is known exactly (models linear in their input,
//! zero noise, the CAM identity), the input gradient against finite differences for every
//! layer kind, and `convlab explain` end to end for every method.

mod common;

use common::{convlab, fails_cleanly, scratch, text};
use convlab::data::npy::{NpyArray, NpyData};
use convlab::engine::Dims;
use convlab::inspect::explain::gradient::backprop;
use convlab::inspect::explain::occlusion::Window;
use convlab::inspect::explain::{explain, Explanation, Method, Options};
use convlab::layers::Op;
use convlab::model::Model;
use convlab::rng::Rng;

fn model(spec: &str, input: Dims, seed: u64) -> Model<f32> {
    let mut m = Model::<f32>::new(spec, input).unwrap();
    m.init(seed);
    m
}

fn sample(input: Dims, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..input.len()).map(|_| rng.normal() as f32).collect()
}

fn run(m: &Model<f32>, x: &[f32], opts: Options) -> Explanation {
    explain(m, x, &opts).unwrap_or_else(|e| panic!("{}: {e}", m.spec))
}

fn with(method: Method, f: impl FnOnce(&mut Options)) -> Options {
    let mut o = Options::new(method);
    f(&mut o);
    o
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * scale, "{what}[{i}]: {g} vs {w}");
    }
}

/// Sums of `values` (channels × rows × cols) over each occlusion patch, in all channels.
fn patch_sums(values: &[f32], (c, h, w): (usize, usize, usize), window: &Window, input: Dims) -> Vec<f32> {
    let (rows, cols) = window.starts(input);
    let mut out = vec![];
    for &r0 in &rows {
        for &c0 in &cols {
            let mut s = 0.0;
            for ch in 0..c {
                for r in r0..(r0 + window.patch.0).min(h) {
                    for cc in c0..(c0 + window.patch.1).min(w) {
                        s += values[ch * h * w + r * w + cc];
                    }
                }
            }
            out.push(s);
        }
    }
    out
}

#[test]
fn on_a_linear_model_input_x_gradient_is_weight_times_input_and_occlusion_sums_it_over_each_patch() {
    for (input, grid) in [
        (Dims::image(2, 9, 7), (2, 9, 7)),
        (Dims::image(3, 5, 5), (3, 5, 5)),
        (Dims::signal(2, 13), (2, 1, 13)),
        (Dims::flat(10), (1, 1, 10)),
    ] {
        let m = model("flatten linear(4)", input, 3);
        let x = sample(input, 5);
        let Op::Linear(lin) = &m.layers[1].op else { panic!("the second layer is the linear one") };
        let weights = &m.layer_params(1)[..lin.weight_len()];
        for target in 0..4 {
            let row = &weights[target * input.len()..(target + 1) * input.len()];
            let wx: Vec<f32> = row.iter().zip(&x).map(|(w, v)| w * v).collect();
            let g = run(&m, &x, with(Method::Gradient, |o| o.target = Some(target)));
            assert_eq!(g.map, row, "{input}: the gradient is the weight row");
            let ixg = run(&m, &x, with(Method::InputXGradient, |o| o.target = Some(target)));
            assert_close(&ixg.map, &wx, 1e-6, "input × gradient");
            for (patch, stride) in [(None, None), (Some(2), Some(1)), (Some(3), None)] {
                let opts = with(Method::Occlusion, |o| (o.target, o.patch, o.stride) = (Some(target), patch, stride));
                let occ = run(&m, &x, opts);
                let window = occ.occlusion.unwrap();
                assert_close(&occ.map, &patch_sums(&wx, grid, &window, input), 1e-5, "occlusion");
                assert_eq!(occ.map.len(), occ.map_shape.iter().product::<usize>());
            }
        }
    }
}

#[test]
fn on_any_affine_model_occlusion_is_the_patch_sum_of_input_x_gradient() {
    // Conv, pooling by averaging, batch norm in evaluation mode, dropout (off), linear: all
    // affine in the input, so zeroing a patch removes exactly its share x · ∂s/∂x.
    let cases = [
        ("conv2d(3,k=3,p=1) avgpool2d(2) batchnorm2d dropout(0.5) flatten linear(3)", Dims::image(2, 8, 8)),
        ("conv2d(2,k=3,s=2) adaptiveavgpool2d(2) flatten linear(2)", Dims::image(3, 9, 9)),
        ("conv1d(3,k=5,p=2) batchnorm1d avgpool1d(2) flatten linear(1)", Dims::signal(2, 16)),
    ];
    for (spec, input) in cases {
        let mut m = model(spec, input, 7);
        // Running statistics away from 0 and 1, so batch norm's evaluation path is exercised.
        let mut rng = Rng::new(9);
        m.buffers.iter_mut().for_each(|v| *v = (0.5 + rng.uniform()) as f32);
        let x = sample(input, 11);
        let ixg = run(&m, &x, Options::new(Method::InputXGradient));
        let occ = run(&m, &x, with(Method::Occlusion, |o| o.stride = Some(1)));
        assert_eq!(ixg.target, occ.target);
        let grid = if input.h > 1 { (input.c, input.h, input.w) } else { (input.c, 1, input.w) };
        let sums = patch_sums(&ixg.map, grid, &occ.occlusion.unwrap(), input);
        assert_close(&occ.map, &sums, 1e-4, spec);
    }
}

#[test]
fn smoothgrad_with_zero_noise_is_the_saliency_and_noise_is_seeded() {
    let input = Dims::image(3, 10, 10);
    let m = model("conv2d(4,k=3,p=1) relu maxpool2d(2) conv2d(4,k=3) tanh flatten linear(3)", input, 2);
    let x = sample(input, 3);
    let saliency = run(&m, &x, Options::new(Method::Saliency));
    let zero = run(&m, &x, with(Method::SmoothGrad, |o| (o.noise, o.samples) = (Some(0.0), Some(5))));
    assert_eq!(zero.map, saliency.map);
    assert_eq!(zero.map_shape, [10, 10]);
    // Saliency is the largest |gradient| over the three channels.
    let g = saliency.gradient.as_ref().unwrap();
    for (i, s) in saliency.map.iter().enumerate() {
        assert_eq!(*s, (0..3).map(|c| g[c * 100 + i].abs()).fold(0.0, f32::max));
    }
    let noisy = |seed| run(&m, &x, with(Method::SmoothGrad, |o| (o.seed, o.samples) = (seed, Some(8)))).map;
    assert_eq!(noisy(1), noisy(1));
    assert_ne!(noisy(1), noisy(2));
    assert_ne!(noisy(1), saliency.map);
}

#[test]
fn smoothgrad_with_zero_noise_is_the_saliency_on_signals_and_linear_models_too() {
    for (spec, input) in [
        ("conv1d(3,k=3,p=1) batchnorm1d relu avgpool1d(2) flatten linear(2)", Dims::signal(2, 14)),
        ("flatten linear(3)", Dims::image(2, 4, 5)),
        ("flatten linear(3)", Dims::signal(2, 9)),
    ] {
        let m = model(spec, input, 6);
        let x = sample(input, 4);
        let saliency = run(&m, &x, Options::new(Method::Saliency));
        let zero = run(&m, &x, with(Method::SmoothGrad, |o| (o.noise, o.samples) = (Some(0.0), Some(3))));
        assert_eq!(zero.map, saliency.map, "{spec} on {input}");
        if spec.starts_with("flatten") {
            // Linear: the saliency is max over channels of |w[t]| at each position.
            let t = saliency.target;
            let w = &m.layer_params(1)[t * input.len()..(t + 1) * input.len()];
            let p = input.len() / 2;
            let want: Vec<f32> = (0..p).map(|i| w[i].abs().max(w[p + i].abs())).collect();
            assert_eq!(saliency.map, want, "{spec} on {input}");
        }
    }
}

#[test]
fn gradcam_before_global_average_pooling_is_the_class_activation_map() {
    // Zhou et al.'s CAM: with A → global average → linear, ∂s/∂A_k = W[t,k] / P everywhere, so
    // Grad-CAM = relu(Σ_k W[t,k] A_k) / P.
    let input = Dims::image(1, 12, 12);
    let m = model("conv2d(5,k=3) relu adaptiveavgpool2d(1) flatten linear(3)", input, 4);
    let x = sample(input, 8);
    let mut ws = convlab::model::Workspace::new(&m, 1, false);
    ws.forward(&m, &x, 1, convlab::layers::Mode::Eval, Default::default());
    let a = ws.activation(1, &m).to_vec();
    let w = m.layer_params(4);
    let p = 100;
    for target in 0..3 {
        let cam = run(&m, &x, with(Method::GradCam, |o| o.target = Some(target)));
        let info = cam.gradcam.clone().unwrap();
        assert_eq!(info.layer, 1, "the default is the last spatial layer");
        assert_eq!(cam.map_shape, [10, 10]);
        let want_w: Vec<f32> = (0..5).map(|k| w[target * 5 + k] / p as f32).collect();
        assert_close(&info.weights, &want_w, 1e-6, "weights");
        let want: Vec<f32> = (0..p)
            .map(|i| ((0..5).map(|k| w[target * 5 + k] * a[k * p + i]).sum::<f32>() / p as f32).max(0.0))
            .collect();
        assert_close(&cam.map, &want, 1e-5, "cam");
    }
}

/// ∂ output[target] / ∂ input by central differences, in float64.
fn numeric_gradient(m: &Model<f64>, x: &[f64], target: usize) -> Vec<f64> {
    let h = 1e-6;
    let k = m.output().len();
    (0..x.len())
        .map(|i| {
            let mut xp = x.to_vec();
            xp[i] += h;
            let up = m.predict(&xp, 1)[target];
            xp[i] -= 2.0 * h;
            let down = m.predict(&xp, 1)[target];
            assert_eq!(m.predict(&xp, 1).len(), k);
            (up - down) / (2.0 * h)
        })
        .collect()
}

#[test]
fn the_input_gradient_matches_finite_differences_for_every_layer_kind() {
    let img = Dims::image(2, 8, 8);
    let sig = Dims::signal(2, 12);
    let cases = [
        ("conv2d(3,k=3,p=1) relu maxpool2d(2) flatten linear(3)", img),
        ("conv2d(3,k=3) batchnorm2d leakyrelu(0.1) maxpool2d(3,s=2,p=1) flatten linear(2)", img),
        ("conv2d(2,k=2,s=2,d=1) sigmoid avgpool2d(2) flatten dropout(0.3) linear(2)", img),
        ("conv2d(3,k=3,p=1) tanh adaptivemaxpool2d(2) flatten linear(4) relu linear(2)", img),
        ("conv2d(2,k=3) adaptiveavgpool2d(3x2) flatten batchnorm1d linear(2)", img),
        ("conv1d(3,k=3,p=1) relu maxpool1d(2) conv1d(2,k=3,d=2) adaptiveavgpool1d(2) flatten linear(2)", sig),
        ("conv1d(2,k=5,p=2) batchnorm1d relu maxpool1d(12) flatten linear(1)", sig),
    ];
    for (spec, input) in cases {
        let mut m = Model::<f64>::new(spec, input).unwrap();
        m.init(5);
        let mut rng = Rng::new(6);
        // Batch norm: affine parameters and running statistics away from their defaults.
        for (i, l) in m.layers.clone().iter().enumerate() {
            if let Op::BatchNorm(_) = l.op {
                let (a, b) = (m.param_offsets[i], m.param_offsets[i + 1]);
                m.params[a..b].iter_mut().for_each(|v| *v += 0.3 * rng.normal());
                let (a, b) = (m.buffer_offsets[i], m.buffer_offsets[i + 1]);
                m.buffers[a..b].iter_mut().for_each(|v| *v = 0.5 + rng.uniform());
            }
        }
        let x: Vec<f64> = (0..input.len()).map(|_| rng.normal()).collect();
        for target in 0..m.output().len() {
            let analytic = backprop(&m, &x, target, None).input_grad;
            let numeric = numeric_gradient(&m, &x, target);
            let scale = numeric.iter().fold(1e-3f64, |a, v| a.max(v.abs()));
            let worst = analytic.iter().zip(&numeric).map(|(a, n)| (a - n).abs()).fold(0.0, f64::max);
            assert!(worst / scale < 1e-5, "{spec}, target {target}: error {:.2e}", worst / scale);
            assert!(analytic.iter().any(|&v| v != 0.0), "{spec}: the gradient reaches the input");
        }
    }
}

/// A model file and an npz file with two samples for it, in a fresh folder.
fn cli_files(name: &str) -> (std::path::PathBuf, Model<f32>, Vec<f32>) {
    let dir = scratch("explain", name);
    let input = Dims::image(1, 12, 12);
    let m = model("conv2d(4,k=3,p=1) relu maxpool2d(2) conv2d(3,k=3) relu flatten linear(3)", input, 1);
    convlab::model::io::save(&m, &dir.join("model.safetensors")).unwrap();
    let x: Vec<f32> = (0..2 * input.len()).map(|i| ((i * 37 % 101) as f32 / 100.0).powi(2)).collect();
    let xa = NpyArray { shape: vec![2, 1, 12, 12], data: NpyData::F32(x.clone()) };
    let ya = NpyArray { shape: vec![2], data: NpyData::I64(vec![0, 2]) };
    convlab::data::npz_write::write_npz(&dir.join("x.npz"), &[("X", &xa), ("y", &ya)]).unwrap();
    (dir, m, x[input.len()..].to_vec())
}

#[test]
fn every_method_writes_a_picture_and_its_numbers_from_the_cli() {
    let (dir, m, x) = cli_files("methods");
    let (model, npz) = (dir.join("model.safetensors"), dir.join("x.npz"));
    for method in Method::ALL {
        let (png, json) = (dir.join(format!("{}.png", method.name())), dir.join(format!("{}.json", method.name())));
        let o = convlab(&[
            "explain",
            model.to_str().unwrap(),
            "--npz",
            npz.to_str().unwrap(),
            "--row",
            "1",
            "--method",
            method.name(),
            "--out",
            png.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}: {}", method.name(), text(&o));
        let picture = convlab::plot::Canvas::decode_png(&std::fs::read(&png).unwrap()).unwrap();
        assert!(picture.width() >= 400 && picture.height() >= 200, "{}", method.name());
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let want = explain(&m, &x, &Options::new(method)).unwrap();
        let floats =
            |key: &str| -> Vec<f32> { j[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect() };
        assert_eq!(j["method"], method.name());
        assert_eq!(j["target"].as_u64().unwrap() as usize, want.target);
        assert_eq!(j["input_shape"], serde_json::json!([1, 12, 12]));
        assert_eq!(floats("map"), want.map, "{}", method.name());
        let shape: Vec<usize> =
            j["map_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(shape.iter().product::<usize>(), want.map.len());
        assert_eq!(
            j.get("gradient").is_some(),
            matches!(method, Method::Gradient | Method::Saliency | Method::InputXGradient)
        );
        // The target defaults to the predicted class, and the score is its output.
        let outputs = floats("outputs");
        let best = outputs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(outputs[want.target], best);
        assert_eq!(j["score"].as_f64().unwrap() as f32, best);
    }
    let svg = dir.join("gradcam.svg");
    let o = convlab(&[
        "explain",
        model.to_str().unwrap(),
        "--npz",
        npz.to_str().unwrap(),
        "--method",
        "gradcam",
        "--layer",
        "0",
        "--target",
        "2",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("gradcam of layer 0 for class 2"));
}

#[test]
fn explaining_a_sample_of_a_data_set_names_it_and_bad_requests_fail_cleanly() {
    let dir = scratch("explain", "data");
    let run = dir.join("run");
    let o = convlab(&["train", "--data", "digits", "--epochs", "1", "--out", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.join("s.png");
    let (r, out) = (run.to_str().unwrap(), out.to_str().unwrap());
    let o = convlab(&["explain", r, "--index", "3", "--method", "saliency", "--out", out]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("sample 3 of digits"), "{}", text(&o));
    fails_cleanly(&["explain", r, "--index", "100000", "--method", "gradient", "--out", out], "--index 100000");
    fails_cleanly(&["explain", r, "--method", "gradient", "--target", "10", "--out", out], "--target 10 is beyond");
    fails_cleanly(&["explain", r, "--method", "gradcam", "--layer", "99", "--out", out], "Grad-CAM's layers: 0 ");
    fails_cleanly(
        &["explain", r, "--method", "saliency", "--layer", "0", "--out", out],
        "--layer is a setting of gradcam",
    );
    fails_cleanly(&["explain", r, "--method", "occlusion", "--patch", "0", "--out", out], "--patch 0");
    fails_cleanly(&["explain", r, "--method", "smoothgrad", "--samples", "0", "--out", out], "--samples 0");
    fails_cleanly(&["explain", r, "--method", "gradient", "--out", "x.jpg"], "must end in .png or .svg");
    fails_cleanly(&["explain", r, "--method", "lime", "--out", out], "invalid value");
    let help = text(&convlab(&["explain", "--help"]));
    for flag in ["--method", "--target", "--layer", "--samples", "--noise", "--patch", "--stride", "--json", "--index"]
    {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("default"), "{help}");
}
