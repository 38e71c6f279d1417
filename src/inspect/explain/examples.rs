//! The report's hardest test examples explained: each sample (the same ones, in the same order,
//! as `plot examples` ranks them) beside its Grad-CAM overlay and its saliency map for the class
//! the model predicted, so the page shows where the evidence for a wrong or unsure answer lies.
//! An image input gets three panels (input, Grad-CAM over it, saliency), a 1-D input the line
//! plot with the two maps as heat strips under it, as `convlab explain` draws signals. Each map
//! is on its own scale, from 0 (clear, or dark) to its own largest value (yellow).

use super::picture::{
    header_size, image_row, image_scale, input_colours, overlay, panel_label_height, planes, top_text, SignalPlot,
};
use super::{explain, gradcam, Method, Options};
use crate::data::Dataset;
use crate::engine::{Dims, Rank};
use crate::error::{Error, Result};
use crate::inspect::examples::{caption, ranked};
use crate::inspect::{check_outputs, class_labels, outputs, task_of};
use crate::model::Model;
use crate::plot::canvas::{Anchor, Surface, TextStyle, VAnchor};
use crate::plot::colormap::Rgb;
use crate::plot::parts::{line_height, text_width, LABEL_SIZE, MARGIN, MIN_WIDTH, PANEL_TITLE_SIZE, TEXT};
use crate::plot::{Colormap, Figure, Norm};

/// Gap between two examples side by side, and between rows of examples.
const BLOCK_GAP: f32 = 28.0;
/// Gap between the panels of one example.
const PANEL_GAP: f32 = 10.0;
/// Widest figure: the report's column, so a row of examples is not shrunk below 100 %.
const MAX_WIDTH: f32 = 1060.0;
const CAPTION_SIZE: f32 = LABEL_SIZE - 1.0;

/// One example's maps at the input's positions, each with the colours of its own scale.
struct Explained {
    caption: String,
    x: Vec<f32>,
    /// Grad-CAM upsampled to the input, when the model has a spatial layer.
    cam: Option<Vec<f32>>,
    saliency: Vec<f32>,
}

/// 0 to the largest value (1 when all are 0, so an empty map reads as the scale's start).
fn own_scale(values: &[f32]) -> Norm {
    let vmax = values.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, &v| m.max(v));
    Norm::Linear { vmin: 0.0, vmax: if vmax > 0.0 { vmax } else { 1.0 } }
}

/// A map's name, saying so when it is 0 everywhere (it would otherwise look like a clear
/// overlay, or a drawing fault).
fn map_name(name: &str, values: &[f32]) -> String {
    if values.iter().all(|&v| v == 0.0) {
        format!("{name} = 0")
    } else {
        name.to_string()
    }
}

fn colours(values: &[f32]) -> Vec<Rgb> {
    let n = own_scale(values);
    values.iter().map(|&v| Colormap::Viridis.map(n.apply(v))).collect()
}

/// Columns of blocks `block_w` px wide within [`MAX_WIDTH`], rows filled evenly.
fn columns(n: usize, block_w: f32) -> usize {
    let fit = (((MAX_WIDTH - 2.0 * MARGIN + BLOCK_GAP) / (block_w + BLOCK_GAP)).floor() as usize).max(1);
    let rows = n.max(1).div_ceil(fit);
    n.max(1).div_ceil(rows)
}

/// The `count` hardest samples of `ds` (lowest probability of the true class, ties broken by
/// `seed` as `plot examples` breaks them), each with its Grad-CAM and saliency.
pub fn figure(model: &Model<f32>, ds: &Dataset, count: usize, seed: u64) -> Result<Figure> {
    figure_of(model, ds, &outputs(model, ds, ds.len()), count, seed)
}

