//! Charts with numeric axes: training curves on twin y axes, and scatter
//! plots of predictions against targets.

use super::canvas::{Anchor, Stroke, Surface, TextStyle, VAnchor};
use super::colormap::Rgb;
use super::figure::Figure;
use super::parts::{
    draw_title, format_sig, format_tick, line_height, nice_axis, nice_step, text_width, ticks_in, title_height, AXIS,
    FRAME, GRID, LABEL_SIZE, MARGIN, PALETTE, TEXT, TICK_SIZE, WHITE,
};

/// Which y axis a series is plotted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YAxis {
    Left,
    Right,
}

/// One line of a [`line_chart`]; points with a non-finite coordinate break the line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub axis: YAxis,
}

impl Series {
    /// A series whose x values are epochs 1, 2, …, n.
    pub fn per_epoch(name: impl Into<String>, y: Vec<f32>, axis: YAxis) -> Series {
        Series { name: name.into(), x: (1..=y.len()).map(|e| e as f32).collect(), y, axis }
    }

    fn points(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        self.x.iter().copied().zip(self.y.iter().copied())
    }
}

/// A numeric axis: range, tick values and their labels; `log` places values by their log10.
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, String)>,
    log: bool,
}

/// Options of [`line_chart_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChartOptions {
    /// The left axis (loss) on a log scale; values ≤ 0 are left out.
    pub log_left: bool,
    /// The right axis spans at least this much, kept within `right_bounds` (e.g. accuracy:
    /// at least 0.1 within 0–1, so 0.996 → 1.0 is not drawn as a cliff).
    pub right_min_span: Option<f32>,
    pub right_bounds: Option<(f32, f32)>,
}

impl Axis {
    /// A log10 axis over the positive values, with ticks at 1, 2 and 5 times powers of ten
    /// when it spans few decades, else at the powers of ten.
    fn log(values: impl Iterator<Item = f32>) -> Axis {
        let (lo, hi) = finite_range(values.filter(|v| *v > 0.0));
        let (lo, hi) = if lo > 0.0 { (lo, hi) } else { (0.1, 1.0) };
        let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil().max(lo.log10().floor() + 1.0) as i32);
        let mults: &[f64] = if d1 - d0 <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        let step = ((d1 - d0) as usize).div_ceil(8).max(1);
        let ticks = (d0..=d1)
            .step_by(step)
            .flat_map(|d| mults.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| *v <= 10f64.powi(d1) * 1.0001)
            .map(|v| (v, format_sig(v, 1)))
            .collect();
        Axis { lo: 10f64.powi(d0), hi: 10f64.powi(d1), ticks, log: true }
    }

    /// Widens the axis to span at least `span`, within `bounds`, with new ticks.
    fn with_min_span(self, span: f32, bounds: Option<(f32, f32)>) -> Axis {
        let span = span as f64;
        if self.hi - self.lo >= span {
            return self;
        }
        let (blo, bhi) = bounds.map_or((f64::NEG_INFINITY, f64::INFINITY), |(a, b)| (a as f64, b as f64));
        let mid = (self.lo + self.hi) / 2.0;
        let (mut lo, mut hi) = (mid - span / 2.0, mid + span / 2.0);
        if hi > bhi {
            (lo, hi) = (bhi - span, bhi);
        }
        if lo < blo {
            (lo, hi) = (blo, (blo + span).min(bhi));
        }
        let step = nice_step(hi - lo, 5);
        let ticks = ticks_in(lo, hi, step).into_iter().map(|v| (v, format_tick(v, step))).collect();
        Axis { lo, hi, ticks, log: false }
    }

    fn new(values: impl Iterator<Item = f32>, target: usize, integer: bool) -> Axis {
        let (lo, hi) = finite_range(values);
        let (mut lo, mut hi, mut ticks, mut step) = nice_axis(lo, hi, target);
        if integer && step < 1.0 {
            step = 1.0;
            lo = lo.floor();
            hi = hi.ceil();
            ticks = ticks_in(lo, hi, step);
        }
        let ticks = ticks.into_iter().map(|v| (v, format_tick(v, step))).collect();
        Axis { lo, hi, ticks, log: false }
    }

    /// Like [`Axis::new`] but exactly spanning the data (for x = epochs),
    /// with ticks at nice values inside.
    fn tight(values: impl Iterator<Item = f32>, target: usize, integer: bool) -> Axis {
        let (lo, hi) = finite_range(values);
        let (lo, hi) = if hi - lo < 1e-12 { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
        let mut step = nice_step(hi - lo, target);
        if integer {
            step = step.max(1.0);
        }
        let ticks = ticks_in(lo, hi, step);
        // A little room so end markers do not sit on the frame.
        let pad = (hi - lo) * 0.025;
        let (lo, hi) = (lo - pad, hi + pad);
        let ticks = ticks.into_iter().map(|v| (v, format_tick(v, step))).collect();
        Axis { lo, hi, ticks, log: false }
    }

    fn label_width(&self) -> f32 {
        self.ticks.iter().map(|(_, l)| text_width(l, TICK_SIZE)).fold(0.0, f32::max)
    }

    /// Fraction of the way from `lo` to `hi`.
    fn frac(&self, v: f32) -> f32 {
        if self.log {
            if v <= 0.0 {
                return f32::NAN;
            }
            return ((v as f64 / self.lo).log10() / (self.hi / self.lo).log10()) as f32;
        }
        ((v as f64 - self.lo) / (self.hi - self.lo)) as f32
    }
}

