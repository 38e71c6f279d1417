//! Figure builders for matrices and images: weight grids, named tensors,
//! image samples, confusion matrices and kernels over epochs.
//!
//! Builders take plain data (no dependency on the network code) and return a
//! [`Figure`], which saves as PNG or SVG. Values are row-major.

use super::canvas::{Anchor, Image, Stroke, Surface, TextStyle, VAnchor};
use super::colormap::{Colormap, Norm, Rgb, Scale};
use super::figure::Figure;
use super::parts::{
    draw_title, line_height, text_width, title_height, title_width, wrap_title, ColorBar, FRAME, LABEL_SIZE, MARGIN,
    MIN_WIDTH, PANEL_TITLE_SIZE, SEPARATOR, TEXT, TICK_SIZE,
};

/// One matrix to show as a heatmap (e.g. one kernel slice, or a 1×k strip).
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Shown above the panel; empty for none.
    pub title: String,
    pub rows: usize,
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub values: Vec<f32>,
    /// Cells that are no data (separators between tiles), drawn in [`GAP_COLOUR`]; empty for
    /// none.
    pub gaps: Vec<bool>,
}

/// The colour of a panel's gap cells: a neutral mid grey, which no diverging map (bwr,
/// seismic) nor viridis contains, so a gap never reads as a value (white is bwr's zero).
pub const GAP_COLOUR: Rgb = [128, 128, 128];

impl Panel {
    /// # Panics
    /// If `values.len() != rows * cols`.
    pub fn new(title: impl Into<String>, rows: usize, cols: usize, values: Vec<f32>) -> Panel {
        assert_eq!(values.len(), rows * cols, "panel values must be rows * cols");
        Panel { title: title.into(), rows, cols, values, gaps: vec![] }
    }

    /// The same panel with `gaps` (one flag per cell) marked as no data.
    pub fn with_gaps(mut self, gaps: Vec<bool>) -> Panel {
        self.gaps = gaps;
        self
    }

    fn image(&self, cmap: Colormap, norm: &Norm) -> Image {
        let gap = |i: usize| self.gaps.get(i).copied().unwrap_or(false);
        let mut pixels: Vec<Rgb> = self
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| if gap(i) { GAP_COLOUR } else { cmap.map(norm.apply(v)) })
            .collect();
        // Tolerate a wrong length from a struct literal: missing cells show as NaN.
        pixels.resize(self.rows * self.cols, cmap.map(f32::NAN));
        Image { width: self.cols, height: self.rows, pixels }
    }
}

/// One image for [`image_grid`]: `channels` planes of `height × width` (CHW).
#[derive(Clone, Debug, PartialEq)]
pub struct ImagePanel {
    /// Written under the image, e.g. `"true 9 · p=0.98"`.
    pub label: String,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub values: Vec<f32>,
}

/// The smallest height of a one-row panel (a 1-D signal's feature map), in px.
const SIGNAL_ROW: f32 = 24.0;
/// The smallest cell of a film strip's weights, in px.
pub const FILM_CELL: f32 = 12.0;
/// About the widest a figure should be before it wraps, in px.
const MAX_FIGURE_WIDTH: f32 = 2400.0;
/// The width a title may take over a narrower picture before it wraps.
const TITLE_WRAP: f32 = 640.0;
/// Horizontal gap between panels, and vertical gap between rows.
const GAP: f32 = 16.0;
/// Gap between the plotted content and the colour bar.
const BAR_GAP: f32 = 24.0;
/// Space between a panel and the text above or below it.
const TEXT_GAP: f32 = 5.0;

/// Draws a heatmap with a frame, and thin separators when cells are big enough.
fn draw_heatmap(s: &mut dyn Surface, x: f32, y: f32, cw: f32, ch: f32, image: &Image) {
    let (w, h) = (cw * image.width as f32, ch * image.height as f32);
    s.image(x, y, w, h, image);
    if cw >= 10.0 && ch >= 10.0 {
        let stroke = Stroke::solid(1.0, SEPARATOR);
        for c in 1..image.width {
            let lx = (x + c as f32 * cw).round() - 0.5;
            s.line(lx, y, lx, y + h, stroke);
        }
        for r in 1..image.height {
            let ly = (y + r as f32 * ch).round() - 0.5;
            s.line(x, ly, x + w, ly, stroke);
        }
    }
    s.outline_rect(x, y, w, h, 1.0, FRAME);
}

/// Side length of a square cell so the largest panel is about `target` px.
fn cell_size(max_dim: usize, target: f32, max: f32) -> f32 {
    (target / max_dim.max(1) as f32).floor().clamp(1.0, max)
}

fn empty_figure(title: &str) -> Figure {
    let mut fig = Figure::new(MIN_WIDTH as u32, 120);
    let top = MARGIN + draw_title(&mut fig, MIN_WIDTH / 2.0, MARGIN, title);
    let style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    fig.text(MIN_WIDTH / 2.0, top, "(no data)", style);
    fig
}

