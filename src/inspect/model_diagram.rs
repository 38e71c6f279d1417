//! `plot model SPEC|RUN`: the architecture as a diagram (Keras' `plot_model` without graphviz):
//! the input on top, then one rounded box per layer with its spec, window arithmetic, output
//! shape and parameter count, arrows between them; columns side by side when one would be
//! taller than [`MAX_HEIGHT`].

use super::Subject;
use crate::engine::{Rank, Window};
use crate::error::Result;
use crate::layers::adaptive_pool::PoolKind;
use crate::layers::{Layer, Op};
use crate::model::{presets, Model};
use crate::plot::canvas::{Anchor, Stroke, Surface, TextStyle, VAnchor};
use crate::plot::colormap::Rgb;
use crate::plot::parts::{draw_title, text_width, title_height, FRAME, MARGIN, TEXT};
use crate::plot::Figure;
use std::path::Path;

/// A column is wrapped before it grows past this many pixels.
pub const MAX_HEIGHT: f32 = 2400.0;
const HEAD_SIZE: f32 = 15.0;
const BODY_SIZE: f32 = 13.0;
const LINE: f32 = 19.0;
const PAD: f32 = 10.0;
const RADIUS: f32 = 8.0;
/// Vertical space between boxes, where the arrow goes.
const GAP: f32 = 30.0;
/// Horizontal space between columns, where a wrapping connector runs.
const COLUMN_GAP: f32 = 60.0;

/// One box: its text lines (the first is the heading) and fill colour.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerBox {
    pub lines: Vec<String>,
    pub fill: Rgb,
}

/// Where each box goes, top-left corners in figure pixels, all boxes `width` × `height`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub width: f32,
    pub height: f32,
    pub origins: Vec<(f32, f32)>,
    pub columns: usize,
    pub figure: (u32, u32),
}

/// A model named by a run folder or model file (an existing path), or by a preset name or spec
/// with `input` (`C,H,W` or `C,L`; presets know theirs).
pub fn model_of(arg: &str, input: Option<&str>) -> Result<Model<f32>> {
    if Path::new(arg).exists() {
        return Ok(Subject::open(Path::new(arg))?.model);
    }
    let (spec, dims) = presets::spec_and_input(arg, input)?;
    Model::new(&spec, dims)
}

fn window(w: &Window) -> (String, String, String, String) {
    let pad = if w.pad_before == w.pad_after {
        w.pad_before.to_string()
    } else {
        format!("{}+{}", w.pad_before, w.pad_after)
    };
    (w.kernel.to_string(), w.stride.to_string(), pad, w.dilation.to_string())
}

/// "kernel 3×3, stride 1, padding 1" (one number when both axes agree, dilation when not 1).
fn window_text(wh: &Window, ww: &Window, two_d: bool) -> String {
    let (h, w) = (window(wh), window(ww));
    let join = |a: &str, b: &str| if !two_d || a == b { b.to_string() } else { format!("{a}×{b}") };
    let kernel = if two_d { format!("{}×{}", h.0, w.0) } else { w.0.clone() };
    let mut s = format!("kernel {kernel}, stride {}, padding {}", join(&h.1, &w.1), join(&h.2, &w.2));
    if h.3 != "1" || w.3 != "1" {
        s += &format!(", dilation {}", join(&h.3, &w.3));
    }
    s
}

fn kind_and_detail(l: &Layer) -> (&'static str, String, Rgb) {
    const CONV: Rgb = [219, 234, 254];
    const POOL: Rgb = [220, 245, 225];
    const ACT: Rgb = [254, 243, 199];
    const DENSE: Rgb = [254, 226, 206];
    const OTHER: Rgb = [236, 236, 240];
    let image = l.input.rank == Rank::Image;
    match &l.op {
        Op::Conv(c) => (
            if c.one_d { "Conv1d" } else { "Conv2d" },
            format!("{} → {} channels, {}", c.geom.c, c.out_channels, window_text(&c.geom.wh, &c.geom.ww, !c.one_d)),
            CONV,
        ),
        Op::MaxPool(p) => ("MaxPool", window_text(&p.geom.wh, &p.geom.ww, image), POOL),
        Op::AvgPool(p) => ("AvgPool", window_text(&p.geom.wh, &p.geom.ww, image), POOL),
        Op::AdaptivePool(p) => {
            let kind = if p.kind == PoolKind::Max { "AdaptiveMaxPool" } else { "AdaptiveAvgPool" };
            (kind, format!("to {}", l.output), POOL)
        }
        Op::BatchNorm(b) => {
            ("BatchNorm", format!("{} channels, eps {}, momentum {}", b.channels, b.eps, b.momentum), OTHER)
        }
        Op::Dropout(d) => ("Dropout", format!("p = {}", d.p), OTHER),
        Op::Activation(_) => ("Activation", "elementwise".into(), ACT),
        Op::Flatten => ("Flatten", format!("{} → {}", l.input, l.output.len()), OTHER),
        Op::Linear(lin) => ("Linear", format!("{} → {} features", lin.in_features, lin.out_features), DENSE),
    }
}

