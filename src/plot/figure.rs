//! A finished figure: a recorded list of drawing calls that can be replayed
//! onto any [`Surface`], so one builder yields both PNG and SVG output.

use std::path::Path;

use super::canvas::{Canvas, Image, Stroke, Surface, TextStyle};
use super::colormap::Rgb;
use super::svg::SvgSurface;

/// One recorded drawing call.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    FillRect(f32, f32, f32, f32, Rgb),
    OutlineRect(f32, f32, f32, f32, f32, Rgb),
    Gradient(f32, f32, f32, f32, Vec<Rgb>),
    Polyline(Vec<(f32, f32)>, Stroke),
    Circle(f32, f32, f32, Rgb, f32),
    Text(f32, f32, String, TextStyle),
    Image(f32, f32, f32, f32, Image),
}

/// `op` moved right by `dx` and down by `dy` pixels.
fn shifted(op: &Op, dx: f32, dy: f32) -> Op {
    match op.clone() {
        Op::FillRect(x, y, w, h, c) => Op::FillRect(x + dx, y + dy, w, h, c),
        Op::OutlineRect(x, y, w, h, lw, c) => Op::OutlineRect(x + dx, y + dy, w, h, lw, c),
        Op::Gradient(x, y, w, h, s) => Op::Gradient(x + dx, y + dy, w, h, s),
        Op::Polyline(p, s) => Op::Polyline(p.into_iter().map(|(x, y)| (x + dx, y + dy)).collect(), s),
        Op::Circle(x, y, r, c, a) => Op::Circle(x + dx, y + dy, r, c, a),
        Op::Text(x, y, t, s) => Op::Text(x + dx, y + dy, t, s),
        Op::Image(x, y, w, h, i) => Op::Image(x + dx, y + dy, w, h, i),
    }
}

/// A figure of a fixed pixel size, white background, drawn by recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    width: u32,
    height: u32,
    ops: Vec<Op>,
}

/// Output formats, chosen from a file name's extension by [`Figure::save`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    /// `.png` or `.svg` (case-insensitive); anything else is `None`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }
}

