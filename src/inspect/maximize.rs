//! `plot maximize RUN --layer L`: what each filter of a conv layer looks for, as the input that
//! maximises its response, found by gradient ascent from seeded small noise, in evaluation mode.
//!
//! The response is the conv's own output, before any activation after it (ReLU is monotone,
//! and a unit that starts negative would get no gradient through it). By default it is the
//! filter's centre unit (Lucid's "neuron" objective): the result is the pattern the filter
//! matches within its receptive field. The mean over the whole plane (`--objective mean`) is
//! the older choice; on an early conv layer it is often maximised by a flat input.
//! The ascent adds a total-variation penalty (neighbouring values alike, so noise that barely
//! moves the objective is smoothed away) and an L2 pull back to the start, clamps the input to
//! the data's range, and can jitter it (a random roll of up to N positions each step; off by
//! default, as an early filter's receptive field is often only a few positions wide). The
//! centre unit's pictures are cropped to the positions it sees (its receptive field).
//!
//! Why the L2 pull is strong: a conv's output is linear in its input, so without it the
//! maximum within a box is always at the box's corners, every pixel black or white. With the
//! gradient scaled to max |g| = 1 and the pull balancing it where the input has moved the
//! range's reach, the result settles at `start + reach · g / max |g|`: for a first layer the
//! filter's own pattern in grey levels about a mid grey, its strongest weight at the range's
//! edge (see `start_and_reach`).

use crate::engine::{Dims, Rank};
use crate::error::{Error, Result};
use crate::layers::{Mode, Op};
use crate::model::{Model, Workspace};
use crate::plot::{image_grid_on, Colormap, Figure, ImagePanel, Norm};
use crate::rng::Rng;

/// What the ascent maximises, for filter `f` of the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// The filter's output at the centre position of its plane.
    Centre,
    /// The mean of the filter's output plane.
    Mean,
}

impl Objective {
    pub fn parse(name: &str) -> Result<Objective> {
        match name {
            "centre" | "center" => Ok(Objective::Centre),
            "mean" => Ok(Objective::Mean),
            _ => Err(Error::config(format!(
                "--objective `{name}`: use centre (the filter's centre unit, the default) or mean (its whole plane)"
            ))),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Objective::Centre => "each filter's centre unit",
            Objective::Mean => "each filter's mean output",
        }
    }
}

/// How the ascent runs.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub objective: Objective,
    pub steps: usize,
    /// Each step moves the input by `step · reach` times its objective gradient normalised
    /// to max |g| = 1, less `tv` times the total variation's gradient, less the L2 pull
    /// `(x − start) / reach` (reach: how far the range lets the input move from its start).
    pub step: f32,
    /// Weight of the total-variation penalty, against the normalised objective gradient.
    pub tv: f32,
    /// Largest random roll of the input per step, in positions (0: none).
    pub jitter: usize,
    /// The input is kept within (lowest, highest), e.g. the training data's range.
    pub range: Option<(f32, f32)>,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { objective: Objective::Centre, steps: 200, step: 0.05, tv: 0.1, jitter: 0, range: None, seed: 0 }
    }
}

/// The lowest and highest finite value of `x`, e.g. a data set's, for [`Settings::range`].
pub fn range_of(x: &[f32]) -> (f32, f32) {
    x.iter().filter(|v| v.is_finite()).fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)))
}

/// One filter's result: the input found and its objective after every step.
pub struct Maximized {
    pub input: Vec<f32>,
    pub trace: Vec<f32>,
    /// The positions (row, column) whose input moved the objective at some step: its
    /// receptive field, as far as the ascent found.
    pub field: Vec<bool>,
}

/// The model's first `layer + 1` layers with their parameters: its output is layer `layer`'s.
fn truncated(model: &Model<f32>, layer: usize) -> Result<Model<f32>> {
    let spec: Vec<&str> = model.layers[..=layer].iter().map(|l| l.text.as_str()).collect();
    let mut m = Model::new(&spec.join(" "), model.input)?;
    m.params.copy_from_slice(&model.params[..model.param_offsets[layer + 1]]);
    m.buffers.copy_from_slice(&model.buffers[..model.buffer_offsets[layer + 1]]);
    Ok(m)
}

