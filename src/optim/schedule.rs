//! Learning-rate schedules (`--schedule`), PyTorch's `torch.optim.lr_scheduler` semantics and
//! defaults: `step`, `multistep`, `exponential`, `cosine`, `linear`, `onecycle` and `plateau`.
//! Closed forms of each schedule's learning rate after `t` scheduler steps (an epoch, or a
//! batch for `onecycle`); `plateau` keeps its own state ([`Plateau`]).

use crate::error::{Error, Result};
use crate::spec::call::{parse_call, Args};
use std::f64::consts::PI;

/// A parsed `--schedule`.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// `StepLR`: lr · gamma^⌊t / step_size⌋.
    Step { step_size: usize, gamma: f64 },
    /// `MultiStepLR`: lr · gamma^(milestones ≤ t).
    MultiStep { milestones: Vec<usize>, gamma: f64 },
    /// `ExponentialLR`: lr · gamma^t.
    Exponential { gamma: f64 },
    /// `CosineAnnealingLR`.
    Cosine { t_max: usize, eta_min: f64 },
    /// `LinearLR` (warm-up).
    Linear { start_factor: f64, end_factor: f64, total_iters: usize },
    /// `OneCycleLR` with cosine annealing, stepped every batch. As in PyTorch, it also cycles
    /// the momentum (SGD's `momentum`, Adam's `beta1`) between `max_momentum` and
    /// `base_momentum` unless `cycle_momentum` is false.
    OneCycle {
        max_lr: f64,
        total_steps: usize,
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
        cycle_momentum: bool,
        base_momentum: f64,
        max_momentum: f64,
    },
    /// `ReduceLROnPlateau` (threshold_mode = rel).
    Plateau { maximize: bool, factor: f64, patience: usize, threshold: f64, cooldown: usize, min_lr: f64 },
}