/// Shared grid layout of [`heatmap_grid`], [`kernel_grid`] and [`film_strip`].
struct GridText<'a> {
    /// Under each panel, in panel order.
    below: &'a [String],
    /// Left of each grid row.
    rows: &'a [String],
}

/// How big [`panel_grid`] draws cells: the largest panel about `target` px, cells no smaller
/// than `min_cell` px.
#[derive(Clone, Copy)]
struct Cells {
    target: f32,
    min_cell: f32,
}

const DEFAULT_CELLS: Cells = Cells { target: 168.0, min_cell: 1.0 };

fn panel_grid(panels: &[Panel], text: GridText, cols: usize, cmap: Colormap, scale: Scale, title: &str) -> Figure {
    sized_panel_grid(panels, text, cols, cmap, scale, title, DEFAULT_CELLS)
}

fn sized_panel_grid(
    panels: &[Panel],
    text: GridText,
    cols: usize,
    cmap: Colormap,
    scale: Scale,
    title: &str,
    cells: Cells,
) -> Figure {
    if panels.is_empty() {
        return empty_figure(title);
    }
    let n = panels.len();
    let cols = cols.clamp(1, n);
    let rows = n.div_ceil(cols);
    let norm = scale.resolve(panels.iter().flat_map(|p| p.values.iter()));
    let max_dim = panels.iter().map(|p| p.rows.max(p.cols)).max().unwrap_or(1);
    let mut cell = cell_size(max_dim, cells.target, 40.0).max(cells.min_cell);
    let max_w = panels.iter().map(|p| p.cols).max().unwrap_or(1) as f32;
    // Keep very wide grids within about 1600 px.
    if cols as f32 * (max_w * cell + GAP) > 1600.0 {
        cell = (1600.0 / cols as f32 - GAP) / max_w;
        cell = cell.floor().max(cells.min_cell);
    }
    // A 1-D signal's panel is one row of cells: at least SIGNAL_ROW px tall, not a hairline.
    let cell_h = if panels.iter().all(|p| p.rows == 1) { cell.max(SIGNAL_ROW) } else { cell };
    let max_pw = panels.iter().map(|p| p.cols).max().unwrap_or(1) as f32 * cell;
    let max_ph = panels.iter().map(|p| p.rows).max().unwrap_or(1) as f32 * cell_h;
    let title_w = panels.iter().map(|p| text_width(&p.title, PANEL_TITLE_SIZE)).fold(0.0, f32::max);
    let label_w = text.below.iter().map(|l| text_width(l, TICK_SIZE)).fold(0.0, f32::max);
    let row_label_w = text.rows.iter().map(|l| text_width(l, PANEL_TITLE_SIZE)).fold(0.0, f32::max);
    let row_label_space = if row_label_w > 0.0 { row_label_w.ceil() + 2.0 * TEXT_GAP } else { 0.0 };
    // Only rows that have panel titles reserve space for them.
    let title_rows: Vec<f32> = (0..rows)
        .map(|r| {
            let any = panels[r * cols..((r + 1) * cols).min(n)].iter().any(|p| !p.title.is_empty());
            if any {
                line_height(PANEL_TITLE_SIZE) + TEXT_GAP
            } else {
                0.0
            }
        })
        .collect();
    let label_row = if label_w > 0.0 { line_height(TICK_SIZE) + TEXT_GAP } else { 0.0 };
    let slot_w = max_pw.max(title_w).max(label_w).ceil() + GAP;
    let row_tops: Vec<f32> = title_rows
        .iter()
        .scan(0.0, |y, &t| {
            let top = *y;
            *y += t + max_ph + label_row + GAP;
            Some(top)
        })
        .collect();
    let grid_w = row_label_space + cols as f32 * slot_w - GAP;
    let grid_h = title_rows.iter().sum::<f32>() + rows as f32 * (max_ph + label_row + GAP) - GAP;

    let bar = ColorBar::new(cmap, norm);
    let bar_h = grid_h.clamp(120.0, 360.0);
    let content_w = grid_w + BAR_GAP + bar.width();
    let content_h = grid_h.max(bar_h);
    let fig_w = (content_w + 2.0 * MARGIN).max(MIN_WIDTH).max(text_width(title, 17.0) + 2.0 * MARGIN).ceil();
    let top = MARGIN + title_height(title);
    let fig_h = (top + content_h + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    draw_title(&mut fig, fig_w / 2.0, MARGIN, title);

    let ox = ((fig_w - content_w) / 2.0).round();
    let oy = (top + (content_h - grid_h) / 2.0).round();
    let title_style = TextStyle::new(PANEL_TITLE_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Bottom);
    let label_style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    let row_style = TextStyle::new(PANEL_TITLE_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle);
    for (r, label) in text.rows.iter().enumerate().take(rows) {
        let cy = oy + row_tops[r] + title_rows[r] + max_ph / 2.0;
        fig.text(ox + row_label_space - 2.0 * TEXT_GAP, cy, label, row_style);
    }
    for (i, p) in panels.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let (pw, ph) = (p.cols as f32 * cell, p.rows as f32 * cell_h);
        let cx = ox + row_label_space + c as f32 * slot_w + (slot_w - GAP) / 2.0;
        let px = (cx - pw / 2.0).round();
        let py = (oy + row_tops[r] + title_rows[r] + (max_ph - ph) / 2.0).round();
        fig.text(cx, py - TEXT_GAP, &p.title, title_style);
        draw_heatmap(&mut fig, px, py, cell, cell_h, &p.image(cmap, &norm));
        if let Some(label) = text.below.get(i) {
            fig.text(cx, py + ph + TEXT_GAP, label, label_style);
        }
    }
    let bar_x = ox + grid_w + BAR_GAP;
    let bar_y = top + (content_h - bar_h) / 2.0;
    bar.draw(&mut fig, bar_x, bar_y, bar_h);
    fig
}

