//! Tutorial 004's one-kernel experiment, exactly as the notebook runs it: one 8×8 kernel
//! (`nn.Conv2d(1, 1, (8, 8))`, `torch.manual_seed(0)`) trained on the 183 threes of the digits
//! (raw pixels 0..16), one image per step in order, Adam 1e-3, 10 epochs, with
//! `loss_fn = BCEWithLogitsLoss(reduction='none')` called as `loss_fn(y[i], yhat)`.
//!
//! That call puts the target 3.0 where the logit goes and the kernel's output where the target
//! goes: the loss is `softplus(3) − 3·ŷ`, linear in ŷ, so its gradient with respect to the
//! output is the constant −3 and the kernel's gradient is −3 × the image. Training just makes
//! the output on threes as large as it can (the loss falls without bound); Adam moves each
//! weight by about the learning rate per step wherever a three has ink, most steadily where
//! threes always have ink. So the kernel drifts from its random start towards the average "3"
//! — a template, not a detector: nothing in this loss ever shows it a digit that is not a 3.

use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::fs::{lock_dir, write_atomic};
use crate::layers::{MaskKey, Mode};
use crate::model::io;
use crate::model::{Model, Workspace};
use crate::optim::OptimizerConfig;
use crate::plot::{heatmap_grid, Colormap, Figure, Panel, Scale};
use crate::stats::pearson;
use crate::train::folder::refuse_overwrite;
use crate::train::snapshots::Snapshots;
use std::path::Path;

/// The notebook's settings.
pub const SPEC: &str = "conv2d(1,k=8)";
pub const EPOCHS: usize = 10;
pub const OPTIMIZER: &str = "adam(lr=1e-3)";
/// The digit the kernel is trained on, which the notebook's call also uses as the "logit".
pub const DIGIT: u32 = 3;

/// What the experiment measured.
pub struct KernelRun {
    pub model: Model<f32>,
    /// The kernel's 64 weights after each epoch, the initial kernel first (11 in all).
    pub kernels: Vec<Vec<f32>>,
    /// Pearson correlation of each of `kernels` with the mean "3" image.
    pub correlations: Vec<f64>,
    /// Each epoch's mean loss and its last step's loss (the notebook's `loss` after the loop).
    pub losses: Vec<(f64, f64)>,
    /// The mean of the threes, in raw pixels.
    pub mean_image: Vec<f32>,
    /// How many threes were trained on.
    pub count: usize,
}

/// The notebook's data: the threes of `digits`, pixels back on the raw 0..16 scale the
/// notebook feeds (convlab's digits are scaled by 1/16).
fn threes(digits: &Dataset) -> Result<Vec<f32>> {
    let Targets::Classes { labels, .. } = &digits.targets else {
        return Err(Error::data("the kernel lab needs the digits' class labels"));
    };
    let mut x = Vec::new();
    for (i, _) in labels.iter().enumerate().filter(|(_, &l)| l == DIGIT) {
        x.extend(digits.sample(i).iter().map(|v| v * 16.0));
    }
    Ok(x)
}

/// The mean image of the samples of `ds` whose label passes `keep`.
pub fn class_mean(ds: &Dataset, keep: impl Fn(u32) -> bool) -> Vec<f64> {
    let mut sum = vec![0f64; ds.sample_len()];
    let mut count = 0usize;
    if let Targets::Classes { labels, .. } = &ds.targets {
        for (i, _) in labels.iter().enumerate().filter(|(_, &l)| keep(l)) {
            sum.iter_mut().zip(ds.sample(i)).for_each(|(s, &v)| *s += f64::from(v));
            count += 1;
        }
    }
    sum.iter().map(|s| s / count.max(1) as f64).collect()
}

/// `BCEWithLogitsLoss(reduction='none')(input, target)` for one value:
/// `max(x, 0) − x·t + log(1 + e^−|x|)`.
fn bce_with_logits(input: f64, target: f64) -> f64 {
    input.max(0.0) - input * target + (-input.abs()).exp().ln_1p()
}

/// Runs the notebook's loop on `digits` (the built-in set).
pub fn run(digits: &Dataset) -> Result<KernelRun> {
    let x = threes(digits)?;
    let per = 64;
    let count = x.len() / per;
    let mut model = Model::<f32>::new(SPEC, crate::engine::Dims::from_shape(&[1, 8, 8])?)?;
    model.init_torch(0);
    let mut optimizer = OptimizerConfig::parse(OPTIMIZER)?.build::<f32>();
    let mut ws = Workspace::new(&model, 1, false);
    let logit = f64::from(DIGIT);
    let mut kernels = vec![model.params[..per].to_vec()];
    let mut losses = Vec::with_capacity(EPOCHS);
    for _ in 0..EPOCHS {
        let (mut sum, mut last) = (0.0, 0.0);
        for i in 0..count {
            let xi = &x[i * per..(i + 1) * per];
            ws.forward(&model, xi, 1, Mode::Train, MaskKey::default());
            let (out, dout) = ws.output_and_grad(&model);
            // loss = softplus(3) − 3·ŷ, so ∂loss/∂ŷ = −3 whatever ŷ is.
            last = bce_with_logits(logit, f64::from(out[0]));
            dout[0] = -(logit as f32);
            sum += last;
            ws.dparams.fill(0.0);
            ws.backward(&model, xi, Mode::Train);
            optimizer.step(&mut model.params, &ws.dparams);
        }
        if !sum.is_finite() {
            return Err(Error::numeric(format!("the kernel lab's loss became {sum}")));
        }
        losses.push((sum / count as f64, last));
        kernels.push(model.params[..per].to_vec());
    }
    // In raw pixels, as the notebook's images.
    let mean_image: Vec<f32> = class_mean(digits, |l| l == DIGIT).iter().map(|m| (m * 16.0) as f32).collect();
    let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let mean_wide = wide(&mean_image);
    let correlations = kernels.iter().map(|k| pearson(&wide(k), &mean_wide)).collect();
    Ok(KernelRun { model, kernels, correlations, losses, mean_image, count })
}

