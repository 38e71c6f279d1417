//! What `convlab recover` shows: a table per replicate, an explanation of the numbers in words,
//! `recover.json` for machines, and scatter plots of true against learned values.

use super::compare::{PairSet, Pairs};
use super::recover::Recovery;
use crate::error::{Error, Result};
use crate::plot::scatter;
use crate::stats::median;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Medians over the replicates.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub raw_r: f64,
    pub filters_r: Option<f64>,
    pub filters_with_readout_r: Option<f64>,
    pub map_r: Option<f64>,
    pub map_max_abs_error: Option<f64>,
    pub test_r2: f64,
    pub test_mse: f64,
    pub oracle_test_mse: f64,
    pub noise_variance: f64,
}

pub fn summary(rec: &Recovery) -> Summary {
    let reps = &rec.replicates;
    let med = |f: &dyn Fn(&super::recover::Replicate) -> Option<f64>| {
        let v: Vec<f64> = reps.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| median(&v))
    };
    Summary {
        raw_r: med(&|r| Some(r.comparison.raw_r)).unwrap_or(f64::NAN),
        filters_r: med(&|r| r.comparison.filters.as_ref().map(|f| f.r)),
        filters_with_readout_r: med(&|r| r.comparison.filters.as_ref().and_then(|f| f.with_readout_r)),
        map_r: med(&|r| r.comparison.map.as_ref().map(|m| m.r)),
        map_max_abs_error: med(&|r| r.comparison.map.as_ref().map(|m| m.max_abs_error)),
        test_r2: med(&|r| Some(r.comparison.prediction.test_r2)).unwrap_or(f64::NAN),
        test_mse: med(&|r| Some(r.comparison.prediction.test_mse)).unwrap_or(f64::NAN),
        oracle_test_mse: reps[0].comparison.prediction.oracle_test_mse,
        noise_variance: rec.simulation.noise * rec.simulation.noise,
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into())
}

/// The per-replicate table with a median row and the truth's own row.
pub fn table(rec: &Recovery) -> String {
    let mut t = format!(
        "{:>3} {:>5} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}\n",
        "rep", "seed", "train MSE", "raw r", "filters r", "+readout", "map r", "map err", "test R²", "test MSE", "bias"
    );
    let bias = |b: Option<&Vec<f64>>| b.and_then(|v| v.first().copied());
    for (i, r) in rec.replicates.iter().enumerate() {
        let c = &r.comparison;
        let f = c.filters.as_ref();
        t += &format!(
            "{:>3} {:>5} {:>10.4} {:>7.3} {:>9} {:>9} {:>9} {:>9} {:>8.4} {:>8.4} {:>7}\n",
            i + 1,
            r.seed,
            r.final_train_loss,
            c.raw_r,
            opt(f.map(|f| f.r), 4),
            opt(f.and_then(|f| f.with_readout_r), 4),
            opt(c.map.as_ref().map(|m| m.r), 6),
            opt(c.map.as_ref().map(|m| m.max_abs_error), 4),
            c.prediction.test_r2,
            c.prediction.test_mse,
            opt(bias(c.map.as_ref().map(|m| &m.bias)), 3),
        );
    }
    let s = summary(rec);
    t += &format!(
        "{:>3} {:>5} {:>10} {:>7.3} {:>9} {:>9} {:>9} {:>9} {:>8.4} {:>8.4}\n",
        "med",
        "",
        "",
        s.raw_r,
        opt(s.filters_r, 4),
        opt(s.filters_with_readout_r, 4),
        opt(s.map_r, 6),
        opt(s.map_max_abs_error, 4),
        s.test_r2,
        s.test_mse
    );
    let p = &rec.replicates[0].comparison.prediction;
    let true_bias = rec.replicates[0].comparison.map.as_ref().and_then(|m| m.true_bias.first().copied());
    t += &format!(
        "{:>3} {:>5} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8.4} {:>8.4} {:>7}   (noise variance {:.4})\n",
        "truth",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        p.oracle_test_r2,
        p.oracle_test_mse,
        opt(true_bias, 3),
        s.noise_variance
    );
    t
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|i| i as f64).product()
}