/// Panels in a grid of `cols` columns with one shared colour scale and a
/// colour bar, like the tutorials' `plot_matrix_grid` / `plot_channels`.
///
/// For conv kernels pass the panels row-major with rows = output channels
/// and `cols` = input channels; 1-D kernels are `1 × k` panels. Cells are
/// square; `Scale::Symmetric` gives ticks at −vmax, 0 and +vmax.
pub fn heatmap_grid(panels: &[Panel], cols: usize, cmap: Colormap, scale: Scale, title: &str) -> Figure {
    let text = GridText { below: &[], rows: &[] };
    panel_grid(panels, text, cols, cmap, scale, title)
}

/// All kernels of a conv layer, like the tutorials' `plot_channels`: one
/// row per output channel (labelled "out k"), one column per input channel
/// (titled "in j"), one shared symmetric scale.
///
/// `weights` is laid out `[out][in][kh][kw]`, as conv weights are stored.
///
/// # Panics
/// If `weights.len() != n_out * n_in * kh * kw`.
pub fn kernel_grid(
    weights: &[f32],
    n_out: usize,
    n_in: usize,
    kh: usize,
    kw: usize,
    cmap: Colormap,
    title: &str,
) -> Figure {
    let k = kh * kw;
    assert_eq!(weights.len(), n_out * n_in * k, "weights must be out × in × kh × kw");
    let panels: Vec<Panel> = (0..n_out * n_in)
        .map(|i| {
            let title = if i < n_in && n_in > 1 { format!("in {i}") } else { String::new() };
            Panel::new(title, kh, kw, weights[i * k..(i + 1) * k].to_vec())
        })
        .collect();
    let rows: Vec<String> = (0..n_out).map(|o| format!("out {o}")).collect();
    let text = GridText { below: &[], rows: &rows };
    panel_grid(&panels, text, n_in, cmap, Scale::Symmetric, title)
}

/// A weight tensor `n_out × n_in × kh × kw` as a grid, one row per output (named by
/// `row_names`, e.g. classes) and one column per input channel (named by `col_names`), on one
/// symmetric scale; cells are at least 6 px. For a linear read-out after a flatten, the rows
/// are the classes' templates over the flattened feature maps.
///
/// # Panics
/// If `weights.len() != n_out * n_in * kh * kw`.
#[allow(clippy::too_many_arguments)]
pub fn weight_grid(
    weights: &[f32],
    (n_out, n_in, kh, kw): (usize, usize, usize, usize),
    row_names: &[String],
    col_names: &[String],
    cmap: Colormap,
    title: &str,
) -> Figure {
    let k = kh * kw;
    assert_eq!(weights.len(), n_out * n_in * k, "weights must be out × in × kh × kw");
    let panels: Vec<Panel> = (0..n_out * n_in)
        .map(|i| {
            let title = if i < n_in { col_names.get(i).cloned().unwrap_or_default() } else { String::new() };
            Panel::new(title, kh, kw, weights[i * k..(i + 1) * k].to_vec())
        })
        .collect();
    let text = GridText { below: &[], rows: row_names };
    sized_panel_grid(&panels, text, n_in, cmap, Scale::Symmetric, title, Cells { target: 96.0, min_cell: 6.0 })
}

/// Inputs per panel of [`weight_matrix`], so a panel of 6 px cells is about 1200 px wide.
const MATRIX_SPLIT_COLS: usize = 200;
/// Outputs per panel of [`weight_matrix`].
const MATRIX_SPLIT_ROWS: usize = 120;

