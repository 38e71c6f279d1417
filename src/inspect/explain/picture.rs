//! The picture of an explanation. An image input is shown as it is (grey, or RGB for three
//! channels), then the map, then the map laid over the image; a 1-D input as a line plot with
//! the map as a heat strip under it. Signed maps (gradient, input × gradient, occlusion) use a
//! diverging scale centred on zero (red = raises the score), the others a sequential one. Maps
//! coarser than the input (Grad-CAM, occlusion) are brought to the input's positions first:
//! Grad-CAM bilinearly, occlusion as the patch nearest each position.

use super::gradcam::upsample_bilinear;
use super::{channels_and_positions, Explanation, Method};
use crate::data::{Dataset, Targets};
use crate::engine::{Dims, Rank};
use crate::plot::canvas::{Anchor, Image, Stroke, Surface, TextStyle, VAnchor};
use crate::plot::colormap::Rgb;
use crate::plot::parts::{
    draw_title, format_sig, format_tick, line_height, nice_axis, text_width, title_height, ColorBar, AXIS, FRAME,
    LABEL_SIZE, MARGIN, MIN_WIDTH, PALETTE, PANEL_TITLE_SIZE, TEXT, TICK_SIZE,
};
use crate::plot::{Colormap, Figure, Norm};

/// What the picture says about the sample besides the explanation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caption {
    /// The target class's name, when the data names its classes.
    pub class_name: Option<String>,
    /// Where the sample came from, e.g. `sample 7 of fashion-mnist (test), label 3`.
    pub sample: String,
}

impl Caption {
    /// Sample `index` of `ds`, with its label and the target's class name when the data has them.
    pub fn of_data(ds: &Dataset, index: usize, target: usize) -> Caption {
        let names = ds.class_names.as_ref();
        let label = match &ds.targets {
            Targets::Classes { labels, .. } => labels.get(index).map(|&l| {
                let name = names.and_then(|n| n.get(l as usize)).filter(|n| **n != l.to_string());
                let name = name.map(|n| format!(" ({n})")).unwrap_or_default();
                format!(", label {l}{name}")
            }),
            Targets::Values { .. } => None,
        };
        Caption {
            class_name: names.and_then(|n| n.get(target).cloned()),
            sample: format!("sample {index} of {}{}", ds.name, label.unwrap_or_default()),
        }
    }
}

const GAP: f32 = 20.0;
const TEXT_GAP: f32 = 5.0;
/// Largest overlay opacity, so the image shows through even the strongest values.
const MAX_ALPHA: f32 = 0.8;

/// The map at the input's positions, one plane per input channel for the per-value methods.
fn planes(e: &Explanation, input: Dims) -> Vec<(String, Vec<f32>)> {
    let (c, p) = channels_and_positions(input);
    let name = e.method.name().to_string();
    match e.method {
        Method::Gradient | Method::InputXGradient if c > 1 => {
            (0..c).map(|k| (format!("{name}, channel {k}"), e.map[k * p..(k + 1) * p].to_vec())).collect()
        }
        Method::GradCam => {
            let (h, w) = match e.map_shape[..] {
                [h, w] => (h, w),
                _ => (1, e.map.len()),
            };
            let out = if input.rank == Rank::Image { (input.h, input.w) } else { (1, p) };
            let label = if h * w == p { name } else { format!("{name} (upsampled)") };
            vec![(label, upsample_bilinear(&e.map, (h, w), out))]
        }
        Method::Occlusion => {
            let w = e.occlusion.expect("occlusion keeps its window");
            vec![(format!("{name} (patch drop)"), w.spread(&e.map, input))]
        }
        _ => vec![(name, e.map.clone())],
    }
}

fn scale_for(e: &Explanation, planes: &[(String, Vec<f32>)]) -> (Colormap, Norm) {
    let values = planes.iter().flat_map(|(_, v)| v.iter());
    if e.method.is_signed() {
        (Colormap::Bwr, Norm::symmetric(values))
    } else {
        let vmax = values.filter(|v| v.is_finite()).fold(0.0f32, |m, &v| m.max(v));
        // An all-zero map shows as the scale's start, not its middle.
        (Colormap::Viridis, Norm::Linear { vmin: 0.0, vmax: if vmax > 0.0 { vmax } else { 1.0 } })
    }
}

fn title(e: &Explanation, caption: &Caption) -> String {
    let class = match &caption.class_name {
        Some(n) if *n != e.target.to_string() => format!("class {} ({n})", e.target),
        _ if e.outputs.len() == 1 => "the output".to_string(),
        _ => format!("class {}", e.target),
    };
    let layer = e.gradcam.as_ref().map(|g| format!(" of layer {}", g.layer)).unwrap_or_default();
    format!("{}{layer} for {class} · score {}", e.method.name(), format_sig(e.score as f64, 4))
}

