//! `convlab report RUN`: one self-contained HTML page of a run — config, model summary,
//! curves, final metrics, confusion matrix, filters, feature maps, hardest examples and kernel
//! evolution — with every picture inlined as a PNG data URI, so it works offline anywhere.

use super::{
    activations, class_labels, confusion, curves, evolution, examples, filters, model_diagram, scatter, task_of,
    tensors, Subject,
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
        let _ = write!(html, "<section><h2>Configuration</h2><p class=\"note\">Replay with <code>convlab train --config config.toml</code>.</p><pre>{}</pre></section>", escape(&c.to_toml()));
    }
    section(&mut html, "Training curves", "", curves::figure(&metrics));
    // A classifier (also one BCE logit) gets the confusion matrix and examples; only
    // regression gets the scatter of predictions against targets.
    let labels = class_labels(&task_of(&s.model, &test), &test);
    let classes = labels.is_some();
    if classes {
        section(&mut html, "Confusion matrix (test set)", "", confusion::figure(&s.model, &test));
    }
    // Filters: one picture per layer, so each keeps its own colour scale.
    let _ = write!(html, "<section><h2>Filters and weights</h2><p class=\"note\">Red is positive, blue negative, white zero; one symmetric scale per layer.</p>");
    for f in filters::figures(&s.model, crate::plot::Colormap::Bwr) {
        html.push_str(&img(&f, "weights"));
    }
    html.push_str("</section>\n");
    if train.sample_len() <= 64 {
        section(&mut html, "Inputs, predictions and targets (training set)", "", tensors::figure(&s.model, &train, 75));
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
        section(&mut html, "Hardest and easiest test examples", "", examples::figure(&s.model, &test, 8, 4));
    } else {
        section(&mut html, "Predictions against targets (test set)", "", scatter::predictions(&s.model, &test));
        if let Some(c) = &s.config {
            if scatter::true_conv_weights(&c.training.data).is_some() {
                section(&mut html, "True against learned conv weights", "The raw comparison: filters can be permuted, flipped in sign and rescaled (batch norm) without changing the fit, so a low correlation here need not mean failure.", scatter::parameters(&s.model, &c.training.data));
            }
        }
    }
    if dir.join(SNAPSHOTS).exists() {
        for l in 0..s.model.layers.len() {
            if matches!(s.model.layers[l].op, crate::layers::Op::Conv(_)) {
                section(&mut html, &format!("Kernel evolution, layer {l}"), "", evolution::figure(dir, &l.to_string()));
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
