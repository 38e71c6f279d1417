//! Samples through a trained model (`convlab predict`): images or rows of an npz file's `X`,
//! each checked against the model's input, and their outputs read as the model's task says —
//! class probabilities for a classifier (see [`Task`]), the values for regression.

use crate::error::{Error, Result};
use crate::model::{Model, Task};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Where a sample came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    File(String),
    /// A row of an npz file's `X`.
    Row(usize),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Origin::File(name) => write!(f, "{name}"),
            Origin::Row(i) => write!(f, "row {i}"),
        }
    }
}

/// Samples for a model, one after another in `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    pub origins: Vec<Origin>,
    pub x: Vec<f32>,
}

/// Reads `inputs` for `model`: PNG/JPEG images, one sample each, or one npz file, whose rows
/// `rows` (a Python slice, `A:B` or `A`; default all) are the samples.
pub fn read_samples(model: &Model<f32>, inputs: &[PathBuf], rows: Option<&str>) -> Result<Samples> {
    let is_npz = |p: &PathBuf| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    match inputs {
        [] => Err(Error::config("give at least one input: PNG/JPEG images, or an .npz file")),
        [npz] if is_npz(npz) => read_npz_rows(model, npz, rows),
        _ if inputs.iter().any(is_npz) => Err(Error::config(
            "give one .npz file on its own (choose its rows with --rows A:B), or images; not several npz files or npz files and images together",
        )),
        _ => {
            if let Some(r) = rows {
                return Err(Error::config(format!(
                    "--rows {r} chooses rows of an .npz file, but the inputs are images; leave out --rows"
                )));
            }
            let mut s = Samples { origins: vec![], x: Vec::with_capacity(inputs.len() * model.input.len()) };
            for path in inputs {
                s.x.extend(read_image(model, path)?);
                s.origins.push(Origin::File(path.display().to_string()));
            }
            Ok(s)
        }
    }
}

/// Rows of an npz file's `X`, whose samples must have the model's input shape.
fn read_npz_rows(model: &Model<f32>, path: &Path, rows: Option<&str>) -> Result<Samples> {
    let ds = crate::data::npz::load_npz(path)?;
    let name = path.display();
    if ds.sample_shape != model.input.to_vec() {
        return Err(Error::shape(format!(
            "{name}: its samples have shape {:?} but the model takes {}; save X with the model's input shape",
            ds.sample_shape, model.input
        )));
    }
    let range = crate::inspect::rows::parse_rows_strict(rows.unwrap_or(":"), ds.len()).map_err(|e| e.context(&name))?;
    let d = ds.sample_len();
    Ok(Samples { origins: range.clone().map(Origin::Row).collect(), x: ds.x[range.start * d..range.end * d].to_vec() })
}

/// A PNG/JPEG image as a sample for `model` (a grey image for a colour model is repeated over
/// the channels).
fn read_image(model: &Model<f32>, path: &Path) -> Result<Vec<f32>> {
    let name = path.display().to_string();
    let bytes = crate::data::limits::read_data_file(path)?;
    let c = model.input.c;
    // The size is checked from the header, before decoding.
    let wrong = |w: usize, h: usize| {
        Error::shape(format!("{name} is {h}×{w} pixels but the model takes {}; resize the image", model.input))
    };
    let img = crate::data::images::decode_image_sized(&bytes, &name, Some((model.input.w, model.input.h, &wrong)))?;
    if (img.height, img.width) != (model.input.h, model.input.w) || !(img.channels == c || img.channels == 1) {
        return Err(Error::shape(format!(
            "{name} is {}×{}×{} but the model takes {}; resize the image",
            img.channels, img.height, img.width, model.input
        )));
    }
    let x = img.to_planar(c);
    if x.len() != model.input.len() {
        return Err(Error::shape(format!(
            "{name}: the image gives {} values, the model takes {} ({})",
            x.len(),
            model.input.len(),
            model.input
        )));
    }
    Ok(x)
}

/// A model's answer for one sample; as JSON, one line of `predict --json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// The raw outputs (logits for a classifier).
    pub outputs: Vec<f32>,
    /// For a classifier: each class's probability (two for one BCE logit: 1 − σ, σ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Prediction {
    pub fn origin(&self) -> Origin {
        match (&self.file, self.row) {
            (Some(f), _) => Origin::File(f.clone()),
            (None, r) => Origin::Row(r.unwrap_or(0)),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a prediction is plain data")
    }
}

/// `model`'s predictions for `samples`, in evaluation mode; `task` (the model's, when known)
/// says whether the outputs are classes.
pub fn predict(model: &Model<f32>, task: Option<&Task>, samples: &Samples) -> Vec<Prediction> {
    let k = model.output().len();
    let out = model.predict(&samples.x, samples.origins.len());
    let classifier = task.filter(|t| t.is_classifier());
    samples
        .origins
        .iter()
        .zip(out.chunks_exact(k))
        .map(|(origin, row)| {
            let (file, row_index) = match origin {
                Origin::File(f) => (Some(f.clone()), None),
                Origin::Row(r) => (None, Some(*r)),
            };
            let class = classifier.map(|t| t.predicted(row));
            Prediction {
                file,
                row: row_index,
                outputs: row.to_vec(),
                probabilities: classifier.map(|t| t.probabilities(row)),
                class,
                name: classifier.zip(class).map(|(t, c)| t.name(c)),
            }
        })
        .collect()
}