/// `x` shifted by (dy, dx) positions, wrapping around, per channel.
fn roll(x: &[f32], d: Dims, dy: isize, dx: isize) -> Vec<f32> {
    let (c, h, w) = (d.c, d.h.max(1), d.w);
    let mut out = vec![0.0; x.len()];
    for ci in 0..c {
        for i in 0..h {
            for j in 0..w {
                let (ti, tj) = ((i as isize + dy).rem_euclid(h as isize), (j as isize + dx).rem_euclid(w as isize));
                out[(ci * h + ti as usize) * w + tj as usize] = x[(ci * h + i) * w + j];
            }
        }
    }
    out
}

/// The objective for channel `f` of the truncated model's output, and its gradient by the input.
fn value_and_grad(m: &Model<f32>, ws: &mut Workspace<f32>, x: &[f32], f: usize, o: Objective) -> (f32, Vec<f32>) {
    ws.forward(m, x, 1, Mode::Eval, Default::default());
    let out = m.output();
    let plane = out.len() / out.c;
    let units = match o {
        Objective::Mean => f * plane..(f + 1) * plane,
        Objective::Centre => {
            let c = f * plane + (out.h.max(1) / 2) * out.w + out.w / 2;
            c..c + 1
        }
    };
    let n = units.len() as f32;
    let value = ws.output(m)[units.clone()].iter().sum::<f32>() / n;
    let up = ws.output_grad_mut(m);
    up.fill(0.0);
    up[units].fill(1.0 / n);
    ws.backward(m, x, Mode::Eval);
    (value, ws.input_grad(m).expect("the workspace keeps the input gradient").to_vec())
}

/// The gradient of the smoothed total variation `Σ sqrt((x_a − x_b)² + ε²)` over neighbouring
/// positions (left–right, and up–down for images), per channel.
fn tv_gradient(x: &[f32], d: Dims, eps: f32) -> Vec<f32> {
    let (h, w) = (d.h.max(1), d.w);
    let mut g = vec![0.0; x.len()];
    let mut pair = |a: usize, b: usize| {
        let diff = x[a] - x[b];
        let t = diff / (diff * diff + eps * eps).sqrt();
        g[a] += t;
        g[b] -= t;
    };
    for c in 0..d.c {
        for i in 0..h {
            for j in 0..w {
                let a = (c * h + i) * w + j;
                if j + 1 < w {
                    pair(a, a + 1);
                }
                if i + 1 < h {
                    pair(a, a + w);
                }
            }
        }
    }
    g
}

/// Gradient ascent on the input for filter `f` of conv layer `layer`.
pub fn maximize(model: &Model<f32>, layer: usize, f: usize, s: Settings) -> Result<Maximized> {
    let m = truncated(model, layer)?;
    let mut ws = Workspace::new(&m, 1, true).unfused(&m);
    let d = model.input;
    let mut rng = Rng::new(s.seed.wrapping_add(f as u64));
    // An empty or NaN range (data with no finite values) constrains nothing.
    let (lo, hi) = match s.range {
        Some((a, b)) if a <= b => (a, b),
        _ => (f32::NEG_INFINITY, f32::INFINITY),
    };
    let (start, reach) = start_and_reach(lo, hi);
    let spread = if hi > lo && hi.is_finite() && lo.is_finite() { 0.01 * (hi - lo) } else { 0.01 };
    let mut x: Vec<f32> = (0..d.len()).map(|_| (start + spread * rng.normal() as f32).clamp(lo, hi)).collect();
    let mut trace = Vec::with_capacity(s.steps);
    let plane = d.h.max(1) * d.w;
    let mut field = vec![false; plane];
    let j = s.jitter.min(d.w.saturating_sub(1) / 2);
    let jitter = |rng: &mut Rng| rng.below(2 * j + 1) as isize - j as isize;
    for _ in 0..s.steps {
        let (dy, dx) = (if d.rank == Rank::Image { jitter(&mut rng) } else { 0 }, jitter(&mut rng));
        let (_, g) = value_and_grad(&m, &mut ws, &roll(&x, d, dy, dx), f, s.objective);
        let g = roll(&g, d, -dy, -dx);
        for (k, v) in g.iter().enumerate() {
            field[k % plane] |= *v != 0.0;
        }
        // Scaled by the largest |g|, not the mean: positions outside the field have g = 0.
        let scale = g.iter().fold(0f32, |m, v| m.max(v.abs()));
        let gain = if scale > 0.0 && scale.is_finite() { 1.0 / scale } else { 0.0 };
        let tv = tv_gradient(&x, d, 10.0 * spread);
        for ((v, gv), tv) in x.iter_mut().zip(&g).zip(&tv) {
            let pull = (*v - start) / reach;
            *v = (*v + s.step * reach * (gain * gv - s.tv * tv - pull)).clamp(lo, hi);
        }
        trace.push(value_and_grad(&m, &mut ws, &x, f, s.objective).0);
    }
    Ok(Maximized { input: x, trace, field })
}