impl Figure {
    /// An empty white figure.
    pub fn new(width: u32, height: u32) -> Figure {
        let mut f = Figure { width: width.max(1), height: height.max(1), ops: Vec::new() };
        f.fill_rect(0.0, 0.0, f.width as f32, f.height as f32, [255, 255, 255]);
        f
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    /// The recorded drawing calls, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Replays every drawing call onto `surface`.
    fn render(&self, surface: &mut dyn Surface) {
        for op in &self.ops {
            match op {
                Op::FillRect(x, y, w, h, c) => surface.fill_rect(*x, *y, *w, *h, *c),
                Op::OutlineRect(x, y, w, h, lw, c) => surface.outline_rect(*x, *y, *w, *h, *lw, *c),
                Op::Gradient(x, y, w, h, s) => surface.vertical_gradient(*x, *y, *w, *h, s),
                Op::Polyline(p, s) => surface.polyline(p, *s),
                Op::Circle(x, y, r, c, a) => surface.circle(*x, *y, *r, *c, *a),
                Op::Text(x, y, t, s) => surface.text(*x, *y, t, *s),
                Op::Image(x, y, w, h, i) => surface.image(*x, *y, *w, *h, i),
            }
        }
    }

    /// Figures one under another, each centred, on one white page (e.g. one per layer): a
    /// narrow part sits in the middle of a slide, not against its left edge.
    pub fn stack(figures: &[Figure]) -> Figure {
        let width = figures.iter().map(|f| f.width).max().unwrap_or(1);
        let height = figures.iter().map(|f| f.height).sum::<u32>().max(1);
        let mut out = Figure::new(width, height);
        let mut dy = 0.0;
        for f in figures {
            let dx = ((width - f.width) / 2) as f32;
            out.ops.extend(f.ops.iter().map(|op| shifted(op, dx, dy)));
            dy += f.height as f32;
        }
        out
    }

    /// Figures left to right in rows no wider than `max_width` (each row centred, its parts
    /// top-aligned), rows one under another: a small model's narrow layers share a row
    /// instead of making a page three times taller than wide. A figure wider than
    /// `max_width` has a row of its own.
    pub fn flow(figures: &[Figure], max_width: u32) -> Figure {
        let mut rows: Vec<Vec<&Figure>> = vec![];
        for f in figures {
            match rows.last_mut() {
                Some(row) if row.iter().map(|g| g.width).sum::<u32>() + f.width <= max_width => row.push(f),
                _ => rows.push(vec![f]),
            }
        }
        let row_w = |row: &Vec<&Figure>| row.iter().map(|g| g.width).sum::<u32>();
        let width = rows.iter().map(row_w).max().unwrap_or(1).max(1);
        let height = rows.iter().map(|row| row.iter().map(|g| g.height).max().unwrap_or(0)).sum::<u32>().max(1);
        let mut out = Figure::new(width, height);
        let mut dy = 0.0;
        for row in &rows {
            let mut dx = ((width - row_w(row)) / 2) as f32;
            for f in row {
                out.ops.extend(f.ops.iter().map(|op| shifted(op, dx, dy)));
                dx += f.width as f32;
            }
            dy += row.iter().map(|g| g.height).max().unwrap_or(0) as f32;
        }
        out
    }

    /// Rasterises the figure.
    pub fn to_canvas(&self) -> Canvas {
        let mut c = Canvas::new(self.width, self.height, [255, 255, 255]);
        self.render(&mut c);
        c
    }

    /// The figure as PNG bytes.
    pub fn to_png(&self) -> Vec<u8> {
        self.to_canvas().encode_png()
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> String {
        let mut s = SvgSurface::new(self.width, self.height);
        self.render(&mut s);
        s.finish()
    }

    /// Writes the figure, atomically, as PNG or SVG according to `path`'s extension.
    pub fn save(&self, path: impl AsRef<Path>) -> crate::Result<()> {
        let path = path.as_ref();
        let bytes = match Format::from_path(path) {
            Some(Format::Png) => self.to_png(),
            Some(Format::Svg) => self.to_svg().into_bytes(),
            None => {
                return Err(crate::Error::config(format!(
                    "{}: figure files must end in .png or .svg; name the file so",
                    path.display()
                )))
            }
        };
        crate::fs::write_atomic(path, &bytes)
    }
}

impl Surface for Figure {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.ops.push(Op::FillRect(x, y, w, h, color));
    }
    fn outline_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Rgb) {
        self.ops.push(Op::OutlineRect(x, y, w, h, width, color));
    }
    fn vertical_gradient(&mut self, x: f32, y: f32, w: f32, h: f32, stops: &[Rgb]) {
        self.ops.push(Op::Gradient(x, y, w, h, stops.to_vec()));
    }
    fn polyline(&mut self, points: &[(f32, f32)], stroke: Stroke) {
        if points.len() >= 2 {
            self.ops.push(Op::Polyline(points.to_vec(), stroke));
        }
    }
    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb, alpha: f32) {
        self.ops.push(Op::Circle(cx, cy, r, fill, alpha));
    }
    fn text(&mut self, x: f32, y: f32, text: &str, style: TextStyle) {
        if !text.is_empty() {
            self.ops.push(Op::Text(x, y, text.to_string(), style));
        }
    }
    fn image(&mut self, x: f32, y: f32, w: f32, h: f32, image: &Image) {
        self.ops.push(Op::Image(x, y, w, h, image.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_figures_are_centred_one_under_another() {
        let mut wide = Figure::new(400, 50);
        wide.fill_rect(0.0, 0.0, 400.0, 50.0, [0, 0, 0]);
        let mut narrow = Figure::new(100, 30);
        narrow.fill_rect(0.0, 0.0, 100.0, 30.0, [0, 0, 0]);
        let page = Figure::stack(&[wide, narrow]);
        assert_eq!((page.width(), page.height()), (400, 80));
        assert_eq!(page.ops().last(), Some(&Op::FillRect(150.0, 50.0, 100.0, 30.0, [0, 0, 0])));
    }

    #[test]
    fn narrow_figures_flow_into_rows_within_the_width() {
        let block = |w: u32, h: u32| {
            let mut f = Figure::new(w, h);
            f.fill_rect(0.0, 0.0, w as f32, h as f32, [0, 0, 0]);
            f
        };
        // 300 + 300 fit in 700, the third starts a row, centred; the row is as tall as its tallest.
        let page = Figure::flow(&[block(300, 50), block(300, 80), block(200, 40)], 700);
        assert_eq!((page.width(), page.height()), (600, 120));
        let blacks: Vec<&Op> = page.ops().iter().filter(|op| matches!(op, Op::FillRect(.., [0, 0, 0]))).collect();
        assert_eq!(blacks[1], &Op::FillRect(300.0, 0.0, 300.0, 80.0, [0, 0, 0]));
        assert_eq!(blacks[2], &Op::FillRect(200.0, 80.0, 200.0, 40.0, [0, 0, 0]));
        // Too wide for any row: one a row.
        assert_eq!(Figure::flow(&[block(900, 10), block(900, 10)], 700).height(), 20);
    }
}