fn finite_range(values: impl Iterator<Item = f32>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else {
        (lo as f64, hi as f64)
    }
}

/// The plotting rectangle in pixels.
#[derive(Clone, Copy)]
struct Area {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl Area {
    fn px(&self, axis: &Axis, v: f32) -> f32 {
        self.x + axis.frac(v) * self.w
    }
    fn py(&self, axis: &Axis, v: f32) -> f32 {
        self.y + (1.0 - axis.frac(v)) * self.h
    }
}

const TICK_LEN: f32 = 5.0;
const TICK_PAD: f32 = 4.0;
const AXIS_LABEL_PAD: f32 = 8.0;

/// Crisp position of a 1-px line near `v`.
fn crisp(v: f32) -> f32 {
    v.floor() + 0.5
}

/// Draws the x axis ticks/labels and optionally vertical grid lines.
fn draw_x_axis(s: &mut dyn Surface, a: Area, x: &Axis, grid: bool) {
    let style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    let bottom = a.y + a.h;
    for (v, label) in &x.ticks {
        let px = crisp(a.px(x, *v as f32));
        if grid {
            s.line(px, a.y, px, bottom, Stroke::solid(1.0, GRID));
        }
        s.line(px, bottom, px, bottom + TICK_LEN, Stroke::solid(1.0, AXIS));
        s.text(px, bottom + TICK_LEN + TICK_PAD, label, style);
    }
}

/// Draws y ticks/labels on the left or right edge, optionally with grid lines.
fn draw_y_axis(s: &mut dyn Surface, a: Area, y: &Axis, side: YAxis, grid: bool) {
    let (edge, dir, anchor) = match side {
        YAxis::Left => (a.x, -1.0, Anchor::End),
        YAxis::Right => (a.x + a.w, 1.0, Anchor::Start),
    };
    let style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(anchor, VAnchor::Middle);
    for (v, label) in &y.ticks {
        let py = crisp(a.py(y, *v as f32));
        if grid {
            s.line(a.x, py, a.x + a.w, py, Stroke::solid(1.0, GRID));
        }
        s.line(edge, py, edge + dir * TICK_LEN, py, Stroke::solid(1.0, AXIS));
        s.text(edge + dir * (TICK_LEN + TICK_PAD), py, label, style);
    }
}

fn draw_frame(s: &mut dyn Surface, a: Area) {
    s.outline_rect(a.x, a.y, a.w, a.h, 1.0, AXIS);
}

/// Legend entries laid out in centred rows no wider than `max_w`.
struct Legend {
    entries: Vec<(String, Rgb, Stroke)>,
    rows: Vec<Vec<usize>>,
    row_widths: Vec<f32>,
}

const LEGEND_SAMPLE: f32 = 30.0;
const LEGEND_SIZE: f32 = 13.0;

impl Legend {
    fn new(entries: Vec<(String, Rgb, Stroke)>, max_w: f32) -> Legend {
        let mut rows: Vec<Vec<usize>> = vec![];
        let mut row_widths: Vec<f32> = vec![];
        for (i, (name, _, _)) in entries.iter().enumerate() {
            let w = LEGEND_SAMPLE + 6.0 + text_width(name, LEGEND_SIZE) + 22.0;
            match (rows.last_mut(), row_widths.last_mut()) {
                (Some(r), Some(rw)) if *rw + w <= max_w => {
                    r.push(i);
                    *rw += w;
                }
                _ => {
                    rows.push(vec![i]);
                    row_widths.push(w);
                }
            }
        }
        Legend { entries, rows, row_widths }
    }

