//! The drawing interface ([`Surface`]) and its raster implementation
//! ([`Canvas`]), which antialiases shapes and text and encodes PNG.
//!
//! Coordinates are pixels from the top-left corner; a 1-px line is crisp when
//! it lies on a pixel centre (`n + 0.5`).

use super::colormap::Rgb;
use super::font;
use crate::error::{Error, Result};

/// Horizontal text anchor, along the reading direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// Vertical text anchor, across the reading direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VAnchor {
    /// The point is at the font's ascent (top of accents).
    Top,
    /// The point is half a capital height above the baseline (centres digits).
    Middle,
    /// The point is on the baseline.
    Baseline,
    /// The point is at the font's descent (bottom of descenders).
    Bottom,
}

/// How a string is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextStyle {
    /// Pixels per em.
    pub size: f32,
    pub color: Rgb,
    pub anchor: Anchor,
    pub vanchor: VAnchor,
    /// Rotated 90° counter-clockwise (reads bottom to top), for y-axis labels.
    pub vertical: bool,
}

impl TextStyle {
    /// Black, horizontal text anchored at its start and baseline.
    pub fn new(size: f32) -> TextStyle {
        TextStyle { size, color: [0, 0, 0], anchor: Anchor::Start, vanchor: VAnchor::Baseline, vertical: false }
    }
    pub fn color(mut self, color: Rgb) -> TextStyle {
        self.color = color;
        self
    }
    pub fn anchor(mut self, anchor: Anchor, vanchor: VAnchor) -> TextStyle {
        self.anchor = anchor;
        self.vanchor = vanchor;
        self
    }
    pub fn vertical(mut self) -> TextStyle {
        self.vertical = true;
        self
    }

    /// Offset of the anchor point from the baseline, along the text's "down"
    /// direction (positive = below the baseline).
    pub fn baseline_offset(&self, m: &font::TextMetrics) -> f32 {
        match self.vanchor {
            VAnchor::Top => -m.ascent,
            VAnchor::Middle => -m.cap_height / 2.0,
            VAnchor::Baseline => 0.0,
            VAnchor::Bottom => m.descent,
        }
    }

    /// Offset of the anchor point from the text start, along the reading direction.
    fn start_offset(&self, m: &font::TextMetrics) -> f32 {
        match self.anchor {
            Anchor::Start => 0.0,
            Anchor::Middle => m.width / 2.0,
            Anchor::End => m.width,
        }
    }
}

/// Line appearance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stroke {
    pub width: f32,
    pub color: Rgb,
    /// Dash and gap lengths in pixels; `None` for a solid line.
    pub dash: Option<(f32, f32)>,
}

impl Stroke {
    pub fn solid(width: f32, color: Rgb) -> Stroke {
        Stroke { width, color, dash: None }
    }
    pub fn dashed(width: f32, color: Rgb, dash: f32, gap: f32) -> Stroke {
        Stroke { width, color, dash: Some((dash, gap)) }
    }
}

/// A small RGB image drawn scaled into a rectangle (nearest neighbour), e.g.
/// the cells of a heatmap.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    /// Row-major pixels.
    pub pixels: Vec<Rgb>,
}

/// The drawing calls every figure is made of; implemented by the raster
/// [`Canvas`], the SVG writer and the recording [`super::figure::Figure`].
pub trait Surface {
    /// Fills an axis-aligned rectangle.
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb);
    /// Draws a frame of `width` px just outside the rectangle's edges.
    fn outline_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Rgb);
    /// Fills a rectangle with colours interpolated from `stops`, top to bottom.
    fn vertical_gradient(&mut self, x: f32, y: f32, w: f32, h: f32, stops: &[Rgb]);
    /// Draws connected line segments.
    fn polyline(&mut self, points: &[(f32, f32)], stroke: Stroke);
    /// Fills a disc, blended with `alpha` in `[0, 1]`.
    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb, alpha: f32);
    /// Draws one line of text whose anchor point is `(x, y)`.
    fn text(&mut self, x: f32, y: f32, text: &str, style: TextStyle);
    /// Draws `image` scaled to fill the rectangle, without smoothing.
    fn image(&mut self, x: f32, y: f32, w: f32, h: f32, image: &Image);

    /// A single straight segment.
    fn line(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, stroke: Stroke) {
        self.polyline(&[(x0, y0), (x1, y1)], stroke);
    }
}

/// A straight piece of a stroked path, from one point to another.
pub(crate) type Segment = ((f32, f32), (f32, f32));

