//! A training run as TensorBoard shows it: each epoch's metrics as scalars (`loss/train`,
//! `loss/test`, `accuracy/train`, `accuracy/test`, `learning_rate` when the run records one,
//! `time/seconds_per_epoch`), every parameter tensor's histogram (`parameters/0.weight`), and
//! the first conv layer's kernels as an image (`kernels/0.weight`). The step is the epoch.
//!
//! [`TrainingLog`] writes while training (`convlab train --tensorboard DIR`); [`export_run`]
//! writes the same for a finished run from its folder: its metrics, its kernel snapshots (if
//! it took any) and its final model.

use super::proto::summary;
use super::writer::{histogram_value, image, scalar, EventWriter};
use crate::error::{Error, Result};
use crate::layers::Op;
use crate::model::{io, Model, Store};
use crate::plot::{heatmap_grid, kernel_grid, Colormap, Panel, Scale};
use crate::train::folder::EpochMetrics;
use crate::train::snapshots::{self, Snapshots};
use std::path::{Path, PathBuf};

/// The scalar tag of a metric (a field of [`EpochMetrics`]); `None` for the epoch itself.
fn scalar_tag(field: &str) -> Option<String> {
    let tag = match field {
        "epoch" => return None,
        "train_loss" => "loss/train",
        "test_loss" => "loss/test",
        "train_accuracy" => "accuracy/train",
        "test_accuracy" => "accuracy/test",
        "lr" | "learning_rate" => "learning_rate",
        "seconds" => "time/seconds_per_epoch",
        other => other,
    };
    Some(tag.to_string())
}

/// The epoch's metrics as scalars: every number among its fields (so a metric added to
/// `EpochMetrics`, such as the learning rate, is logged as soon as it exists); absent ones
/// (no test set) are left out.
pub fn metric_scalars(m: &EpochMetrics) -> Vec<summary::Value> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(m) else { return vec![] };
    let numbers = fields.iter().filter_map(|(k, v)| Some((scalar_tag(k)?, v.as_f64()?)));
    numbers.map(|(tag, v)| scalar(&tag, v)).collect()
}

/// Every parameter tensor's histogram (weights and biases, not batch-norm running statistics).
pub fn parameter_histograms(model: &Model<f32>) -> Vec<summary::Value> {
    let params = model.tensors().into_iter().filter(|t| t.store == Store::Param);
    params.map(|t| histogram_value(&format!("parameters/{}", t.name), model.tensor(&t))).collect()
}

/// The kernels of a conv layer's weight `name` (`[out, in, kh, kw]` or `[out, in, k]`) as an image.
pub fn kernel_image(name: &str, shape: &[usize], weights: &[f32], epoch: usize) -> summary::Value {
    let (o, c, kh, kw) = match *shape {
        [o, c, kh, kw] => (o, c, kh, kw),
        [o, c, k] => (o, c, 1, k),
        _ => (1, 1, 1, weights.len()),
    };
    let title = format!("{name} after epoch {epoch}");
    // As `plot filters` draws them: one input channel as a compact grid, 8 kernels a row.
    let figure = if c == 1 && o > 4 {
        let k = kh * kw;
        let panels: Vec<Panel> =
            (0..o).map(|j| Panel::new(format!("out {j}"), kh, kw, weights[j * k..(j + 1) * k].to_vec())).collect();
        heatmap_grid(&panels, 8, Colormap::Bwr, Scale::Symmetric, &title)
    } else {
        kernel_grid(weights, o, c, kh, kw, Colormap::Bwr, &title)
    };
    let canvas = figure.to_canvas();
    image(&format!("kernels/{name}"), canvas.encode_png(), canvas.width(), canvas.height())
}

/// The first conv layer's weight: (name, shape, values).
fn first_conv(model: &Model<f32>) -> Option<(String, Vec<usize>, &[f32])> {
    let t = model
        .tensors()
        .into_iter()
        .find(|t| t.name.ends_with(".weight") && matches!(model.layers[t.layer].op, Op::Conv(_)))?;
    let values = model.tensor(&t);
    Some((t.name, t.shape, values))
}

/// The log a training run writes as it goes.
pub struct TrainingLog {
    writer: EventWriter,
}

