//! `convlab simulate`: data from a known network. The true parameters are drawn N(0, 1) (or
//! read from a safetensors file), inputs N(0, 1), outputs computed through the true network
//! with noise added. Draws come from numpy's legacy stream in the tutorial's order (inputs,
//! then each weight tensor in layer order, then the noise), so the default — tutorial 000's
//! network, seed 1337 — gives the tutorial's inputs and weights exactly.

use super::forward::predict;
use crate::data::npy::{parse_npy, NpyArray, NpyData};
use crate::data::npz_write::write_npz;
use crate::data::zip::ZipArchive;
use crate::engine::Dims;
use crate::error::{Error, Result};
use crate::layers::Op;
use crate::model::{io, Model, Store};
use crate::rng::numpy::NumpyRandomState;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimSpec {
    pub model: String,
    pub input: Dims,
    pub n: usize,
    /// Standard deviation of the Gaussian noise added to every output.
    pub noise: f64,
    pub seed: u32,
    /// The output layer's bias when the truth is drawn (default: the tutorial's −0.5); not with
    /// `truth`, which gives every parameter.
    pub bias: Option<f64>,
    /// Read the true parameters from this file instead of drawing them.
    pub truth: Option<PathBuf>,
}

/// `simulation.json`: how the data were made, for `convlab recover`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimInfo {
    pub spec: String,
    pub input: String,
    pub n: usize,
    pub noise: f64,
    pub seed: u32,
    /// The drawn truth's output bias (absent when the truth came from a file).
    pub bias: Option<f64>,
    pub truth_from: Option<String>,
}

pub struct Simulation {
    pub info: SimInfo,
    pub truth: Model<f32>,
    /// n samples of the input shape.
    pub x: Vec<f32>,
    /// n × k outputs.
    pub y: Vec<f32>,
}

impl Simulation {
    pub fn outputs(&self) -> usize {
        self.truth.output().len()
    }
}

/// Index of the last linear layer: its bias is the network's output bias.
fn output_layer(model: &Model<f32>) -> Option<usize> {
    model.layers.iter().rposition(|l| matches!(l.op, Op::Linear(_)))
}

/// The tutorial's output bias.
pub const DEFAULT_BIAS: f64 = -0.5;

pub fn simulate(s: &SimSpec) -> Result<Simulation> {
    if s.truth.is_some() && s.bias.is_some() {
        return Err(Error::config(
            "--bias sets the output bias of drawn parameters; with --truth the file gives every parameter",
        ));
    }
    let bias = s.bias.unwrap_or(DEFAULT_BIAS);
    if s.n == 0 {
        return Err(Error::config("--n must be at least 1"));
    }
    if !(s.noise.is_finite() && s.noise >= 0.0) {
        return Err(Error::config(format!("--noise must be a finite standard deviation ≥ 0, not {}", s.noise)));
    }
    if !bias.is_finite() {
        return Err(Error::config(format!("--bias must be a finite number, not {bias}")));
    }
    crate::data::limits::check_data_bytes(
        &format!("--n {} samples of {} as 64-bit floats", s.n, s.input),
        crate::data::limits::product(&[s.n as u64, s.input.len() as u64, 8]),
    )?;
    let mut truth = Model::<f32>::new(&s.model, s.input)
        .map_err(|e| Error::spec(format!("the model does not fit the input {}: {e}", s.input)))?;
    let mut rs = NumpyRandomState::seed(s.seed);
    let mut x = vec![0f64; s.n * s.input.len()];
    rs.normal_fill(0.0, 1.0, &mut x);
    // The truth in float64, as numpy computes the tutorial's outputs.
    let mut truth64: Model<f64> = truth.cast();
    match &s.truth {
        Some(path) => {
            let bytes = crate::fs::read_file(path)?;
            io::load_state(&mut truth, &bytes).map_err(|e| {
                Error::model_file(format!(
                    "the truth file {} does not fit the model `{}` on input {}: {e}",
                    path.display(),
                    s.model,
                    s.input
                ))
            })?;
            truth64 = truth.cast();
        }
        None => {
            let out_layer = output_layer(&truth);
            for t in truth.tensors().iter().filter(|t| t.store == Store::Param) {
                let values = truth64.tensor_mut(t);
                match &truth.layers[t.layer].op {
                    Op::BatchNorm(_) => {} // identity: scale 1, shift 0
                    _ if Some(t.layer) == out_layer && t.name.ends_with(".bias") => values.fill(bias),
                    _ => rs.normal_fill(0.0, 1.0, values),
                }
            }
            truth = truth64.cast();
        }
    }
    let mut y = predict(&truth64, &x, s.n);
    for v in y.iter_mut() {
        *v += rs.normal(0.0, s.noise);
    }
    let info = SimInfo {
        spec: truth.spec.clone(),
        input: s.input.to_vec().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
        n: s.n,
        noise: s.noise,
        seed: s.seed,
        bias: s.truth.is_none().then_some(bias),
        truth_from: s.truth.as_ref().map(|p| p.display().to_string()),
    };
    let to32 = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect();
    Ok(Simulation { info, truth, x: to32(x), y: to32(y) })
}

