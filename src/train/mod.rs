//! Training: the data-parallel step, and (later) the loop, run folders and checkpoints.

pub mod checkpoint;
pub mod config;
pub mod folder;
pub mod prepare;
pub mod progress;
pub mod run;
pub mod snapshots;
pub mod step;

pub use step::{argmax, StepError, StepStats, Trainer};