/// [`figure`] from the model's outputs `out` on all of `ds`, computed once by a caller that
/// needs them for other figures too (the report).
pub fn figure_of(model: &Model<f32>, ds: &Dataset, out: &[f32], count: usize, seed: u64) -> Result<Figure> {
    check_outputs(model, ds, out)?;
    let task = task_of(model, ds);
    let Some(labels) = class_labels(&task, ds) else {
        return Err(Error::data(format!("{} has no classes, so no hardest examples to explain", ds.name)));
    };
    if count == 0 {
        return Err(Error::config("ask for at least one hardest example"));
    }
    let input = model.input;
    if input.rank == Rank::Flat {
        return Err(Error::data(format!(
            "the model takes flat vectors ({input}); the maps need images (C, H, W) or signals (C, L)"
        )));
    }
    let layer = gradcam::default_layer(model).ok();
    let mut shown = vec![];
    for &r in ranked(out, model.output().len(), &task, &labels, seed).iter().take(count) {
        let x = ds.sample(r.0).to_vec();
        let saliency = explain(model, &x, &Options::new(Method::Saliency))?.map;
        let cam = match layer {
            Some(l) => {
                let mut o = Options::new(Method::GradCam);
                o.layer = Some(l);
                let e = explain(model, &x, &o)?;
                Some(planes(&e, input).remove(0).1)
            }
            None => None,
        };
        shown.push(Explained { caption: caption(&task, &labels, r), x, cam, saliency });
    }
    let cam_name = layer.map(|l| format!("Grad-CAM (layer {l})"));
    let what = match &cam_name {
        Some(c) => format!("{c} and saliency"),
        None => "saliency (no spatial layer for Grad-CAM)".to_string(),
    };
    let title = format!("the {} hardest of {}: {what} for the predicted class", shown.len(), ds.name);
    let note = "each map on its own scale, from 0 (clear or dark) to its largest value (yellow)";
    Ok(if input.rank == Rank::Image {
        image_figure(&shown, input, cam_name.is_some(), &title, note)
    } else {
        signal_figure(&shown, input, &title, note)
    })
}

