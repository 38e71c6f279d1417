//! Explaining one prediction (`convlab explain`): which parts of the input the model's output
//! for one class depends on, from convlab's own backward pass.
//!
//! The methods, each a function of the model, one sample `x` and the target class `t`, with
//! `s(x) = output[t]` (the logit, before any softmax):
//! - `gradient`: ∂s/∂x, signed, one value per input value;
//! - `saliency`: max over channels of |∂s/∂x|, one value per position;
//! - `smoothgrad`: the mean saliency over seeded noisy copies `x + N(0, σ²)`;
//! - `input-x-gradient`: x · ∂s/∂x (for a model linear in x, each input's share of s);
//! - `gradcam`: on a layer's output A, `relu(Σ_k mean(∂s/∂A_k) · A_k)` at A's resolution;
//! - `occlusion`: s(x) − s(x with a patch set to 0), per patch position.
//!
//! All run in evaluation mode (batch norm's running statistics, no dropout). The methods live
//! in `gradient` (the four gradient methods and the backward pass they share), `gradcam` and
//! `occlusion`; `picture` draws the result, `examples` the report's hardest examples explained.

pub mod examples;
pub mod gradcam;
pub mod gradient;
pub mod occlusion;
pub mod picture;

use crate::engine::{Dims, Rank};
use crate::error::{Error, Result};
use crate::model::Model;

/// Default number of noisy copies for smoothgrad.
pub const SMOOTHGRAD_SAMPLES: usize = 50;
/// Default smoothgrad noise: σ as a fraction of the input's value range (max − min).
pub const SMOOTHGRAD_NOISE: f32 = 0.15;
/// Most noisy copies smoothgrad accepts (each is a forward and backward pass).
pub const MAX_SMOOTHGRAD_SAMPLES: usize = 100_000;

/// How a prediction is explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Gradient,
    Saliency,
    SmoothGrad,
    InputXGradient,
    GradCam,
    Occlusion,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Gradient,
        Method::Saliency,
        Method::SmoothGrad,
        Method::InputXGradient,
        Method::GradCam,
        Method::Occlusion,
    ];

    /// The name the CLI and the JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gradient => "gradient",
            Method::Saliency => "saliency",
            Method::SmoothGrad => "smoothgrad",
            Method::InputXGradient => "input-x-gradient",
            Method::GradCam => "gradcam",
            Method::Occlusion => "occlusion",
        }
    }

    pub fn parse(name: &str) -> Result<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::config(format!("unknown method `{name}`; use one of {}", names.join(", ")))
        })
    }

    /// Whether the map has a sign (drawn on a diverging scale centred on zero).
    pub fn is_signed(self) -> bool {
        matches!(self, Method::Gradient | Method::InputXGradient | Method::Occlusion)
    }
}

/// What to explain and how; `None` means the default.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub method: Method,
    /// The output to explain [default: the predicted class; a one-output model's logit].
    pub target: Option<usize>,
    /// Grad-CAM's layer, as `nn.Sequential` numbers it [default: the last spatial one].
    pub layer: Option<usize>,
    /// Smoothgrad's number of noisy copies [default: `SMOOTHGRAD_SAMPLES`].
    pub samples: Option<usize>,
    /// Smoothgrad's σ as a fraction of the input's range [default: `SMOOTHGRAD_NOISE`].
    pub noise: Option<f32>,
    /// Smoothgrad's noise seed.
    pub seed: u64,
    /// Occlusion's patch side in input positions [default: 1/7 of each side, at least 1].
    pub patch: Option<usize>,
    /// Occlusion's step between patches [default: the patch side].
    pub stride: Option<usize>,
}

impl Options {
    pub fn new(method: Method) -> Options {
        Options { method, target: None, layer: None, samples: None, noise: None, seed: 0, patch: None, stride: None }
    }