impl KernelRun {
    /// Writes the run into `dir`: `model.safetensors` (the trained kernel, openable with
    /// `convlab plot filters`), `snapshots.safetensors` (its 11 epochs, for `convlab plot
    /// evolution DIR 0`) and `kernels.png` ([`KernelRun::figure`]).
    pub fn write(&self, dir: &Path, force: bool) -> Result<()> {
        refuse_overwrite(&dir.join("model.safetensors"), force)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
        let _lock = lock_dir(dir)?;
        let mut snaps = Snapshots::default();
        let mut m = self.model.clone();
        for (epoch, k) in self.kernels.iter().enumerate() {
            m.params[..k.len()].copy_from_slice(k);
            snaps.take(&m, epoch);
        }
        write_atomic(&dir.join(crate::train::snapshots::FILE), &snaps.to_bytes()?)?;
        io::save(&self.model, &dir.join("model.safetensors"))?;
        self.figure().save(dir.join("kernels.png"))
    }

    /// What the lab prints: the correlation per epoch and why the kernel grows like that.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{SPEC} on the {} threes (raw pixels 0..16), one image per step, {OPTIMIZER}, loss_fn(y[i], yhat) with loss_fn = BCEWithLogitsLoss(reduction='none'), as the notebook calls it",
            self.count
        )];
        out.push(format!("epoch 0: correlation with the mean 3 {:+.4}", self.correlations[0]));
        for (e, ((mean, last), r)) in self.losses.iter().zip(&self.correlations[1..]).enumerate() {
            out.push(format!(
                "epoch {}: loss {mean:.2} (last step {last:.2}), correlation with the mean 3 {r:+.4}",
                e + 1
            ));
        }
        out.push(format!(
            "Why it becomes a 3: the call puts the target 3.0 where the logit goes, so the loss is softplus(3) - 3*output, linear in the output; its gradient with respect to the output is -3 at every step, and the kernel's gradient is -3 times the image. The loss falls without bound ({:.0} after {EPOCHS} epochs): training only makes the output on threes larger. Adam moves each weight by about the learning rate per step where threes have ink, most steadily where they always do, so the kernel drifts from its random start to the average 3 (correlation {:.2}). It is a template, not a detector: it never saw a digit that is not a 3.",
            self.losses.last().map_or(f64::NAN, |l| l.1),
            self.correlations.last().copied().unwrap_or(f64::NAN)
        ));
        out
    }

    /// The kernel after each epoch and the mean "3", in two rows of six, in viridis from each
    /// panel's minimum to its maximum, as the notebook's `imshow` draws each subplot: the kernel
    /// grows from about ±0.1 to about 2, and one shared scale would show the first epochs blank.
    pub fn figure(&self) -> Figure {
        // Each panel's smallest value maps to 0 and its largest to 1.
        let own_scale = |v: &[f32]| {
            let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
            let span = (hi - lo).max(f32::MIN_POSITIVE);
            v.iter().map(|x| (x - lo) / span).collect::<Vec<f32>>()
        };
        let mut panels: Vec<Panel> = self
            .kernels
            .iter()
            .zip(&self.correlations)
            .enumerate()
            .map(|(e, (k, r))| Panel::new(format!("epoch {e}: r = {r:.2}"), 8, 8, own_scale(k)))
            .collect();
        panels.push(Panel::new("mean of the 3s", 8, 8, own_scale(&self.mean_image)));
        heatmap_grid(
            &panels,
            6,
            Colormap::Viridis,
            Scale::MinMax,
            "one 8x8 kernel trained on the 3s as tutorial 004 trains it (each panel from its min to its max)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_bce_is_linear_with_slope_minus_three() {
        // PyTorch: BCEWithLogitsLoss(reduction='none')(torch.tensor(3.), torch.tensor(t)).
        assert!((bce_with_logits(3.0, 0.0) - 3.048_587_351_573_742).abs() < 1e-12);
        let slope = bce_with_logits(3.0, 1.5) - bce_with_logits(3.0, 0.5);
        assert!((slope + 3.0).abs() < 1e-12);
    }

    /// Numbers from PyTorch 2.15 running the notebook's cell after `torch.manual_seed(0)`
    /// (tools/kernel_lab.py): 183 threes, correlation with the mean 3 of −0.1573 before
    /// training and 0.8977 after 10 epochs, last loss −1434.81.
    #[test]
    fn matches_the_notebook_in_pytorch() {
        let r = run(&crate::data::DataSource::Digits.load(None).unwrap().train).unwrap();
        assert_eq!(r.count, 183);
        assert_eq!(r.kernels.len(), 11);
        assert!((r.correlations[0] - -0.157_290_478_883_775_18).abs() < 1e-6, "{}", r.correlations[0]);
        assert!((r.correlations[1] - 0.539_207_552_049_721_3).abs() < 1e-4, "{}", r.correlations[1]);
        assert!((r.correlations[10] - 0.897_687_202_854_403_2).abs() < 1e-4, "{}", r.correlations[10]);
        let (mean, last) = r.losses[9];
        assert!((mean - -1_395.941_759_786_970_6).abs() < 0.05, "{mean}");
        assert!((last - -1_434.807_250_976_562_5).abs() < 0.05, "{last}");
        // The bias, as PyTorch has it after 10 epochs.
        assert!((f64::from(r.model.params[64]) - 1.898_654_222_488_403_3).abs() < 1e-4);
    }
}