/// How many classes the answer for one sample lists.
const TOP_CLASSES: usize = 5;

/// `7 (Sneaker)`, or just `3` when the class is named by its number.
fn class_label(class: usize, name: &str) -> String {
    if name == class.to_string() {
        class.to_string()
    } else {
        format!("{class} ({name})")
    }
}

/// The answer for one sample, for a person: the class, its name and probability and the most
/// likely classes; or the outputs.
pub fn describe(p: &Prediction, task: Option<&Task>) -> String {
    let mut s = String::new();
    match (&p.probabilities, p.class, task) {
        (Some(probs), Some(class), Some(task)) => {
            let _ = writeln!(s, "class {}, probability {:.4}", class_label(class, &task.name(class)), probs[class]);
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
            let shown = order.len().min(TOP_CLASSES);
            let named = order[..shown].iter().any(|&c| task.name(c) != c.to_string());
            let width = order[..shown].iter().map(|&c| task.name(c).chars().count()).max().unwrap_or(0);
            let _ = writeln!(s, "top {shown} of {} classes:", probs.len());
            for &c in &order[..shown] {
                let name = if named { format!("{:<width$}  ", task.name(c)) } else { String::new() };
                let _ = writeln!(s, "  {c:<4} {name}{:.4}", probs[c]);
            }
        }
        _ => p.outputs.iter().enumerate().for_each(|(i, v)| {
            let _ = writeln!(s, "output {i:<3} {v:.6}");
        }),
    }
    s
}

/// The answer for one of many samples, on one line.
pub fn describe_line(p: &Prediction, task: Option<&Task>) -> String {
    match (&p.probabilities, p.class, task) {
        (Some(probs), Some(class), Some(task)) => {
            format!("{}: class {}, probability {:.4}", p.origin(), class_label(class, &task.name(class)), probs[class])
        }
        _ => format!("{}: {}", p.origin(), p.outputs.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;
    use crate::losses::Loss;

    fn samples(n: usize) -> Samples {
        Samples { origins: (0..n).map(Origin::Row).collect(), x: (0..n * 4).map(|v| v as f32 / 8.0 - 0.5).collect() }
    }

    #[test]
    fn a_classifier_gives_probabilities_its_class_and_name_and_regression_its_outputs() {
        let mut m = Model::<f32>::new("flatten linear(3)", Dims::image(1, 2, 2)).unwrap();
        m.init(4);
        let names: Vec<String> = ["cat", "dog", "emu"].map(String::from).to_vec();
        let task = Task::new(Loss::CrossEntropy, 3, Some(&names));
        let s = samples(3);
        let out = m.predict(&s.x, 3);
        let preds = predict(&m, Some(&task), &s);
        for (i, p) in preds.iter().enumerate() {
            let row = &out[i * 3..i * 3 + 3];
            let best = crate::train::argmax(row);
            assert_eq!((p.row, p.outputs.as_slice(), p.class), (Some(i), row, Some(best)));
            assert_eq!(p.name.as_deref(), Some(names[best].as_str()));
            let probs = p.probabilities.as_ref().unwrap();
            assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(probs.iter().all(|&q| q <= probs[best]));
        }
        let json: serde_json::Value = serde_json::from_str(&preds[1].to_json()).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys.len(), 5, "{json}");
        for key in ["row", "outputs", "probabilities", "class", "name"] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        assert_eq!(json["outputs"][0].as_f64().unwrap() as f32, out[3]);
        let one = describe(&preds[0], Some(&task));
        assert!(one.starts_with(&format!("class {} ({})", preds[0].class.unwrap(), preds[0].name.as_ref().unwrap())));
        assert!(one.contains("top 3 of 3 classes") && one.contains("emu"), "{one}");
        assert!(describe_line(&preds[2], Some(&task)).starts_with("row 2: class "));
        // Regression and an unknown task: the outputs only.
        for t in [Some(Task::new(Loss::Mse, 3, None)), None] {
            let p = &predict(&m, t.as_ref(), &s)[0];
            assert_eq!((p.probabilities.as_ref(), p.class, p.name.as_ref()), (None, None, None));
            let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
            assert_eq!(json.as_object().unwrap().len(), 2, "{json}");
            assert!(describe(p, t.as_ref()).starts_with("output 0"));
        }
    }

    #[test]
    fn one_bce_logit_is_a_two_class_answer() {
        let mut m = Model::<f32>::new("flatten linear(1)", Dims::image(1, 2, 2)).unwrap();
        m.init(2);
        let task = Task::new(Loss::BceWithLogits, 1, Some(&["not 3".to_string(), "3".to_string()]));
        let s = samples(4);
        let out = m.predict(&s.x, 4);
        for (p, &logit) in predict(&m, Some(&task), &s).iter().zip(&out) {
            let probs = p.probabilities.as_ref().unwrap();
            assert_eq!(probs.len(), 2);
            assert!((probs[1] - crate::layers::activation::sigmoid(logit)).abs() < 1e-7);
            assert_eq!(p.class, Some(usize::from(logit > 0.0)));
            assert_eq!(p.name.as_deref(), Some(if logit > 0.0 { "3" } else { "not 3" }));
        }
    }
}