/// The input box and one box per layer, in order.
pub fn boxes(model: &Model<f32>) -> Vec<LayerBox> {
    let mut out =
        vec![LayerBox { lines: vec!["input".into(), format!("shape {}", model.input)], fill: [245, 245, 245] }];
    for (i, l) in model.layers.iter().enumerate() {
        let (kind, detail, fill) = kind_and_detail(l);
        let params = l.param_len();
        let count = if params == 1 { "1 parameter".into() } else { format!("{params} parameters") };
        out.push(LayerBox {
            lines: vec![format!("{i}  {}   ({kind})", l.text), detail, format!("output {}  ·  {count}", l.output)],
            fill,
        });
    }
    out
}

/// Boxes of `width` × `height` in columns of at most `max_height` pixels (at least one box per
/// column), below a title band of `top` pixels.
pub fn layout(n: usize, width: f32, height: f32, top: f32, max_height: f32) -> Layout {
    let per_column = (((max_height - top - 2.0 * MARGIN + GAP) / (height + GAP)).floor() as usize).max(1);
    let columns = n.div_ceil(per_column).max(1);
    let rows = n.min(per_column);
    let origins = (0..n)
        .map(|i| {
            let (c, r) = (i / per_column, i % per_column);
            (MARGIN + c as f32 * (width + COLUMN_GAP), top + MARGIN + r as f32 * (height + GAP))
        })
        .collect();
    let fw = 2.0 * MARGIN + columns as f32 * width + (columns - 1) as f32 * COLUMN_GAP;
    let fh = top + 2.0 * MARGIN + rows as f32 * height + rows.saturating_sub(1) as f32 * GAP;
    Layout { width, height, origins, columns, figure: (fw.ceil() as u32, fh.ceil() as u32) }
}

/// A filled rounded rectangle with a 1.5-px outline.
fn rounded_box(s: &mut dyn Surface, x: f32, y: f32, w: f32, h: f32, fill: Rgb) {
    let r = RADIUS;
    s.fill_rect(x + r, y, w - 2.0 * r, h, fill);
    s.fill_rect(x, y + r, w, h - 2.0 * r, fill);
    let corners =
        [(x + w - r, y + r, -90.0), (x + w - r, y + h - r, 0.0), (x + r, y + h - r, 90.0), (x + r, y + r, 180.0)];
    for &(cx, cy, _) in &corners {
        s.circle(cx, cy, r, fill, 1.0);
    }
    let mut path = vec![];
    for &(cx, cy, start) in &corners {
        for k in 0..=6 {
            let a = (start + 15.0 * k as f32).to_radians();
            path.push((cx + r * a.cos(), cy + r * a.sin()));
        }
    }
    path.push(path[0]);
    s.polyline(&path, Stroke::solid(1.5, FRAME));
}

/// A line through `points` with an arrow head at its last point.
fn arrow(s: &mut dyn Surface, points: &[(f32, f32)]) {
    let stroke = Stroke::solid(1.5, FRAME);
    s.polyline(points, stroke);
    let (&(x1, y1), &(x0, y0)) = (&points[points.len() - 1], &points[points.len() - 2]);
    let len = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt().max(1e-3);
    let (ux, uy) = ((x1 - x0) / len, (y1 - y0) / len);
    let (bx, by) = (x1 - 8.0 * ux, y1 - 8.0 * uy);
    s.polyline(&[(bx - 4.5 * uy, by + 4.5 * ux), (x1, y1), (bx + 4.5 * uy, by - 4.5 * ux)], Stroke::solid(2.0, FRAME));
}

