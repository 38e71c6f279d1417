//! `convlab plot KIND RUN|MODEL --out FILE.png|.svg`: one picture of what a network learned.

use super::data_args::DataArgs;
use crate::inspect::{
    activations, confusion, curves, evolution, examples, filters, histograms, maximize, model_diagram, samples,
    scatter, tensors, Subject,
};
use crate::plot::{Colormap, Figure};
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// Conv kernels (rows: output channels, columns: input channels) and linear weights
    Filters,
    /// The input sample and every layer's feature maps (--index I)
    Activations,
    /// Inputs, predictions and targets of the first samples, side by side
    Tensors,
    /// Training and test loss and accuracy by epoch
    Curves,
    /// True vs learned parameters (simulated data) or predictions vs targets (regression)
    Scatter,
    /// The hardest and easiest examples with their predicted probabilities
    Examples,
    /// Confusion matrix with counts
    Confusion,
    /// A conv layer's kernels over the epochs (train with --snapshot-every N)
    Evolution,
    /// A grid of data samples with labels
    Samples,
    /// Every parameter tensor's values over the epochs (train with --snapshot-every N)
    Histograms,
    /// Per filter of conv layer --layer L, the input that maximises its centre unit (or its mean, --objective mean): gradient ascent with total variation and an L2 pull to the start, within the data's range
    Maximize,
    /// The architecture as a diagram: one box per layer (RUN may be a preset name or a spec, with --input)
    Model,
}

#[derive(clap::Args)]
pub struct Args {
    kind: Kind,
    /// A run folder or a model file (.safetensors); for `model` also a preset name or a spec
    run: PathBuf,
    /// For `evolution`: the layer (index, e.g. 0, or tensor name, e.g. 0.weight)
    layer: Option<String>,
    /// Output file; .png or .svg
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Sample to show (activations)
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// Number of samples (tensors, samples), classes taking turns
    #[arg(long, default_value_t = 50)]
    count: usize,
    /// Seed of the draw of samples (tensors, samples), of ties (examples), and of maximize's starting noise and jitter
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// For examples: how many of the hardest (lowest probability of the true class)
    #[arg(long, default_value_t = 8)]
    hardest: usize,
    /// For examples: how many of the easiest
    #[arg(long, default_value_t = 8)]
    easiest: usize,
    /// Colour map for filters and feature maps: bwr, seismic (diverging), gray, viridis (sequential)
    #[arg(long)]
    cmap: Option<String>,
    /// For curves: draw the loss on a log scale (default: linear)
    #[arg(long)]
    log_loss: bool,
    /// For tensors: one colour scale for X, ŷ and y (default: X on its own scale when its
    /// range differs from y's more than tenfold)
    #[arg(long)]
    shared_scale: bool,
    /// For evolution: the output channels to show, e.g. `0-3,8` (default: the first 8)
    #[arg(long)]
    out_channels: Option<String>,
    /// For evolution: the one input channel to show (default: the first 4)
    #[arg(long)]
    in_channel: Option<usize>,
    /// For `model` given a spec: the input shape, C,H,W or C,L (presets know theirs)
    #[arg(long)]
    input: Option<String>,
    /// For `maximize`: the conv layer's index in the spec (from 0)
    #[arg(long = "layer", id = "conv_layer")]
    conv_layer: Option<usize>,
    /// For `maximize`: gradient-ascent steps
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// For `maximize`: centre (the filter's centre unit) or mean (its whole output plane)
    #[arg(long, default_value = "centre")]
    objective: String,
    /// For `maximize`: weight of the total-variation penalty (0: none)
    #[arg(long, default_value_t = 0.1)]
    tv: f32,
    /// For `maximize`: largest random roll of the input per step, in positions
    #[arg(long, default_value_t = 0)]
    jitter: usize,
    /// For scatter: `params` (true vs learned, simulated data) or `predictions`
    #[arg(long)]
    what: Option<String>,
}

