//! TensorBoard event files: `record` frames records as TFRecord (length, payload, masked
//! CRC-32C of each); `writer` writes Events of scalars, histograms and PNG images into an
//! `events.out.tfevents.*` file; `histogram` buckets values as TensorBoard does; `reader` reads a
//! file back, checking every CRC; `training` logs a run's epochs (live, or afterwards from its
//! run folder).

/// The messages of `event.proto` (package `tensorboard`), as prost generated them.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
#[rustfmt::skip]
#[path = "event_proto.rs"]
pub mod proto;

pub mod histogram;
pub mod reader;
pub mod record;
pub mod training;
pub mod writer;

pub use training::{export_run, TrainingLog};
