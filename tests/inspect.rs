//! Pictures and reports: pixel checks on the PNGs, every plot kind from the CLI, clear errors,
//! and the HTML report rendered by a real browser (headless Chromium).

use convlab::engine::Dims;
use convlab::inspect::filters;
use convlab::model::Model;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{convlab, text};

fn scratch(name: &str) -> PathBuf {
    common::scratch("inspect", name)
}

/// Decodes a PNG into (width, height, RGB bytes).
fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let rgb = buf[..info.buffer_size()].chunks(ch).flat_map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, rgb)
}

/// Centroid of the pixels that satisfy `pred`, over x in `xs`.
fn centroid(w: u32, rgb: &[u8], xs: std::ops::Range<u32>, pred: impl Fn(&[u8]) -> bool) -> Option<(f64, f64)> {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for (i, p) in rgb.chunks(3).enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        if xs.contains(&x) && pred(p) {
            sx += x as f64;
            sy += y as f64;
            n += 1.0;
        }
    }
    (n > 0.0).then(|| (sx / n, sy / n))
}

fn red(p: &[u8]) -> bool {
    p[0] > 200 && p[1] < 60 && p[2] < 60
}
fn blue(p: &[u8]) -> bool {
    p[2] > 200 && p[0] < 60 && p[1] < 60
}

#[test]
fn a_positive_weight_renders_red_and_a_negative_one_blue() {
    let mut m = Model::<f32>::new("conv2d(1,k=2,bias=false) flatten linear(1)", Dims::image(1, 3, 3)).unwrap();
    m.params[..4].copy_from_slice(&[1.0, 0.0, 0.0, -1.0]); // kernel: +1 top-left, -1 bottom-right
    let fig = filters::figures(&m, convlab::plot::Colormap::Bwr).remove(0);
    let path = scratch("pixels").join("filters.png");
    fig.save(&path).unwrap();
    let (w, h, rgb) = decode(&path);
    assert_eq!((w, h), (fig.width(), fig.height()));
    // The kernel is drawn left of the colour bar.
    let bar_x = (0..w).rev().find(|&x| (0..h).any(|y| red(&rgb[((y * w + x) * 3) as usize..][..3]))).unwrap();
    let kernel = 0..bar_x.saturating_sub(40);
    let r = centroid(w, &rgb, kernel.clone(), red).expect("a red cell");
    let b = centroid(w, &rgb, kernel, blue).expect("a blue cell");
    assert!(r.0 < b.0 && r.1 < b.1, "red {r:?} should be up-left of blue {b:?}");
    // The colour bar: red at the top, blue at the bottom.
    let bar = bar_x - 3..w;
    let (br, bb) = (centroid(w, &rgb, bar.clone(), red).unwrap(), centroid(w, &rgb, bar, blue).unwrap());
    assert!(br.1 < bb.1, "colour bar: red {br:?} above blue {bb:?}");
    // White means zero: the off-diagonal cells are (near) white.
    assert!(rgb.chunks(3).filter(|p| p.iter().all(|&v| v > 245)).count() > 0);
}

