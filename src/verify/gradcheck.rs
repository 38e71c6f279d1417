//! Finite-difference gradient checks in float64: the backward pass of a whole model and loss
//! against central differences of the forward pass, for parameters and inputs.

use crate::engine::Dims;
use crate::error::Result;
use crate::layers::{MaskKey, Mode};
use crate::losses::{Loss, Target};
use crate::model::{Model, Workspace};
use crate::rng::Rng;

pub struct GradCheck {
    /// Largest |analytic - numeric| / max(|analytic|, |numeric|, 1e-3) over the checked entries.
    pub max_rel_error: f64,
    pub checked: usize,
    /// Where the largest error was (`param 17`, `input 3`).
    pub worst: String,
}

/// Random targets that fit the loss and an n×k output.
fn targets(loss: Loss, n: usize, k: usize, rng: &mut Rng) -> (Vec<u32>, Vec<f64>) {
    match loss {
        Loss::CrossEntropy => ((0..n).map(|_| rng.below(k) as u32).collect(), vec![]),
        Loss::BceWithLogits => (vec![], (0..n * k).map(|_| rng.uniform()).collect()),
        Loss::Mse => (vec![], (0..n * k).map(|_| rng.normal()).collect()),
    }
}

/// Checks `spec` on `n` random samples of shape `input` with `loss`, in training mode.
pub fn check(spec: &str, input: Dims, n: usize, loss: Loss, seed: u64) -> Result<GradCheck> {
    let mut model = Model::<f64>::new(spec, input)?;
    model.init(seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    // Perturb batch-norm affine parameters away from 1/0 so their gradients are exercised fully.
    for v in model.params.iter_mut() {
        *v += 0.1 * rng.normal();
    }
    let x: Vec<f64> = (0..n * input.len()).map(|_| rng.normal()).collect();
    let k = model.output().len();
    let (labels, values) = targets(loss, n, k, &mut rng);
    let target = if loss == Loss::CrossEntropy { Target::Classes(&labels) } else { Target::Values(&values) };
    let key = MaskKey { seed, ..MaskKey::default() };
    let scale = 1.0 / loss.count(n, k) as f64;
    let mut ws = Workspace::new(&model, n, true);

    let loss_at = |model: &Model<f64>, x: &[f64], ws: &mut Workspace<f64>| -> f64 {
        ws.forward(model, x, n, Mode::Train, key);
        loss.sum_and_grad(ws.output(model), k, target, None) * scale
    };

    ws.forward(&model, &x, n, Mode::Train, key);
    {
        let (out, dout) = ws.output_and_grad(&model);
        loss.sum_and_grad(out, k, target, Some((dout, scale)));
    }
    ws.dparams.fill(0.0);
    ws.backward(&model, &x, Mode::Train);
    let dparams = ws.dparams.clone();
    let dinput = ws.input_grad(&model).unwrap().to_vec();

    let h = 1e-6;
    let mut result = GradCheck { max_rel_error: 0.0, checked: 0, worst: String::new() };
    let mut record = |analytic: f64, numeric: f64, what: String| {
        let err = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-3);
        result.checked += 1;
        if err > result.max_rel_error {
            result.max_rel_error = err;
            result.worst = format!("{what}: analytic {analytic:.6e}, numeric {numeric:.6e}");
        }
    };
    // Every entry when small; an even sample of at most 300 otherwise.
    let pick = |len: usize| -> Vec<usize> { (0..len).step_by(len.div_ceil(300).max(1)).collect() };
    for i in pick(model.params.len()) {
        let orig = model.params[i];
        model.params[i] = orig + h;
        let up = loss_at(&model, &x, &mut ws);
        model.params[i] = orig - h;
        let down = loss_at(&model, &x, &mut ws);
        model.params[i] = orig;
        record(dparams[i], (up - down) / (2.0 * h), format!("param {i}"));
    }
    let mut xp = x.clone();
    for i in pick(x.len()) {
        xp[i] = x[i] + h;
        let up = loss_at(&model, &xp, &mut ws);
        xp[i] = x[i] - h;
        let down = loss_at(&model, &xp, &mut ws);
        xp[i] = x[i];
        record(dinput[i], (up - down) / (2.0 * h), format!("input {i}"));
    }
    Ok(result)
}
