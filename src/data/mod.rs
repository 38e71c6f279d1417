//! Data sources: the in-memory [`Dataset`] and loaders for real data sets.
pub mod dataset;
mod digits;
pub mod fetch;
mod gzip;
mod idx;
pub mod images;
pub mod limits;
pub mod locate;
pub mod npy;
pub mod npz;
pub mod npz_write;
pub mod selection;
pub mod source;
pub mod split;
pub mod synthetic;
pub mod tutorial;
pub mod values;
pub mod zip;

pub use dataset::{Dataset, Split, Targets};
pub use source::DataSource;
pub use values::{SharedValues, Values};
