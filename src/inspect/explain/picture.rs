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
    draw_title, format_sig, format_tick, line_height, nice_axis, nice_step, text_width, ticks_in, title_height,
    ColorBar, AXIS, FRAME, LABEL_SIZE, MARGIN, MIN_WIDTH, PALETTE, PANEL_TITLE_SIZE, TEXT, TICK_SIZE,
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
pub(crate) fn planes(e: &Explanation, input: Dims) -> Vec<(String, Vec<f32>)> {
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
pub(crate) fn input_colours(x: &[f32], input: Dims) -> Vec<Rgb> {
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
pub(crate) fn overlay(base: &[Rgb], map: &[f32], cmap: Colormap, norm: &Norm) -> Vec<Rgb> {
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

/// The title and the sample line under it, centred; returns where the content starts.
pub(crate) fn top_text(fig: &mut Figure, width: f32, title: &str, sample: &str) -> f32 {
    let mut y = MARGIN + draw_title(fig, width / 2.0, MARGIN, title);
    if !sample.is_empty() {
        let style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
        fig.text(width / 2.0, y - 4.0, sample, style);
        y += line_height(LABEL_SIZE) + 8.0;
    }
    y
}

/// Width and height of what [`top_text`] draws.
pub(crate) fn header_size(title: &str, sample: &str) -> (f32, f32) {
    let w = text_width(title, 17.0).max(text_width(sample, LABEL_SIZE)) + 2.0 * MARGIN;
    (w, title_height(title) + if sample.is_empty() { 0.0 } else { line_height(LABEL_SIZE) + 8.0 })
}

/// Pixels of an image panel per input position, so the longer side is about `target` px.
pub(crate) fn image_scale(input: Dims, target: f32) -> f32 {
    (target / input.h.max(input.w) as f32).floor().clamp(1.0, 28.0)
}

/// Height of the names [`image_row`] writes above its panels.
pub(crate) fn panel_label_height() -> f32 {
    line_height(PANEL_TITLE_SIZE) + TEXT_GAP
}

/// Panels of one image size side by side from `x`, one every `slot` px, framed, each with its
/// name above `top` (empty names are left out).
pub(crate) fn image_row(
    fig: &mut Figure,
    x: f32,
    top: f32,
    slot: f32,
    input: Dims,
    scale: f32,
    panels: Vec<(String, Vec<Rgb>)>,
) {
    let (h, w) = (input.h, input.w);
    let (pw, ph) = (w as f32 * scale, h as f32 * scale);
    let style = TextStyle::new(PANEL_TITLE_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Bottom);
    for (i, (name, pixels)) in panels.into_iter().enumerate() {
        let cx = x + i as f32 * slot + slot / 2.0;
        let px = (cx - pw / 2.0).round();
        fig.text(cx, top - TEXT_GAP, &name, style);
        fig.image(px, top, pw, ph, &Image { width: w, height: h, pixels });
        fig.outline_rect(px, top, pw, ph, 1.0, FRAME);
    }
}

fn image_figure(
    x: &[f32],
    input: Dims,
    planes: &[(String, Vec<f32>)],
    cmap: Colormap,
    norm: Norm,
    title: &str,
    sample: &str,
) -> Figure {
    let base = input_colours(x, input);
    let mut panels: Vec<(String, Vec<Rgb>)> = vec![("input".to_string(), base.clone())];
    for (name, values) in planes {
        panels.push((name.clone(), values.iter().map(|&v| cmap.map(norm.apply(v))).collect()));
    }
    if planes.len() == 1 {
        panels.push(("over the input".to_string(), overlay(&base, &planes[0].1, cmap, &norm)));
    }
    let scale = image_scale(input, 224.0);
    let (pw, ph) = (input.w as f32 * scale, input.h as f32 * scale);
    let label_w = panels.iter().map(|(n, _)| text_width(n, PANEL_TITLE_SIZE)).fold(0.0, f32::max);
    let slot = pw.max(label_w).ceil() + GAP;
    let bar = ColorBar::new(cmap, norm);
    let content_w = panels.len() as f32 * slot + bar.width();
    let (head_w, head_h) = header_size(title, sample);
    let fig_w = (content_w + 2.0 * MARGIN).max(MIN_WIDTH).max(head_w).ceil();
    let fig_h = (MARGIN + head_h + panel_label_height() + ph + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    let top = top_text(&mut fig, fig_w, title, sample) + panel_label_height();
    // The slots' gaps sit half each side, so the content starts half a gap in.
    let ox = ((fig_w - content_w) / 2.0).round() - GAP / 2.0;
    image_row(&mut fig, ox, top, slot, input, scale, panels);
    bar.draw(&mut fig, ox + GAP / 2.0 + content_w - bar.width(), top, ph);
    fig
}

/// A 1-D input as lines (one per channel) over its positions, with heat strips under it whose
/// cells line up with the positions: the layout, then [`SignalPlot::draw`] at any place.
pub(crate) struct SignalPlot<'a> {
    x: &'a [f32],
    channels: usize,
    len: usize,
    strips: Vec<(String, Vec<Rgb>)>,
    plot_w: f32,
    plot_h: f32,
    /// Room left of the plot for the y tick labels and the strips' names.
    left: f32,
    ylo: f64,
    yhi: f64,
    yticks: Vec<(f64, String)>,
}

const STRIP_H: f32 = 22.0;
const STRIP_GAP: f32 = 6.0;

impl<'a> SignalPlot<'a> {
    /// `x` laid out for a plot about `width` px wide (at least 240, cells at most 28 px) and
    /// `plot_h` tall, with `strips` (name, one colour per position) under it.
    pub(crate) fn new(x: &'a [f32], input: Dims, strips: Vec<(String, Vec<Rgb>)>, width: f32, plot_h: f32) -> Self {
        let (channels, len) = channels_and_positions(input);
        let cell = (width / len as f32).clamp(1.0, 28.0);
        let plot_w = (len as f32 * cell).max(240.0);
        let (lo, hi) = x
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        // A little room, so the extreme points do not sit on the frame.
        let pad = 0.05 * (hi - lo) as f64;
        let (ylo, yhi, ticks, step) = nice_axis(lo as f64 - pad, hi as f64 + pad, 5);
        let yticks: Vec<(f64, String)> = ticks.iter().map(|&v| (v, format_tick(v, step))).collect();
        let ylabel_w = yticks.iter().map(|(_, t)| text_width(t, TICK_SIZE)).fold(0.0, f32::max);
        let strip_label_w = strips.iter().map(|(n, _)| text_width(n, TICK_SIZE)).fold(0.0, f32::max);
        let left = ylabel_w.max(strip_label_w) + 10.0;
        SignalPlot { x, channels, len, strips, plot_w, plot_h, left, ylo, yhi, yticks }
    }

    pub(crate) fn width(&self) -> f32 {
        self.left + self.plot_w
    }

    /// The channels' key above the plot: only when there are several.
    fn legend_height(&self) -> f32 {
        if self.channels > 1 {
            line_height(TICK_SIZE) + STRIP_GAP
        } else {
            0.0
        }
    }

    /// From the key's (or the plot's) top to the last strip's bottom.
    pub(crate) fn body_height(&self) -> f32 {
        self.legend_height() + self.plot_h + STRIP_GAP + self.strips.len() as f32 * (STRIP_H + STRIP_GAP) - STRIP_GAP
    }

    pub(crate) fn height(&self) -> f32 {
        self.body_height() + STRIP_GAP + line_height(TICK_SIZE) + 10.0
    }

    /// Draws with the labels' left edge at `x0` and the plot's top at `top`; returns the plot's
    /// left edge.
    pub(crate) fn draw(&self, fig: &mut Figure, x0: f32, top: f32) -> f32 {
        let (l, plot_w, plot_h) = (self.len, self.plot_w, self.plot_h);
        let ox = x0 + self.left;
        // Which line is which channel, in a row above the plot's right end, when there are
        // several (inside the plot it would hide points).
        if self.channels > 1 {
            let key = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Start, VAnchor::Middle);
            let names: Vec<String> = (0..self.channels).map(|k| format!("channel {k}")).collect();
            let entry_w = |n: &String| 20.0 + text_width(n, TICK_SIZE) + 14.0;
            let mut x = ox + plot_w - names.iter().map(entry_w).sum::<f32>() + 14.0;
            let y = top + line_height(TICK_SIZE) / 2.0;
            for (k, name) in names.iter().enumerate() {
                fig.line(x, y, x + 16.0, y, Stroke::solid(1.5, PALETTE[k % PALETTE.len()]));
                fig.text(x + 20.0, y, name, key);
                x += entry_w(name);
            }
        }
        let top = top + self.legend_height();
        // Position i sits at the centre of its cell, so the strip's cells line up under the plot.
        let px = |i: f32| ox + (i + 0.5) / l as f32 * plot_w;
        let py = |v: f32| top + plot_h - ((v as f64 - self.ylo) / (self.yhi - self.ylo)) as f32 * plot_h;
        let tick = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle);
        for (v, label) in &self.yticks {
            let y = py(*v as f32).round() + 0.5;
            fig.line(ox - 4.0, y, ox, y, Stroke::solid(1.0, AXIS));
            fig.text(ox - 6.0, y, label, tick);
        }
        if self.ylo < 0.0 && self.yhi > 0.0 {
            let y = py(0.0).round() + 0.5;
            fig.line(ox, y, ox + plot_w, y, Stroke::dashed(1.0, [190, 190, 190], 4.0, 3.0));
        }
        let dots = plot_w / l as f32 >= 6.0;
        for k in 0..self.channels {
            let points: Vec<(f32, f32)> = (0..l).map(|i| (px(i as f32), py(self.x[k * l + i]))).collect();
            let colour = PALETTE[k % PALETTE.len()];
            fig.polyline(&points, Stroke::solid(1.5, colour));
            if dots {
                points.iter().for_each(|&(a, b)| fig.circle(a, b, 2.5, colour, 1.0));
            }
        }
        fig.outline_rect(ox, top, plot_w, plot_h, 1.0, FRAME);
        let mut y = top + plot_h + STRIP_GAP;
        for (name, pixels) in &self.strips {
            fig.image(ox, y, plot_w, STRIP_H, &Image { width: l, height: 1, pixels: pixels.clone() });
            fig.outline_rect(ox, y, plot_w, STRIP_H, 1.0, FRAME);
            fig.text(ox - 6.0, y + STRIP_H / 2.0, name, tick);
            y += STRIP_H + STRIP_GAP;
        }
        let step = nice_step(l as f64, 8).max(1.0);
        let below = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
        for v in ticks_in(0.0, (l - 1) as f64, step) {
            let xx = px(v as f32).round() + 0.5;
            fig.line(xx, y - 6.0, xx, y - 2.0, Stroke::solid(1.0, AXIS));
            fig.text(xx, y, &format_tick(v, step), below);
        }
        ox
    }
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
    let strips =
        planes.iter().map(|(n, v)| (n.clone(), v.iter().map(|&v| cmap.map(norm.apply(v))).collect())).collect();
    let plot = SignalPlot::new(x, input, strips, 640.0, 200.0);
    let bar = ColorBar::new(cmap, norm);
    let content_w = plot.width() + GAP + bar.width();
    let (head_w, head_h) = header_size(title, sample);
    let fig_w = (content_w + 2.0 * MARGIN).max(MIN_WIDTH).max(head_w).ceil();
    let fig_h = (MARGIN + head_h + plot.height() + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    let top = top_text(&mut fig, fig_w, title, sample);
    let ox = plot.draw(&mut fig, ((fig_w - content_w) / 2.0).round(), top);
    bar.draw(&mut fig, ox + plot.plot_w + GAP, top, plot.body_height());
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

    #[test]
    fn a_two_channel_signal_names_its_lines_above_the_plot() {
        let texts = |channels: usize| {
            let x = vec![0.5f32; channels * 6];
            let plot = SignalPlot::new(&x, Dims::signal(channels, 6), vec![], 240.0, 100.0);
            let mut fig = Figure::new(400, 300);
            plot.draw(&mut fig, 0.0, 20.0);
            let words: Vec<String> = fig
                .ops()
                .iter()
                .filter_map(|op| {
                    if let crate::plot::figure::Op::Text(_, y, t, _) = op {
                        Some(format!("{t}@{y}"))
                    } else {
                        None
                    }
                })
                .collect();
            (words, plot.body_height())
        };
        let (two, tall) = texts(2);
        let key: Vec<&String> = two.iter().filter(|t| t.starts_with("channel ")).collect();
        assert_eq!(key.len(), 2, "{two:?}");
        // The key sits above the plot (top 20), not over its points.
        assert!(key
            .iter()
            .all(|t| t.split('@').nth(1).unwrap().parse::<f32>().unwrap() < 20.0 + line_height(TICK_SIZE)));
        let (one, short) = texts(1);
        assert!(!one.iter().any(|t| t.starts_with("channel ")), "one channel needs no key");
        assert!(tall > short, "the key's row is part of the layout");
    }
}
