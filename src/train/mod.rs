//! Training: the data-parallel step ([`step`]), the loop ([`run`]), run folders and
//! checkpoints, whole runs from their settings ([`session`]) and the tutorials' labs ([`labs`]).

pub mod checkpoint;
pub mod config;
pub mod early_stop;
pub mod folder;
pub mod kernel_lab;
pub mod labs;
pub mod prepare;
pub mod progress;
pub mod run;
pub mod session;
pub mod snapshots;
pub mod step;

pub use step::{argmax, Samples, StepStats, Trainer};