impl Schedule {
    /// Parses `cosine(t_max=10,eta_min=1e-3)` and the like; every error is a [`Error::Config`].
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_inner(text).map_err(|e| match e {
            Error::Spec(m) => Error::Config(m),
            e => e,
        })
    }

    fn parse_inner(text: &str) -> Result<Self> {
        let call = parse_call(text)?;
        let mut a = Args::new(&call);
        let need = |v: Option<usize>, name: &str| {
            v.filter(|&n| n > 0)
                .ok_or_else(|| Error::config(format!("`{text}`: {} needs {name}, a positive whole number", call.name)))
        };
        let finite = |name: &str, v: f64, lo: f64| -> Result<f64> {
            if v.is_finite() && v >= lo {
                Ok(v)
            } else {
                Err(Error::config(format!("`{text}`: {name} must be a finite number ≥ {lo}, not {v}")))
            }
        };
        let s = match call.name.as_str() {
            "step" => {
                let step_size = need(a.parse(Some(0), &["step_size"])?, "step_size")?;
                let gamma = finite("gamma", a.parse(Some(1), &["gamma"])?.unwrap_or(0.1), 0.0)?;
                a.finish("step_size, gamma")?;
                Schedule::Step { step_size, gamma }
            }
            "multistep" => {
                let m = a.get(Some(0), &["milestones"])?.ok_or_else(|| {
                    Error::config(format!("`{text}`: multistep needs milestones, like milestones=(30,80)"))
                })?;
                let mut milestones: Vec<usize> = m
                    .trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']')
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| Error::config(format!("`{text}`: milestones must look like (30,80)")))?;
                milestones.sort_unstable();
                let gamma = finite("gamma", a.parse(Some(1), &["gamma"])?.unwrap_or(0.1), 0.0)?;
                a.finish("milestones, gamma")?;
                Schedule::MultiStep { milestones, gamma }
            }
            "exponential" => {
                let gamma = a.parse(Some(0), &["gamma"])?.ok_or_else(|| {
                    Error::config(format!("`{text}`: exponential needs gamma, like exponential(gamma=0.9)"))
                })?;
                a.finish("gamma")?;
                Schedule::Exponential { gamma: finite("gamma", gamma, 0.0)? }
            }
            "cosine" => {
                let t_max = need(a.parse(Some(0), &["t_max", "T_max"])?, "t_max")?;
                let eta_min = finite("eta_min", a.parse(Some(1), &["eta_min"])?.unwrap_or(0.0), 0.0)?;
                a.finish("t_max, eta_min")?;
                Schedule::Cosine { t_max, eta_min }
            }
            "linear" => {
                let start_factor = a.parse(Some(0), &["start_factor"])?.unwrap_or(1.0 / 3.0);
                let end_factor = a.parse(Some(1), &["end_factor"])?.unwrap_or(1.0);
                let total_iters = a.parse(Some(2), &["total_iters"])?.unwrap_or(5);
                a.finish("start_factor, end_factor, total_iters")?;
                if !(start_factor > 0.0 && start_factor <= 1.0 && (0.0..=1.0).contains(&end_factor)) {
                    return Err(Error::config(format!(
                        "`{text}`: start_factor must be in (0, 1] and end_factor in [0, 1] (as in PyTorch)"
                    )));
                }
                Schedule::Linear { start_factor, end_factor, total_iters }
            }
            "onecycle" => {
                let max_lr = a.parse(Some(0), &["max_lr"])?.ok_or_else(|| {
                    Error::config(format!("`{text}`: onecycle needs max_lr, like onecycle(max_lr=0.1)"))
                })?;
                let total_steps: Option<usize> = a.parse(Some(1), &["total_steps"])?;
                let pct_start = a.parse(None, &["pct_start"])?.unwrap_or(0.3);
                let div_factor = a.parse(None, &["div_factor"])?.unwrap_or(25.0);
                let final_div_factor = a.parse(None, &["final_div_factor"])?.unwrap_or(1e4);
                let cycle_momentum = a.bool(&["cycle_momentum"], true)?;
                let base_momentum = a.parse(None, &["base_momentum"])?.unwrap_or(0.85);
                let max_momentum = a.parse(None, &["max_momentum"])?.unwrap_or(0.95);
                a.finish(
                    "max_lr, total_steps, pct_start, div_factor, final_div_factor, cycle_momentum, base_momentum, max_momentum",
                )?;
                if !(0.0..=1.0).contains(&pct_start) {
                    return Err(Error::config(format!("`{text}`: pct_start must be in [0, 1], not {pct_start}")));
                }
                for (name, m) in [("base_momentum", base_momentum), ("max_momentum", max_momentum)] {
                    if !(0.0..1.0).contains(&m) {
                        return Err(Error::config(format!("`{text}`: {name} must be in [0, 1), not {m}")));
                    }
                }
                Schedule::OneCycle {
                    max_lr: finite("max_lr", max_lr, 0.0)?,
                    // 0: epochs × batches per epoch, known when the run starts.
                    total_steps: total_steps.unwrap_or(0),
                    pct_start,
                    div_factor: finite("div_factor", div_factor, f64::MIN_POSITIVE)?,
                    final_div_factor: finite("final_div_factor", final_div_factor, f64::MIN_POSITIVE)?,
                    cycle_momentum,
                    base_momentum,
                    max_momentum,
                }
            }
            "plateau" => {
                let mode = a.get(None, &["mode"])?.unwrap_or("min");
                let maximize = match mode {
                    "min" => false,
                    "max" => true,
                    m => return Err(Error::config(format!("`{text}`: mode must be min or max, not `{m}`"))),
                };
                let factor = a.parse(None, &["factor"])?.unwrap_or(0.1);
                if !(factor > 0.0 && factor < 1.0) {
                    return Err(Error::config(format!("`{text}`: factor must be in (0, 1), not {factor}")));
                }
                let patience = a.parse(None, &["patience"])?.unwrap_or(10);
                let threshold = finite("threshold", a.parse(None, &["threshold"])?.unwrap_or(1e-4), 0.0)?;
                let cooldown = a.parse(None, &["cooldown"])?.unwrap_or(0);
                let min_lr = finite("min_lr", a.parse(None, &["min_lr"])?.unwrap_or(0.0), 0.0)?;
                a.finish("mode, factor, patience, threshold, cooldown, min_lr")?;
                Schedule::Plateau { maximize, factor, patience, threshold, cooldown, min_lr }
            }
            other => {
                return Err(Error::config(format!(
                    "unknown schedule `{other}`; use step, multistep, exponential, cosine, linear, onecycle or plateau"
                )))
            }
        };
        Ok(s)
    }

    /// Whether the schedule is stepped every batch (`onecycle`) rather than every epoch.
    pub fn per_batch(&self) -> bool {
        matches!(self, Schedule::OneCycle { .. })
    }

    /// The learning rate after `t` scheduler steps from the optimizer's `lr` (`plateau`: `lr`,
    /// see [`Plateau`]; `onecycle` with `total_steps` 0 needs [`Schedule::with_total_steps`]).
    pub fn lr_at(&self, lr: f64, t: usize) -> f64 {
        match *self {
            Schedule::Step { step_size, gamma } => lr * gamma.powi((t / step_size) as i32),
            Schedule::MultiStep { ref milestones, gamma } => {
                lr * gamma.powi(milestones.iter().filter(|&&m| m <= t).count() as i32)
            }
            Schedule::Exponential { gamma } => lr * gamma.powi(t as i32),
            Schedule::Cosine { t_max, eta_min } => {
                eta_min + (lr - eta_min) * (1.0 + (PI * t as f64 / t_max as f64).cos()) / 2.0
            }
            Schedule::Linear { start_factor, end_factor, total_iters } => {
                let f = if total_iters == 0 {
                    end_factor
                } else {
                    start_factor + (end_factor - start_factor) * t.min(total_iters) as f64 / total_iters as f64
                };
                lr * f
            }
            Schedule::OneCycle { max_lr, div_factor, final_div_factor, .. } => {
                let initial = max_lr / div_factor;
                self.one_cycle(t, (initial, max_lr), (max_lr, initial / final_div_factor))
            }
            Schedule::Plateau { .. } => lr,
        }
    }

    /// `onecycle`'s momentum after `t` batches: high while the rate is low and the other way
    /// round (`None`: the schedule leaves the momentum alone).
    pub fn momentum_at(&self, t: usize) -> Option<f64> {
        match *self {
            Schedule::OneCycle { cycle_momentum: true, base_momentum, max_momentum, .. } => {
                Some(self.one_cycle(t, (max_momentum, base_momentum), (base_momentum, max_momentum)))
            }
            _ => None,
        }
    }

    /// OneCycleLR's two cosine phases: `first` (from, to) up to step pct_start·total − 1, then
    /// `second` up to total − 1 (PyTorch's phase boundaries, `three_phase=False`).
    fn one_cycle(&self, t: usize, first: (f64, f64), second: (f64, f64)) -> f64 {
        let Schedule::OneCycle { total_steps, pct_start, .. } = *self else { return first.0 };
        let anneal = |(start, end): (f64, f64), pct: f64| end + (start - end) / 2.0 * (1.0 + (PI * pct).cos());
        let end1 = pct_start * total_steps as f64 - 1.0;
        let last = total_steps as f64 - 1.0;
        let s = t as f64;
        if s <= end1 {
            anneal(first, s / end1)
        } else {
            anneal(second, (s - end1) / (last - end1))
        }
    }

    /// `onecycle` without `total_steps` takes the run's number of batches.
    pub fn with_total_steps(mut self, steps: usize) -> Self {
        if let Schedule::OneCycle { total_steps, .. } = &mut self {
            if *total_steps == 0 {
                *total_steps = steps;
            }
        }
        self
    }
}

