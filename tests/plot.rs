//! Pixel-level checks of whole figures, with no external tools.

use convlab::plot::canvas::Canvas;
use convlab::plot::colormap::NAN_COLOR;
use convlab::plot::figure::Op;
use convlab::plot::{
    confusion_matrix, film_strip, heatmap_grid, image_grid, kernel_grid, line_chart, named_tensors, scatter, Colormap,
    Figure, ImagePanel, Panel, Scale, Series, YAxis,
};

/// The rectangles of all heatmap images in the figure, in drawing order.
fn image_rects(fig: &Figure) -> Vec<(f32, f32, f32, f32, usize, usize)> {
    fig.ops()
        .iter()
        .filter_map(|op| match op {
            Op::Image(x, y, w, h, img) => Some((*x, *y, *w, *h, img.width, img.height)),
            _ => None,
        })
        .collect()
}

/// Centre pixel of cell `(r, c)` of the `k`-th image.
fn cell_centre(canvas: &Canvas, fig: &Figure, k: usize, r: usize, c: usize) -> [u8; 3] {
    let (x, y, w, h, iw, ih) = image_rects(fig)[k];
    let cx = x + (c as f32 + 0.5) * w / iw as f32;
    let cy = y + (r as f32 + 0.5) * h / ih as f32;
    canvas.pixel(cx as u32, cy as u32)
}

fn close(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    (0..3).all(|i| a[i].abs_diff(b[i]) <= tol)
}

#[test]
fn heatmap_cells_have_the_colours_of_their_signs() {
    let panels = [Panel::new("k0", 1, 3, vec![-2.0, 0.0, 2.0]), Panel::new("k1", 2, 2, vec![1.0, -1.0, f32::NAN, 0.0])];
    let fig = heatmap_grid(&panels, 2, Colormap::Bwr, Scale::Symmetric, "weights");
    let c = fig.to_canvas();
    assert_eq!(cell_centre(&c, &fig, 0, 0, 0), [0, 0, 255]);
    assert_eq!(cell_centre(&c, &fig, 0, 0, 1), [255, 255, 255]);
    assert_eq!(cell_centre(&c, &fig, 0, 0, 2), [255, 0, 0]);
    // Shared scale: ±1 is half-way to the ends.
    assert!(close(cell_centre(&c, &fig, 1, 0, 0), [255, 128, 128], 1));
    assert!(close(cell_centre(&c, &fig, 1, 0, 1), [128, 128, 255], 1));
    assert_eq!(cell_centre(&c, &fig, 1, 1, 0), NAN_COLOR);
}

#[test]
fn cells_are_square_and_big_enough() {
    let panels = [Panel::new("", 5, 5, vec![0.1; 25])];
    let fig = heatmap_grid(&panels, 1, Colormap::Bwr, Scale::Symmetric, "");
    let (_, _, w, h, iw, ih) = image_rects(&fig)[0];
    assert_eq!(w / iw as f32, h / ih as f32);
    assert!(w / iw as f32 >= 24.0);
    assert!(fig.width() >= 400);
}

#[test]
fn colour_bar_runs_from_red_at_top_to_blue_at_bottom() {
    let panels = [Panel::new("", 2, 2, vec![-0.3, 0.1, 0.2, 0.0])];
    let fig = heatmap_grid(&panels, 1, Colormap::Bwr, Scale::Symmetric, "");
    let (x, y, w, h) = fig
        .ops()
        .iter()
        .find_map(|op| match op {
            Op::Gradient(x, y, w, h, _) => Some((*x, *y, *w, *h)),
            _ => None,
        })
        .expect("a colour bar");
    let c = fig.to_canvas();
    let cx = (x + w / 2.0) as u32;
    assert!(close(c.pixel(cx, (y + 1.0) as u32), [255, 0, 0], 12));
    assert!(close(c.pixel(cx, (y + h / 2.0) as u32), [255, 255, 255], 12));
    assert!(close(c.pixel(cx, (y + h - 2.0) as u32), [0, 0, 255], 12));
    // Tick labels at −vmax, 0 and +vmax.
    let labels: Vec<&str> = fig
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Text(_, _, t, _) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(labels, ["−0.3", "0", "0.3"]);
}

#[test]
fn png_has_the_computed_size_and_decodes_to_the_same_pixels() {
    let fig = named_tensors(
        &[
            Panel::new("X", 30, 4, (0..120).map(|i| (i as f32 - 60.0) / 60.0).collect()),
            Panel::new("ŷ", 30, 1, vec![0.5; 30]),
        ],
        "",
    );
    let path = std::env::temp_dir().join(format!("plot-test-{}.png", std::process::id()));
    fig.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let decoded = Canvas::decode_png(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (fig.width(), fig.height()));
    assert_eq!(decoded, fig.to_canvas());
}

