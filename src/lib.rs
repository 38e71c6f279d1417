//! convlab: build, train, inspect and visualise small convolutional neural networks,
//! fast on a CPU and numerically faithful to PyTorch.
//!
//! The crate reads top-down as the architecture:
//! - [`engine`]: element type, shapes, im2col and matrix products;
//! - [`layers`]: one file per layer, `forward` and `backward` side by side;
//! - [`losses`], [`optim`]: PyTorch-exact losses and optimizers;
//! - [`spec`], [`model`]: the one-line model notation, models, workspaces and model files;
//! - [`train`]: the data-parallel training step;
//! - [`data`]: data sets; [`rng`]: seeded random streams;
//! - [`verify`]: checks against PyTorch fixtures and finite differences;
//! - [`study`]: parameter recovery and multi-seed sweeps; [`stats`]: the statistics they report;
//! - [`bench`]: the speed workloads; [`cli`]: the `convlab` command.

pub mod bench;
pub mod cli;
pub mod data;
pub mod engine;
pub mod error;
pub mod fs;
pub mod inspect;
pub mod layers;
pub mod losses;
pub mod model;
pub mod optim;
pub mod plot;
pub mod rng;
pub mod spec;
pub mod stats;
pub mod study;
pub mod train;
pub mod verify;

pub use error::{Error, Result};