pub const DATA_FILE: &str = "data.npz";
pub const TRUTH_FILE: &str = "truth.safetensors";
pub const INFO_FILE: &str = "simulation.json";

/// `convlab simulate` (and Python's `simulate`): simulates and saves into `dir`, refusing to
/// overwrite an earlier simulation there unless `force`.
pub fn run(s: &SimSpec, dir: &Path, force: bool) -> Result<Simulation> {
    crate::train::folder::refuse_overwrite(&dir.join(DATA_FILE), force)?;
    let sim = simulate(s)?;
    save(&sim, dir)?;
    Ok(sim)
}

/// Writes `data.npz` (X, y), `truth.safetensors` and `simulation.json` into `dir`.
pub fn save(sim: &Simulation, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    // No other command writes (or recovers from) this simulation meanwhile.
    let _lock = crate::fs::lock_dir(dir)?;
    let n = sim.info.n;
    let mut x_shape = vec![n];
    x_shape.extend(sim.truth.input.to_vec());
    let k = sim.outputs();
    let y_shape = if k == 1 { vec![n] } else { vec![n, k] };
    let x = NpyArray { shape: x_shape, data: NpyData::F32(sim.x.clone()) };
    let y = NpyArray { shape: y_shape, data: NpyData::F32(sim.y.clone()) };
    write_npz(&dir.join(DATA_FILE), &[("X", &x), ("y", &y)])?;
    io::save(&sim.truth, &dir.join(TRUTH_FILE))?;
    let json = serde_json::to_string_pretty(&sim.info).expect("a SimInfo always serialises");
    crate::fs::write_atomic(&dir.join(INFO_FILE), format!("{json}\n").as_bytes())?;
    Ok(())
}

fn f32s(a: NpyArray, what: &str) -> Result<Vec<f32>> {
    match a.data {
        NpyData::F32(v) => Ok(v),
        NpyData::F64(v) => Ok(v.into_iter().map(|x| x as f32).collect()),
        _ => Err(Error::data(format!("{what} must hold floats (float32 or float64)"))),
    }
}

