//! Optimizers over the model's one flat parameter vector, parsed from text such as
//! `sgd(lr=0.05, momentum=0.9, weight_decay=1e-3)` or `adam(lr=1e-3)`.

pub mod adam;
pub mod clip;
pub mod schedule;
pub mod sgd;

pub use adam::{Adam, AdamConfig};
pub use clip::clip_grad_norm;
pub use schedule::{Plateau, Schedule, Scheduler};
pub use sgd::{Sgd, SgdConfig};

use crate::engine::Float;
use crate::error::{Error, Result};
use crate::spec::call::{parse_call, Args};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerConfig {
    Sgd(SgdConfig),
    Adam(AdamConfig),
}

impl OptimizerConfig {
    /// Parses `sgd(lr=0.1,momentum=0.9)` and the like; every error is a [`Error::Config`].
    pub fn parse(text: &str) -> Result<Self> {
        // The notation's own errors (from `spec::call`) are about this setting here.
        Self::parse_config(text).map_err(|e| match e {
            Error::Spec(m) => Error::Config(m),
            e => e,
        })
    }

    fn parse_config(text: &str) -> Result<Self> {
        let call = parse_call(text)?;
        let mut a = Args::new(&call);
        let positive = |name: &str, v: f64| -> Result<f64> {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(Error::config(format!("`{text}`: {name} must be a finite number ≥ 0, not {v}")))
            }
        };
        let lr_default = if call.name == "sgd" { 0.01 } else { 1e-3 };
        let lr = positive("lr", a.parse(Some(0), &["lr", "learning_rate"])?.unwrap_or(lr_default))?;
        let wd_given: Option<f64> = a.parse(None, &["weight_decay", "wd"])?;
        // PyTorch's AdamW decays by 0.01 unless told otherwise; SGD and Adam do not decay.
        let wd = positive("weight_decay", wd_given.unwrap_or(if call.name == "adamw" { 0.01 } else { 0.0 }))?;
        let config = match call.name.as_str() {
            "sgd" => {
                let momentum = positive("momentum", a.parse(None, &["momentum"])?.unwrap_or(0.0))?;
                let dampening = positive("dampening", a.parse(None, &["dampening"])?.unwrap_or(0.0))?;
                let nesterov = a.bool(&["nesterov"], false)?;
                if nesterov && (momentum == 0.0 || dampening != 0.0) {
                    return Err(Error::config(format!(
                        "`{text}`: nesterov needs momentum > 0 and dampening = 0 (as in PyTorch)"
                    )));
                }
                a.finish("lr, momentum, dampening, nesterov, weight_decay")?;
                OptimizerConfig::Sgd(SgdConfig { lr, momentum, dampening, nesterov, weight_decay: wd })
            }
            "adam" | "adamw" => {
                let decoupled = call.name == "adamw";
                let (mut beta1, mut beta2) = (0.9, 0.999);
                if let Some(b) = a.get(None, &["betas"])? {
                    let nums: Vec<f64> = b
                        .trim_matches(|c| c == '(' || c == ')')
                        .split(',')
                        .map(|s| s.trim().parse::<f64>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| Error::config(format!("`{text}`: betas must look like (0.9,0.999)")))?;
                    let [b1, b2] = nums[..] else {
                        return Err(Error::config(format!("`{text}`: betas must be two numbers, like (0.9,0.999)")));
                    };
                    (beta1, beta2) = (b1, b2);
                }
                beta1 = a.parse(None, &["beta1"])?.unwrap_or(beta1);
                beta2 = a.parse(None, &["beta2"])?.unwrap_or(beta2);
                for (n, b) in [("beta1", beta1), ("beta2", beta2)] {
                    if !(0.0..1.0).contains(&b) {
                        return Err(Error::config(format!("`{text}`: {n} must be in [0, 1), not {b}")));
                    }
                }
                let eps = positive("eps", a.parse(None, &["eps"])?.unwrap_or(1e-8))?;
                a.finish("lr, betas, beta1, beta2, eps, weight_decay")?;
                OptimizerConfig::Adam(AdamConfig { lr, beta1, beta2, eps, weight_decay: wd, decoupled })
            }
            other => {
                return Err(Error::config(format!(
                    "unknown optimizer `{other}`; use sgd(...), adam(...) or adamw(...)"
                )))
            }
        };
        Ok(config)
    }

    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
        }
    }

    /// The spec text that parses back to this configuration.
    pub fn to_spec(&self) -> String {
        match self {
            OptimizerConfig::Sgd(c) => format!(
                "sgd(lr={},momentum={},dampening={},nesterov={},weight_decay={})",
                c.lr, c.momentum, c.dampening, c.nesterov, c.weight_decay
            ),
            OptimizerConfig::Adam(c) => format!(
                "{}(lr={},betas=({},{}),eps={},weight_decay={})",
                if c.decoupled { "adamw" } else { "adam" },
                c.lr,
                c.beta1,
                c.beta2,
                c.eps,
                c.weight_decay
            ),
        }
    }

    pub fn build<T: Float>(&self) -> Optimizer<T> {
        match *self {
            OptimizerConfig::Sgd(c) => Optimizer::Sgd(Sgd::new(c)),
            OptimizerConfig::Adam(c) => Optimizer::Adam(Adam::new(c)),
        }
    }
}

/// An optimizer with its state.
#[derive(Clone, Debug)]
pub enum Optimizer<T> {
    Sgd(Sgd<T>),
    Adam(Adam<T>),
}

