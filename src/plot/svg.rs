//! SVG implementation of [`Surface`], for figures that must scale on slides.
//!
//! Text becomes `<text>` with a generic sans-serif font stack (sizes match the
//! embedded DejaVu Sans, used for layout); small heatmaps become one `<rect>`
//! per cell, large ones an embedded PNG drawn with pixelated scaling.

use std::fmt::Write;

use super::canvas::{Anchor, Canvas, Image, Stroke, Surface, TextStyle};
use super::colormap::Rgb;
use super::font;

/// Images with more pixels than this are embedded as PNG instead of rects.
const MAX_RECT_CELLS: usize = 4096;

const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif";

/// An SVG document being drawn.
#[derive(Clone, Debug)]
pub struct SvgSurface {
    width: u32,
    height: u32,
    defs: String,
    body: String,
    gradients: usize,
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Short decimal form: at most two decimals, no trailing zeros.
fn num(v: f32) -> String {
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648) for data URIs; too small to justify a crate.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl SvgSurface {
    pub fn new(width: u32, height: u32) -> SvgSurface {
        SvgSurface { width, height, defs: String::new(), body: String::new(), gradients: 0 }
    }

    /// The finished document.
    pub fn finish(&self) -> String {
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\">\n",
            w = self.width,
            h = self.height
        );
        if !self.defs.is_empty() {
            s.push_str("<defs>\n");
            s.push_str(&self.defs);
            s.push_str("</defs>\n");
        }
        s.push_str(&self.body);
        s.push_str("</svg>\n");
        s
    }
}

impl Surface for SvgSurface {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
            num(x),
            num(y),
            num(w),
            num(h),
            hex(color)
        );
    }

    fn outline_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: Rgb) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"/>",
            num(x - width / 2.0),
            num(y - width / 2.0),
            num(w + width),
            num(h + width),
            hex(color),
            num(width)
        );
    }

    fn vertical_gradient(&mut self, x: f32, y: f32, w: f32, h: f32, stops: &[Rgb]) {
        let id = format!("g{}", self.gradients);
        self.gradients += 1;
        let _ = writeln!(self.defs, "<linearGradient id=\"{id}\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">");
        let n = stops.len().max(2) - 1;
        for (i, &c) in stops.iter().enumerate() {
            let _ = writeln!(self.defs, "<stop offset=\"{}\" stop-color=\"{}\"/>", num(i as f32 / n as f32), hex(c));
        }
        self.defs.push_str("</linearGradient>\n");
        let _ = writeln!(
            self.body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#{id})\"/>",
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    fn polyline(&mut self, points: &[(f32, f32)], stroke: Stroke) {
        if points.len() < 2 {
            return;
        }
        let pts: Vec<String> = points.iter().map(|&(x, y)| format!("{},{}", num(x), num(y))).collect();
        let dash = match stroke.dash {
            Some((on, off)) => format!(" stroke-dasharray=\"{} {}\"", num(on), num(off)),
            None => String::new(),
        };
        let _ = writeln!(
            self.body,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" \
             stroke-linejoin=\"round\" stroke-linecap=\"round\"{dash}/>",
            pts.join(" "),
            hex(stroke.color),
            num(stroke.width)
        );
    }

    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb, alpha: f32) {
        let opacity = if alpha < 1.0 { format!(" fill-opacity=\"{}\"", num(alpha)) } else { String::new() };
        let _ = writeln!(
            self.body,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{opacity}/>",
            num(cx),
            num(cy),
            num(r),
            hex(fill)
        );
    }

    fn text(&mut self, x: f32, y: f32, text: &str, style: TextStyle) {
        if text.is_empty() {
            return;
        }
        let m = font::measure(text, style.size);
        let anchor = match style.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let dv = -style.baseline_offset(&m);
        let (tx, ty, transform) = if style.vertical {
            (x, y + dv, format!(" transform=\"rotate(-90 {} {})\"", num(x), num(y)))
        } else {
            (x, y + dv, String::new())
        };
        let _ = writeln!(
            self.body,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\" text-anchor=\"{anchor}\"{transform}>{}</text>",
            num(tx),
            num(ty),
            num(style.size),
            hex(style.color),
            escape(text)
        );
    }

    fn image(&mut self, x: f32, y: f32, w: f32, h: f32, image: &Image) {
        if image.width == 0 || image.height == 0 {
            return;
        }
        if image.width * image.height <= MAX_RECT_CELLS {
            let (cw, ch) = (w / image.width as f32, h / image.height as f32);
            for r in 0..image.height {
                for c in 0..image.width {
                    let px = image.pixels[r * image.width + c];
                    // Cells overlap by a hair so renderers show no seams.
                    self.fill_rect(x + c as f32 * cw, y + r as f32 * ch, cw + 0.02, ch + 0.02, px);
                }
            }
            return;
        }
        let mut canvas = Canvas::new(image.width as u32, image.height as u32, [0, 0, 0]);
        canvas.image(0.0, 0.0, image.width as f32, image.height as f32, image);
        let _ = writeln!(
            self.body,
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
             style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>",
            num(x),
            num(y),
            num(w),
            num(h),
            base64(&canvas.encode_png())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn text_is_escaped_and_rotated() {
        let mut s = SvgSurface::new(100, 100);
        s.text(10.0, 50.0, "a<b & ŷ", TextStyle::new(12.0).vertical());
        let doc = s.finish();
        assert!(doc.contains("a&lt;b &amp; ŷ"));
        assert!(doc.contains("rotate(-90 10 50)"));
    }

    #[test]
    fn big_images_are_embedded() {
        let mut s = SvgSurface::new(100, 100);
        let img = Image { width: 100, height: 50, pixels: vec![[1, 2, 3]; 5000] };
        s.image(0.0, 0.0, 100.0, 50.0, &img);
        let doc = s.finish();
        assert!(doc.contains("data:image/png;base64,iVBOR"));
        assert!(!doc.contains("<rect"));
    }
}
