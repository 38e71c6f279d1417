//! Text measuring and rasterising with a font embedded in the binary.
//!
//! Why a TTF and not a bitmap font: lecture figures need clean antialiased
//! text at several sizes and a few non-ASCII symbols (ŷ, ², −, ×, →, ·). DejaVu
//! Sans (Bitstream Vera licence, see `DejaVuSans-LICENSE.txt` beside this file,
//! which permits redistribution) covers all of them, and `fontdue` rasterises
//! it with no system font configuration. Characters the font lacks are drawn
//! as a hollow box rather than failing.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

static FONT_BYTES: &[u8] = include_bytes!("DejaVuSans.ttf");

fn font() -> &'static fontdue::Font {
    static FONT: OnceLock<fontdue::Font> = OnceLock::new();
    FONT.get_or_init(|| {
        fontdue::Font::from_bytes(FONT_BYTES, fontdue::FontSettings::default()).expect("embedded DejaVu Sans parses")
    })
}

/// Size of a line of text in pixels, relative to its baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextMetrics {
    /// Advance width of the whole string.
    pub width: f32,
    /// Font ascent above the baseline (positive).
    pub ascent: f32,
    /// Font descent below the baseline (positive).
    pub descent: f32,
    /// Height of capital letters and digits, used to centre text vertically.
    pub cap_height: f32,
}

/// An 8-bit coverage bitmap of a string, with the pen origin inside it.
#[derive(Clone, Debug)]
pub struct AlphaMask {
    pub width: usize,
    pub height: usize,
    /// Row-major coverage, 0 = transparent, 255 = ink.
    pub data: Vec<u8>,
    /// Column of the string's starting pen position.
    pub origin_x: i32,
    /// Row of the baseline.
    pub baseline_y: i32,
}

/// Whether the font has a real glyph for `c` (otherwise a box is drawn).
fn has_glyph(c: char) -> bool {
    c == ' ' || font().lookup_glyph_index(c) != 0
}

fn box_advance(size: f32) -> f32 {
    0.6 * size
}

fn advance(c: char, size: f32) -> f32 {
    if has_glyph(c) {
        font().metrics(c, size).advance_width
    } else {
        box_advance(size)
    }
}

fn kern(prev: Option<char>, c: char, size: f32) -> f32 {
    match prev {
        Some(p) if has_glyph(p) && has_glyph(c) => font().horizontal_kern(p, c, size).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Measures a single line of text at `size` pixels per em.
pub fn measure(text: &str, size: f32) -> TextMetrics {
    let lm = font().horizontal_line_metrics(size).expect("DejaVu Sans has horizontal metrics");
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        width += kern(prev, c, size) + advance(c, size);
        prev = Some(c);
    }
    TextMetrics { width, ascent: lm.ascent, descent: -lm.descent, cap_height: font().metrics('H', size).bounds.height }
}

type GlyphKey = (char, u32);
type Glyph = (fontdue::Metrics, Vec<u8>);

/// Rasterised glyphs are cached: figures draw the same digits many times.
fn with_glyph<R>(c: char, size: f32, f: impl FnOnce(&Glyph) -> R) -> R {
    static CACHE: OnceLock<Mutex<HashMap<GlyphKey, Glyph>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    let g = map.entry((c, size.to_bits())).or_insert_with(|| font().rasterize(c, size));
    f(g)
}

/// Rasterises a single line of text; the mask has a small transparent margin.
pub fn rasterize(text: &str, size: f32) -> AlphaMask {
    let m = measure(text, size);
    let pad = 2 + (size * 0.1).ceil() as i32;
    let origin_x = pad;
    let baseline_y = pad + m.ascent.ceil() as i32;
    let width = (m.width.ceil() as i32 + 2 * pad).max(1) as usize;
    let height = (baseline_y + m.descent.ceil() as i32 + pad).max(1) as usize;
    let mut mask = AlphaMask { width, height, data: vec![0; width * height], origin_x, baseline_y };
    let mut pen = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        pen += kern(prev, c, size);
        prev = Some(c);
        let x0 = origin_x + pen.round() as i32;
        if !has_glyph(c) {
            draw_box(&mut mask, x0, size, m.cap_height);
            pen += box_advance(size);
            continue;
        }
        with_glyph(c, size, |(gm, bitmap)| {
            let left = x0 + gm.xmin;
            let top = baseline_y - gm.ymin - gm.height as i32;
            for row in 0..gm.height {
                for col in 0..gm.width {
                    let a = bitmap[row * gm.width + col];
                    if a > 0 {
                        mask.max_at(left + col as i32, top + row as i32, a);
                    }
                }
            }
            pen += gm.advance_width;
        });
    }
    mask
}

/// The "missing glyph" box: a hollow rectangle the height of a capital.
fn draw_box(mask: &mut AlphaMask, x0: i32, size: f32, cap: f32) {
    let w = (0.45 * size).round() as i32;
    let h = cap.round() as i32;
    let (left, top) = (x0 + (0.07 * size).round() as i32, mask.baseline_y - h);
    for i in 0..=w {
        mask.max_at(left + i, top, 255);
        mask.max_at(left + i, top + h, 255);
    }
    for j in 0..=h {
        mask.max_at(left, top + j, 255);
        mask.max_at(left + w, top + j, 255);
    }
}

impl AlphaMask {
    fn max_at(&mut self, x: i32, y: i32, a: u8) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let p = &mut self.data[y as usize * self.width + x as usize];
            *p = (*p).max(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_symbols_are_in_the_font() {
        for c in "ŷ²−×→·αβ".chars() {
            assert!(has_glyph(c), "{c} missing");
        }
        assert!(!has_glyph('\u{E000}'));
    }

    #[test]
    fn measuring_is_additive_and_scales() {
        let a = measure("loss", 14.0).width;
        let b = measure("loss", 28.0).width;
        assert!(a > 15.0 && a < 40.0, "{a}");
        assert!((b / a - 2.0).abs() < 0.05);
        assert!(measure("", 14.0).width == 0.0);
    }

    #[test]
    fn unknown_glyph_draws_a_box_without_panicking() {
        let m = rasterize("a\u{E000}b", 16.0);
        assert!(m.data.iter().filter(|&&a| a == 255).count() > 20);
    }

    #[test]
    fn ink_stays_inside_the_measured_box() {
        let size = 20.0;
        let m = measure("Hxy²", size);
        let mask = rasterize("Hxy²", size);
        let mut inked = 0;
        for y in 0..mask.height {
            for x in 0..mask.width {
                if mask.data[y * mask.width + x] > 128 {
                    inked += 1;
                    let u = x as f32 - mask.origin_x as f32;
                    let v = y as f32 - mask.baseline_y as f32;
                    assert!(u >= -1.0 && u <= m.width + 1.0, "x {u}");
                    assert!(v >= -m.ascent - 1.0 && v <= m.descent + 1.0, "y {v}");
                }
            }
        }
        assert!(inked > 50);
    }
}