    /// Refuses settings that belong to another method, so a mistyped command does not silently
    /// ignore them.
    fn check_applies(&self) -> Result<()> {
        let m = self.method;
        let wrong = |flag: &str, owner: &str| {
            Error::config(format!(
                "{flag} is a setting of {owner}, not of {}; drop it or use --method {owner}",
                m.name()
            ))
        };
        if self.layer.is_some() && m != Method::GradCam {
            return Err(wrong("--layer", "gradcam"));
        }
        if (self.samples.is_some() || self.noise.is_some()) && m != Method::SmoothGrad {
            return Err(wrong(if self.samples.is_some() { "--samples" } else { "--noise" }, "smoothgrad"));
        }
        if (self.patch.is_some() || self.stride.is_some()) && m != Method::Occlusion {
            return Err(wrong(if self.patch.is_some() { "--patch" } else { "--stride" }, "occlusion"));
        }
        Ok(())
    }
}

/// One explained prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub method: Method,
    pub target: usize,
    /// `output[target]` for the sample itself.
    pub score: f32,
    /// The model's outputs for the sample.
    pub outputs: Vec<f32>,
    pub input_shape: Vec<usize>,
    /// `∂ output[target] / ∂ input`, for the methods that use it (gradient, saliency,
    /// input-x-gradient), in the input's layout.
    pub gradient: Option<Vec<f32>>,
    pub map: Vec<f32>,
    /// The map's shape: the input's for gradient and input-x-gradient, its positions
    /// (H×W, L or F) for saliency and smoothgrad, the layer's for Grad-CAM, the patch
    /// positions for occlusion.
    pub map_shape: Vec<usize>,
    /// Grad-CAM: the layer and its channel weights (the spatial mean of ∂s/∂A).
    pub gradcam: Option<GradCamInfo>,
    /// Occlusion: the patch and stride used, per axis (rows, columns).
    pub occlusion: Option<occlusion::Window>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GradCamInfo {
    pub layer: usize,
    pub weights: Vec<f32>,
}

impl Explanation {
    /// The explanation as JSON: `method`, `target`, `score`, `outputs`, `input_shape`,
    /// `gradient` (when the method uses it), `map` and `map_shape` (both flat, row-major), and
    /// Grad-CAM's `layer` and `weights` or occlusion's `patch` and `stride` (rows, columns).
    pub fn to_json(&self) -> serde_json::Value {
        let mut j = serde_json::json!({
            "method": self.method.name(),
            "target": self.target,
            "score": self.score,
            "outputs": self.outputs,
            "input_shape": self.input_shape,
            "map": self.map,
            "map_shape": self.map_shape,
        });
        if let Some(g) = &self.gradient {
            j["gradient"] = serde_json::json!(g);
        }
        if let Some(c) = &self.gradcam {
            j["layer"] = serde_json::json!(c.layer);
            j["weights"] = serde_json::json!(c.weights);
        }
        if let Some(w) = &self.occlusion {
            j["patch"] = serde_json::json!([w.patch.0, w.patch.1]);
            j["stride"] = serde_json::json!([w.stride.0, w.stride.1]);
        }
        j
    }
}

