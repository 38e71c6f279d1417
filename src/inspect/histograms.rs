//! `plot histograms RUN`: every parameter tensor's values over the epochs, from the snapshots
//! training records with `--snapshot-every N` (TensorBoard's histogram view as one picture).
//! One panel per tensor; each snapshot is a step histogram over bins shared by all its epochs,
//! stacked with an offset, the oldest at the top and the newest in front.

use crate::error::{Error, Result};
use crate::plot::canvas::{Anchor, Stroke, Surface, TextStyle, VAnchor};
use crate::plot::colormap::Rgb;
use crate::plot::parts::{
    draw_title, format_tick, line_height, nice_axis, title_height, AXIS, MARGIN, PANEL_TITLE_SIZE, TEXT, TICK_SIZE,
};
use crate::plot::{Colormap, Figure};
use crate::train::snapshots::{Snapshots, FILE};
use std::path::Path;

/// Bins per histogram.
pub const BINS: usize = 40;
const PANEL_W: f32 = 380.0;
/// Vertical distance between two epochs' baselines, and the height of the tallest bin.
const ROW: f32 = 14.0;
const PEAK: f32 = 42.0;
const LABEL_W: f32 = 70.0;

/// Counts of the finite `values` in `bins` equal bins over `[lo, hi]` (the top edge belongs to
/// the last bin; values outside go to the nearest end bin); non-finite values are not counted.
pub fn histogram(values: &[f32], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut counts = vec![0; bins.max(1)];
    let width = (hi - lo).max(f64::MIN_POSITIVE);
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = ((v as f64 - lo) / width * bins as f64).floor().clamp(0.0, (bins - 1) as f64);
        counts[b as usize] += 1;
    }
    counts
}

/// One tensor's snapshots: (epoch, values), by epoch.
type Series<'a> = Vec<(usize, &'a [f32])>;

fn tensor_names(snaps: &Snapshots) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for e in &snaps.entries {
        if !names.contains(&e.1) {
            names.push(e.1.clone());
        }
    }
    // Layer order (`10.weight` after `2.bias`), weight before bias.
    let key = |n: &String| (n.split('.').next().and_then(|i| i.parse::<usize>().ok()).unwrap_or(usize::MAX), n.clone());
    names.sort_by_key(|n| {
        let (i, n) = key(n);
        (i, !n.ends_with("weight"), n)
    });
    names
}

fn lighter(c: Rgb) -> Rgb {
    c.map(|v| (v as f32 * 0.45 + 255.0 * 0.55) as u8)
}

/// Draws one tensor's panel with its top-left corner at (x, y); returns its height.
fn panel(f: &mut Figure, x: f32, y: f32, name: &str, series: &Series) -> f32 {
    let all = series.iter().flat_map(|s| s.1.iter()).filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v as f64), b.max(v as f64)));
    let (lo, hi, ticks, step) = nice_axis(lo, hi, 5);
    let counts: Vec<Vec<usize>> = series.iter().map(|s| histogram(s.1, lo, hi, BINS)).collect();
    let peak = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f32;
    let title = format!("{name}  ({} values)", series.first().map_or(0, |s| s.1.len()));
    let head = PANEL_TITLE_SIZE + 8.0;
    f.text(x + LABEL_W, y, &title, TextStyle::new(PANEL_TITLE_SIZE).color(TEXT).anchor(Anchor::Start, VAnchor::Top));
    let plot_x = x + LABEL_W;
    let plot_w = PANEL_W - LABEL_W;
    let top = y + head + PEAK;
    let n = series.len();
    // Label every k-th epoch so labels never overlap.
    let every = ((line_height(TICK_SIZE) / ROW).ceil() as usize).max(1);
    for (k, ((epoch, _), c)) in series.iter().zip(&counts).enumerate() {
        let base = top + k as f32 * ROW;
        let colour = Colormap::Viridis.map(if n > 1 { k as f32 / (n - 1) as f32 * 0.85 } else { 0.0 });
        let bin_w = plot_w / BINS as f32;
        let mut outline = vec![(plot_x, base)];
        for (b, &count) in c.iter().enumerate() {
            let h = count as f32 / peak * PEAK;
            let x0 = plot_x + b as f32 * bin_w;
            // White first, so this (newer) epoch hides the older ones behind it.
            f.fill_rect(x0, base - h, bin_w, h, lighter(colour));
            outline.extend([(x0, base - h), (x0 + bin_w, base - h)]);
        }
        outline.push((plot_x + plot_w, base));
        f.polyline(&outline, Stroke::solid(1.2, colour));
        if k % every == 0 || k == n - 1 {
            let style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle);
            f.text(plot_x - 6.0, base - 2.0, &format!("epoch {epoch}"), style);
        }
    }
    let axis_y = top + (n.saturating_sub(1)) as f32 * ROW + 4.0;
    f.line(plot_x, axis_y + 0.5, plot_x + plot_w, axis_y + 0.5, Stroke::solid(1.0, AXIS));
    for t in ticks {
        let tx = plot_x + ((t - lo) / (hi - lo)) as f32 * plot_w;
        f.line(tx, axis_y, tx, axis_y + 4.0, Stroke::solid(1.0, AXIS));
        let style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
        f.text(tx, axis_y + 6.0, &format_tick(t, step), style);
    }
    axis_y + 6.0 + line_height(TICK_SIZE) - y
}