pub fn run(a: Args) -> crate::Result<i32> {
    if crate::plot::figure::Format::from_path(&a.out).is_none() {
        return Err(crate::Error::config(format!("--out {}: the file must end in .png or .svg", a.out.display())));
    }
    let cmap = |default: Colormap| -> crate::Result<Colormap> {
        match &a.cmap {
            None => Ok(default),
            Some(n) => Colormap::from_name(n).ok_or_else(|| {
                crate::Error::config(format!("unknown colour map `{n}`; use bwr, seismic, gray or viridis"))
            }),
        }
    };
    if let Kind::Model = a.kind {
        let fig = model_diagram::figure(&model_diagram::model_of(&a.run.to_string_lossy(), a.input.as_deref())?);
        return fig
            .save(&a.out)
            .map(|_| println!("wrote {} ({}×{})", a.out.display(), fig.width(), fig.height()))
            .map(|_| 0);
    }
    let s = Subject::open(&a.run)?;
    let data = || -> crate::Result<crate::data::Dataset> { a.data.load(&s) };
    let fig: Figure = match a.kind {
        Kind::Filters => filters::figure(&s.model, cmap(Colormap::Bwr)?)?,
        Kind::Activations => activations::figure(&s.model, &data()?, a.index, cmap(Colormap::Seismic)?)?,
        Kind::Tensors => tensors::figure(
            &s.model,
            &data()?,
            a.count,
            a.seed,
            if a.shared_scale { tensors::Scales::Shared } else { tensors::Scales::Auto },
        )?,
        Kind::Curves => curves::figure_with(&s.metrics()?, a.log_loss)?,
        Kind::Confusion => confusion::figure(&s.model, &data()?)?,
        Kind::Examples => examples::figure(&s.model, &data()?, a.hardest, a.easiest, a.seed)?,
        Kind::Samples => samples::figure(&data()?, a.count, a.seed)?,
        Kind::Model => model_diagram::figure(&s.model),
        Kind::Maximize => {
            let layer = a.conv_layer.ok_or_else(|| crate::Error::config("give the conv layer with --layer L"))?;
            // Kept within the data's range when the data can be had (a bare model file may have none).
            let range = data().ok().map(|d| maximize::range_of(&d.x));
            let settings = maximize::Settings {
                objective: maximize::Objective::parse(&a.objective)?,
                steps: a.steps,
                tv: a.tv,
                jitter: a.jitter,
                range,
                seed: a.seed,
                ..Default::default()
            };
            maximize::figure(&s.model, layer, settings)?
        }
        Kind::Histograms => {
            histograms::figure(s.dir.as_ref().ok_or_else(|| {
                crate::Error::config("histograms needs a run folder (its snapshots), not a model file")
            })?)?
        }
        Kind::Evolution => {
            let dir = s.dir.as_ref().ok_or_else(|| {
                crate::Error::config("evolution needs a run folder (its snapshots), not a model file")
            })?;
            let out = a.out_channels.as_deref().map(evolution::parse_out_channels).transpose()?;
            let channels = evolution::Channels { out, input: a.in_channel };
            evolution::figure(
                dir,
                a.layer
                    .as_deref()
                    .ok_or_else(|| crate::Error::config("give the layer, e.g. `convlab plot evolution RUN 0`"))?,
                &channels,
            )?
        }
        Kind::Scatter => {
            let run_data =
                a.data.data.clone().or(s.config.as_ref().map(|c| c.training.data.clone())).unwrap_or_default();
            match a.what.as_deref() {
                Some("params") => scatter::parameters(&s.model, &run_data)?,
                Some("predictions") => scatter::predictions(&s.model, &data()?)?,
                None if scatter::true_conv_weights(&run_data).is_some() => scatter::parameters(&s.model, &run_data)?,
                None => scatter::predictions(&s.model, &data()?)?,
                Some(other) => {
                    return Err(crate::Error::config(format!("--what must be params or predictions, not `{other}`")))
                }
            }
        }
    };
    fig.save(&a.out)?;
    println!("wrote {} ({}×{})", a.out.display(), fig.width(), fig.height());
    Ok(0)
}