impl TrainingLog {
    /// A new event file in `dir`. A run starting from epoch 1 logs its initial weights as epoch 0.
    pub fn start(dir: &Path, model: &Model<f32>, first_epoch: usize) -> Result<Self> {
        let mut log = TrainingLog { writer: EventWriter::create(dir)? };
        if first_epoch <= 1 {
            log.model(0, model, true)?;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// The parameters' histograms after `epoch` epochs and, with `kernels`, the first conv
    /// layer's kernels.
    pub fn model(&mut self, epoch: usize, model: &Model<f32>, kernels: bool) -> Result<()> {
        let mut values = parameter_histograms(model);
        if let Some((name, shape, w)) = first_conv(model).filter(|_| kernels) {
            values.push(kernel_image(&name, &shape, w, epoch));
        }
        self.writer.summary(epoch as u64, values)
    }

    /// One finished epoch: its metrics, the histograms, and (with `kernels`: a snapshot epoch)
    /// the first conv layer's kernels.
    pub fn epoch(&mut self, m: &EpochMetrics, model: &Model<f32>, kernels: bool) -> Result<()> {
        self.writer.summary(m.epoch as u64, metric_scalars(m))?;
        self.model(m.epoch, model, kernels)
    }
}

/// Writes the log of the finished run in `run` into `out`: every epoch's metrics, the conv
/// kernels and their histograms at each snapshot (`--snapshot-every`), and the final model's
/// histograms and first kernels at its last epoch. Returns the event file written.
pub fn export_run(run: &Path, out: &Path) -> Result<PathBuf> {
    let model_path = run.join("model.safetensors");
    if !run.join("config.toml").exists() || !model_path.exists() {
        return Err(Error::model_file(format!(
            "{} is not a finished run folder (it needs config.toml, metrics.jsonl and model.safetensors); give the folder `convlab train --out` wrote",
            run.display()
        )));
    }
    let model: Model<f32> = io::load(&model_path)?;
    let metrics = crate::train::folder::read_metrics(run)?;
    let last = metrics.last().map_or(0, |m| m.epoch);
    let snaps = match run.join(snapshots::FILE) {
        p if p.exists() => Snapshots::load(&p)?,
        _ => Snapshots::default(),
    };
    // A second copy in the same folder would show every curve twice.
    if out.is_dir() && !super::reader::event_files(out)?.is_empty() {
        return Err(Error::config(format!(
            "{} already holds TensorBoard event files; give another --out, or delete them to write the log again",
            out.display()
        )));
    }
    let mut w = EventWriter::create(out)?;
    for m in &metrics {
        w.summary(m.epoch as u64, metric_scalars(m))?;
    }
    let first = first_conv(&model).map(|(name, _, _)| name);
    let mut epochs: Vec<usize> = snaps.entries.iter().map(|e| e.0).filter(|&e| e < last).collect();
    epochs.dedup();
    for epoch in epochs {
        let mut values = vec![];
        for (_, name, shape, w) in snaps.entries.iter().filter(|e| e.0 == epoch) {
            values.push(histogram_value(&format!("parameters/{name}"), w));
            if first.as_deref() == Some(name.as_str()) {
                values.push(kernel_image(name, shape, w, epoch));
            }
        }
        w.summary(epoch as u64, values)?;
    }
    let mut values = parameter_histograms(&model);
    if let Some((name, shape, weights)) = first_conv(&model) {
        values.push(kernel_image(&name, &shape, weights, last));
    }
    w.summary(last as u64, values)?;
    Ok(w.path().to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::super::reader::{event_files, read_events, scalars, values};
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn metrics_get_tensorboard_tags_and_new_ones_their_own_name() {
        assert_eq!(scalar_tag("train_loss").as_deref(), Some("loss/train"));
        assert_eq!(scalar_tag("test_accuracy").as_deref(), Some("accuracy/test"));
        assert_eq!(scalar_tag("lr").as_deref(), Some("learning_rate"));
        assert_eq!(scalar_tag("grad_norm").as_deref(), Some("grad_norm"));
        assert_eq!(scalar_tag("epoch"), None);
    }

    #[test]
    fn a_training_log_reads_back_with_its_crcs_checked() {
        let dir = std::env::temp_dir().join(format!("convlab-tb-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut model = Model::<f32>::new("conv2d(3,k=3) relu flatten linear(2)", Dims::image(1, 5, 5)).unwrap();
        model.init(3);
        let mut log = TrainingLog::start(&dir, &model, 1).unwrap();
        for epoch in 1..=3 {
            let m = EpochMetrics {
                epoch,
                train_loss: 1.0 / epoch as f64,
                train_accuracy: Some(0.5),
                test_loss: None,
                test_accuracy: None,
                seconds: 0.25,
                lr: Some(0.1 / epoch as f64),
                last_batch_loss: None,
            };
            log.epoch(&m, &model, epoch == 2).unwrap();
        }
        let files = event_files(&dir).unwrap();
        assert_eq!(files, [log.path().to_path_buf()]);
        let events = read_events(&files[0]).unwrap();
        assert!(
            matches!(&events[0].what, Some(super::super::proto::event::What::FileVersion(v)) if v == "brain.Event:2")
        );
        assert_eq!(scalars(&events, "loss/train"), [(1, 1.0), (2, 0.5), (3, 1.0 / 3.0)]);
        assert_eq!(scalars(&events, "accuracy/train").len(), 3);
        assert!(scalars(&events, "loss/test").is_empty());
        // The learning rate, now that the metrics carry one.
        let lrs: Vec<f32> = scalars(&events, "learning_rate").iter().map(|(_, v)| *v).collect();
        assert_eq!(lrs.len(), 3);
        assert!((f64::from(lrs[2]) - 0.1 / 3.0).abs() < 1e-7, "{lrs:?}");
        let all = values(&events);
        let tagged = |tag: &str| all.iter().filter(|(_, v)| v.tag == tag).map(|(s, _)| *s).collect::<Vec<_>>();
        // Histograms at 0 (the initial weights) and every epoch; kernels at 0 and the snapshot.
        assert_eq!(tagged("parameters/0.weight"), [0, 1, 2, 3]);
        assert_eq!(tagged("parameters/3.bias"), [0, 1, 2, 3]);
        assert_eq!(tagged("kernels/0.weight"), [0, 2]);
        let Some(summary::value::Value::Histo(h)) =
            &all.iter().find(|(_, v)| v.tag == "parameters/0.weight").unwrap().1.value
        else {
            panic!("not a histogram")
        };
        assert_eq!(h.num, 27.0);
        let Some(summary::value::Value::Image(img)) =
            &all.iter().find(|(_, v)| v.tag == "kernels/0.weight").unwrap().1.value
        else {
            panic!("not an image")
        };
        let png = crate::plot::canvas::Canvas::decode_png(&img.encoded_image_string).unwrap();
        assert_eq!((png.width() as i32, png.height() as i32), (img.width, img.height));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
