//! The in-memory form every data source loads into.

use super::Values;

/// What a sample's target is: a class index, or a vector of real values (regression).
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class index per sample, each `< num_classes`.
    Classes { labels: Vec<u32>, num_classes: usize },
    /// `width` real values per sample, row-major.
    Values { values: Vec<f32>, width: usize },
}

/// A set of samples held as one contiguous float32 array in N×C×H×W (or N×C×L) order.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Human-readable name, e.g. `fashion-mnist (train)`.
    pub name: String,
    /// Pixel or signal values, `len() * sample_shape.iter().product()` of them.
    pub x: Values,
    /// Shape of one sample: `[C, H, W]` for images, `[C, L]` for 1-D signals.
    pub sample_shape: Vec<usize>,
    pub targets: Targets,
    /// Optional names for the classes (`T-shirt/top`, ...), indexed by class.
    pub class_names: Option<Vec<String>>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len().checked_div(self.sample_len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of values in one sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// The values of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let per = self.sample_len();
        &self.x[i * per..(i + 1) * per]
    }
}

/// A training set and, when the source has one, its own test set.
#[derive(Clone, Debug)]
pub struct Split {
    pub train: Dataset,
    pub test: Option<Dataset>,
}