/// Reads a folder written by `save`; `truth` replaces its `truth.safetensors` when given.
pub fn load(dir: &Path, truth: Option<&Path>) -> Result<Simulation> {
    let info_path = dir.join(INFO_FILE);
    let text = std::fs::read_to_string(&info_path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::data(format!("{} has no {INFO_FILE}; give a folder written by `convlab simulate`", dir.display()))
        } else {
            Error::read(&info_path, e)
        }
    })?;
    let info: SimInfo = serde_json::from_str(&text)
        .map_err(|e| Error::data(format!("{}: {e}; the file is damaged: simulate again", info_path.display())))?;
    let input = Dims::parse(&info.input).map_err(|e| Error::data(format!("{}: {e}", info_path.display())))?;
    let truth_path = truth.map(Path::to_path_buf).unwrap_or_else(|| dir.join(TRUTH_FILE));
    let mut model =
        Model::<f32>::new(&info.spec, input).map_err(|e| Error::data(format!("{}: {e}", info_path.display())))?;
    let bytes = crate::fs::read_file(&truth_path)?;
    io::load_state(&mut model, &bytes).map_err(|e| {
        Error::model_file(format!(
            "the truth file {} does not fit the simulated model `{}` on input {}: {e}",
            truth_path.display(),
            info.spec,
            input
        ))
    })?;
    let data_path = dir.join(DATA_FILE);
    let label = data_path.display().to_string();
    let bytes = crate::fs::read_file(&data_path)?;
    let zip = ZipArchive::parse(&bytes, &label)?;
    let array = |name: &str| -> Result<NpyArray> {
        let raw = zip
            .read(&format!("{name}.npy"))
            .ok_or_else(|| Error::data(format!("{label} has no array {name}; simulate again")))?;
        parse_npy(&raw?, &format!("{label}: {name}"))
    };
    let (x, y) = (f32s(array("X")?, "X")?, f32s(array("y")?, "y")?);
    let k = model.output().len();
    if x.len() != info.n * input.len() || y.len() != info.n * k {
        return Err(Error::data(format!(
            "{label} holds {} inputs and {} outputs, but {} says {} samples of {input} → {k}; the folder is damaged",
            x.len(),
            y.len(),
            info_path.display(),
            info.n
        )));
    }
    Ok(Simulation { info, truth: model, x, y })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tutorial;

    fn default_spec() -> SimSpec {
        SimSpec {
            model: "conv1d(4,k=3,p=1,bias=false) flatten linear(1)".into(),
            input: Dims::signal(2, 5),
            n: 1000,
            noise: 1.0,
            seed: 1337,
            bias: None,
            truth: None,
        }
    }

    #[test]
    fn the_default_is_tutorial_000() {
        let sim = simulate(&default_spec()).unwrap();
        let t = tutorial::sim1d(1337, 1000, 2, 5, 4, 3, 1.0, -0.5);
        assert_eq!(sim.x, t.x);
        assert_eq!(sim.truth.params[..24], t.conv_weight[..]);
        assert_eq!(sim.truth.params[24..44], t.linear_weight[..]);
        assert_eq!(sim.truth.params[44], -0.5);
        // Same draws; only the order of the float64 sums differs from numpy's.
        for (a, b) in sim.y.iter().zip(&t.y) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn save_load_round_trip_and_a_truth_that_does_not_fit() {
        let dir = std::env::temp_dir().join(format!("convlab-sim-{}", std::process::id()));
        let sim = simulate(&SimSpec { n: 20, ..default_spec() }).unwrap();
        save(&sim, &dir).unwrap();
        let back = load(&dir, None).unwrap();
        assert_eq!((back.x, back.y, back.truth.params), (sim.x, sim.y, sim.truth.params.clone()));
        let other = Model::<f32>::new("conv1d(3,k=3,p=1,bias=false) flatten linear(1)", Dims::signal(2, 5)).unwrap();
        let bad = dir.join("bad.safetensors");
        io::save(&other, &bad).unwrap();
        let e = simulate(&SimSpec { truth: Some(bad.clone()), ..default_spec() }).err().unwrap();
        let e = e.to_string();
        assert!(e.contains("does not fit") && e.contains("0.weight"), "{e}");
        assert!(load(&dir, Some(&bad)).err().unwrap().to_string().contains("does not fit"));
        // A truth file that fits replaces the draws.
        let same = simulate(&SimSpec { n: 20, truth: Some(dir.join(TRUTH_FILE)), ..default_spec() }).unwrap();
        assert_eq!(same.truth.params, sim.truth.params);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