    fn row_height() -> f32 {
        line_height(LEGEND_SIZE) + 4.0
    }

    fn height(&self) -> f32 {
        self.rows.len() as f32 * Legend::row_height()
    }

    fn draw(&self, s: &mut dyn Surface, center_x: f32, top: f32) {
        let style = TextStyle::new(LEGEND_SIZE).color(TEXT).anchor(Anchor::Start, VAnchor::Middle);
        for (r, row) in self.rows.iter().enumerate() {
            let cy = top + (r as f32 + 0.5) * Legend::row_height();
            let mut x = (center_x - (self.row_widths[r] - 22.0) / 2.0).round();
            for &i in row {
                let (name, color, stroke) = &self.entries[i];
                s.line(x, cy, x + LEGEND_SAMPLE, cy, *stroke);
                s.circle(x + LEGEND_SAMPLE / 2.0, cy, 3.5, *color, 1.0);
                s.text(x + LEGEND_SAMPLE + 6.0, cy, name, style);
                x += LEGEND_SAMPLE + 6.0 + text_width(name, LEGEND_SIZE) + 22.0;
            }
        }
    }
}

/// Splits a series into runs of finite points, in pixel coordinates.
fn runs(points: impl Iterator<Item = (f32, f32)>, map: impl Fn(f32, f32) -> (f32, f32)) -> Vec<Vec<(f32, f32)>> {
    let mut out = vec![vec![]];
    for (x, y) in points {
        let p = map(x, y);
        if x.is_finite() && y.is_finite() && p.0.is_finite() && p.1.is_finite() {
            out.last_mut().expect("never empty").push(p);
        } else if !out.last().expect("never empty").is_empty() {
            out.push(vec![]);
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Training curves: series on a left axis (e.g. loss) and a right axis
/// (e.g. accuracy) against x (e.g. epoch), with a legend under the chart.
/// Right-axis series are dashed so the two axes stay distinguishable in
/// print. Ticks follow the 1-2-5 rule; integer x values get integer ticks.
pub fn line_chart(series: &[Series], title: &str, x_label: &str, left_label: &str, right_label: &str) -> Figure {
    line_chart_with(series, title, x_label, left_label, right_label, ChartOptions::default())
}

/// [`line_chart`] with a log-scale left axis or a least span for the right one.
pub fn line_chart_with(
    series: &[Series],
    title: &str,
    x_label: &str,
    left_label: &str,
    right_label: &str,
    options: ChartOptions,
) -> Figure {
    let (pw, ph) = (560.0f32, 340.0f32);
    let all_x = || series.iter().flat_map(|s| s.x.iter().copied());
    let integer_x = all_x().all(|v| !v.is_finite() || v.fract() == 0.0);
    let x = Axis::tight(all_x(), 7, integer_x);
    let side_values = |side: YAxis| series.iter().filter(move |s| s.axis == side).flat_map(|s| s.y.iter().copied());
    let left = if options.log_left {
        Axis::log(side_values(YAxis::Left))
    } else {
        Axis::new(side_values(YAxis::Left), 5, false)
    };
    let has_right = series.iter().any(|s| s.axis == YAxis::Right);
    let mut right = Axis::new(side_values(YAxis::Right), 5, false);
    if let Some(span) = options.right_min_span {
        right = right.with_min_span(span, options.right_bounds);
    }

    let label_h = line_height(LABEL_SIZE);
    let tick_h = line_height(TICK_SIZE);
    let left_m = MARGIN
        + if left_label.is_empty() { 0.0 } else { label_h + AXIS_LABEL_PAD }
        + left.label_width()
        + TICK_LEN
        + TICK_PAD;
    // The last x label is centred on the right edge and sticks out by half.
    let x_overhang = x.ticks.last().map(|(_, l)| text_width(l, TICK_SIZE) / 2.0).unwrap_or(0.0);
    let right_m = if has_right {
        MARGIN
            + if right_label.is_empty() { 0.0 } else { label_h + AXIS_LABEL_PAD }
            + right.label_width()
            + TICK_LEN
            + TICK_PAD
    } else {
        MARGIN + x_overhang
    };
    let top = MARGIN + title_height(title);
    let entries: Vec<(String, Rgb, Stroke)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = PALETTE[i % PALETTE.len()];
            (s.name.clone(), c, series_stroke(s.axis, c))
        })
        .collect();
    let content_w = left_m + pw + right_m;
    let fig_w = content_w.max(text_width(title, 17.0) + 2.0 * MARGIN).ceil();
    let dx = ((fig_w - content_w) / 2.0).floor();
    let legend = Legend::new(entries, fig_w - 2.0 * MARGIN);
    let x_label_h = if x_label.is_empty() { 0.0 } else { label_h + AXIS_LABEL_PAD };
    let below = TICK_LEN + TICK_PAD + tick_h + AXIS_LABEL_PAD + x_label_h;
    let legend_gap = if legend.rows.is_empty() { 0.0 } else { 6.0 };
    let fig_h = (top + ph + below + legend_gap + legend.height() + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    let area = Area { x: (dx + left_m).round(), y: top.round(), w: pw, h: ph };
    draw_title(&mut fig, fig_w / 2.0, MARGIN, title);

    draw_x_axis(&mut fig, area, &x, true);
    draw_y_axis(&mut fig, area, &left, YAxis::Left, true);
    if has_right {
        draw_y_axis(&mut fig, area, &right, YAxis::Right, false);
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let yaxis = if s.axis == YAxis::Left { &left } else { &right };
        let runs = runs(s.points(), |px, py| (area.px(&x, px), area.py(yaxis, py)));
        let n: usize = runs.iter().map(Vec::len).sum();
        for run in &runs {
            fig.polyline(run, series_stroke(s.axis, color));
            if n <= 60 {
                for &(px, py) in run {
                    fig.circle(px, py, 3.5, color, 1.0);
                }
            }
        }
    }
    draw_frame(&mut fig, area);

    let axis_style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    let xl_y = area.y + ph + TICK_LEN + TICK_PAD + tick_h + AXIS_LABEL_PAD;
    fig.text(area.x + pw / 2.0, xl_y, x_label, axis_style);
    fig.text(dx + MARGIN, area.y + ph / 2.0, left_label, axis_style.vertical());
    if has_right {
        let style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Bottom).vertical();
        fig.text(dx + content_w - MARGIN, area.y + ph / 2.0, right_label, style);
    }
    legend.draw(&mut fig, area.x + pw / 2.0, top + ph + below + legend_gap);
    fig
}

fn series_stroke(axis: YAxis, color: Rgb) -> Stroke {
    match axis {
        YAxis::Left => Stroke::solid(2.0, color),
        YAxis::Right => Stroke::dashed(2.0, color, 7.0, 4.0),
    }
}

/// R² of predictions `y` against targets `x` ([`crate::stats::r2`]), non-finite pairs skipped.
fn r2_of_finite(x: &[f32], y: &[f32]) -> f32 {
    let (targets, preds): (Vec<f64>, Vec<f64>) = finite_pairs(x, y).into_iter().unzip();
    crate::stats::r2(&targets, &preds) as f32
}

/// Least-squares line `y = a + b x` and its R² (squared correlation).
fn linear_fit(x: &[f32], y: &[f32]) -> Option<(f32, f32, f32)> {
    let pairs = finite_pairs(x, y);
    let n = pairs.len() as f64;
    if n < 2.0 {
        return None;
    }
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pairs.iter().map(|(a, _)| (a - mx).powi(2)).sum();
    let syy: f64 = pairs.iter().map(|(_, b)| (b - my).powi(2)).sum();
    let sxy: f64 = pairs.iter().map(|(a, b)| (a - mx) * (b - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let r2 = if syy == 0.0 { 1.0 } else { sxy * sxy / (sxx * syy) };
    Some(((my - b * mx) as f32, b as f32, r2 as f32))
}

fn finite_pairs(x: &[f32], y: &[f32]) -> Vec<(f64, f64)> {
    x.iter().zip(y).filter(|(a, b)| a.is_finite() && b.is_finite()).map(|(&a, &b)| (a as f64, b as f64)).collect()
}

/// A scatter plot with R² in the top-left corner.
///
/// With `identity_line`, both axes share one range, the dashed line y = x
/// is drawn and R² is [`crate::stats::r2`] (x = targets, y = predictions); without
/// it, the least-squares line is drawn and R² is its squared correlation.
pub fn scatter(x: &[f32], y: &[f32], identity_line: bool, title: &str, x_label: &str, y_label: &str) -> Figure {
    let (pw, ph) = (420.0f32, 420.0f32);
    let xs = || x.iter().copied().zip(y.iter().copied()).map(|p| p.0);
    let ys = || x.iter().copied().zip(y.iter().copied()).map(|p| p.1);
    let (xa, ya) = if identity_line {
        (Axis::new(xs().chain(ys()), 5, false), Axis::new(xs().chain(ys()), 5, false))
    } else {
        (Axis::new(xs(), 5, false), Axis::new(ys(), 5, false))
    };
    let label_h = line_height(LABEL_SIZE);
    let tick_h = line_height(TICK_SIZE);
    let left_m = MARGIN
        + if y_label.is_empty() { 0.0 } else { label_h + AXIS_LABEL_PAD }
        + ya.label_width()
        + TICK_LEN
        + TICK_PAD;
    let x_overhang = xa.ticks.last().map(|(_, l)| text_width(l, TICK_SIZE) / 2.0).unwrap_or(0.0);
    let top = MARGIN + title_height(title);
    let x_label_h = if x_label.is_empty() { 0.0 } else { label_h + AXIS_LABEL_PAD };
    let content_w = left_m + pw + MARGIN + x_overhang;
    let fig_w = content_w.max(text_width(title, 17.0) + 2.0 * MARGIN).ceil();
    let fig_h = (top + ph + TICK_LEN + TICK_PAD + tick_h + x_label_h + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    // A title wider than the chart widens the figure; the chart is centred under it.
    let dx = ((fig_w - content_w) / 2.0).floor();
    let area = Area { x: (dx + left_m).round(), y: top.round(), w: pw, h: ph };
    draw_title(&mut fig, fig_w / 2.0, MARGIN, title);
    draw_x_axis(&mut fig, area, &xa, true);
    draw_y_axis(&mut fig, area, &ya, YAxis::Left, true);

    let n = finite_pairs(x, y).len();
    let (r, alpha) = match n {
        0..=300 => (3.5, 0.7),
        301..=3000 => (2.5, 0.45),
        _ => (1.8, 0.25),
    };
    for (&px, &py) in x.iter().zip(y) {
        if px.is_finite() && py.is_finite() {
            fig.circle(area.px(&xa, px), area.py(&ya, py), r, PALETTE[0], alpha);
        }
    }
    let ref_stroke = Stroke::dashed(1.5, [90, 90, 90], 6.0, 4.0);
    let r2 = if identity_line {
        let (lo, hi) = (xa.lo as f32, xa.hi as f32);
        fig.line(area.px(&xa, lo), area.py(&ya, lo), area.px(&xa, hi), area.py(&ya, hi), ref_stroke);
        r2_of_finite(x, y)
    } else if let Some((a, b, r2)) = linear_fit(x, y) {
        let clipped = clip_line(a, b, &xa, &ya);
        if let Some(((x0, y0), (x1, y1))) = clipped {
            let stroke = Stroke::dashed(1.5, PALETTE[3], 6.0, 4.0);
            fig.line(area.px(&xa, x0), area.py(&ya, y0), area.px(&xa, x1), area.py(&ya, y1), stroke);
        }
        r2
    } else {
        f32::NAN
    };
    draw_frame(&mut fig, area);

    let r2_text = if r2.is_finite() { format!("R² = {}", format_r2(r2)) } else { "R² undefined".to_string() };
    let box_w = text_width(&r2_text, LABEL_SIZE) + 14.0;
    let box_h = label_h + 8.0;
    fig.fill_rect(area.x + 8.0, area.y + 8.0, box_w, box_h, WHITE);
    fig.outline_rect(area.x + 8.0, area.y + 8.0, box_w, box_h, 1.0, FRAME);
    let style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Start, VAnchor::Top);
    fig.text(area.x + 15.0, area.y + 12.0, &r2_text, style);

    let axis_style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    fig.text(area.x + pw / 2.0, area.y + ph + TICK_LEN + TICK_PAD + tick_h + AXIS_LABEL_PAD, x_label, axis_style);
    fig.text(dx + MARGIN, area.y + ph / 2.0, y_label, axis_style.vertical());
    fig
}

fn format_r2(r2: f32) -> String {
    if r2 > -10.0 {
        format!("{r2:.3}").replace('-', "−")
    } else {
        format_sig(r2 as f64, 3)
    }
}

/// The part of `y = a + b x` inside the axes' box, if any.
fn clip_line(a: f32, b: f32, xa: &Axis, ya: &Axis) -> Option<((f32, f32), (f32, f32))> {
    let (x0, x1) = (xa.lo as f32, xa.hi as f32);
    let (y0, y1) = (ya.lo as f32, ya.hi as f32);
    let mut lo = x0;
    let mut hi = x1;
    if b != 0.0 {
        let (ta, tb) = ((y0 - a) / b, (y1 - a) / b);
        lo = lo.max(ta.min(tb));
        hi = hi.min(ta.max(tb));
    } else if a < y0 || a > y1 {
        return None;
    }
    (lo < hi).then_some(((lo, a + b * lo), (hi, a + b * hi)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r2_matches_definitions() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(r2_of_finite(&x, &x), 1.0);
        // ss_res = 0.25 + 0 + 0.25 + 0 = 0.5, ss_tot = 5; the NaN pair is skipped.
        assert!((r2_of_finite(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.5, 2.0, 2.5, 4.0, f32::NAN]) - 0.9).abs() < 1e-6);
        let (a, b, r2) = linear_fit(&x, &[3.0, 5.0, 7.0, 9.0]).unwrap();
        assert!((a - 1.0).abs() < 1e-5 && (b - 2.0).abs() < 1e-5 && (r2 - 1.0).abs() < 1e-6);
    }

    /// Columns of `c` holding any non-white pixel: (first, last).
    fn inked_columns(c: &crate::plot::Canvas) -> (u32, u32) {
        let inked = |x: u32| (0..c.height()).any(|y| c.pixel(x, y) != WHITE);
        let first = (0..c.width()).find(|&x| inked(x)).unwrap();
        let last = (0..c.width()).rev().find(|&x| inked(x)).unwrap();
        (first, c.width() - 1 - last)
    }

    #[test]
    fn a_long_title_is_whole_and_the_chart_is_centred_under_it() {
        let title = "a title much wider than the chart it stands over, to see the layout follow it";
        let fig = scatter(&[0.0, 1.0], &[0.0, 1.0], true, title, "x", "y");
        let (left, right) = inked_columns(&fig.to_canvas());
        assert!(left >= 8 && right >= 8, "title clipped: {left}, {right}");
        let frame_x: Vec<f32> = fig
            .ops()
            .iter()
            .filter_map(|op| {
                if let crate::plot::figure::Op::OutlineRect(x, _, w, h, ..) = op {
                    (*w >= 400.0 && *h >= 400.0).then_some(*x + w / 2.0)
                } else {
                    None
                }
            })
            .collect();
        let centre = frame_x[0];
        assert!((centre - fig.width() as f32 / 2.0).abs() < 40.0, "chart centre {centre} in {}", fig.width());
    }

    #[test]
    fn accuracy_near_one_spans_a_tenth_and_log_ticks_are_decades() {
        let a = Axis::new([0.996f32, 1.0].into_iter(), 5, false).with_min_span(0.1, Some((0.0, 1.0)));
        assert!((a.hi - 1.0).abs() < 1e-6 && (a.lo - 0.9).abs() < 1e-6, "{} {}", a.lo, a.hi);
        let l = Axis::log([0.0003f32, 2.0, -1.0].into_iter());
        assert_eq!((l.lo, l.hi), (1e-4, 10.0));
        assert!(l.frac(-1.0).is_nan() && (l.frac(0.01) - 0.4).abs() < 1e-6);
    }

    #[test]
    fn integer_x_axis_has_integer_ticks() {
        let x = Axis::tight([1.0f32, 2.0, 3.0].into_iter(), 7, true);
        let labels: Vec<&str> = x.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1", "2", "3"]);
    }
}
