//! Pieces shared by the figure builders: style constants, tick choice and
//! number formatting, figure titles and colour bars.

use super::canvas::{Anchor, Stroke, Surface, TextStyle, VAnchor};
use super::colormap::{Colormap, Norm, Rgb};
use super::font;

pub const TICK_SIZE: f32 = 12.0;
pub const LABEL_SIZE: f32 = 14.0;
pub const PANEL_TITLE_SIZE: f32 = 13.0;
const TITLE_SIZE: f32 = 17.0;
/// Blank space around every figure, so nothing touches the edge.
pub const MARGIN: f32 = 16.0;
pub const TEXT: Rgb = [30, 30, 30];
pub const AXIS: Rgb = [60, 60, 60];
pub const FRAME: Rgb = [90, 90, 90];
pub const GRID: Rgb = [230, 230, 230];
pub const SEPARATOR: Rgb = [205, 205, 205];
pub const WHITE: Rgb = [255, 255, 255];
/// Smallest figure width, so small figures still read well on a slide.
pub const MIN_WIDTH: f32 = 400.0;

/// matplotlib's `tab10` colour cycle, for line series.
pub const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Width of `text` at `size`, for layout.
pub fn text_width(text: &str, size: f32) -> f32 {
    font::measure(text, size).width
}

/// Height a line of text at `size` occupies (ascent + descent).
pub fn line_height(size: f32) -> f32 {
    let m = font::measure("", size);
    m.ascent + m.descent
}

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `target`
/// intervals over `span`.
pub fn nice_step(span: f64, target: usize) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// The multiples of `step` within `[lo, hi]` (with a little tolerance).
pub fn ticks_in(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let eps = step * 1e-6;
    let first = (lo / step - 1e-6).ceil() as i64;
    let mut out = Vec::new();
    let mut k = first;
    loop {
        let v = k as f64 * step;
        if v > hi + eps || out.len() > 1000 {
            break;
        }
        // Snap -0.0 and float noise onto the grid.
        out.push(if v.abs() < eps { 0.0 } else { v });
        k += 1;
    }
    out
}

/// Axis range and ticks for data in `[lo, hi]`: the range is widened to the
/// enclosing tick marks, and degenerate ranges are opened up.
pub fn nice_axis(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>, f64) {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() && lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    if hi - lo < 1e-12 {
        let pad = if lo.abs() > 1e-12 { lo.abs() * 0.1 } else { 1.0 };
        lo -= pad;
        hi += pad;
    }
    let step = nice_step(hi - lo, target);
    let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    (lo, hi, ticks_in(lo, hi, step), step)
}

/// Uses the typographic minus sign, as matplotlib does.
fn minus(s: String) -> String {
    if let Some(rest) = s.strip_prefix('-') {
        format!("−{rest}")
    } else {
        s
    }
}

/// A tick label with just enough decimals for ticks `step` apart.
pub fn format_tick(v: f64, step: f64) -> String {
    // Steps are 1, 2 or 5 × 10^k, so −k decimals show every tick exactly.
    let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    minus(format!("{v:.decimals$}"))
}

/// `v` with `sig` significant digits, trailing zeros removed (for colour
/// bar ends such as ±vmax).
pub fn format_sig(v: f64, sig: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() { "0".into() } else { format!("{v}") };
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&mag) {
        return minus(format!("{:.*e}", sig.saturating_sub(1), v));
    }
    let decimals = (sig as i32 - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    minus(s)
}