/// The picture of `e` for the sample `x` it explains.
pub fn figure(e: &Explanation, x: &[f32], input: Dims, caption: &Caption) -> Figure {
    let planes = planes(e, input);
    let (cmap, norm) = scale_for(e, &planes);
    let title = title(e, caption);
    // Said in words, as a blank map could also be a drawing fault.
    let zero = e.map.iter().all(|&v| v == 0.0);
    let sample = match (zero, caption.sample.is_empty()) {
        (false, _) => caption.sample.clone(),
        (true, true) => "the map is 0 everywhere".to_string(),
        (true, false) => format!("{} · the map is 0 everywhere", caption.sample),
    };
    if input.rank == Rank::Image {
        image_figure(x, input, &planes, cmap, norm, &title, &sample)
    } else {
        signal_figure(x, input, &planes, cmap, norm, &title, &sample)
    }
}

/// The input as colours: RGB for three channels, else grey (min–max, the channels' mean).
fn input_colours(x: &[f32], input: Dims) -> Vec<Rgb> {
    let p = input.h * input.w;
    if input.c == 3 {
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        return (0..p).map(|i| [byte(x[i]), byte(x[p + i]), byte(x[2 * p + i])]).collect();
    }
    let grey: Vec<f32> = (0..p).map(|i| (0..input.c).map(|k| x[k * p + i]).sum::<f32>() / input.c as f32).collect();
    let n = Norm::min_max(&grey);
    grey.iter().map(|&v| Colormap::Gray.map(n.apply(v))).collect()
}

/// `map` over `base`: transparent where the map is zero (its scale's start, or its centre for
/// a diverging one), more opaque as it grows.
fn overlay(base: &[Rgb], map: &[f32], cmap: Colormap, norm: &Norm) -> Vec<Rgb> {
    let diverging = matches!(norm, Norm::Symmetric { .. });
    base.iter()
        .zip(map)
        .map(|(b, &v)| {
            let t = norm.apply(v);
            let a = MAX_ALPHA * if diverging { (2.0 * t - 1.0).abs() } else { t };
            let c = cmap.map(t);
            [0, 1, 2].map(|i| (b[i] as f32 * (1.0 - a) + c[i] as f32 * a).round() as u8)
        })
        .collect()
}

fn top_text(fig: &mut Figure, width: f32, title: &str, sample: &str) -> f32 {
    let mut y = MARGIN + draw_title(fig, width / 2.0, MARGIN, title);
    if !sample.is_empty() {
        let style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
        fig.text(width / 2.0, y - 4.0, sample, style);
        y += line_height(LABEL_SIZE) + 8.0;
    }
    y
}

fn header_width(title: &str, sample: &str) -> f32 {
    text_width(title, 17.0).max(text_width(sample, LABEL_SIZE)) + 2.0 * MARGIN
}

fn header_height(title: &str, sample: &str) -> f32 {
    title_height(title) + if sample.is_empty() { 0.0 } else { line_height(LABEL_SIZE) + 8.0 }
}