/// `ReduceLROnPlateau`'s state: the best metric, the epochs without improvement and the
/// cooldown left.
#[derive(Clone, Debug, PartialEq)]
pub struct Plateau {
    pub lr: f64,
    pub best: f64,
    pub bad_epochs: usize,
    pub cooldown_left: usize,
}

impl Plateau {
    pub fn new(lr: f64, schedule: &Schedule) -> Self {
        let maximize = matches!(schedule, Schedule::Plateau { maximize: true, .. });
        Plateau { lr, best: if maximize { f64::NEG_INFINITY } else { f64::INFINITY }, bad_epochs: 0, cooldown_left: 0 }
    }

    /// `scheduler.step(metric)` after an epoch: the learning rate of the next one.
    pub fn step(&mut self, schedule: &Schedule, metric: f64) -> f64 {
        let Schedule::Plateau { maximize, factor, patience, threshold, cooldown, min_lr } = *schedule else {
            return self.lr;
        };
        let better =
            if maximize { metric > self.best * (1.0 + threshold) } else { metric < self.best * (1.0 - threshold) };
        if better {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > patience {
            let new = (self.lr * factor).max(min_lr);
            if self.lr - new > 1e-8 {
                self.lr = new;
            }
            self.cooldown_left = cooldown;
            self.bad_epochs = 0;
        }
        self.lr
    }
}

/// A schedule at work in a run, from the optimizer's `lr`: the rate (and `onecycle`'s
/// momentum) of every batch, and `plateau`'s state.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduler {
    pub schedule: Schedule,
    pub base_lr: f64,
    /// `plateau`'s state (`None` for the other schedules).
    pub plateau: Option<Plateau>,
}