/// A `rows × cols` weight matrix (outputs × inputs) with cells at least 6 px, split into
/// panels of at most 200 inputs and 120 outputs, one under another, on one symmetric scale.
pub fn weight_matrix(values: &[f32], rows: usize, cols: usize, cmap: Colormap, title: &str) -> Figure {
    let mut panels = vec![];
    for r0 in (0..rows).step_by(MATRIX_SPLIT_ROWS) {
        for c0 in (0..cols).step_by(MATRIX_SPLIT_COLS) {
            let (r1, c1) = ((r0 + MATRIX_SPLIT_ROWS).min(rows), (c0 + MATRIX_SPLIT_COLS).min(cols));
            let block: Vec<f32> = (r0..r1).flat_map(|r| (c0..c1).map(move |c| values[r * cols + c])).collect();
            let name = |a: usize, b: usize, what: &str, one: &str| {
                if b - a == 1 {
                    format!("{one} {a}")
                } else {
                    format!("{what} {a}–{}", b - 1)
                }
            };
            let title = match (rows > MATRIX_SPLIT_ROWS, cols > MATRIX_SPLIT_COLS) {
                (false, false) => format!("{} × {}", plural(rows, "output"), plural(cols, "input")),
                (false, true) => name(c0, c1, "inputs", "input"),
                (true, false) => name(r0, r1, "outputs", "output"),
                (true, true) => format!("{}, {}", name(r0, r1, "outputs", "output"), name(c0, c1, "inputs", "input")),
            };
            panels.push(Panel::new(title, r1 - r0, c1 - c0, block));
        }
    }
    let text = GridText { below: &[], rows: &[] };
    sized_panel_grid(&panels, text, 1, cmap, Scale::Symmetric, title, Cells { target: 168.0, min_cell: 6.0 })
}

/// `1 output`, `2 outputs`.
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The same kernel(s) at successive moments (e.g. epochs), left to right, each with its label
/// underneath, on one symmetric `bwr` scale so changes in magnitude are visible. Rows wrap
/// evenly (at most 10 frames, about 2400 px, per row; no frame alone on the last row).
pub fn film_strip(frames: &[Panel], labels: &[String], title: &str) -> Figure {
    let max_dim = frames.iter().map(|p| p.rows.max(p.cols)).max().unwrap_or(1);
    let widest_cols = frames.iter().map(|p| p.cols).max().unwrap_or(1) as f32;
    // At least FILM_CELL px a weight, so each kernel reads at a slide's size, unless one
    // frame would then be wider than a figure may be.
    let min_cell = FILM_CELL.min((MAX_FIGURE_WIDTH / widest_cols).floor()).max(1.0);
    let cells = Cells { target: DEFAULT_CELLS.target, min_cell };
    let widest = widest_cols * cell_size(max_dim, cells.target, 40.0).max(min_cell);
    let label_w = labels.iter().map(|l| text_width(l, TICK_SIZE)).fold(0.0, f32::max);
    let cols = wrap_columns(frames.len(), widest.max(label_w) + GAP, 10);
    let text = GridText { below: labels, rows: &[] };
    sized_panel_grid(frames, text, cols, Colormap::Bwr, Scale::Symmetric, title, cells)
}

/// Tall heatmaps side by side with their names above and one shared
/// symmetric `bwr` colour bar, like the tutorials' `plot_named_tensors` for
/// `{X, ŷ, y}`. A 1-D tensor is passed as an `n × 1` panel.
pub fn named_tensors(tensors: &[Panel], title: &str) -> Figure {
    named_tensors_grouped(tensors, &vec![0; tensors.len()], title)
}