/// Where the ascent starts (small noise about it) and how far it may move from there within
/// (lo, hi): from 0 when the range is signed (0 is "nothing"), else from the range's middle,
/// a mid grey as Lucid starts, so a filter's negative weights show as well as its positive;
/// from 0 by 1 when unbounded.
fn start_and_reach(lo: f32, hi: f32) -> (f32, f32) {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return (0f32.clamp(lo, hi), 1.0);
    }
    if lo < 0.0 && hi > 0.0 {
        (0.0, (-lo).min(hi))
    } else {
        ((lo + hi) / 2.0, (hi - lo) / 2.0)
    }
}

/// One panel per filter of conv layer `layer`: the input that maximises its mean activation.
pub fn figure(model: &Model<f32>, layer: usize, s: Settings) -> Result<Figure> {
    let convs: Vec<String> =
        (0..model.layers.len()).filter(|&i| matches!(model.layers[i].op, Op::Conv(_))).map(|i| i.to_string()).collect();
    let Some(Op::Conv(conv)) = model.layers.get(layer).map(|l| &l.op) else {
        return Err(Error::config(format!(
            "--layer {layer} is not a conv layer; this model's conv layers are: {}",
            if convs.is_empty() { "none".into() } else { convs.join(", ") }
        )));
    };
    if s.steps == 0 || s.steps > 100_000 {
        return Err(Error::config("--steps must be between 1 and 100000"));
    }
    if !(s.tv.is_finite() && s.tv >= 0.0) {
        return Err(Error::config(format!("--tv {}: give the total-variation weight as a number ≥ 0, e.g. 0.1", s.tv)));
    }
    let d = model.input;
    let found: Vec<Maximized> = (0..conv.out_channels).map(|f| maximize(model, layer, f, s)).collect::<Result<_>>()?;
    // One crop for all filters, so the panels stay comparable: the centre unit's field.
    let (rows, cols) = match s.objective {
        Objective::Centre => bounds(found.iter().map(|r| &r.field), d),
        Objective::Mean => ((0, d.h.max(1)), (0, d.w)),
    };
    let cropped = (rows.1 - rows.0, cols.1 - cols.0) != (d.h.max(1), d.w);
    let mut panels = vec![];
    for (f, r) in found.into_iter().enumerate() {
        let last = r.trace.last().copied().unwrap_or(0.0);
        panels.push(ImagePanel {
            label: format!("filter {f} · {}", crate::plot::parts::format_sig(last as f64, 3)),
            height: rows.1 - rows.0,
            width: cols.1 - cols.0,
            channels: d.c,
            values: crop(&r.input, d, rows, cols),
        });
    }
    let grid_cols = even_columns(panels.len());
    let field = if !cropped {
        String::new()
    } else if d.rank == Rank::Image {
        format!(" · its field: rows {}–{}, cols {}–{}", rows.0, rows.1 - 1, cols.0, cols.1 - 1)
    } else {
        format!(" · its field: positions {}–{}", cols.0, cols.1 - 1)
    };
    let sig = |v: f32| crate::plot::parts::format_sig(v as f64, 3);
    // The data's own grey scale, zero mid-grey when the data is signed; without a range,
    // the ascent starts at 0, so its results are signed too.
    let (norm, within) = match s.range {
        Some((lo, hi)) if lo < 0.0 && hi > 0.0 => {
            let vmax = lo.abs().max(hi);
            (
                Norm::Symmetric { vmax },
                format!(" · values {}–{} · black −{}, white {}", sig(lo), sig(hi), sig(vmax), sig(vmax)),
            )
        }
        Some((lo, hi)) if lo < hi => {
            (Norm::Linear { vmin: lo, vmax: hi }, format!(" · values {}–{}", sig(lo), sig(hi)))
        }
        _ => (Norm::symmetric(panels.iter().flat_map(|p| p.values.iter())), String::new()),
    };
    let title = format!(
        "layer {layer} {}: the input that maximises {}{field}{within}",
        model.layers[layer].text,
        s.objective.describe()
    );
    Ok(image_grid_on(&panels, grid_cols, Colormap::Gray, norm, &title))
}