/// An RGB raster image in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    /// Row-major RGB bytes.
    data: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let mut data = Vec::with_capacity(width as usize * height as usize * 3);
        for _ in 0..width as usize * height as usize {
            data.extend_from_slice(&background);
        }
        Canvas { width, height, data }
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Row-major RGB bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The pixel at `(x, y)`; panics outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        assert!(x < self.width && y < self.height, "pixel ({x},{y}) outside");
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Blends `color` into pixel `(x, y)` with coverage `a` in `[0, 1]`;
    /// pixels outside the canvas are ignored (drawing clips silently).
    fn blend(&mut self, x: i32, y: i32, color: Rgb, a: f32) {
        if x < 0 || y < 0 || x >= self.width as i32 || y >= self.height as i32 || a <= 0.0 {
            return;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        let a = a.min(1.0);
        for (d, &c) in self.data[i..i + 3].iter_mut().zip(&color) {
            *d = (*d as f32 + (c as f32 - *d as f32) * a).round() as u8;
        }
    }

    /// Encodes the canvas as an 8-bit RGB PNG.
    pub fn encode_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().expect("writing a PNG header to memory cannot fail");
            writer.write_image_data(&self.data).expect("data length matches the header");
        }
        out
    }

    /// Decodes an 8-bit RGB or RGBA PNG (alpha is dropped), e.g. to check output.
    pub fn decode_png(bytes: &[u8]) -> Result<Canvas> {
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = dec.read_info().map_err(|e| Error::data(format!("not a readable PNG: {e}")))?;
        let size = reader.output_buffer_size().ok_or_else(|| Error::data("PNG too large for memory"))?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(|e| Error::data(format!("cannot decode the PNG: {e}")))?;
        if info.bit_depth != png::BitDepth::Eight {
            return Err(Error::data(format!("unsupported bit depth {:?}", info.bit_depth)));
        }
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => return Err(Error::data(format!("unsupported colour type {other:?}"))),
        };
        let mut data = Vec::with_capacity(info.width as usize * info.height as usize * 3);
        for row in buf[..info.buffer_size()].chunks(info.line_size) {
            for px in row[..info.width as usize * channels].chunks(channels) {
                data.extend_from_slice(&px[..3]);
            }
        }
        Ok(Canvas { width: info.width, height: info.height, data })
    }

    /// Coverage-antialiased capsules, merged with `max` so joints are not darker.
    fn stroke_segments(&mut self, segs: &[Segment], width: f32, color: Rgb) {
        if segs.is_empty() {
            return;
        }
        let hw = width / 2.0;
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &((ax, ay), (bx, by)) in segs {
            x0 = x0.min(ax.min(bx));
            y0 = y0.min(ay.min(by));
            x1 = x1.max(ax.max(bx));
            y1 = y1.max(ay.max(by));
        }
        let bx0 = ((x0 - hw - 1.0).floor() as i32).max(0);
        let by0 = ((y0 - hw - 1.0).floor() as i32).max(0);
        let bx1 = ((x1 + hw + 1.0).ceil() as i32).min(self.width as i32 - 1);
        let by1 = ((y1 + hw + 1.0).ceil() as i32).min(self.height as i32 - 1);
        if bx0 > bx1 || by0 > by1 {
            return;
        }
        let bw = (bx1 - bx0 + 1) as usize;
        let mut cov = vec![0.0f32; bw * (by1 - by0 + 1) as usize];
        for &((ax, ay), (bx, by)) in segs {
            let sx0 = ((ax.min(bx) - hw - 1.0).floor() as i32).max(bx0);
            let sy0 = ((ay.min(by) - hw - 1.0).floor() as i32).max(by0);
            let sx1 = ((ax.max(bx) + hw + 1.0).ceil() as i32).min(bx1);
            let sy1 = ((ay.max(by) + hw + 1.0).ceil() as i32).min(by1);
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            for py in sy0..=sy1 {
                for px in sx0..=sx1 {
                    let (cx, cy) = (px as f32 + 0.5, py as f32 + 0.5);
                    let t = if len2 > 0.0 { (((cx - ax) * dx + (cy - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
                    let (ex, ey) = (cx - (ax + t * dx), cy - (ay + t * dy));
                    let d = (ex * ex + ey * ey).sqrt();
                    let c = (hw + 0.5 - d).clamp(0.0, 1.0);
                    let i = (py - by0) as usize * bw + (px - bx0) as usize;
                    cov[i] = cov[i].max(c);
                }
            }
        }
        for (i, &c) in cov.iter().enumerate() {
            if c > 0.0 {
                let (px, py) = (bx0 + (i % bw) as i32, by0 + (i / bw) as i32);
                self.blend(px, py, color, c);
            }
        }
    }
}

/// Splits a polyline into segments, cutting dashes out if the stroke has them.
pub(crate) fn dash_segments(points: &[(f32, f32)], dash: Option<(f32, f32)>) -> Vec<Segment> {
    let mut out = Vec::new();
    let Some((on, off)) = dash.filter(|&(on, off)| on > 0.0 && off >= 0.0) else {
        for w in points.windows(2) {
            out.push((w[0], w[1]));
        }
        return out;
    };
    // Distance left in the current dash (drawing) or gap (not drawing).
    let (mut drawing, mut left) = (true, on);
    for w in points.windows(2) {
        let ((ax, ay), (bx, by)) = (w[0], w[1]);
        let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt();
        let mut pos = 0.0;
        while pos < len {
            let step = left.min(len - pos);
            if drawing {
                let (t0, t1) = (pos / len, (pos + step) / len);
                out.push(((ax + (bx - ax) * t0, ay + (by - ay) * t0), (ax + (bx - ax) * t1, ay + (by - ay) * t1)));
            }
            pos += step;
            left -= step;
            if left <= 1e-6 {
                drawing = !drawing;
                left = if drawing { on } else { off };
            }
        }
    }
    out
}

/// Interpolates evenly spaced `stops` at `t` in `[0, 1]`.
pub(crate) fn gradient_at(stops: &[Rgb], t: f32) -> Rgb {
    match stops.len() {
        0 => [0, 0, 0],
        1 => stops[0],
        n => {
            let pos = t.clamp(0.0, 1.0) * (n - 1) as f32;
            let i = (pos.floor() as usize).min(n - 2);
            let f = pos - i as f32;
            let (a, b) = (stops[i], stops[i + 1]);
            [0, 1, 2].map(|k| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * f).round() as u8)
        }
    }
}

fn px_range(start: f32, len: f32, limit: u32) -> std::ops::Range<i32> {
    let a = start.round().max(0.0) as i32;
    let b = ((start + len).round() as i32).min(limit as i32);
    a..b.max(a)
}

impl Surface for Canvas {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        for py in px_range(y, h, self.height) {
            for px in px_range(x, w, self.width) {
                self.blend(px, py, color, 1.0);
            }
        }
    }

    fn outline_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Rgb) {
        self.fill_rect(x - width, y - width, w + 2.0 * width, width, color);
        self.fill_rect(x - width, y + h, w + 2.0 * width, width, color);
        self.fill_rect(x - width, y, width, h, color);
        self.fill_rect(x + w, y, width, h, color);
    }

    fn vertical_gradient(&mut self, x: f32, y: f32, w: f32, h: f32, stops: &[Rgb]) {
        let rows = px_range(y, h, self.height);
        let (top, n) = (y.round(), h.round().max(1.0));
        for py in rows {
            let t = (py as f32 + 0.5 - top) / n;
            let c = gradient_at(stops, t);
            for px in px_range(x, w, self.width) {
                self.blend(px, py, c, 1.0);
            }
        }
    }

    fn polyline(&mut self, points: &[(f32, f32)], stroke: Stroke) {
        let segs = dash_segments(points, stroke.dash);
        self.stroke_segments(&segs, stroke.width, stroke.color);
    }

    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb, alpha: f32) {
        let (x0, x1) = ((cx - r - 1.0).floor() as i32, (cx + r + 1.0).ceil() as i32);
        let (y0, y1) = ((cy - r - 1.0).floor() as i32, (cy + r + 1.0).ceil() as i32);
        for py in y0..=y1 {
            for px in x0..=x1 {
                let d = ((px as f32 + 0.5 - cx).powi(2) + (py as f32 + 0.5 - cy).powi(2)).sqrt();
                let c = (r + 0.5 - d).clamp(0.0, 1.0);
                self.blend(px, py, fill, c * alpha);
            }
        }
    }

    fn text(&mut self, x: f32, y: f32, text: &str, style: TextStyle) {
        if text.is_empty() {
            return;
        }
        let m = font::measure(text, style.size);
        let mask = font::rasterize(text, style.size);
        // Text-local coordinates: u along the reading direction, v "down".
        let du = -style.start_offset(&m);
        let dv = -style.baseline_offset(&m);
        let (x, y) = (x.round() as i32, y.round() as i32);
        let (du, dv) = (du.round() as i32, dv.round() as i32);
        for j in 0..mask.height {
            for i in 0..mask.width {
                let a = mask.data[j * mask.width + i];
                if a == 0 {
                    continue;
                }
                let u = i as i32 - mask.origin_x + du;
                let v = j as i32 - mask.baseline_y + dv;
                let (px, py) = if style.vertical { (x + v, y - u) } else { (x + u, y + v) };
                self.blend(px, py, style.color, a as f32 / 255.0);
            }
        }
    }

    fn image(&mut self, x: f32, y: f32, w: f32, h: f32, image: &Image) {
        if image.width == 0 || image.height == 0 {
            return;
        }
        let (x0, y0) = (x.round(), y.round());
        let (w, h) = ((x + w).round() - x0, (y + h).round() - y0);
        for py in px_range(y0, h, self.height) {
            let sy = (((py as f32 + 0.5 - y0) / h * image.height as f32) as usize).min(image.height - 1);
            for px in px_range(x0, w, self.width) {
                let sx = (((px as f32 + 0.5 - x0) / w * image.width as f32) as usize).min(image.width - 1);
                self.blend(px, py, image.pixels[sy * image.width + sx], 1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: Rgb = [255, 255, 255];

    #[test]
    fn png_round_trip_keeps_pixels() {
        let mut c = Canvas::new(37, 21, WHITE);
        c.fill_rect(3.0, 4.0, 10.0, 5.0, [200, 10, 30]);
        c.line(0.0, 0.0, 36.0, 20.0, Stroke::solid(1.5, [0, 0, 255]));
        c.circle(30.0, 5.0, 4.0, [0, 128, 0], 0.7);
        let bytes = c.encode_png();
        assert_eq!(&bytes[1..4], b"PNG");
        let back = Canvas::decode_png(&bytes).unwrap();
        assert_eq!((back.width(), back.height()), (37, 21));
        assert_eq!(back, c);
    }

    #[test]
    fn crisp_horizontal_line_covers_one_row() {
        let mut c = Canvas::new(20, 10, WHITE);
        c.line(2.0, 4.5, 18.0, 4.5, Stroke::solid(1.0, [0, 0, 0]));
        assert_eq!(c.pixel(10, 4), [0, 0, 0]);
        assert_eq!(c.pixel(10, 3), WHITE);
        assert_eq!(c.pixel(10, 5), WHITE);
    }

    #[test]
    fn dashes_leave_gaps() {
        let segs = dash_segments(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)], Some((4.0, 2.0)));
        let drawn: f32 = segs.iter().map(|((ax, ay), (bx, by))| ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt()).sum();
        // 20 px of path: dashes at 0-4, 6-10, 12-16, 18-20.
        assert!((drawn - 14.0).abs() < 1e-3, "{drawn}");
    }

    #[test]
    fn text_ink_lies_in_its_measured_box() {
        let mut c = Canvas::new(200, 60, WHITE);
        let style = TextStyle::new(20.0).anchor(Anchor::Middle, VAnchor::Middle);
        c.text(100.0, 30.0, "Epoch 12", style);
        let m = font::measure("Epoch 12", 20.0);
        let (x0, x1) = (100.0 - m.width / 2.0, 100.0 + m.width / 2.0);
        let baseline = 30.0 + m.cap_height / 2.0;
        let (y0, y1) = (baseline - m.ascent, baseline + m.descent);
        let mut dark_inside = 0;
        for y in 0..60 {
            for x in 0..200 {
                if c.pixel(x, y)[0] < 128 {
                    let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                    assert!(fx >= x0 - 1.5 && fx <= x1 + 1.5 && fy >= y0 - 1.5 && fy <= y1 + 1.5);
                    dark_inside += 1;
                }
            }
        }
        assert!(dark_inside > 60, "{dark_inside}");
    }

    #[test]
    fn vertical_text_is_taller_than_wide() {
        let mut c = Canvas::new(60, 200, WHITE);
        let style = TextStyle::new(16.0).anchor(Anchor::Middle, VAnchor::Middle).vertical();
        c.text(30.0, 100.0, "accuracy", style);
        let (mut xs, mut ys) = (vec![], vec![]);
        for y in 0..200 {
            for x in 0..60 {
                if c.pixel(x, y)[0] < 128 {
                    xs.push(x);
                    ys.push(y);
                }
            }
        }
        let w = xs.iter().max().unwrap() - xs.iter().min().unwrap();
        let h = ys.iter().max().unwrap() - ys.iter().min().unwrap();
        assert!(h > 2 * w, "w {w} h {h}");
    }

    #[test]
    fn gradient_and_image_fill_their_rects() {
        let mut c = Canvas::new(10, 100, WHITE);
        c.vertical_gradient(0.0, 0.0, 10.0, 100.0, &[[255, 0, 0], [0, 0, 255]]);
        assert_eq!(c.pixel(5, 0)[0], 254);
        assert_eq!(c.pixel(5, 99)[2], 254);
        let img = Image { width: 2, height: 1, pixels: vec![[1, 2, 3], [4, 5, 6]] };
        c.image(0.0, 0.0, 10.0, 10.0, &img);
        assert_eq!(c.pixel(4, 9), [1, 2, 3]);
        assert_eq!(c.pixel(5, 0), [4, 5, 6]);
    }
}