/// The diagram of `model`, with columns of at most `max_height` pixels.
pub fn figure_with_height(model: &Model<f32>, max_height: f32) -> Figure {
    let boxes = boxes(model);
    let text_w = boxes
        .iter()
        .flat_map(|b| {
            b.lines.iter().enumerate().map(|(i, t)| text_width(t, if i == 0 { HEAD_SIZE } else { BODY_SIZE }))
        })
        .fold(0.0, f32::max);
    let width = (text_w + 3.0 * PAD).max(280.0).ceil();
    let height = 3.0 * LINE + 2.0 * PAD;
    let title = format!("{} layers, {} trainable parameters", model.layers.len(), model.params.len());
    let top = title_height(&title);
    let lay = layout(boxes.len(), width, height, top, max_height);
    let mut f = Figure::new(lay.figure.0.max((text_width(&title, 17.0) + 2.0 * MARGIN) as u32), lay.figure.1);
    let centre = f.width() as f32 / 2.0;
    draw_title(&mut f, centre, MARGIN / 2.0, &title);
    for (b, &(x, y)) in boxes.iter().zip(&lay.origins) {
        rounded_box(&mut f, x, y, width, height, b.fill);
        for (i, t) in b.lines.iter().enumerate() {
            let size = if i == 0 { HEAD_SIZE } else { BODY_SIZE };
            let style = TextStyle::new(size).color(TEXT).anchor(Anchor::Start, VAnchor::Middle);
            f.text(x + PAD, y + PAD + LINE * (i as f32 + 0.5), t, style);
        }
    }
    for w in lay.origins.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let (cx0, cx1) = (x0 + width / 2.0, x1 + width / 2.0);
        if x0 == x1 {
            arrow(&mut f, &[(cx0, y0 + height + 1.0), (cx1, y1 - 2.0)]);
        } else {
            // Wrapping to the next column: down, across the gap, up, and into its first box.
            let (below, above, mid) = (y0 + height + GAP / 2.0, y1 - GAP / 2.0, x1 - COLUMN_GAP / 2.0);
            arrow(
                &mut f,
                &[(cx0, y0 + height + 1.0), (cx0, below), (mid, below), (mid, above), (cx1, above), (cx1, y1 - 2.0)],
            );
        }
    }
    f
}

/// The diagram of `model`, wrapping at [`MAX_HEIGHT`].
pub fn figure(model: &Model<f32>) -> Figure {
    figure_with_height(model, MAX_HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    fn simplecnn() -> Model<f32> {
        let (spec, dims) = presets::spec_and_input("simplecnn", None).unwrap();
        Model::new(&spec, dims).unwrap()
    }

    #[test]
    fn one_box_per_layer_with_its_numbers() {
        let m = Model::<f32>::new("conv2d(8,k=5,p=2,s=2) relu maxpool2d(2) flatten linear(10)", Dims::image(1, 28, 28))
            .unwrap();
        let b = boxes(&m);
        assert_eq!(b.len(), m.layers.len() + 1);
        assert_eq!(b[0].lines[1], "shape 1×28×28");
        assert!(b[1].lines[1].contains("1 → 8 channels, kernel 5×5, stride 2, padding 2"), "{:?}", b[1]);
        assert!(b[1].lines[2].contains("output 8×14×14") && b[1].lines[2].contains("208 parameters"), "{:?}", b[1]);
        assert!(b[4].lines[1].contains("8×7×7 → 392"), "{:?}", b[4]);
        assert!(b[5].lines[2].contains("3930 parameters"), "{:?}", b[5]); // 392·10 + 10
    }

    #[test]
    fn columns_wrap_and_boxes_never_overlap() {
        let one = layout(12, 300.0, 77.0, 30.0, MAX_HEIGHT);
        assert_eq!(one.columns, 1);
        assert!(one.figure.1 as f32 <= MAX_HEIGHT);
        let many = layout(60, 300.0, 77.0, 30.0, 1000.0);
        assert!(many.columns > 1 && many.figure.1 as f32 <= 1000.0, "{many:?}");
        for (i, a) in many.origins.iter().enumerate() {
            for b in &many.origins[i + 1..] {
                let apart = (a.0 - b.0).abs() >= 300.0 || (a.1 - b.1).abs() >= 77.0;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
            assert!(a.0 + 300.0 <= many.figure.0 as f32 && a.1 + 77.0 <= many.figure.1 as f32);
        }
    }

    /// Counts the boxes in the picture: runs of box fill down a line just inside their left edge.
    fn boxes_seen(f: &Figure, x: u32) -> usize {
        let c = f.to_canvas();
        let mut count = 0;
        let mut inside = false;
        for y in 0..c.height() {
            let filled = c.pixel(x, y) != [255, 255, 255];
            if filled && !inside {
                count += 1;
            }
            inside = filled;
        }
        count
    }

    #[test]
    fn the_picture_has_one_box_per_layer_and_the_input() {
        let m = simplecnn();
        let f = figure(&m);
        // 3 px inside the left edge, below the corner radius: only boxes are drawn there.
        let x = MARGIN as u32 + 3;
        assert_eq!(boxes_seen(&f, x), m.layers.len() + 1);
        let wrapped = figure_with_height(&m, 500.0);
        assert!(wrapped.height() <= 500 && wrapped.width() > f.width(), "{}×{}", wrapped.width(), wrapped.height());
    }
}