#[test]
fn saving_with_an_unknown_extension_fails() {
    let fig = Figure::new(10, 10);
    assert!(fig.save(std::env::temp_dir().join("x.jpg")).is_err());
}

/// Minimal XML check: starts with `<svg`, every tag closes in order.
fn check_well_formed(svg: &str) {
    assert!(svg.starts_with("<svg"));
    let mut stack: Vec<String> = vec![];
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()));
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap().to_string();
            stack.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn svg_is_well_formed_with_one_rect_per_cell() {
    let panels =
        [Panel::new("a", 3, 3, (0..9).map(|i| i as f32 - 4.0).collect()), Panel::new("b & c", 1, 5, vec![1.0; 5])];
    let fig = heatmap_grid(&panels, 2, Colormap::Seismic, Scale::Symmetric, "kernels <5×5>");
    let svg = fig.to_svg();
    check_well_formed(&svg);
    // Background + 14 cells + 2 panel frames + colour bar + its frame.
    assert_eq!(svg.matches("<rect").count(), 1 + 9 + 5 + 2 + 2);
    assert!(svg.contains("&lt;5×5&gt;") && svg.contains("b &amp; c"));
    assert_eq!(svg.matches("<text").count(), 1 + 2 + 3);
}

#[test]
fn every_figure_renders_as_svg_and_png() {
    let figs = [
        kernel_grid(&[0.5; 2 * 3 * 9], 2, 3, 3, 3, Colormap::Bwr, "k"),
        film_strip(&[Panel::new("", 2, 2, vec![0.0, 1.0, -1.0, 0.5])], &["epoch 1".into()], "f"),
        line_chart(
            &[
                Series::per_epoch("loss", vec![1.0, 0.5, f32::NAN, 0.2], YAxis::Left),
                Series::per_epoch("acc", vec![0.5, 0.7, 0.8, 0.9], YAxis::Right),
            ],
            "t",
            "epoch",
            "loss",
            "accuracy",
        ),
        scatter(&[1.0, 2.0, 3.0], &[1.1, 1.9, 3.2], true, "s", "y", "ŷ"),
        image_grid(
            &[ImagePanel { label: "true 9 · p=0.98".into(), height: 4, width: 4, channels: 3, values: vec![0.5; 48] }],
            4,
            Colormap::Gray,
            "",
        ),
        confusion_matrix(&[5, 1, 0, 7], 2, &[], ""),
        heatmap_grid(&[], 3, Colormap::Bwr, Scale::Symmetric, "empty"),
    ];
    for fig in &figs {
        check_well_formed(&fig.to_svg());
        let c = Canvas::decode_png(&fig.to_png()).unwrap();
        assert_eq!((c.width(), c.height()), (fig.width(), fig.height()));
        assert!(fig.width() >= 400);
    }
}

/// Every drawn pixel must lie inside the figure with a margin: collects the
/// bounding box of non-white pixels.
fn ink_box(c: &Canvas) -> (u32, u32, u32, u32) {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..c.height() {
        for x in 0..c.width() {
            if c.pixel(x, y) != [255, 255, 255] {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    (x0, y0, x1, y1)
}

#[test]
fn nothing_is_clipped_at_the_edges() {
    let figs = [
        line_chart(
            &[
                Series::per_epoch("train loss", vec![2.3, 1.0, 0.5, 0.3], YAxis::Left),
                Series::per_epoch("validation accuracy", vec![0.2, 0.8, 0.9, 0.95], YAxis::Right),
            ],
            "training",
            "epoch",
            "loss",
            "accuracy",
        ),
        scatter(&[-1000.0, 2000.0], &[-900.0, 2100.0], false, "", "input", "output"),
        confusion_matrix(&[1; 9], 3, &["airplane".into(), "automobile".into(), "cat".into()], ""),
    ];
    for fig in &figs {
        let c = fig.to_canvas();
        let (x0, y0, x1, y1) = ink_box(&c);
        assert!(x0 >= 8 && y0 >= 8, "ink at ({x0},{y0})");
        assert!(x1 + 8 < c.width() && y1 + 8 < c.height(), "ink to ({x1},{y1})");
    }
}

#[test]
fn confusion_counts_contrast_with_their_cells() {
    let fig = confusion_matrix(&[90, 0, 3, 80], 2, &[], "");
    let colors: Vec<(String, [u8; 3])> = fig
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Text(_, _, t, s) => Some((t.clone(), s.color)),
            _ => None,
        })
        .collect();
    // Bright yellow (max) cells get black text, dark purple cells white.
    assert!(colors.contains(&("90".to_string(), [0, 0, 0])));
    assert!(colors.contains(&("0".to_string(), [255, 255, 255])));
}
