//! `plot maximize RUN --layer L`: what each filter of a conv layer looks for, as the input that
//! maximises its mean activation, found by gradient ascent from seeded small noise, with L2
//! decay and jitter (a random roll of up to a pixel each step), in evaluation mode.

use crate::engine::{Dims, Rank};
use crate::error::{Error, Result};
use crate::layers::{Mode, Op};
use crate::model::{Model, Workspace};
use crate::plot::{image_grid, Colormap, Figure, ImagePanel};
use crate::rng::Rng;

/// How the ascent runs.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub steps: usize,
    /// Each step moves the input by `step` times its gradient normalised to mean |g| = 1.
    pub step: f32,
    /// Each step multiplies the input by `1 − decay`.
    pub decay: f32,
    /// Largest random roll of the input per step, in positions (0: none).
    pub jitter: usize,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { steps: 200, step: 0.05, decay: 0.01, jitter: 1, seed: 0 }
    }
}

/// One filter's result: the input found and its mean activation after every step.
pub struct Maximized {
    pub input: Vec<f32>,
    pub trace: Vec<f32>,
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

/// Mean activation of channel `f` of the truncated model's output, and its gradient by the input.
fn value_and_grad(m: &Model<f32>, ws: &mut Workspace<f32>, x: &[f32], f: usize) -> (f32, Vec<f32>) {
    ws.forward(m, x, 1, Mode::Eval, Default::default());
    let out = m.output();
    let plane = out.len() / out.c;
    let mean = ws.output(m)[f * plane..(f + 1) * plane].iter().sum::<f32>() / plane as f32;
    let up = ws.output_grad_mut(m);
    up.fill(0.0);
    up[f * plane..(f + 1) * plane].fill(1.0 / plane as f32);
    ws.backward(m, x, Mode::Eval);
    (mean, ws.input_grad(m).expect("the workspace keeps the input gradient").to_vec())
}

/// Gradient ascent on the input for filter `f` of conv layer `layer`.
pub fn maximize(model: &Model<f32>, layer: usize, f: usize, s: Settings) -> Result<Maximized> {
    // The activation is what follows the conv when that is an activation function (its ReLU).
    let next_is_activation = matches!(model.layers.get(layer + 1).map(|l| &l.op), Some(Op::Activation(_)));
    let m = truncated(model, layer + usize::from(next_is_activation))?;
    let mut ws = Workspace::new(&m, 1, true).unfused(&m);
    let d = model.input;
    let mut rng = Rng::new(s.seed.wrapping_add(f as u64));
    let mut x: Vec<f32> = (0..d.len()).map(|_| (0.01 * rng.normal()) as f32).collect();
    let mut trace = Vec::with_capacity(s.steps);
    let j = s.jitter.min(d.w.saturating_sub(1) / 2);
    let jitter = |rng: &mut Rng| rng.below(2 * j + 1) as isize - j as isize;
    for _ in 0..s.steps {
        let (dy, dx) = (if d.rank == Rank::Image { jitter(&mut rng) } else { 0 }, jitter(&mut rng));
        let (_, g) = value_and_grad(&m, &mut ws, &roll(&x, d, dy, dx), f);
        let g = roll(&g, d, -dy, -dx);
        let scale = g.iter().map(|v| v.abs()).sum::<f32>() / g.len() as f32;
        let step = if scale > 0.0 && scale.is_finite() { s.step / scale } else { 0.0 };
        for (v, gv) in x.iter_mut().zip(&g) {
            *v = (*v + step * gv) * (1.0 - s.decay);
        }
        trace.push(value_and_grad(&m, &mut ws, &x, f).0);
    }
    Ok(Maximized { input: x, trace })
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
    let d = model.input;
    let mut panels = vec![];
    for f in 0..conv.out_channels {
        let r = maximize(model, layer, f, s)?;
        let last = r.trace.last().copied().unwrap_or(0.0);
        panels.push(ImagePanel {
            label: format!("filter {f} · {last:.3}"),
            height: d.h.max(1),
            width: d.w,
            channels: d.c,
            values: r.input,
        });
    }
    let cols = (panels.len() as f64).sqrt().ceil() as usize;
    let title =
        format!("layer {layer} ({}): inputs that maximise each filter's mean activation", model.layers[layer].text);
    Ok(image_grid(&panels, cols, Colormap::Gray, &title))
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

    #[test]
    fn on_a_single_tap_filter_the_mass_goes_to_the_tap() {
        // Input and kernel the same size: the activation is the input at the tap, alone.
        let s = Settings { steps: 50, jitter: 0, ..Default::default() };
        let r = maximize(&single_tap(3, 5), 0, 0, s).unwrap();
        let best = (0..9).max_by(|&a, &b| r.input[a].total_cmp(&r.input[b])).unwrap();
        assert_eq!(best, 5, "{:?}", r.input);
        assert!(r.input.iter().enumerate().all(|(i, v)| i == 5 || v.abs() < 0.1 * r.input[5]), "{:?}", r.input);
    }

    #[test]
    fn the_activation_rises_over_the_steps_with_jitter() {
        // Tap (0, 2) sees input columns 2..6 only; columns 0 and 1 only through the jitter.
        let r = maximize(&single_tap(6, 2), 0, 0, Settings { steps: 60, ..Default::default() }).unwrap();
        assert!(r.trace.last().unwrap() > &(r.trace[0] + 0.5), "{:?}", r.trace);
        let col_mean = |j: usize| (0..6).map(|i| r.input[i * 6 + j]).sum::<f32>() / 6.0;
        assert!(col_mean(3) > 2.0 * col_mean(0).abs(), "{:?}", r.input);
    }

    #[test]
    fn a_layer_that_is_no_conv_is_explained() {
        let m = Model::<f32>::new("conv2d(2,k=3) relu", Dims::image(1, 6, 6)).unwrap();
        let e = figure(&m, 1, Settings::default()).err().unwrap().to_string();
        assert!(e.contains("conv layers are: 0"), "{e}");
    }
}