/// Columns for `n` panels, about as many as rows, that leave the fewest empty slots in the
/// last row (32 filters in 4 rows of 8, not 6 of 6 with 2 left over).
fn even_columns(n: usize) -> usize {
    let square = (n as f64).sqrt().ceil() as usize;
    (square..=square + 2).min_by_key(|&c| n.div_ceil(c.max(1)) * c - n).unwrap_or(1).max(1)
}

/// The smallest (rows, columns) ranges holding every marked position of every field; the
/// whole input when none is marked.
fn bounds<'a>(fields: impl Iterator<Item = &'a Vec<bool>>, d: Dims) -> ((usize, usize), (usize, usize)) {
    let (h, w) = (d.h.max(1), d.w);
    let (mut r, mut c) = ((h, 0), (w, 0));
    for field in fields {
        for (k, _) in field.iter().enumerate().filter(|(_, on)| **on) {
            let (i, j) = (k / w, k % w);
            (r.0, r.1, c.0, c.1) = (r.0.min(i), r.1.max(i + 1), c.0.min(j), c.1.max(j + 1));
        }
    }
    if r.0 >= r.1 {
        ((0, h), (0, w))
    } else {
        (r, c)
    }
}

/// Rows `rows` and columns `cols` of every channel of `x`.
fn crop(x: &[f32], d: Dims, rows: (usize, usize), cols: (usize, usize)) -> Vec<f32> {
    let (h, w) = (d.h.max(1), d.w);
    (0..d.c)
        .flat_map(|c| (rows.0..rows.1).flat_map(move |i| (cols.0..cols.1).map(move |j| x[(c * h + i) * w + j])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×3 filter with a single +1 at `tap` and no bias, on an input of `side` × `side`.
    fn single_tap(side: usize, tap: usize) -> Model<f32> {
        let mut m = Model::<f32>::new("conv2d(1,k=3,bias=false)", Dims::image(1, side, side)).unwrap();
        m.params.fill(0.0);
        m.params[tap] = 1.0;
        m
    }

    fn correlation(a: &[f32], b: &[f32]) -> f64 {
        let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let (ma, mb) = (mean(a), mean(b));
        let cov: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - ma) * (y as f64 - mb)).sum();
        let var = |v: &[f32], m: f64| v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>();
        cov / (var(a, ma) * var(b, mb)).sqrt()
    }

    #[test]
    fn on_a_single_tap_filter_the_mass_goes_to_the_tap() {
        // Input and kernel the same size: the activation is the input at the tap, alone.
        for objective in [Objective::Centre, Objective::Mean] {
            let s = Settings { objective, steps: 50, jitter: 0, ..Default::default() };
            let r = maximize(&single_tap(3, 5), 0, 0, s).unwrap();
            let best = (0..9).max_by(|&a, &b| r.input[a].total_cmp(&r.input[b])).unwrap();
            assert_eq!(best, 5, "{:?}", r.input);
            assert!(r.input.iter().enumerate().all(|(i, v)| i == 5 || v.abs() < 0.1 * r.input[5]), "{:?}", r.input);
        }
    }

    #[test]
    fn a_filter_shaped_like_a_bar_is_maximised_by_a_bar() {
        // A 5×5 horizontal-bar detector (+1 on its middle row, −0.25 elsewhere) on 9×9 inputs
        // in [0, 1]: its centre unit sees rows and columns 2..7, where the input must become
        // the bar, with the total-variation penalty on. (A jitter of 1 smears it over three
        // rows: correlation 0.59.)
        let mut m = Model::<f32>::new("conv2d(1,k=5,bias=false)", Dims::image(1, 9, 9)).unwrap();
        let bar: Vec<f32> = (0..25).map(|i| if i / 5 == 2 { 1.0 } else { -0.25 }).collect();
        m.params.copy_from_slice(&bar);
        let s = Settings { range: Some((0.0, 1.0)), ..Default::default() };
        let r = maximize(&m, 0, 0, s).unwrap();
        assert!(r.input.iter().all(|v| (0.0..=1.0).contains(v)), "clamped to the range");
        let window: Vec<f32> = (0..25).map(|i| r.input[(2 + i / 5) * 9 + 2 + i % 5]).collect();
        let c = correlation(&window, &bar);
        assert!(c > 0.8, "correlation {c}: {window:?}");
        // Grey levels, not a black-and-white box corner: the bar near the top of the range
        // (total variation pulls it down a little), the rest below the mid grey it starts at
        // (their weights are negative).
        let off_bar: Vec<f32> = window.iter().enumerate().filter(|(i, _)| i / 5 != 2).map(|(_, &v)| v).collect();
        assert!(off_bar.iter().all(|&v| v > 0.2 && v < 0.5), "{window:?}");
        assert!(window[10..15].iter().all(|&v| v > 0.8), "{window:?}");
    }

    #[test]
    fn without_total_variation_a_first_layers_result_is_its_kernel_scaled_to_the_range() {
        // Linear in the input: the L2 pull balances the gradient at start + reach · w / max |w|.
        let mut m = Model::<f32>::new("conv2d(1,k=3,bias=false)", Dims::image(1, 3, 3)).unwrap();
        let w = [0.5f32, -1.0, 0.25, 0.0, 2.0, -0.5, 1.0, -2.0, 0.1];
        m.params.copy_from_slice(&w);
        for (range, start, reach) in [((-1.0, 3.0), 0.0, 1.0), ((0.0, 1.0), 0.5, 0.5)] {
            let s = Settings { tv: 0.0, steps: 400, range: Some(range), ..Default::default() };
            let r = maximize(&m, 0, 0, s).unwrap();
            for (x, wv) in r.input.iter().zip(&w) {
                assert!((x - (start + reach * wv / 2.0)).abs() < 1e-3, "{range:?}: {:?}", r.input);
            }
        }
        assert_eq!(start_and_reach(-3.84, 3.07), (0.0, 3.07));
        assert_eq!((even_columns(32), even_columns(8), even_columns(2), even_columns(1)), (8, 4, 2, 1));
    }

    #[test]
    fn the_mean_activation_rises_over_the_steps_with_jitter() {
        // Tap (0, 2) sees input columns 2..6 only; columns 0 and 1 only through the jitter.
        let s = Settings { objective: Objective::Mean, steps: 60, jitter: 1, ..Default::default() };
        let r = maximize(&single_tap(6, 2), 0, 0, s).unwrap();
        assert!(r.trace.last().unwrap() > &(r.trace[0] + 0.5), "{:?}", r.trace);
        let col_mean = |j: usize| (0..6).map(|i| r.input[i * 6 + j]).sum::<f32>() / 6.0;
        assert!(col_mean(3) > 2.0 * col_mean(0).abs(), "{:?}", r.input);
    }

    #[test]
    fn the_centre_units_picture_is_cropped_to_its_receptive_field() {
        // Two 3×3 convs: the centre unit of the second sees a 5×5 window of the 11×11 input.
        let mut m = Model::<f32>::new("conv2d(2,k=3) relu conv2d(2,k=3)", Dims::image(1, 11, 11)).unwrap();
        m.init(3);
        let r = maximize(&m, 2, 0, Settings { steps: 20, ..Default::default() }).unwrap();
        assert_eq!(bounds([&r.field].into_iter(), m.input), ((3, 8), (3, 8)));
        let x: Vec<f32> = (0..2 * 3 * 4).map(|v| v as f32).collect();
        assert_eq!(crop(&x, Dims::image(2, 3, 4), (1, 3), (2, 4)), [6.0, 7.0, 10.0, 11.0, 18.0, 19.0, 22.0, 23.0]);
        let fig = figure(&m, 2, Settings { steps: 5, ..Default::default() }).unwrap();
        let sizes: Vec<(usize, usize)> = fig
            .ops()
            .iter()
            .filter_map(|op| match op {
                crate::plot::figure::Op::Image(.., im) => Some((im.width, im.height)),
                _ => None,
            })
            .collect();
        assert_eq!(sizes, [(5, 5), (5, 5)]);
    }

    #[test]
    fn total_variation_pulls_neighbours_together() {
        let d = Dims::image(1, 2, 2);
        let g = tv_gradient(&[1.0, 0.0, 0.0, 0.0], d, 1e-6);
        // The high corner goes down along both its edges; each neighbour up along one.
        assert!((g[0] - 2.0).abs() < 1e-4 && (g[1] + 1.0).abs() < 1e-4 && (g[2] + 1.0).abs() < 1e-4 && g[3] == 0.0);
        assert!(Objective::parse("centre").is_ok() && Objective::parse("max").is_err());
    }

    #[test]
    fn a_layer_that_is_no_conv_is_explained() {
        let m = Model::<f32>::new("conv2d(2,k=3) relu", Dims::image(1, 6, 6)).unwrap();
        let e = figure(&m, 1, Settings::default()).err().unwrap().to_string();
        assert!(e.contains("conv layers are: 0"), "{e}");
    }
}