impl Scheduler {
    /// `total_batches`: the run's batches, which `onecycle` spans unless given `total_steps`
    /// (fewer is refused, as PyTorch refuses to step past them).
    pub fn new(schedule: Schedule, base_lr: f64, total_batches: usize) -> Result<Self> {
        let schedule = schedule.with_total_steps(total_batches);
        if let Schedule::OneCycle { total_steps, .. } = schedule {
            if total_steps < total_batches {
                return Err(Error::config(format!(
                    "onecycle(total_steps={total_steps}) is fewer than the run's {total_batches} batches; \
                     give total_steps={total_batches} or more, or leave it out (the run's batches)"
                )));
            }
        }
        let plateau = matches!(schedule, Schedule::Plateau { .. }).then(|| Plateau::new(base_lr, &schedule));
        Ok(Scheduler { schedule, base_lr, plateau })
    }

    /// The rate of the batch after `epochs_done` epochs and `batches_done` batches.
    pub fn lr(&self, epochs_done: usize, batches_done: u64) -> f64 {
        match (&self.plateau, self.schedule.per_batch()) {
            (Some(p), _) => p.lr,
            (None, true) => self.schedule.lr_at(self.base_lr, batches_done as usize),
            (None, false) => self.schedule.lr_at(self.base_lr, epochs_done),
        }
    }

    /// The momentum of the batch after `batches_done` batches, when the schedule sets it.
    pub fn momentum(&self, batches_done: u64) -> Option<f64> {
        self.schedule.momentum_at(batches_done as usize)
    }

    /// `scheduler.step(metric)` at the end of an epoch (only `plateau` looks at `metric`).
    pub fn end_epoch(&mut self, metric: f64) {
        if let Some(p) = &mut self.plateau {
            p.step(&self.schedule, metric);
        }
    }

