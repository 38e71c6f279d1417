//! Data sets: the in-memory form and the sources that load into it.

pub mod dataset;
pub mod tutorial;

pub use dataset::{Dataset, Split, Targets};
