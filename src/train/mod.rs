//! Training: the data-parallel step, and (later) the loop, run folders and checkpoints.

pub mod step;

pub use step::{argmax, StepError, Trainer};
