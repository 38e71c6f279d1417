//! Training progress: a bar with ETA, loss and samples/s on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

/// Steps between updates of the bar's text: formatting it allocates, and a training step
/// should not.
const MESSAGE_EVERY: u64 = 64;

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    steps: AtomicU64,
}

impl Progress {
    pub fn new(steps: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(steps);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  eta {eta}  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Progress { bar, quiet, steps: AtomicU64::new(0) }
    }
    pub fn step(&self, loss: f64, rate: f64) {
        if let Some(b) = &self.bar {
            b.inc(1);
            let n = self.steps.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(MESSAGE_EVERY) {
                b.set_message(format!("loss {loss:.4}  {rate:.0} samples/s"));
            }
        }
    }
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.println(text),
            None => println!("{text}"),
        }
    }
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// An accuracy as `  acc 97.49%`, or nothing.
pub fn pct(v: Option<f64>) -> String {
    v.map(|a| format!("  acc {:.2}%", 100.0 * a)).unwrap_or_default()
}
