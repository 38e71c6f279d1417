//! `convlab report RUN`: one self-contained HTML page of a run — config, model summary,
//! curves, final metrics, confusion matrix, filters, feature maps, hardest examples (also with
//! their Grad-CAM and saliency) and kernel evolution, the first layer's kernels before and after training, and two samples' flattened
//! features as lines (tutorial 003) — with every picture inlined as a PNG data URI, so it
//! works offline anywhere.

use super::{
    activations, class_labels, confusion, curves, evolution, examples, filters, maximize, model_diagram, scatter,
    task_of, tensors, Subject,
};
use crate::error::Result;
use crate::model::summary::summary;
use crate::plot::svg::base64;
use crate::plot::Figure;
use crate::train::snapshots::FILE as SNAPSHOTS;
use std::fmt::Write;
use std::path::Path;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn img(f: &Figure, alt: &str) -> String {
    format!("<img alt=\"{}\" src=\"data:image/png;base64,{}\">", escape(alt), base64(&f.to_png()))
}

/// A section with a picture, or the reason it is missing.
fn section(html: &mut String, title: &str, note: &str, fig: Result<Figure>) {
    let _ = write!(html, "<section><h2>{}</h2>", escape(title));
    if !note.is_empty() {
        let _ = write!(html, "<p class=\"note\">{}</p>", escape(note));
    }
    match fig {
        Ok(f) => html.push_str(&img(&f, title)),
        Err(e) => {
            let _ = write!(html, "<p class=\"missing\">not shown: {}</p>", escape(&e.to_string()));
        }
    }
    html.push_str("</section>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}img{max-width:100%;height:auto;display:block;margin:.5em 0}\
table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right;border-bottom:1px solid #eee}\
.note{color:#555}.missing{color:#a33}";

/// Counts the images that loaded, for the browser test (`data-images-loaded` on <body>).
const SCRIPT: &str = "window.addEventListener('load',function(){var ok=0,all=document.images;\
for(var i=0;i<all.length;i++){if(all[i].complete&&all[i].naturalWidth>0)ok++;}\
document.body.setAttribute('data-images-loaded',ok+'/'+all.length);});";

/// The run's settings as a table, one row each; batch size 0 reads "full".
fn settings_table(c: &crate::train::config::RunConfig) -> String {
    let toml = c.to_toml();
    let table: toml::Table = match toml::from_str(&toml) {
        Ok(t) => t,
        Err(_) => return format!("<pre>{}</pre>", escape(&toml)),
    };
    let mut rows = String::from("<table>");
    for (k, v) in &table {
        let shown = match (k.as_str(), v) {
            ("batch_size", toml::Value::Integer(0)) => "full (the whole training set per step)".to_string(),
            (_, toml::Value::String(s)) => s.clone(),
            _ => v.to_string(),
        };
        let _ = write!(
            rows,
            "<tr><th style=\"text-align:left\">{}</th><td style=\"text-align:left\"><code>{}</code></td></tr>",
            escape(k),
            escape(&shown)
        );
    }
    rows.push_str("</table>");
    rows
}

/// The first conv layer's kernels at the start (the first snapshot, or the run's seeded
/// initialisation rebuilt) and at the end, one row per output channel.
fn kernels_before_after(dir: &Path, s: &Subject, train: &crate::data::Dataset) -> Option<Result<Figure>> {
    let (i, conv) = s.model.layers.iter().enumerate().find_map(|(i, l)| match &l.op {
        crate::layers::Op::Conv(c) => Some((i, c.clone())),
        _ => None,
    })?;
    let (o, ci, kh, kw) = (conv.out_channels, conv.geom.c, conv.geom.wh.kernel, conv.geom.ww.kernel);
    let len = conv.weight_len();
    let after = s.model.layer_params(i)[..len].to_vec();
    let name = format!("{i}.weight");
    let from_snapshot = crate::train::snapshots::Snapshots::load(&dir.join(SNAPSHOTS))
        .ok()
        .and_then(|snaps| snaps.of(&name).first().map(|(e, _, v)| (*e, v.to_vec())));
    let before = match from_snapshot {
        Some((e, v)) if v.len() == len => (format!("epoch {e}"), v),
        _ => {
            let c = s.config.as_ref()?;
            if c.restarts > 1 {
                return None; // which restart's start was kept is not recorded
            }
            let mut m = crate::train::prepare::build_model(&c.training.model, train).ok()?;
            c.init(&mut m, c.seed);
            ("initial".to_string(), m.layer_params(i).get(..len)?.to_vec())
        }
    };
    let k = ci * kh * kw;
    // Many single-input kernels: several before/after pairs per row, so the picture is not a
    // tall strip.
    let per_row = if ci == 1 && o > 8 { (1..=4).rev().find(|d| o % d == 0).unwrap_or(1) } else { 1 };
    let weights: Vec<f32> = (0..o)
        .flat_map(|j| {
            before.1[j * k..(j + 1) * k].iter().chain(&after[j * k..(j + 1) * k]).copied().collect::<Vec<_>>()
        })
        .collect();
    let side = |when: &str| -> Vec<String> {
        (0..ci).map(|c| if ci == 1 { when.to_string() } else { format!("{when}, in {c}") }).collect()
    };
    let pair: Vec<String> = side(&before.0).into_iter().chain(side("trained")).collect();
    let cols: Vec<String> = (0..per_row).flat_map(|_| pair.clone()).collect();
    let rows: Vec<String> = (0..o / per_row)
        .map(|r| {
            if per_row == 1 {
                format!("out {r}")
            } else {
                format!("out {}–{}", r * per_row, r * per_row + per_row - 1)
            }
        })
        .collect();
    let title = format!("layer {i}: {} kernels, {} and trained", s.model.layers[i].text, before.0);
    let shape = (o / per_row, 2 * ci * per_row, kh, kw);
    Some(Ok(crate::plot::weight_grid(&weights, shape, &rows, &cols, crate::plot::Colormap::Bwr, &title)))
}

/// The flatten layer's output for the first test sample of class 0 and of class 1, as lines.
fn flattened_lines(
    model: &crate::model::Model<f32>,
    ds: &crate::data::Dataset,
    labels: &[u32],
) -> Option<Result<Figure>> {
    let f = model.layers.iter().position(|l| matches!(l.op, crate::layers::Op::Flatten))?;
    let picks: Vec<(u32, usize)> =
        [0u32, 1].iter().filter_map(|&c| labels.iter().position(|&l| l == c).map(|i| (c, i))).collect();
    if picks.len() < 2 {
        return None;
    }
    let mut series = vec![];
    for (c, i) in picks {
        let mut ws = crate::model::Workspace::new(model, 1, false);
        ws.forward(model, ds.sample(i), 1, crate::layers::Mode::Eval, Default::default());
        let y = ws.activation(f, model).to_vec();
        let x = (0..y.len()).map(|v| v as f32).collect();
        series.push(crate::plot::Series {
            name: format!("test sample {i} (y={c})"),
            x,
            y,
            axis: crate::plot::YAxis::Left,
        });
    }
    let title = format!("layer {f} (flatten) output of a y=0 and a y=1 sample");
    Some(Ok(crate::plot::line_chart(&series, &title, "feature", "value", "")))
}

/// Builds the report page for the run in `dir`.
pub fn build(dir: &Path) -> Result<String> {
    let s = Subject::open(dir)?;
    let metrics = s.metrics().unwrap_or_default();
    let (train, test) = s.data(None, None)?;
    let mut html = String::new();
    let title = format!("convlab run {}", dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
    let _ = write!(html, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>{}</h1>", escape(&title), escape(&title));
    if let Some(m) = metrics.last() {
        let pct = |v: Option<f64>| v.map(|a| format!("{:.2}%", 100.0 * a)).unwrap_or("–".into());
        let _ = write!(
            html,
            "<section><h2>Final metrics (epoch {})</h2><table><tr><th></th><th>loss</th><th>accuracy</th></tr><tr><td>train</td><td>{:.4}</td><td>{}</td></tr><tr><td>test</td><td>{}</td><td>{}</td></tr></table></section>",
            m.epoch,
            m.train_loss,
            pct(m.train_accuracy),
            m.test_loss.map(|l| format!("{l:.4}")).unwrap_or("–".into()),
            pct(m.test_accuracy)
        );
    }
    let _ = write!(html, "<section><h2>Model</h2><pre>{}</pre></section>", escape(&summary(&s.model)));
    section(&mut html, "Architecture", "", Ok(model_diagram::figure(&s.model)));
    if let Some(c) = &s.config {
        let _ = write!(html, "<section><h2>Configuration</h2><p class=\"note\">Replay with <code>convlab train --config config.toml</code>.</p>{}</section>", settings_table(c));
    }
    section(&mut html, "Training curves", "", curves::figure(&metrics));
    // A classifier (also one BCE logit) gets the confusion matrix and examples; only
    // regression gets the scatter of predictions against targets.
    let labels = class_labels(&task_of(&s.model, &test), &test);
    let classes = labels.is_some();
    // The test set's outputs, once, for the confusion matrix and both example figures.
    let test_out = if classes { super::outputs(&s.model, &test, test.len()) } else { vec![] };
    if classes {
        section(&mut html, "Confusion matrix (test set)", "", confusion::figure_of(&s.model, &test, &test_out));
    }
    // Filters: one picture per layer, so each keeps its own colour scale.
    let _ = write!(html, "<section><h2>Filters and weights</h2><p class=\"note\">Red is positive, blue negative, white zero; one symmetric scale per layer.</p>");
    for f in filters::figures(&s.model, crate::plot::Colormap::Bwr) {
        html.push_str(&img(&f, "weights"));
    }
    html.push_str("</section>\n");
    if train.sample_len() <= 64 {
        section(
            &mut html,
            "Inputs, predictions and targets (training set)",
            "",
            tensors::figure(&s.model, &train, 75, 0, tensors::Scales::Auto),
        );
    }
    // Feature maps of two samples of different classes where possible.
    let second = match &labels {
        Some(labels) => labels.iter().position(|&l| l != labels[0]).unwrap_or(0),
        None => 1.min(test.len().saturating_sub(1)),
    };
    for i in [0, second] {
        section(
            &mut html,
            &format!("Feature maps of test sample {i}"),
            "",
            activations::figure(&s.model, &test, i, crate::plot::Colormap::Seismic),
        );
        if second == 0 {
            break;
        }
    }
    if classes {
        section(
            &mut html,
            "Hardest and easiest test examples",
            "",
            examples::figure_of(&s.model, &test, &test_out, 8, 4, 0),
        );
        section(
            &mut html,
            "The hardest test examples explained",
            "Where the evidence for the predicted class lies: Grad-CAM on the last spatial layer, drawn over the input, and the saliency map (the largest |∂ score / ∂ input| over the channels). A correct model need not look only at the object: the absence of other evidence counts too.",
            crate::inspect::explain::examples::figure_of(&s.model, &test, &test_out, 8, 0),
        );
    } else {
        section(&mut html, "Predictions against targets (test set)", "", scatter::predictions(&s.model, &test));
        if let Some(c) = &s.config {
            if scatter::true_conv_weights(&c.training.data).is_some() {
                section(&mut html, "True against learned conv weights", "The raw comparison: filters can be permuted, flipped in sign and rescaled (batch norm) without changing the fit, so a low correlation here need not mean failure.", scatter::parameters(&s.model, &c.training.data));
            }
        }
    }
    if let Some(fig) = kernels_before_after(dir, &s, &train) {
        section(
            &mut html,
            "First layer's kernels before and after training",
            "Both on one scale: what training changed.",
            fig,
        );
    }
    // What the first conv layer's filters look for, within the training data's range.
    if let Some(first) = s.model.layers.iter().position(|l| matches!(l.op, crate::layers::Op::Conv(_))) {
        let settings = maximize::Settings { range: Some(maximize::range_of(&train.x)), ..Default::default() };
        section(
            &mut html,
            &format!("What each filter of layer {first} looks for"),
            "The input that maximises each filter's centre unit, by gradient ascent with an L2 pull to a mid grey (or 0): for a first layer its kernel in grey levels, on the data's own grey scale.",
            maximize::figure(&s.model, first, settings),
        );
    }
    if let Some(labels) = &labels {
        if let Some(fig) = flattened_lines(&s.model, &test, labels) {
            section(
                &mut html,
                "Flattened features of a y=0 and a y=1 sample",
                "What the layers before the read-out give it, as tutorial 003 plots them.",
                fig,
            );
        }
    }
    if dir.join(SNAPSHOTS).exists() {
        for l in 0..s.model.layers.len() {
            if matches!(s.model.layers[l].op, crate::layers::Op::Conv(_)) {
                section(
                    &mut html,
                    &format!("Kernel evolution, layer {l}"),
                    "",
                    evolution::figure(dir, &l.to_string(), &Default::default()),
                );
            }
        }
    }
    html.push_str("</body></html>\n");
    Ok(html)
}

/// Writes `report.html` into the run folder and returns its path.
pub fn write(dir: &Path) -> Result<std::path::PathBuf> {
    let html = build(dir)?;
    let path = dir.join("report.html");
    crate::fs::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_batch_reads_full_and_each_setting_shows_once() {
        let mut c = crate::train::config::RunConfig::default();
        c.training.batch_size = 0;
        let t = settings_table(&c);
        assert!(t.contains("full (the whole training set per step)") && !t.contains("batch_size = 0"), "{t}");
        assert_eq!(t.matches(">epochs<").count(), 1);
    }
}
