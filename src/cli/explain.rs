//! `convlab explain RUN|MODEL (--index I | --image FILE | --npz FILE --row I) --method M
//! --out FILE.png|.svg [--json FILE]`: why the model gave one sample its output.

use super::data_args::DataArgs;
use crate::inspect::explain::picture::{figure, Caption};
use crate::inspect::explain::{explain, Method, Options};
use crate::inspect::predict::read_samples;
use crate::inspect::{check_index, Subject};
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    /// ∂ output[target] / ∂ input, signed
    Gradient,
    /// Max over channels of |gradient|
    Saliency,
    /// Mean saliency over noisy copies of the input (--samples, --noise, --seed)
    #[value(name = "smoothgrad")]
    SmoothGrad,
    /// Input × gradient, signed
    InputXGradient,
    /// Grad-CAM on a layer's output (--layer), drawn upsampled over the input
    #[value(name = "gradcam")]
    GradCam,
    /// How much the output drops when a patch is set to 0 (--patch, --stride)
    Occlusion,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Gradient => Method::Gradient,
            MethodArg::Saliency => Method::Saliency,
            MethodArg::SmoothGrad => Method::SmoothGrad,
            MethodArg::InputXGradient => Method::InputXGradient,
            MethodArg::GradCam => Method::GradCam,
            MethodArg::Occlusion => Method::Occlusion,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// A run folder or a model file (.safetensors)
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Which sample of the data to explain
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// Explain a PNG or JPEG image instead of a sample of the data
    #[arg(long, conflicts_with_all = ["data", "train", "index", "npz"])]
    image: Option<PathBuf>,
    /// Explain a row of an .npz file's X instead of a sample of the data (see --row)
    #[arg(long, conflicts_with_all = ["data", "train", "index"])]
    npz: Option<PathBuf>,
    /// Which row of the --npz file's X
    #[arg(long, default_value_t = 0, requires = "npz")]
    row: usize,
    /// How to explain the prediction
    #[arg(long)]
    method: MethodArg,
    /// The output to explain [default: the predicted class; a one-output model's logit]
    #[arg(long)]
    target: Option<usize>,
    /// gradcam: the layer, counted from 0 as nn.Sequential numbers it [default: the last layer with a spatial output]
    #[arg(long)]
    layer: Option<usize>,
    /// smoothgrad: number of noisy copies [default: 50]
    #[arg(long)]
    samples: Option<usize>,
    /// smoothgrad: the noise's standard deviation as a fraction of the input's range (max − min) [default: 0.15]
    #[arg(long)]
    noise: Option<f32>,
    /// smoothgrad: seed of the noise
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// occlusion: the patch's side in input positions [default: 1/7 of each side of the input, at least 1]
    #[arg(long)]
    patch: Option<usize>,
    /// occlusion: the step between patches [default: the patch's side]
    #[arg(long)]
    stride: Option<usize>,
    /// The picture; .png or .svg
    #[arg(long)]
    out: PathBuf,
    /// Also write the numbers (method, target, score, input_shape, gradient, map, map_shape) as JSON [default: none]
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(a: Args) -> crate::Result<i32> {
    if crate::plot::figure::Format::from_path(&a.out).is_none() {
        return Err(crate::Error::config(format!("--out {}: the file must end in .png or .svg", a.out.display())));
    }
    let s = Subject::open(&a.model)?;
    let opts = Options {
        method: a.method.into(),
        target: a.target,
        layer: a.layer,
        samples: a.samples,
        noise: a.noise,
        seed: a.seed,
        patch: a.patch,
        stride: a.stride,
    };
    let (x, sample, data) = match (&a.image, &a.npz) {
        (Some(path), _) => {
            (read_samples(&s.model, std::slice::from_ref(path), None)?.x, path.display().to_string(), None)
        }
        (None, Some(path)) => (
            read_samples(&s.model, std::slice::from_ref(path), Some(&a.row.to_string()))?.x,
            format!("row {} of {}", a.row, path.display()),
            None,
        ),
        (None, None) => {
            let ds = a.data.load(&s)?;
            check_index(&ds, a.index)?;
            (ds.sample(a.index).to_vec(), String::new(), Some(ds))
        }
    };
    let e = explain(&s.model, &x, &opts)?;
    let caption = match &data {
        Some(ds) => Caption::of_data(ds, a.index, e.target),
        // An image or a row has no data set naming its classes: the model file's task does.
        None => {
            let task = s.model.task.as_ref().filter(|t| t.is_classifier() && !t.class_names.is_empty());
            Caption { class_name: task.map(|t| t.name(e.target)), sample }
        }
    };
    let fig = figure(&e, &x, s.model.input, &caption);
    fig.save(&a.out)?;
    let named = caption.class_name.as_ref().filter(|n| **n != e.target.to_string());
    let target = named.map(|n| format!("{} ({n})", e.target)).unwrap_or_else(|| e.target.to_string());
    println!("{} for output {target}: score {:.6}  ({})", e.method.name(), e.score, caption.sample);
    println!("wrote {} ({}×{})", a.out.display(), fig.width(), fig.height());
    if let Some(path) = &a.json {
        let text = serde_json::to_string(&e.to_json()).expect("numbers and strings serialise");
        crate::fs::write_atomic(path, text.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(0)
}