/// Rows of blocks, the `i`th drawn by `draw(fig, i, left, top)`.
fn grid(
    shown: &[Explained],
    (block_w, block_h): (f32, f32),
    (title, note): (&str, &str),
    draw: impl Fn(&mut Figure, usize, f32, f32),
) -> Figure {
    let cols = columns(shown.len(), block_w);
    let rows = shown.len().div_ceil(cols);
    let grid_w = cols as f32 * (block_w + BLOCK_GAP) - BLOCK_GAP;
    let (head_w, head_h) = header_size(title, note);
    let fig_w = (grid_w + 2.0 * MARGIN).max(MIN_WIDTH).max(head_w).ceil();
    let fig_h = (MARGIN + head_h + rows as f32 * (block_h + BLOCK_GAP) - BLOCK_GAP + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    let top = top_text(&mut fig, fig_w, title, note);
    let ox = ((fig_w - grid_w) / 2.0).round();
    for i in 0..shown.len() {
        let (r, c) = (i / cols, i % cols);
        draw(&mut fig, i, ox + c as f32 * (block_w + BLOCK_GAP), top + r as f32 * (block_h + BLOCK_GAP));
    }
    fig
}

fn image_figure(shown: &[Explained], input: Dims, with_cam: bool, title: &str, note: &str) -> Figure {
    let scale = image_scale(input, 112.0);
    let pw = input.w as f32 * scale;
    let names: Vec<&str> =
        if with_cam { vec!["input", "Grad-CAM = 0", "saliency = 0"] } else { vec!["input", "saliency = 0"] };
    let name_w = names.iter().map(|n| text_width(n, PANEL_TITLE_SIZE)).fold(0.0, f32::max);
    let slot = pw.max(name_w).ceil() + PANEL_GAP;
    let caption_w = shown.iter().map(|e| text_width(&e.caption, CAPTION_SIZE)).fold(0.0, f32::max);
    let block_w = (names.len() as f32 * slot - PANEL_GAP).max(caption_w).ceil();
    let caption_h = line_height(CAPTION_SIZE) + 4.0;
    // Panel names above every example, so each row reads on its own.
    let block_h = panel_label_height() + input.h as f32 * scale + 4.0 + caption_h;
    let style = TextStyle::new(CAPTION_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    grid(shown, (block_w, block_h), (title, note), |fig, i, left, top| {
        let e = &shown[i];
        let base = input_colours(&e.x, input);
        let mut panels = vec![("input".to_string(), base.clone())];
        if let Some(cam) = &e.cam {
            panels.push((map_name("Grad-CAM", cam), overlay(&base, cam, Colormap::Viridis, &own_scale(cam))));
        }
        panels.push((map_name("saliency", &e.saliency), colours(&e.saliency)));
        let row_w = panels.len() as f32 * slot;
        let x = left + ((block_w - row_w + PANEL_GAP) / 2.0).round() - PANEL_GAP / 2.0;
        let panel_top = top + panel_label_height();
        image_row(fig, x, panel_top, slot, input, scale, panels);
        fig.text(left + block_w / 2.0, panel_top + input.h as f32 * scale + 4.0, &e.caption, style);
    })
}

fn signal_figure(shown: &[Explained], input: Dims, title: &str, note: &str) -> Figure {
    let strips = |e: &Explained| -> Vec<(String, Vec<Rgb>)> {
        let mut s = vec![];
        if let Some(cam) = &e.cam {
            s.push((map_name("Grad-CAM", cam), colours(cam)));
        }
        s.push((map_name("saliency", &e.saliency), colours(&e.saliency)));
        s
    };
    let plots: Vec<SignalPlot> = shown.iter().map(|e| SignalPlot::new(&e.x, input, strips(e), 420.0, 110.0)).collect();
    let caption_w = shown.iter().map(|e| text_width(&e.caption, CAPTION_SIZE)).fold(0.0, f32::max);
    let plot_w = plots.iter().map(|p| p.width()).fold(0.0, f32::max);
    let block_w = plot_w.max(caption_w).ceil();
    let caption_h = line_height(CAPTION_SIZE) + 6.0;
    let block_h = caption_h + plots.iter().map(|p| p.height()).fold(0.0, f32::max);
    let style = TextStyle::new(CAPTION_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    grid(shown, (block_w, block_h), (title, note), |fig, i, left, top| {
        fig.text(left + block_w / 2.0, top, &shown[i].caption, style);
        let p = &plots[i];
        p.draw(fig, left + ((block_w - p.width()) / 2.0).round(), top + caption_h);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;
    use crate::plot::canvas::Image;
    use crate::plot::figure::Op;

    fn data(input: Dims, n: usize, seed: u64) -> Dataset {
        let mut rng = crate::rng::Rng::new(seed);
        let shape = if input.rank == Rank::Image { vec![input.c, input.h, input.w] } else { vec![input.c, input.w] };
        Dataset {
            name: "toy".into(),
            x: (0..n * input.len()).map(|_| rng.normal() as f32).collect(),
            sample_shape: shape,
            targets: Targets::Classes { labels: (0..n as u32).map(|i| i % 2).collect(), num_classes: 2 },
            class_names: None,
        }
    }

    fn images(fig: &Figure) -> Vec<Image> {
        fig.ops().iter().filter_map(|op| if let Op::Image(.., im) = op { Some(im.clone()) } else { None }).collect()
    }

    fn texts(fig: &Figure) -> Vec<String> {
        fig.ops().iter().filter_map(|op| if let Op::Text(_, _, t, _) = op { Some(t.clone()) } else { None }).collect()
    }

    /// The hardest samples of `ds` in the order the figure shows them, with their captions.
    fn hardest(m: &Model<f32>, ds: &Dataset, k: usize) -> Vec<(usize, String)> {
        let task = task_of(m, ds);
        let labels = class_labels(&task, ds).unwrap();
        ranked(&outputs(m, ds, ds.len()), m.output().len(), &task, &labels, 0)
            .into_iter()
            .take(k)
            .map(|r| (r.0, caption(&task, &labels, r)))
            .collect()
    }

    #[test]
    fn outputs_computed_once_give_the_same_figures_and_wrong_ones_are_refused() {
        // The report computes the test outputs once for three figures: each must come out as
        // the figure that computes its own.
        let input = Dims::image(1, 6, 6);
        let mut m = Model::<f32>::new("conv2d(3,k=3,p=1) relu flatten linear(2)", input).unwrap();
        m.init(5);
        let ds = data(input, 8, 2);
        let out = outputs(&m, &ds, ds.len());
        assert_eq!(figure_of(&m, &ds, &out, 3, 0).unwrap().to_svg(), figure(&m, &ds, 3, 0).unwrap().to_svg());
        let examples = crate::inspect::examples::figure_of(&m, &ds, &out, 2, 2, 0).unwrap();
        assert_eq!(examples.to_svg(), crate::inspect::examples::figure(&m, &ds, 2, 2, 0).unwrap().to_svg());
        let confusion = crate::inspect::confusion::figure_of(&m, &ds, &out).unwrap();
        assert_eq!(confusion.to_svg(), crate::inspect::confusion::figure(&m, &ds).unwrap().to_svg());
        let short = &out[..out.len() - 2];
        let e = figure_of(&m, &ds, short, 3, 0).err().unwrap().to_string();
        assert!(e.contains("16 expected"), "{e}");
        assert!(crate::inspect::confusion::figure_of(&m, &ds, short).is_err());
        assert!(crate::inspect::examples::figure_of(&m, &ds, short, 2, 2, 0).is_err());
    }

    #[test]
    fn each_hardest_image_has_its_input_grad_cam_and_saliency_panels() {
        let input = Dims::image(1, 6, 6);
        let mut m = Model::<f32>::new("conv2d(3,k=3,p=1) relu flatten linear(2)", input).unwrap();
        m.init(4);
        let ds = data(input, 6, 1);
        let fig = figure(&m, &ds, 3, 0).unwrap();
        let ims = images(&fig);
        assert_eq!(ims.len(), 3 * 3, "input, Grad-CAM, saliency for each of 3 examples");
        assert!(ims.iter().all(|im| (im.width, im.height) == (6, 6)));
        let words = texts(&fig);
        for (k, (i, cap)) in hardest(&m, &ds, 3).into_iter().enumerate() {
            let x = ds.sample(i);
            assert_eq!(ims[3 * k].pixels, input_colours(x, input), "example {k}'s input");
            let sal = explain(&m, x, &Options::new(Method::Saliency)).unwrap().map;
            assert_eq!(ims[3 * k + 2].pixels, colours(&sal), "example {k}'s saliency");
            assert!(words.contains(&cap), "{cap} missing from {words:?}");
        }
        assert!(words.iter().any(|t| t.contains("Grad-CAM (layer 1)")), "{words:?}");
        assert!(fig.width() as f32 <= MAX_WIDTH);
    }

    #[test]
    fn on_a_linear_model_the_saliency_panel_is_the_predicted_class_weights_magnitude() {
        // s = w[t] · x + b, so |∂s/∂x| = |w[t]|: the brightest cell is the largest weight.
        let input = Dims::image(1, 4, 4);
        let mut m = Model::<f32>::new("flatten linear(2)", input).unwrap();
        m.init(2);
        let ds = data(input, 4, 3);
        let fig = figure(&m, &ds, 1, 0).unwrap();
        let ims = images(&fig);
        assert_eq!(ims.len(), 2, "no spatial layer: input and saliency only");
        let (i, _) = hardest(&m, &ds, 1)[0];
        let t = explain(&m, ds.sample(i), &Options::new(Method::Saliency)).unwrap().target;
        let w: Vec<f32> = m.layer_params(1)[t * 16..(t + 1) * 16].iter().map(|v| v.abs()).collect();
        assert_eq!(ims[1].pixels, colours(&w));
        let top = (0..16).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap();
        assert_eq!(ims[1].pixels[top], Colormap::Viridis.map(1.0));
        assert!(texts(&fig).iter().any(|t| t.contains("no spatial layer for Grad-CAM")));
    }

    #[test]
    fn a_signal_gets_its_line_plot_with_grad_cam_and_saliency_strips() {
        let input = Dims::signal(2, 12);
        let mut m = Model::<f32>::new("conv1d(3,k=3,p=1) relu flatten linear(2)", input).unwrap();
        m.init(5);
        let ds = data(input, 5, 2);
        let fig = figure(&m, &ds, 2, 0).unwrap();
        let ims = images(&fig);
        assert_eq!(ims.len(), 2 * 2);
        assert!(ims.iter().all(|im| (im.width, im.height) == (12, 1)));
        let lines = fig.ops().iter().filter(|op| matches!(op, Op::Polyline(p, _) if p.len() == 12)).count();
        assert_eq!(lines, 2 * 2, "both channels of both examples");
    }

    #[test]
    fn rows_of_examples_fill_evenly_within_the_report() {
        assert_eq!(columns(8, 380.0), 2);
        assert_eq!(columns(3, 300.0), 3);
        assert_eq!(columns(5, 2000.0), 1);
    }
}