/// [`named_tensors`] with one symmetric scale and colour bar per group: `groups[i]` is panel
/// `i`'s group, and a group's panels are adjacent (e.g. `X` on its own, `ŷ` and `y` together).
pub fn named_tensors_grouped(tensors: &[Panel], groups: &[usize], title: &str) -> Figure {
    if tensors.is_empty() {
        return empty_figure(title);
    }
    let cmap = Colormap::Bwr;
    let group = |i: usize| groups.get(i).copied().unwrap_or(0);
    // Each run of one group: (first, end, its colour bar).
    let mut runs: Vec<(usize, usize, ColorBar)> = vec![];
    let mut start = 0;
    for i in 1..=tensors.len() {
        if i == tensors.len() || group(i) != group(start) {
            let norm = Norm::symmetric(tensors[start..i].iter().flat_map(|p| p.values.iter()));
            runs.push((start, i, ColorBar::new(cmap, norm)));
            start = i;
        }
    }
    let max_rows = tensors.iter().map(|p| p.rows).max().unwrap_or(1);
    let ch = cell_size(max_rows, 560.0, 40.0);
    // Cells are square unless that makes a panel too thin to see or too wide.
    let mut widths: Vec<f32> = tensors.iter().map(|p| (p.cols as f32 * ch).max(28.0)).collect();
    let total: f32 = widths.iter().sum();
    if total > 1400.0 {
        for w in &mut widths {
            *w = (*w * 1400.0 / total).floor().max(8.0);
        }
    }
    let name_size = LABEL_SIZE + 1.0;
    let name_row = line_height(name_size) + TEXT_GAP;
    let slots: Vec<f32> =
        tensors.iter().zip(&widths).map(|(p, &w)| w.max(text_width(&p.title, name_size)).ceil() + 2.0 * GAP).collect();
    let run_w = |r: &(usize, usize, ColorBar)| slots[r.0..r.1].iter().sum::<f32>() - 2.0 * GAP + BAR_GAP + r.2.width();
    let content_w: f32 = runs.iter().map(run_w).sum::<f32>() + 2.0 * GAP * (runs.len() - 1) as f32;
    let max_h = max_rows as f32 * ch;
    let bar_h = max_h.clamp(120.0, 360.0);
    let fig_w = (content_w + 2.0 * MARGIN).max(MIN_WIDTH).max(text_width(title, 17.0) + 2.0 * MARGIN).ceil();
    let top = MARGIN + title_height(title);
    let fig_h = (top + name_row + max_h.max(bar_h) + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    draw_title(&mut fig, fig_w / 2.0, MARGIN, title);

    let py = (top + name_row).round();
    let name_style = TextStyle::new(name_size).color(TEXT).anchor(Anchor::Middle, VAnchor::Bottom);
    let mut x = ((fig_w - content_w) / 2.0).round() - GAP;
    for run in &runs {
        let norm = run.2.norm;
        for i in run.0..run.1 {
            let (p, w, slot) = (&tensors[i], widths[i], slots[i]);
            let cx = x + slot / 2.0;
            let px = (cx - w / 2.0).round();
            let cw = w / p.cols.max(1) as f32;
            fig.text(cx, py - TEXT_GAP, &p.title, name_style);
            draw_heatmap(&mut fig, px, py, cw, ch, &p.image(cmap, &norm));
            x += slot;
        }
        let bar_y = py + ((max_h - bar_h) / 2.0).max(0.0);
        run.2.draw(&mut fig, x - 2.0 * GAP + BAR_GAP + GAP, bar_y, bar_h);
        x += BAR_GAP + run.2.width();
    }
    fig
}

impl ImagePanel {
    /// Rows drawn: 3-channel images are RGB; other channel counts are stacked top to bottom
    /// (a 2-channel signal shows as two rows).
    fn shown_height(&self) -> usize {
        if self.channels == 3 {
            self.height
        } else {
            self.height * self.channels.max(1)
        }
    }

    /// 3-channel images are RGB clamped to [0, 1]; others are grey on `norm`, which the
    /// whole figure shares so that one value is one grey in every panel.
    fn image(&self, cmap: Colormap, norm: &Norm) -> Image {
        let plane = self.height * self.width;
        let get = |i: usize| self.values.get(i).copied().unwrap_or(f32::NAN);
        let pixels = if self.channels == 3 {
            (0..plane)
                .map(|i| {
                    [0, 1, 2].map(|c| {
                        let v = get(c * plane + i);
                        if v.is_nan() {
                            0
                        } else {
                            (v.clamp(0.0, 1.0) * 255.0).round() as u8
                        }
                    })
                })
                .collect()
        } else {
            (0..plane * self.channels.max(1)).map(|i| cmap.map(norm.apply(get(i)))).collect()
        };
        Image { width: self.width, height: self.shown_height(), pixels }
    }
}

/// Images in a grid of `cols` columns with a label under each, for sample
/// grids and easy/hard examples. Grey images share one min–max scale.
pub fn image_grid(images: &[ImagePanel], cols: usize, cmap: Colormap, title: &str) -> Figure {
    let norm = Norm::min_max(images.iter().filter(|im| im.channels != 3).flat_map(|im| im.values.iter()));
    image_grid_on(images, cols, cmap, norm, title)
}

/// [`image_grid`] on a given grey scale, e.g. the data's range, so one value is one grey
/// whatever the panels hold.
pub fn image_grid_on(images: &[ImagePanel], cols: usize, cmap: Colormap, norm: Norm, title: &str) -> Figure {
    if images.is_empty() {
        return empty_figure(title);
    }
    let n = images.len();
    let cols = cols.clamp(1, n);
    let rows = n.div_ceil(cols);
    let max_dim = images.iter().map(|im| im.shown_height().max(im.width)).max().unwrap_or(1);
    // Up to 48 px a cell, so a tiny crop (a 2×2 receptive field) is still seen.
    let scale = cell_size(max_dim, 140.0, 48.0);
    // A 1-D signal would be a hairline: give each channel row at least 12 px.
    let scale_y = if images.iter().all(|im| im.height == 1) { scale.max(12.0) } else { scale };
    let max_w = images.iter().map(|im| im.width).max().unwrap_or(1) as f32 * scale;
    let max_h = images.iter().map(|im| im.shown_height()).max().unwrap_or(1) as f32 * scale_y;
    let label_w = images.iter().map(|im| text_width(&im.label, LABEL_SIZE - 1.0)).fold(0.0, f32::max);
    let label_row = if label_w > 0.0 { line_height(LABEL_SIZE - 1.0) + TEXT_GAP } else { 0.0 };
    let slot_w = max_w.max(label_w).ceil() + GAP;
    let slot_h = max_h + label_row + GAP;
    let grid_w = cols as f32 * slot_w - GAP;
    let grid_h = rows as f32 * slot_h - GAP;
    // A long title over a small grid wraps rather than widening the figure into blank sides.
    let title = &wrap_title(title, (grid_w + 2.0 * MARGIN).max(TITLE_WRAP));
    let fig_w = (grid_w + 2.0 * MARGIN).max(MIN_WIDTH).max(title_width(title) + 2.0 * MARGIN).ceil();
    let top = MARGIN + title_height(title);
    let fig_h = (top + grid_h + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    draw_title(&mut fig, fig_w / 2.0, MARGIN, title);
    let ox = ((fig_w - grid_w) / 2.0).round();
    let style = TextStyle::new(LABEL_SIZE - 1.0).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    for (i, im) in images.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let (w, h) = (im.width as f32 * scale, im.shown_height() as f32 * scale_y);
        let cx = ox + c as f32 * slot_w + (slot_w - GAP) / 2.0;
        let px = (cx - w / 2.0).round();
        let py = (top + r as f32 * slot_h + (max_h - h) / 2.0).round();
        fig.image(px, py, w, h, &im.image(cmap, &norm));
        fig.outline_rect(px, py, w, h, 1.0, FRAME);
        fig.text(cx, top + r as f32 * slot_h + max_h + TEXT_GAP, &im.label, style);
    }
    fig
}

/// Columns for `n` images of `slot_w` px so the figure stays within about 2400 px, with
/// rows filled evenly (8 images in 2 rows of 4, not 7 and 1).
pub fn wrap_columns(n: usize, slot_w: f32, max_cols: usize) -> usize {
    let fit = ((2400.0 / slot_w.max(1.0)).floor() as usize).clamp(1, max_cols.max(1));
    let rows = n.max(1).div_ceil(fit);
    n.max(1).div_ceil(rows)
}

/// Relative luminance (0–1) of an sRGB colour, to pick readable text.
fn luminance(c: Rgb) -> f32 {
    let lin = |v: u8| {
        let v = v as f32 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
}

/// Black or white, whichever contrasts more with `background`.
fn contrasting_text(background: Rgb) -> Rgb {
    // The luminance where black and white text have equal contrast ratio.
    if luminance(background) > 0.179 {
        [0, 0, 0]
    } else {
        [255, 255, 255]
    }
}

/// A confusion matrix (rows = true class, columns = predicted class) with
/// the count written in each cell and a `viridis` colour bar.
///
/// `counts` is row-major `n_classes × n_classes`; `class_names` may be empty
/// (classes are then numbered from 0).
pub fn confusion_matrix(counts: &[u32], n_classes: usize, class_names: &[String], title: &str) -> Figure {
    let n = n_classes;
    if n == 0 {
        return empty_figure(title);
    }
    let names: Vec<String> =
        if class_names.len() == n { class_names.to_vec() } else { (0..n).map(|i| i.to_string()).collect() };
    let get = |i: usize| counts.get(i).copied().unwrap_or(0);
    let max = (0..n * n).map(get).max().unwrap_or(0);
    let count_size = TICK_SIZE;
    let count_w = text_width(&max.to_string(), count_size);
    let mut cell = (count_w + 14.0).max(36.0).ceil();
    if n as f32 * cell > 900.0 {
        cell = (900.0 / n as f32).floor().max(4.0);
    }
    let show_counts = count_w + 4.0 <= cell;
    let mat = n as f32 * cell;

    let name_w = names.iter().map(|s| text_width(s, TICK_SIZE)).fold(0.0, f32::max);
    let vertical_x_names = name_w + 4.0 > cell;
    let x_names_h = if vertical_x_names { name_w } else { line_height(TICK_SIZE) };
    let label_h = line_height(LABEL_SIZE);
    let left = MARGIN + label_h + 8.0 + name_w + 8.0;
    let bar = ColorBar::new(Colormap::Viridis, Norm::Linear { vmin: 0.0, vmax: max.max(1) as f32 });
    let bar_h = mat.clamp(120.0, 360.0);
    let content_right = mat + BAR_GAP + bar.width();
    let top = MARGIN + title_height(title);
    let fig_w = (left + content_right + MARGIN).max(MIN_WIDTH).max(text_width(title, 17.0) + 2.0 * MARGIN).ceil();
    let fig_h = (top + mat.max(bar_h) + 7.0 + x_names_h + 8.0 + label_h + MARGIN).ceil();
    let mut fig = Figure::new(fig_w as u32, fig_h as u32);
    draw_title(&mut fig, fig_w / 2.0, MARGIN, title);
    // Centre the matrix and its bar when the figure is wider than needed.
    let mx = (left + (fig_w - left - MARGIN - content_right) / 2.0).round();
    let my = top.round();

    let norm = Norm::Linear { vmin: 0.0, vmax: max.max(1) as f32 };
    let pixels: Vec<Rgb> = (0..n * n).map(|i| Colormap::Viridis.map(norm.apply(get(i) as f32))).collect();
    let image = Image { width: n, height: n, pixels };
    fig.image(mx, my, mat, mat, &image);
    fig.outline_rect(mx, my, mat, mat, 1.0, FRAME);
    if show_counts {
        for r in 0..n {
            for c in 0..n {
                let color = contrasting_text(image.pixels[r * n + c]);
                let style = TextStyle::new(count_size).color(color).anchor(Anchor::Middle, VAnchor::Middle);
                let (cx, cy) = (mx + (c as f32 + 0.5) * cell, my + (r as f32 + 0.5) * cell);
                fig.text(cx, cy, &get(r * n + c).to_string(), style);
            }
        }
    }
    let y_style = TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle);
    let x_style = if vertical_x_names {
        TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::End, VAnchor::Middle).vertical()
    } else {
        TextStyle::new(TICK_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top)
    };
    for (i, name) in names.iter().enumerate() {
        let p = ((i as f32 + 0.5) * cell).floor() + 0.5;
        fig.text(mx - 8.0, my + p, name, y_style);
        fig.text(mx + p, my + mat + 7.0, name, x_style);
    }
    let axis_style = TextStyle::new(LABEL_SIZE).color(TEXT).anchor(Anchor::Middle, VAnchor::Top);
    fig.text(mx + mat / 2.0, my + mat + 7.0 + x_names_h + 8.0, "predicted class", axis_style);
    fig.text(mx - 8.0 - name_w - 8.0 - label_h, my + mat / 2.0, "true class", axis_style.vertical());
    let bar_y = my + ((mat - bar_h) / 2.0).max(0.0);
    bar.draw(&mut fig, mx + mat + BAR_GAP, bar_y, bar_h);
    fig
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::Op;

    fn images(fig: &Figure) -> Vec<Image> {
        fig.ops().iter().filter_map(|op| if let Op::Image(.., im) = op { Some(im.clone()) } else { None }).collect()
    }

    #[test]
    fn zero_is_one_grey_in_every_sample_panel() {
        let panel = |values: Vec<f32>| ImagePanel { label: "y=0".into(), height: 1, width: 2, channels: 1, values };
        let fig = image_grid(&[panel(vec![0.0, 1.0]), panel(vec![-1.0, 0.0])], 2, Colormap::Gray, "t");
        let ims = images(&fig);
        assert_eq!(ims.len(), 2);
        assert_eq!(ims[0].pixels[0], ims[1].pixels[1]);
        assert_ne!(ims[0].pixels[0], ims[0].pixels[1]);
    }

    #[test]
    fn a_small_grid_under_a_long_title_wraps_the_title_and_draws_its_cells_large() {
        // The lines lab's first layer: two 2×2 receptive fields under a title of about 980 px.
        let panel = |f: usize| ImagePanel {
            label: format!("filter {f}"),
            height: 2,
            width: 2,
            channels: 1,
            values: vec![0.0, 1.0, 0.5, 0.25],
        };
        let title = "layer 0 conv2d(2,k=2): the input that maximises each filter's centre unit · its field: rows 5–6, cols 5–6 · values 0–1";
        let fig = image_grid_on(&[panel(0), panel(1)], 2, Colormap::Gray, Norm::Linear { vmin: 0.0, vmax: 1.0 }, title);
        assert!(
            fig.width() as f32 <= TITLE_WRAP + 2.0 * MARGIN && (fig.width() as f32) < title_width(title),
            "{} px wide",
            fig.width()
        );
        let texts: Vec<&str> = fig
            .ops()
            .iter()
            .filter_map(|op| if let Op::Text(_, _, t, _) = op { Some(t.as_str()) } else { None })
            .collect();
        assert!(texts.contains(&"its field: rows 5–6, cols 5–6 · values 0–1"), "{texts:?}");
        assert!(cells(&fig).iter().all(|(_, cell)| *cell >= 40.0), "a 2×2 crop is drawn large");
        // On the given scale: 0.5 is mid-grey whatever the panels' own range.
        assert_eq!(images(&fig)[0].pixels[2], Colormap::Gray.map(0.5));
    }

    #[test]
    fn film_strip_weights_are_at_least_12_px_and_wide_frames_wrap_within_2400_px() {
        // mnist-lab's eight 5×5 kernels as one frame (23 × 11 cells) over 6 epochs, then 11.
        for epochs in [6, 11] {
            let frames: Vec<Panel> = (0..epochs).map(|_| Panel::new("", 23, 11, vec![0.1; 23 * 11])).collect();
            let labels: Vec<String> = (0..epochs).map(|e| format!("epoch {e}")).collect();
            let fig = film_strip(&frames, &labels, "t");
            assert!(cells(&fig).iter().all(|(_, cell)| *cell >= FILM_CELL), "{epochs} epochs");
            assert!(fig.width() <= 2400, "{epochs} epochs: {} px", fig.width());
        }
        // A frame too wide for 12 px cells shrinks to fit instead.
        let wide = [Panel::new("", 2, 400, vec![0.1; 800])];
        assert!(film_strip(&wide, &["epoch 0".into()], "t").width() <= 2400 + 200);
    }

    #[test]
    fn one_row_feature_maps_are_drawn_at_least_24_px_tall() {
        // pattern1d's 4 × 20 maps: 8 px square cells would make hairlines.
        let maps: Vec<Panel> = (0..4).map(|c| Panel::new(format!("ch {c}"), 1, 20, vec![0.5; 20])).collect();
        let fig = heatmap_grid(&maps, 4, Colormap::Bwr, Scale::Symmetric, "t");
        let heights: Vec<f32> =
            fig.ops().iter().filter_map(|op| if let Op::Image(_, _, _, h, _) = op { Some(*h) } else { None }).collect();
        assert_eq!(heights.len(), 4);
        assert!(heights.iter().all(|&h| h >= SIGNAL_ROW), "{heights:?}");
        // An image's cells stay square.
        let fig = heatmap_grid(&[Panel::new("", 2, 20, vec![0.5; 40])], 1, Colormap::Bwr, Scale::Symmetric, "t");
        let sizes: Vec<(f32, f32)> = fig
            .ops()
            .iter()
            .filter_map(|op| if let Op::Image(_, _, w, h, _) = op { Some((*w, *h)) } else { None })
            .collect();
        assert_eq!(sizes.len(), 1);
        assert!((sizes[0].0 / 20.0 - sizes[0].1 / 2.0).abs() < 1e-3, "{sizes:?}");
    }

    #[test]
    fn a_two_channel_signal_shows_both_channels() {
        let im = ImagePanel { label: String::new(), height: 1, width: 3, channels: 2, values: vec![0.0; 6] };
        let ims = images(&image_grid(&[im], 1, Colormap::Gray, ""));
        assert_eq!((ims[0].width, ims[0].height), (3, 2));
    }

    #[test]
    fn rows_wrap_evenly_within_2400_px() {
        assert_eq!(wrap_columns(8, 332.0, 8), 4);
        assert_eq!(wrap_columns(11, 300.0, 10), 6);
        assert_eq!(wrap_columns(3, 100.0, 8), 3);
    }

    /// Every drawn image with its cell width in px.
    fn cells(fig: &Figure) -> Vec<(Image, f32)> {
        fig.ops()
            .iter()
            .filter_map(
                |op| if let Op::Image(_, _, w, _, im) = op { Some((im.clone(), w / im.width as f32)) } else { None },
            )
            .collect()
    }

    #[test]
    fn a_wide_weight_matrix_is_split_into_panels_of_readable_cells() {
        let (o, n) = (10, 1568);
        let fig = weight_matrix(&vec![0.5; o * n], o, n, Colormap::Bwr, "t");
        let drawn = cells(&fig);
        assert_eq!(drawn.len(), n.div_ceil(MATRIX_SPLIT_COLS));
        assert!(drawn.iter().all(|(im, cell)| *cell >= 6.0 && im.height == o && im.width <= MATRIX_SPLIT_COLS));
        assert_eq!(drawn.iter().map(|(im, _)| im.width).sum::<usize>(), n);
    }

    #[test]
    fn read_out_templates_have_one_row_per_class_and_one_column_per_channel() {
        let (o, c, h, w) = (3, 2, 4, 5);
        let weights: Vec<f32> = (0..o * c * h * w).map(|v| v as f32).collect();
        let rows: Vec<String> = ["cat", "dog", "cow"].map(String::from).to_vec();
        let fig = weight_grid(&weights, (o, c, h, w), &rows, &["ch 0".into(), "ch 1".into()], Colormap::Bwr, "t");
        let drawn = cells(&fig);
        assert_eq!(drawn.len(), o * c);
        assert!(drawn.iter().all(|(im, cell)| (im.height, im.width) == (h, w) && *cell >= 6.0));
        let texts: Vec<&str> = fig
            .ops()
            .iter()
            .filter_map(|op| if let Op::Text(_, _, t, _) = op { Some(t.as_str()) } else { None })
            .collect();
        assert!(["cat", "dog", "cow", "ch 0", "ch 1"].iter().all(|t| texts.contains(t)), "{texts:?}");
    }

    #[test]
    fn gap_cells_are_grey_and_no_bwr_colour_is() {
        let p = Panel::new("", 1, 3, vec![0.0, 0.0, 1.0]).with_gaps(vec![false, true, false]);
        let im = p.image(Colormap::Bwr, &Norm::Symmetric { vmax: 1.0 });
        assert_eq!(im.pixels, [Colormap::Bwr.map(0.5), GAP_COLOUR, Colormap::Bwr.map(1.0)]);
        for cmap in [Colormap::Bwr, Colormap::Seismic, Colormap::Viridis] {
            let far = (0..=1000)
                .map(|k| cmap.map(k as f32 / 1000.0))
                .all(|c| c.iter().zip(GAP_COLOUR).map(|(&a, b)| (a as i32 - b as i32).abs()).max().unwrap() > 20);
            assert!(far, "{cmap:?} has a colour near the gap grey");
        }
    }

    #[test]
    fn a_film_strip_wraps_evenly() {
        let frames: Vec<Panel> = (0..11).map(|_| Panel::new("", 11, 25, vec![0.1; 275])).collect();
        let labels: Vec<String> = (0..11).map(|e| format!("epoch {e}")).collect();
        let fig = film_strip(&frames, &labels, "t");
        let mut rows: Vec<i64> = fig
            .ops()
            .iter()
            .filter_map(|op| if let Op::Image(_, y, ..) = op { Some(*y as i64) } else { None })
            .collect();
        let first = rows[0];
        let in_first = rows.iter().filter(|&&y| y == first).count();
        rows.dedup();
        assert_eq!((rows.len(), in_first), (2, 6));
        assert!(fig.width() <= 2400);
    }
}
