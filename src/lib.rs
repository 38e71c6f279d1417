//! convlab: build, train, inspect and visualise small convolutional neural networks (1-D and
//! 2-D), fast on a CPU and numerically faithful to PyTorch.
//!
//! A model is one line of notation (`conv2d(8,k=3,p=1) relu maxpool2d(2) flatten linear(10)`)
//! fitted to an input shape; a [`Trainer`] takes optimizer steps on batches; [`Model::predict`]
//! runs it. Whole runs with run folders, checkpoints and metrics are [`train::session`]; the
//! tutorials' workflows are [`train::labs`]; pictures are [`inspect`] and [`plot`]; studies
//! (parameter recovery, seed sweeps) are [`study`].
//!
//! ```
//! use convlab::{load_data, Dims, Loss, Model, OptimizerConfig, Target, Targets, Trainer};
//!
//! # fn main() -> convlab::Result<()> {
//! // The built-in 8×8 digits, with a seeded 20 % test split.
//! let (train, test) = load_data("digits", None, 0.2, 0)?;
//! let Targets::Classes { labels, .. } = &train.targets else { unreachable!() };
//!
//! let mut model = Model::<f32>::new("conv2d(8,k=3,p=1) relu maxpool2d(2) flatten linear(10)", Dims::image(1, 8, 8))?;
//! model.init(0);
//! let adam = OptimizerConfig::parse("adam(lr=3e-3)")?.build();
//! let mut trainer = Trainer::new(model, adam, Loss::CrossEntropy, 32, 1, 0)?;
//!
//! let len = train.sample_len();
//! for _epoch in 0..5 {
//!     for start in (0..train.len()).step_by(32) {
//!         let n = 32.min(train.len() - start);
//!         let x = &train.x[start * len..(start + n) * len];
//!         trainer.train_step(x, Target::Classes(&labels[start..start + n]), n)?;
//!     }
//! }
//! let (_, accuracy) = trainer.evaluate(&test.x, convlab::train::run::target_of(&test), test.len())?;
//! assert!(accuracy.unwrap() > 0.85);
//!
//! // Class scores (logits) of the first test image.
//! let scores = trainer.model.predict(test.sample(0), 1);
//! assert_eq!(scores.len(), 10);
//! # Ok(())
//! # }
//! ```
//!
//! The crate reads top-down as the architecture:
//! - [`engine`]: element type, shapes, im2col, matrix products, direct convolution, SIMD kernels;
//! - [`layers`]: one file per layer, `forward` and `backward` side by side;
//! - [`losses`], [`optim`]: PyTorch-exact losses and optimizers;
//! - [`spec`], [`model`]: the one-line model notation, models, workspaces and model files;
//! - [`train`]: the data-parallel step, the loop, run folders, sessions and labs;
//! - [`data`]: data sets and their formats; [`rng`]: seeded random streams (convlab's, numpy's,
//!   PyTorch's);
//! - [`inspect`]: what a trained network learned, as figures and reports; [`plot`]: the drawing;
//! - [`interop`]: other tools' files: PyTorch `.pt` read without running them and written back,
//!   ONNX export and TensorBoard event files;
//! - [`study`]: parameter recovery and multi-seed sweeps; [`stats`]: the statistics they report;
//! - [`verify`]: checks against PyTorch fixtures and finite differences;
//! - [`error`]: the one error type; [`fs`]: atomic writes.

#[doc(hidden)]
pub mod bench;
#[doc(hidden)]
pub mod cli;
pub mod data;
pub mod engine;
pub mod error;
pub mod fs;
pub mod inspect;
pub mod interop;
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

pub use data::{Dataset, Targets};
pub use engine::Dims;
pub use error::{Error, Result};
pub use losses::{Loss, Target};
pub use model::{Model, Workspace};
pub use optim::OptimizerConfig;
pub use train::config::RunConfig;
pub use train::run::{load_data, Outcome};
pub use train::session::Session;
pub use train::Trainer;