impl<T: Float> Optimizer<T> {
    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        match self {
            Optimizer::Sgd(o) => o.step(params, grads),
            Optimizer::Adam(o) => o.step(params, grads),
        }
    }

    /// The learning rate of the next steps (a schedule's).
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            Optimizer::Sgd(o) => o.config.lr = lr,
            Optimizer::Adam(o) => o.config.lr = lr,
        }
    }

    /// The momentum of the next steps: SGD's `momentum`, Adam's `beta1` (what PyTorch's
    /// OneCycleLR cycles).
    pub fn set_momentum(&mut self, momentum: f64) {
        match self {
            Optimizer::Sgd(o) => o.config.momentum = momentum,
            Optimizer::Adam(o) => o.config.beta1 = momentum,
        }
    }

    /// The state a checkpoint must keep to resume exactly: named vectors and the step count.
    pub fn state(&self) -> (Vec<(&'static str, &[T])>, u64) {
        match self {
            Optimizer::Sgd(o) => (vec![("momentum_buffer", &o.buffer[..])], 0),
            Optimizer::Adam(o) => (vec![("exp_avg", &o.m[..]), ("exp_avg_sq", &o.v[..])], o.step),
        }
    }

    /// Restores what `state` returned for `len` parameters; `get` looks a vector up by name.
    /// A state that has started must be complete: a partial one would silently change the run.
    pub fn restore(&mut self, get: impl Fn(&str) -> Option<Vec<T>>, step: u64, len: usize) -> Result<()> {
        let need = |name: &str| -> Result<Vec<T>> {
            let v =
                get(name).ok_or_else(|| Error::model_file(format!("the checkpoint lacks the optimizer's {name}")))?;
            if v.len() != len {
                return Err(Error::model_file(format!(
                    "the checkpoint's {name} has {} values for {len} parameters",
                    v.len()
                )));
            }
            Ok(v)
        };
        match self {
            Optimizer::Sgd(o) => {
                let momentum = o.config.momentum != 0.0;
                o.buffer = if momentum && step > 0 {
                    need("momentum_buffer")?
                } else {
                    get("momentum_buffer").unwrap_or_default()
                };
                if !o.buffer.is_empty() && o.buffer.len() != len {
                    return Err(Error::model_file("the checkpoint's momentum buffer does not fit the model"));
                }
            }
            Optimizer::Adam(o) => {
                if step > 0 {
                    o.m = need("exp_avg")?;
                    o.v = need("exp_avg_sq")?;
                }
                o.step = step;
            }
        }
        Ok(())
    }

    /// A step on the gradient `grads + others[0] + others[1] + ...` (added in that order;
    /// `grads` receives the sum). Runs block by block, so each block's summed gradient is
    /// still in L1 when the update reads it, and with a pool the two halves at once: every
    /// operation is element-wise, so the result does not depend on the split.
    pub fn step_sharded(
        &mut self,
        params: &mut [T],
        grads: &mut [T],
        others: &[&[T]],
        pool: Option<&rayon::ThreadPool>,
    ) {
        let len = params.len();
        let (kernel, s1, s2) = match self {
            Optimizer::Sgd(o) => (Kernel::Sgd(o.begin(len)), &mut o.buffer[..], &mut [][..]),
            Optimizer::Adam(o) => {
                let k = Kernel::Adam(o.begin(len));
                (k, &mut o.m[..], &mut o.v[..])
            }
        };
        let part = Part { lo: 0, params, grads, s1, s2 };
        match pool {
            Some(pool) if len >= 2 * PARALLEL_MIN => {
                let (a, b) = part.split(len / 2);
                pool.join(|| a.run(&kernel, others), || b.run(&kernel, others));
            }
            _ => part.run(&kernel, others),
        }
    }
}

/// Parameters per block of `step_sharded` (32 KB of f32).
const BLOCK: usize = 8192;
/// Below this many parameters per half, splitting costs more than it saves.
const PARALLEL_MIN: usize = 16384;

enum Kernel<T> {
    Sgd(sgd::SgdStep<T>),
    Adam(adam::AdamStep<T>),
}

/// A range of the parameters, their gradient and optimizer state (either may be empty).
struct Part<'a, T> {
    lo: usize,
    params: &'a mut [T],
    grads: &'a mut [T],
    s1: &'a mut [T],
    s2: &'a mut [T],
}

/// Splits a state slice that may be empty.
fn split_state<T>(s: &mut [T], at: usize) -> (&mut [T], &mut [T]) {
    if s.is_empty() {
        s.split_at_mut(0)
    } else {
        s.split_at_mut(at)
    }
}

impl<'a, T: Float> Part<'a, T> {
    fn split(self, at: usize) -> (Self, Self) {
        let (p0, p1) = self.params.split_at_mut(at);
        let (g0, g1) = self.grads.split_at_mut(at);
        let (a0, a1) = split_state(self.s1, at);
        let (b0, b1) = split_state(self.s2, at);
        (
            Part { lo: self.lo, params: p0, grads: g0, s1: a0, s2: b0 },
            Part { lo: self.lo + at, params: p1, grads: g1, s1: a1, s2: b1 },
        )
    }

    fn run(self, kernel: &Kernel<T>, others: &[&[T]]) {
        let mut rest = self;
        while !rest.params.is_empty() {
            let at = BLOCK.min(rest.params.len());
            let (block, tail) = rest.split(at);
            let range = block.lo..block.lo + at;
            for o in others {
                for (g, &v) in block.grads.iter_mut().zip(&o[range.clone()]) {
                    *g += v;
                }
            }
            match kernel {
                Kernel::Sgd(k) => k.update(block.params, block.grads, block.s1),
                Kernel::Adam(k) => k.update(block.params, block.grads, block.s1, block.s2),
            }
            rest = tail;
        }
    }
}