/// Explains the model's output for sample `x` (one sample in the model's input layout).
pub fn explain(model: &Model<f32>, x: &[f32], opts: &Options) -> Result<Explanation> {
    if x.len() != model.input.len() {
        return Err(Error::shape(format!(
            "the sample has {} values but the model takes {} ({})",
            x.len(),
            model.input.len(),
            model.input
        )));
    }
    opts.check_applies()?;
    let outputs = model.predict(x, 1);
    let target = choose_target(&outputs, opts.target)?;
    let score = outputs[target];
    let mut e = Explanation {
        method: opts.method,
        target,
        score,
        outputs,
        input_shape: model.input.to_vec(),
        gradient: None,
        map: vec![],
        map_shape: vec![],
        gradcam: None,
        occlusion: None,
    };
    let positions = positions_shape(model.input);
    match opts.method {
        Method::Gradient => {
            let g = gradient::gradient(model, x, target);
            e.map = g.clone();
            e.map_shape = e.input_shape.clone();
            e.gradient = Some(g);
        }
        Method::Saliency => {
            let g = gradient::gradient(model, x, target);
            e.map = gradient::saliency_of(&g, model.input);
            e.map_shape = positions;
            e.gradient = Some(g);
        }
        Method::InputXGradient => {
            let g = gradient::gradient(model, x, target);
            e.map = x.iter().zip(&g).map(|(a, b)| a * b).collect();
            e.map_shape = e.input_shape.clone();
            e.gradient = Some(g);
        }
        Method::SmoothGrad => {
            let samples = opts.samples.unwrap_or(SMOOTHGRAD_SAMPLES);
            let noise = opts.noise.unwrap_or(SMOOTHGRAD_NOISE);
            if samples == 0 || samples > MAX_SMOOTHGRAD_SAMPLES {
                return Err(Error::config(format!(
                    "--samples {samples}: give 1 to {MAX_SMOOTHGRAD_SAMPLES} noisy copies [default {SMOOTHGRAD_SAMPLES}]"
                )));
            }
            if !(noise.is_finite() && noise >= 0.0) {
                return Err(Error::config(format!(
                    "--noise {noise}: give σ as a fraction (≥ 0) of the input's range, e.g. {SMOOTHGRAD_NOISE}"
                )));
            }
            e.map = gradient::smoothgrad(model, x, target, samples, noise, opts.seed);
            e.map_shape = positions;
        }
        Method::GradCam => {
            let layer = match opts.layer {
                Some(l) => gradcam::check_layer(model, l)?,
                None => gradcam::default_layer(model)?,
            };
            let cam = gradcam::gradcam(model, x, target, layer);
            e.map = cam.map;
            e.map_shape = positions_shape(model.layers[layer].output);
            e.gradcam = Some(GradCamInfo { layer, weights: cam.weights });
        }
        Method::Occlusion => {
            let window = occlusion::Window::new(model.input, opts.patch, opts.stride)?;
            e.map = occlusion::occlusion(model, x, target, &window);
            e.map_shape = window.map_shape(model.input);
            e.occlusion = Some(window);
        }
    }
    Ok(e)
}

/// The given target if the model has it, else the predicted class (the first largest output).
fn choose_target(outputs: &[f32], target: Option<usize>) -> Result<usize> {
    let k = outputs.len();
    match target {
        Some(t) if t < k => Ok(t),
        Some(t) => Err(Error::config(format!(
            "--target {t} is beyond the model's {k} output{} (give 0 to {})",
            if k == 1 { "" } else { "s" },
            k - 1
        ))),
        None => Ok(outputs.iter().enumerate().fold(0, |best, (i, v)| if *v > outputs[best] { i } else { best })),
    }
}

/// The positions of a per-sample shape, without its channels: H×W, L, or F for a flat vector
/// (whose values are its positions).
pub fn positions_shape(d: Dims) -> Vec<usize> {
    match d.rank {
        Rank::Image => vec![d.h, d.w],
        Rank::Signal => vec![d.w],
        Rank::Flat => vec![d.c],
    }
}

/// (channels, positions) of a per-sample shape, a flat vector being one channel.
pub fn channels_and_positions(d: Dims) -> (usize, usize) {
    match d.rank {
        Rank::Flat => (1, d.c),
        _ => (d.c, d.h * d.w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_defaults_to_the_first_largest_output() {
        assert_eq!(choose_target(&[0.1, 3.0, 3.0, -1.0], None).unwrap(), 1);
        assert_eq!(choose_target(&[-2.0], None).unwrap(), 0);
        assert_eq!(choose_target(&[0.1, 3.0], Some(0)).unwrap(), 0);
        let e = choose_target(&[0.1, 3.0], Some(2)).unwrap_err().to_string();
        assert!(e.contains("--target 2") && e.contains("0 to 1"), "{e}");
    }

    #[test]
    fn settings_of_another_method_are_refused() {
        let mut model = Model::<f32>::new("flatten linear(2)", Dims::image(1, 2, 2)).unwrap();
        model.init(1);
        let x = [0.5f32; 4];
        let mut o = Options::new(Method::Saliency);
        o.layer = Some(0);
        assert!(explain(&model, &x, &o).unwrap_err().to_string().contains("--layer is a setting of gradcam"));
        let mut o = Options::new(Method::Gradient);
        o.patch = Some(1);
        assert!(explain(&model, &x, &o).unwrap_err().to_string().contains("--patch"));
        let e = explain(&model, &x[..3], &Options::new(Method::Gradient)).unwrap_err().to_string();
        assert!(e.contains("3 values"), "{e}");
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()).unwrap(), m);
        }
        assert!(Method::parse("lime").unwrap_err().to_string().contains("gradcam"));
    }
}