/// A short digits run with kernel snapshots, shared by the tests below.
fn digits_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let o = convlab(&[
        "train",
        "--data",
        "digits",
        "--epochs",
        "3",
        "--snapshot-every",
        "1",
        "--out",
        run.to_str().unwrap(),
        "--quiet",
        "--report",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    run
}

#[test]
fn every_plot_kind_comes_from_the_cli_and_bad_input_is_explained() {
    let d = scratch("kinds");
    let run = digits_run(&d);
    let r = run.to_str().unwrap();
    for (kind, extra) in [
        ("filters", vec![]),
        ("filters", vec!["--cmap", "viridis"]),
        ("activations", vec!["--index", "3"]),
        ("tensors", vec!["--count", "20"]),
        ("curves", vec![]),
        ("examples", vec!["--hardest", "4", "--easiest", "2"]),
        ("confusion", vec![]),
        ("evolution", vec!["0"]),
        ("samples", vec![]),
    ] {
        for ext in ["png", "svg"] {
            let out = d.join(format!("{kind}.{ext}"));
            let mut args = vec!["plot", kind, r];
            args.extend(&extra);
            args.extend(["--out", out.to_str().unwrap()]);
            let o = convlab(&args);
            assert!(o.status.success(), "{kind}: {}", text(&o));
            let bytes = std::fs::read(&out).unwrap();
            assert!(bytes.len() > 500, "{kind}.{ext} is tiny");
        }
    }
    // scatter: predictions vs targets on a regression run, true vs learned on simulated data.
    let sim = d.join("sim");
    let o = convlab(&[
        "train",
        "--data",
        "sim1d(n=200)",
        "--model",
        "sim1d-linear",
        "--optimizer",
        "sgd(lr=0.01)",
        "--batch-size",
        "full",
        "--epochs",
        "20",
        "--out",
        sim.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for what in ["params", "predictions"] {
        let out = d.join(format!("scatter-{what}.png"));
        let o = convlab(&["plot", "scatter", sim.to_str().unwrap(), "--what", what, "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{what}: {}", text(&o));
    }
    // Bad input: clear messages, non-zero exits, no panics.
    let png = d.join("x.png");
    let p = png.to_str().unwrap();
    for (args, expect) in [
        (vec!["plot", "filters", d.to_str().unwrap(), "--out", p], "folder of runs"),
        (vec!["plot", "activations", r, "--index", "100000", "--out", p], "beyond the data"),
        (vec!["plot", "evolution", r, "7", "--out", p], "recorded layers"),
        (vec!["plot", "filters", r, "--out", "x.jpg"], ".png or .svg"),
        (vec!["plot", "scatter", r, "--what", "params", "--out", p], "not simulated"),
        (vec!["plot", "curves", "/nonexistent/run", "--out", p], "does not exist"),
        (vec!["report", d.to_str().unwrap()], "folder of runs"),
        (vec!["plot", "evolution", r, "0", "--out-channels", "99", "--out", p], "output channels"),
        (vec!["plot", "evolution", r, "0", "--out-channels", "3-1", "--out", p], "--out-channels"),
        (vec!["plot", "evolution", r, "0", "--in-channel", "5", "--out", p], "input channels"),
    ] {
        let o = convlab(&args);
        let t = text(&o);
        assert!(!o.status.success() && !t.contains("panicked") && t.contains(expect), "{args:?}: {t}");
    }
}

/// The text an SVG figure writes, for checking titles and labels.
fn svg_of(args: &[&str], out: &Path) -> String {
    let mut all = args.to_vec();
    all.extend(["--out", out.to_str().unwrap()]);
    let o = convlab(&all);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn pictures_say_what_they_show() {
    let d = scratch("words");
    let run = digits_run(&d);
    let r = run.to_str().unwrap();
    let svg = d.join("x.svg");
    let act = svg_of(&["plot", "activations", r, "--index", "0"], &svg);
    assert!(act.contains("true y=") && act.contains("predicted") && act.contains("(p=0."), "activations title");
    let samples = svg_of(&["plot", "samples", r, "--count", "10"], &svg);
    // digits are sorted by nothing in particular, but a stratified draw shows ten classes.
    for c in 0..10 {
        assert!(samples.contains(&format!(">y={c}<")), "class {c} missing from the sample grid");
    }
    let curves = svg_of(&["plot", "curves", r, "--log-loss"], &svg);
    assert!(curves.contains("log scale") && curves.contains("training and test loss and accuracy"), "curves");
    let evo = svg_of(&["plot", "evolution", r, "0", "--out-channels", "0-1"], &svg);
    assert!(evo.contains("out 0–1 of"), "evolution names the channels it shows");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for section in [
        "before and after training",
        "<th style=\"text-align:left\">batch_size</th>",
        "<h2>The hardest test examples explained</h2>",
        "<h2>What each filter of layer 0 looks for</h2>",
    ] {
        assert!(html.contains(section), "report lacks {section}");
    }
    assert_eq!(html.matches(">batch_size<").count(), 1, "each setting once");
}

/// Chromium, which `.ci/run` installs before it runs the ignored tests.
fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|c| Path::new(c).exists())
        .expect("Chromium is missing: install it (`apt-get install chromium`) to run this test")
}

fn headless(browser: &str, profile: &Path, extra: &[&str], page: &Path) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs Debian's chromium (apt-get install chromium); .ci/run installs it and runs this test"]
fn the_report_renders_in_a_real_browser() {
    let browser = chromium();
    let d = scratch("browser");
    let run = digits_run(&d);
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "the report must not load external assets");
    // All images decode: the page's own script counts them after load.
    let dom = headless(browser, &d.join("p1"), &["--dump-dom", "--virtual-time-budget=5000"], &page);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let attr =
        dom_text.split("data-images-loaded=\"").nth(1).and_then(|s| s.split('"').next()).expect("load script ran");
    let (ok, all) = attr.split_once('/').unwrap();
    assert!(all.parse::<usize>().unwrap() >= 5 && ok == all, "images loaded: {attr}");
    // No console errors.
    let log = headless(browser, &d.join("p2"), &["--enable-logging=stderr", "--v=0", "--dump-dom"], &page);
    let err = String::from_utf8_lossy(&log.stderr);
    assert!(
        !err.contains("Uncaught") && !err.lines().any(|l| l.contains(":CONSOLE") && l.contains("ERROR")),
        "console: {err}"
    );
    // A screenshot that is not blank.
    let shot = d.join("shot.png");
    let o = headless(
        browser,
        &d.join("p3"),
        &["--window-size=1200,2400", &format!("--screenshot={}", shot.display())],
        &page,
    );
    assert!(shot.exists(), "no screenshot: {}", text(&o));
    let (_, _, rgb) = decode(&shot);
    let non_white = rgb.chunks(3).filter(|p| p.iter().any(|&v| v < 200)).count();
    assert!(non_white > rgb.len() / 3 / 50, "the screenshot is nearly blank ({non_white} dark pixels)");
}