/// The histograms of every tensor recorded in `run`'s snapshots.
pub fn figure(run: &Path) -> Result<Figure> {
    let path = run.join(FILE);
    if !path.exists() {
        return Err(Error::model_file(format!(
            "{} has no snapshots; train with --snapshot-every N to record the weights over the epochs",
            run.display()
        )));
    }
    let snaps = Snapshots::load(&path)?;
    figure_of(&snaps)
}

/// The histograms of every tensor in `snaps`.
pub fn figure_of(snaps: &Snapshots) -> Result<Figure> {
    let names = tensor_names(snaps);
    if names.is_empty() {
        return Err(Error::model_file("the snapshots file holds no tensors"));
    }
    let cols = names.len().min(3);
    let rows = names.len().div_ceil(cols);
    let epochs = snaps.of(&names[0]).len();
    let panel_h = PANEL_TITLE_SIZE + 8.0 + PEAK + epochs.saturating_sub(1) as f32 * ROW + 10.0 + line_height(TICK_SIZE);
    let title = "Parameter values over the epochs";
    let subtitle = "weights only: gradients are not recorded in the snapshots";
    let top = MARGIN + title_height(title) + line_height(TICK_SIZE) + 10.0;
    let (gap_x, gap_y) = (30.0, 26.0);
    let width = 2.0 * MARGIN + cols as f32 * PANEL_W + (cols - 1) as f32 * gap_x;
    let height = top + rows as f32 * (panel_h + gap_y) + MARGIN;
    let mut f = Figure::new(width.ceil() as u32, height.ceil() as u32);
    let used = draw_title(&mut f, width / 2.0, MARGIN, title);
    let style = TextStyle::new(TICK_SIZE).color([90, 90, 90]).anchor(Anchor::Middle, VAnchor::Top);
    f.text(width / 2.0, MARGIN + used, subtitle, style);
    for (i, name) in names.iter().enumerate() {
        let series: Series = snaps.of(name).into_iter().map(|(e, _, v)| (e, v)).collect();
        let (c, r) = (i % cols, i / cols);
        panel(&mut f, MARGIN + c as f32 * (PANEL_W + gap_x), top + r as f32 * (panel_h + gap_y), name, &series);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;
    use crate::model::Model;

    #[test]
    fn bins_hold_every_finite_value_once() {
        let values: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32 / 999.0 * 2.0 - 1.0).collect();
        let counts = histogram(&values, -1.0, 1.0, BINS);
        assert_eq!(counts.iter().sum::<usize>(), values.len());
        assert!(counts.iter().all(|&c| c == 25), "{counts:?}"); // uniform values, 1000 / 40
        let with_nan = histogram(&[0.5, f32::NAN, f32::INFINITY, 3.0], 0.0, 1.0, 4);
        assert_eq!(with_nan, [0, 0, 1, 1]);
    }

    #[test]
    fn one_panel_per_parameter_tensor_in_layer_order() {
        let mut m = Model::<f32>::new("conv2d(2,k=3) relu flatten linear(3)", Dims::image(1, 6, 6)).unwrap();
        let mut s = Snapshots::default();
        for epoch in 0..4 {
            m.init(epoch as u64);
            s.take(&m, epoch);
        }
        assert_eq!(tensor_names(&s), ["0.weight", "0.bias", "3.weight", "3.bias"]);
        let f = figure_of(&s).unwrap();
        let titles: Vec<&str> = f
            .ops()
            .iter()
            .filter_map(|op| match op {
                crate::plot::figure::Op::Text(_, _, t, _) if t.contains(" values)") => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            titles,
            ["0.weight  (18 values)", "0.bias  (2 values)", "3.weight  (96 values)", "3.bias  (3 values)"]
        );
    }
}