/// What the numbers mean, in words, from the numbers themselves.
pub fn explanation(rec: &Recovery) -> String {
    let s = summary(rec);
    let first = &rec.replicates[0].comparison;
    let mut out = vec![];
    let filters = first.filters.as_ref();
    let nf = filters.map(|f| f.matches.len()).unwrap_or(0);
    let folded = filters.is_some_and(|f| f.batchnorm_folded);
    let mut why = vec![];
    if nf > 1 {
        why.push(format!("the {nf} filters can come out in any of {} orders", factorial(nf)));
    }
    if filters.is_some_and(|f| f.with_readout_r.is_some()) {
        why.push("each filter's sign and scale trade against the read-out weights that read it (w·c with l/c gives the same output)".into());
    }
    if folded {
        why.push("batch norm rescales every filter again".into());
    }
    let d = rec.truth.input.len() * rec.truth.output().len();
    let affine = first.map.is_some();
    if affine && rec.truth_parameters > d {
        why.push(format!(
            "and, the network being linear, its {} parameters only make one map of {d} numbers, so a whole family of parameter settings fits the data equally well",
            rec.truth_parameters
        ));
    }
    let raw_note = if s.raw_r > 0.9 { " (high here, but only by luck of labelling)" } else { "" };
    out.push(format!(
        "Raw correlation of true and learned weights: r = {:.3} (median){raw_note}. It can be low even for a perfect fit because the parameters are not identifiable: {}.",
        s.raw_r,
        if why.is_empty() { "different weights can compute the same function".into() } else { why.join("; ") }
    ));
    if let Some(fr) = s.filters_r {
        let ro = s
            .filters_with_readout_r
            .map(|r| format!(", {r:.3} with the read-out weights aligned too"))
            .unwrap_or_default();
        out.push(format!(
            "Matched filters (optimal assignment on |r|, then each filter's sign and scale fitted{}): r = {fr:.3}{ro}.{}",
            if folded { ", batch norm's scale folded in" } else { "" },
            if affine { " In a linear network even this is not identified; only the map below is." } else { "" }
        ));
    }
    if let (Some(mr), Some(err)) = (s.map_r, s.map_max_abs_error) {
        out.push(format!(
            "Effective map (conv then linear is one linear map of {d} numbers, found by pushing unit inputs through each network): recovered with r = {mr:.6}, largest error {err:.4}. This is what the data determine."
        ));
    } else {
        out.push(
            "The fitted network is not linear, so it has no single effective map; compare its filters and predictions."
                .into(),
        );
    }
    let p = &first.prediction;
    // Within 10 % of what the truth itself scores, the fit is as good as the noise allows.
    let verdict = if s.test_mse <= 1.1 * p.oracle_test_mse {
        "the fit is at the noise floor: only less noise or more data could do better".to_string()
    } else {
        format!(
            "the fit is {:.1}× the noise floor: it has not found the truth's function",
            s.test_mse / p.oracle_test_mse
        )
    };
    out.push(format!(
        "Predictions: test MSE {:.4} (median) against the noise variance {:.4}; the true network itself scores {:.4} on the same samples (R² {:.4} vs {:.4}), so {verdict}.",
        s.test_mse, s.noise_variance, p.oracle_test_mse, s.test_r2, p.oracle_test_r2
    ));
    if let Some(m) = &first.map {
        out.push(format!("Bias: learned {:.3} (replicate 1), true {:.3}.", m.bias[0], m.true_bias[0]));
    }
    out.join("\n")
}

/// x and y values of a scatter plot.
type Points = (Vec<f32>, Vec<f32>);

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// What `recover.json` holds: the recovery, each replicate's comparison and the medians.
pub fn to_json(rec: &Recovery) -> serde_json::Value {
    let mut json = serde_json::to_value(rec).expect("a Recovery always serialises");
    json["summary"] = serde_json::to_value(summary(rec)).expect("a summary always serialises");
    json
}

/// The two lines above the table: the truth, and the fit.
pub fn heading(rec: &Recovery) -> String {
    format!(
        "truth: `{}` ({} parameters), {} samples, noise sd {}\nfit:   `{}` ({} parameters), {}, {} epochs, {} train / {} test samples, {} replicates\n",
        rec.truth_spec,
        rec.truth_parameters,
        rec.simulation.n,
        rec.simulation.noise,
        rec.model,
        rec.model_parameters,
        rec.optimizer,
        rec.epochs,
        rec.train_samples,
        rec.test_samples,
        rec.replicates.len()
    )
}

/// Writes `recover.json`, the plots and `report.md` into `out`; returns the files written.
pub fn write(rec: &Recovery, out: &Path, command: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::create(out, e))?;
    let mut files = vec![];
    let path = out.join("recover.json");
    let text = serde_json::to_string_pretty(&to_json(rec)).expect("a JSON value always serialises");
    crate::fs::write_atomic(&path, format!("{text}\n").as_bytes())?;
    files.push(path);
    // All replicates on one plot: the spread shows how (un)identifiable each view is.
    let gather = |f: &dyn Fn(&Pairs) -> &PairSet| {
        let (mut a, mut b) = (vec![], vec![]);
        for r in &rec.replicates {
            let p = f(&r.comparison.pairs);
            a.extend(f32s(&p.0));
            b.extend(f32s(&p.1));
        }
        (a, b)
    };
    let mut plots: Vec<(&str, Points, &str)> = vec![
        ("raw-weights.png", gather(&|p| &p.raw), "Raw weights: true vs learned (all replicates)"),
        ("filters-matched.png", gather(&|p| &p.filters), "Matched filters (sign and scale fitted)"),
        ("effective-map.png", gather(&|p| &p.map), "Effective map: true vs learned"),
    ];
    plots.push((
        "predictions.png",
        (f32s(&rec.test_predictions.0), f32s(&rec.test_predictions.1)),
        "Test set: target vs prediction (replicate 1)",
    ));
    let mut images = vec![];
    for (name, (x, y), title) in plots {
        if x.is_empty() {
            continue;
        }
        let path = out.join(name);
        let (xl, yl) = if name == "predictions.png" { ("target", "prediction") } else { ("true", "learned") };
        scatter(&x, &y, true, title, xl, yl).save(&path)?;
        images.push((name, title));
        files.push(path);
    }
    let mut md = format!(
        "# Recovery of `{}`\n\nCommand: `{command}`\n\nFitted `{}` ({} parameters) with {} for {} epochs on {} samples ({} held out), {} replicates.\n\n```\n{}```\n\n",
        rec.truth_spec,
        rec.model,
        rec.model_parameters,
        rec.optimizer,
        rec.epochs,
        rec.train_samples,
        rec.test_samples,
        rec.replicates.len(),
        table(rec)
    );
    for para in explanation(rec).lines() {
        md += &format!("{para}\n\n");
    }
    for (name, title) in images {
        md += &format!("![{title}]({name})\n\n");
    }
    let path = out.join("report.md");
    crate::fs::write_atomic(&path, md.as_bytes())?;
    files.push(path);
    Ok(files)
}