    /// Sets the optimizer's rate (and momentum) for the next batch.
    pub fn apply<T: crate::engine::Float>(
        &self,
        optimizer: &mut super::Optimizer<T>,
        epochs_done: usize,
        batches_done: u64,
    ) -> f64 {
        let lr = self.lr(epochs_done, batches_done);
        optimizer.set_lr(lr);
        if let Some(m) = self.momentum(batches_done) {
            optimizer.set_momentum(m);
        }
        lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lrs(text: &str, lr: f64, n: usize) -> Vec<f64> {
        let s = Schedule::parse(text).unwrap();
        (0..n).map(|t| s.lr_at(lr, t)).collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-3), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn closed_forms_match_pytorch() {
        // The first values of tests/fixtures/torch/schedule_*.safetensors.
        close(&lrs("step(step_size=3,gamma=0.5)", 0.1, 8), &[0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
        close(
            &lrs("multistep(milestones=(2,5,9),gamma=0.1)", 0.5, 8),
            &[0.5, 0.5, 0.05, 0.05, 0.05, 0.005, 0.005, 0.005],
        );
        close(&lrs("exponential(gamma=0.9)", 0.05, 4), &[0.05, 0.045, 0.0405, 0.03645]);
        close(
            &lrs("cosine(t_max=10,eta_min=0.001)", 0.1, 8),
            &[0.1, 0.0975773, 0.09054634, 0.07959537, 0.06579634, 0.0505, 0.03520366, 0.02140463],
        );
        close(
            &lrs("linear(start_factor=0.1,end_factor=1,total_iters=5)", 0.2, 8),
            &[0.02, 0.056, 0.092, 0.128, 0.164, 0.2, 0.2, 0.2],
        );
        close(
            &lrs("onecycle(max_lr=0.1,total_steps=20)", 0.1, 8),
            &[0.004, 0.01316718, 0.03716718, 0.06683282, 0.09083281, 0.1, 0.0987464, 0.09504846],
        );
    }

    #[test]
    fn bad_schedules_are_config_errors() {
        for t in ["step()", "cosine(t_max=0)", "warmup(3)", "plateau(factor=2)", "step(3,gamma=0.1,x=1)"] {
            assert!(matches!(Schedule::parse(t), Err(Error::Config(_))), "{t}");
        }
    }

    #[test]
    fn onecycle_cycles_the_momentum_against_the_rate() {
        let s = Schedule::parse("onecycle(max_lr=0.1,total_steps=20)").unwrap();
        // PyTorch: 0.95 at the start, 0.85 at the peak (step pct_start·20 − 1 = 5), 0.95 at the end.
        assert_eq!(s.momentum_at(0), Some(0.95));
        assert!((s.momentum_at(5).unwrap() - 0.85).abs() < 1e-12);
        assert!((s.momentum_at(19).unwrap() - 0.95).abs() < 1e-12);
        assert_eq!(Schedule::parse("onecycle(0.1,cycle_momentum=false)").unwrap().momentum_at(3), None);
        assert_eq!(Schedule::parse("cosine(5)").unwrap().momentum_at(3), None);
    }

    #[test]
    fn the_scheduler_steps_per_epoch_or_per_batch() {
        let cos = Scheduler::new(Schedule::parse("cosine(t_max=4)").unwrap(), 0.1, 40).unwrap();
        // Every batch of an epoch has the epoch's rate.
        assert_eq!(cos.lr(1, 10), cos.lr(1, 19));
        assert_eq!(cos.lr(1, 10), Schedule::parse("cosine(t_max=4)").unwrap().lr_at(0.1, 1));
        let one = Scheduler::new(Schedule::parse("onecycle(max_lr=0.1)").unwrap(), 0.1, 40).unwrap();
        assert!(one.lr(1, 10) != one.lr(1, 11));
        assert!(matches!(one.schedule, Schedule::OneCycle { total_steps: 40, .. }));
        let e = Scheduler::new(Schedule::parse("onecycle(0.1,total_steps=10)").unwrap(), 0.1, 40).unwrap_err();
        assert!(e.to_string().contains("fewer than the run's 40 batches"), "{e}");
        let mut p = Scheduler::new(Schedule::parse("plateau(factor=0.5,patience=0)").unwrap(), 0.2, 4).unwrap();
        p.end_epoch(1.0);
        assert_eq!(p.lr(1, 0), 0.2);
        p.end_epoch(1.0);
        assert_eq!(p.lr(2, 0), 0.1);
    }
}