#[allow(clippy::too_many_arguments)]
fn image_figure(
    x: &[f32],
    input: Dims,
    planes: &[(String, Vec<f32>)],
    cmap: Colormap,
    norm: Norm,
    title: &str,
    sample: &str,
) -> Figure {
    let (h, w) = (input.h, input.w);
    let base = input_colours(x, input);
    let mut panels: Vec<(String, Vec<Rgb>)> = vec![("input".to_string(), base.clone())];
    for (name, values) in planes {
        panels.push((name.clone(), values.iter().map(|&v| cmap.map(norm.apply(v))).collect()));
    }
    if planes.len() == 1 {
        panels.push(("over the input".to_string(), overlay(&base, &planes[0].1, cmap, &norm)));
    }
    let scale = (224.0 / h.max(w) as f32).floor().clamp(1.0, 28.0);
    let (pw, ph) = (w as f32 * scale, h as f32 * scale);
    let label_w = panels.iter().map(|(n, _)| text_width(n, PANEL_TITLE_SIZE)).fold(0.0, f32::max);
    let slot = pw.max(label_w).ceil() + GAP;
    let bar = ColorBar::new(cmap, norm);
    let content_w = panels.len() as f32 * slot - GAP + GAP + bar.width();
    let fig_w = (content_w + 2.0 * MARGIN).max(MIN_WIDTH).max(header_width(title, sample)).ceil();
    let label_h = line_height(PANEL_TITLE_SIZE) + TEXT_GAP;
    let fig_h = (MARGIN + header_height(title, sample) + label_h + ph + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    let top = top_text(&mut fig, fig_w, title, sample) + label_h;
    let ox = ((fig_w - content_w) / 2.0).round();
    let style = TextStyle::new(PANEL_TITLE_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Bottom);
    for (i, (name, pixels)) in panels.into_iter().enumerate() {
        let cx = ox + i as f32 * slot + (slot - GAP) / 2.0;
        let px = (cx - pw / 2.0).round();
        fig.text(cx, top - TEXT_GAP, &name, style);
        fig.image(px, top, pw, ph, &Image { width: w, height: h, pixels });
        fig.outline_rect(px, top, pw, ph, 1.0, FRAME);
    }
    bar.draw(&mut fig, ox + content_w - bar.width(), top, ph);
    fig
}

fn signal_figure(
    x: &[f32],
    input: Dims,
    planes: &[(String, Vec<f32>)],
    cmap: Colormap,
    norm: Norm,
    title: &str,
    sample: &str,
) -> Figure {
    let (c, l) = channels_and_positions(input);
    let cell = (640.0 / l as f32).clamp(1.0, 28.0);
    let plot_w = (l as f32 * cell).max(240.0);
    let (plot_h, strip_h) = (200.0, 22.0);
    let (lo, hi) =
        x.iter().filter(|v| v.is_finite()).fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    // A little room, so the extreme points do not sit on the frame.
    let pad = 0.05 * (hi - lo) as f64;
    let (ylo, yhi, yticks, ystep) = nice_axis(lo as f64 - pad, hi as f64 + pad, 5);
    let ylabels: Vec<String> = yticks.iter().map(|&v| format_tick(v, ystep)).collect();
    let ylabel_w = ylabels.iter().map(|t| text_width(t, TICK_SIZE)).fold(0.0, f32::max);
    let strip_label_w = planes.iter().map(|(n, _)| text_width(n, TICK_SIZE)).fold(0.0, f32::max);
    let left = ylabel_w.max(strip_label_w) + 10.0;
    let bar = ColorBar::new(cmap, norm);
    let strips_h = planes.len() as f32 * (strip_h + 6.0);
    let content_w = left + plot_w + GAP + bar.width();
    let xaxis_h = line_height(TICK_SIZE) + 10.0;
    let fig_w = (content_w + 2.0 * MARGIN).max(MIN_WIDTH).max(header_width(title, sample)).ceil();
    let fig_h = (MARGIN + header_height(title, sample) + plot_h + 8.0 + strips_h + xaxis_h + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    let top = top_text(&mut fig, fig_w, title, sample);
    let ox = ((fig_w - content_w) / 2.0).round() + left;
    // Position i sits at the centre of its cell, so the strip's cells line up under the plot.
    let px = |i: f32| ox + (i + 0.5) / l as f32 * plot_w;
    let py = |v: f32| top + plot_h - ((v as f64 - ylo) / (yhi - ylo)) as f32 * plot_h;
    let tick = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle);
    for (v, label) in yticks.iter().zip(&ylabels) {
        let y = py(*v as f32).round() + 0.5;
        fig.line(ox - 4.0, y, ox, y, Stroke::solid(1.0, AXIS));
        fig.text(ox - 6.0, y, label, tick);
    }
    if ylo < 0.0 && yhi > 0.0 {
        let y = py(0.0).round() + 0.5;
        fig.line(ox, y, ox + plot_w, y, Stroke::dashed(1.0, [190, 190, 190], 4.0, 3.0));
    }
    for k in 0..c {
        let points: Vec<(f32, f32)> = (0..l).map(|i| (px(i as f32), py(x[k * l + i]))).collect();
        let colour = PALETTE[k % PALETTE.len()];
        fig.polyline(&points, Stroke::solid(1.5, colour));
        if cell >= 6.0 {
            points.iter().for_each(|&(a, b)| fig.circle(a, b, 2.5, colour, 1.0));
        }
    }
    fig.outline_rect(ox, top, plot_w, plot_h, 1.0, FRAME);
    let mut y = top + plot_h + 8.0;
    let label = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle);
    for (name, values) in planes {
        let pixels = values.iter().map(|&v| cmap.map(norm.apply(v))).collect();
        fig.image(ox, y, plot_w, strip_h, &Image { width: l, height: 1, pixels });
        fig.outline_rect(ox, y, plot_w, strip_h, 1.0, FRAME);
        fig.text(ox - 6.0, y + strip_h / 2.0, name, label);
        y += strip_h + 6.0;
    }
    let step = crate::plot::parts::nice_step(l as f64, 8).max(1.0);
    let below = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    for v in crate::plot::parts::ticks_in(0.0, (l - 1) as f64, step) {
        let xx = px(v as f32).round() + 0.5;
        fig.line(xx, y - 6.0, xx, y - 2.0, Stroke::solid(1.0, AXIS));
        fig.text(xx, y, &format_tick(v, step), below);
    }
    bar.draw(&mut fig, ox + plot_w + GAP, top, plot_h + 8.0 + strips_h - 6.0);
    fig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_is_clear_where_the_map_is_zero() {
        let base = [[10, 20, 30]; 3];
        let norm = Norm::Symmetric { vmax: 2.0 };
        let out = overlay(&base, &[0.0, 2.0, -2.0], Colormap::Bwr, &norm);
        assert_eq!(out[0], [10, 20, 30]);
        // Full strength: MAX_ALPHA of pure red / pure blue over the base.
        assert_eq!(out[1], [206, 4, 6]);
        assert_eq!(out[2], [2, 4, 210]);
        let seq = overlay(&base, &[0.0], Colormap::Viridis, &Norm::Linear { vmin: 0.0, vmax: 1.0 });
        assert_eq!(seq[0], [10, 20, 30]);
    }
}