/// Draws a centred figure title with its top at `y`, a line per `\n` (see [`wrap_title`]);
/// returns the height used.
pub fn draw_title(s: &mut dyn Surface, center_x: f32, y: f32, title: &str) -> f32 {
    if title.is_empty() {
        return 0.0;
    }
    let style = TextStyle::new(TITLE_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    for (k, line) in title.lines().enumerate() {
        s.text(center_x, y + k as f32 * line_height(TITLE_SIZE), line, style);
    }
    title_height(title)
}

/// Vertical space [`draw_title`] takes, including the gap below it.
pub fn title_height(title: &str) -> f32 {
    if title.is_empty() {
        0.0
    } else {
        title.lines().count().max(1) as f32 * line_height(TITLE_SIZE) + 10.0
    }
}

/// Width of [`draw_title`]'s widest line.
pub fn title_width(title: &str) -> f32 {
    title.lines().map(|l| text_width(l, TITLE_SIZE)).fold(0.0, f32::max)
}

/// `title` broken into lines of at most `max_w` px where it can be, between its " · "
/// clauses, so a long title over a small picture does not set the figure's width.
pub fn wrap_title(title: &str, max_w: f32) -> String {
    if title_width(title) <= max_w {
        return title.to_string();
    }
    // The clauses, each keeping its separator at its end.
    let mut clauses: Vec<&str> = vec![];
    let mut rest = title;
    while let Some(at) = rest.find(" · ").map(|i| i + " · ".len()) {
        clauses.push(&rest[..at]);
        rest = &rest[at..];
    }
    clauses.push(rest);
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    for clause in clauses {
        let joined = format!("{line}{clause}");
        if !line.is_empty() && text_width(joined.trim_end(), TITLE_SIZE) > max_w {
            lines.push(line.trim_end().trim_end_matches('·').trim_end().to_string());
            line = clause.to_string();
        } else {
            line = joined;
        }
    }
    lines.push(line.trim_end().to_string());
    lines.join("\n")
}

/// A vertical colour bar with labelled ticks on its right.
pub struct ColorBar {
    pub cmap: Colormap,
    pub norm: Norm,
    /// Tick values and their labels.
    pub ticks: Vec<(f32, String)>,
}

/// Width of the bar itself.
const BAR_W: f32 = 14.0;
/// Tick mark length plus gap before its label.
const BAR_TICK: f32 = 4.0;
const BAR_LABEL_GAP: f32 = 4.0;

impl ColorBar {
    /// Ticks at −vmax, 0 and +vmax for a symmetric norm, else at nice values.
    pub fn new(cmap: Colormap, norm: Norm) -> ColorBar {
        let ticks = match norm {
            Norm::Symmetric { vmax } if vmax > 0.0 => {
                [-vmax, 0.0, vmax].iter().map(|&v| (v, format_sig(v as f64, 3))).collect()
            }
            Norm::Symmetric { .. } => vec![(0.0, "0".to_string())],
            Norm::Linear { vmin, vmax } => {
                let (lo, hi) = (vmin as f64, vmax as f64);
                if hi > lo {
                    let step = nice_step(hi - lo, 5);
                    ticks_in(lo, hi, step).into_iter().map(|v| (v as f32, format_tick(v, step))).collect()
                } else {
                    vec![(vmin, format_sig(lo, 3))]
                }
            }
        };
        ColorBar { cmap, norm, ticks }
    }

    /// Total width of bar, tick marks and labels.
    pub fn width(&self) -> f32 {
        let label = self.ticks.iter().map(|(_, l)| text_width(l, TICK_SIZE)).fold(0.0, f32::max);
        BAR_W + BAR_TICK + BAR_LABEL_GAP + label
    }

    /// Draws the bar with its top-left corner at `(x, y)`, `h` tall.
    pub fn draw(&self, s: &mut dyn Surface, x: f32, y: f32, h: f32) {
        let (x, y, h) = (x.round(), y.round(), h.round());
        let stops: Vec<Rgb> = (0..=64).map(|i| self.cmap.map(1.0 - i as f32 / 64.0)).collect();
        s.vertical_gradient(x, y, BAR_W, h, &stops);
        s.outline_rect(x, y, BAR_W, h, 1.0, FRAME);
        let style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Start, VAnchor::Middle);
        for (v, label) in &self.ticks {
            let t = self.norm.apply(*v);
            let ty = (y + h * (1.0 - t)).floor() + 0.5;
            let ty = ty.clamp(y + 0.5, y + h - 0.5);
            s.line(x + BAR_W, ty, x + BAR_W + BAR_TICK, ty, Stroke::solid(1.0, FRAME));
            s.text(x + BAR_W + BAR_TICK + BAR_LABEL_GAP, ty, label, style);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_1_2_5() {
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 5), 0.2);
        assert_eq!(nice_step(0.7, 5), 0.1);
        assert_eq!(nice_step(30.0, 5), 5.0);
        assert_eq!(nice_step(100.0, 5), 20.0);
    }

    #[test]
    fn axis_encloses_data() {
        let (lo, hi, ticks, step) = nice_axis(0.23, 2.31, 5);
        assert_eq!(step, 0.5);
        assert_eq!((lo, hi), (0.0, 2.5));
        assert_eq!(ticks, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        let (lo, hi, _, _) = nice_axis(3.0, 3.0, 5);
        assert!(lo < 3.0 && hi > 3.0);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_tick(0.5, 0.5), "0.5");
        assert_eq!(format_tick(1.0, 0.2), "1.0");
        assert_eq!(format_tick(0.05, 0.05), "0.05");
        assert_eq!(format_tick(-0.2, 0.1), "−0.2");
        assert_eq!(format_tick(20.0, 5.0), "20");
        assert_eq!(format_sig(0.07345, 3), "0.0735");
        assert_eq!(format_sig(-1.0, 3), "−1");
        assert_eq!(format_sig(123.456, 3), "123");
        assert_eq!(format_sig(2.5e-6, 2), "2.5e-6");
    }

    #[test]
    fn a_long_title_wraps_between_its_clauses() {
        let title = "layer 0 conv2d(2,k=2): the input that maximises each filter's centre unit · its field: rows 5–6, cols 5–6 · values 0–1";
        let wrapped = wrap_title(title, 640.0);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(
            lines,
            [
                "layer 0 conv2d(2,k=2): the input that maximises each filter's centre unit",
                "its field: rows 5–6, cols 5–6 · values 0–1"
            ]
        );
        assert!(title_width(&wrapped) <= 640.0 && title_width(title) > 640.0);
        assert_eq!(title_height(&wrapped), 2.0 * line_height(TITLE_SIZE) + 10.0);
        assert_eq!(wrap_title("short · title", 640.0), "short · title", "a title that fits stays one line");
    }
}
