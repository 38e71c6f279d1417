//! The flags that choose the samples a trained model is looked at on, shared by `eval`,
//! `plot` and `show`.

use crate::data::Dataset;
use crate::inspect::Subject;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DataArgs {
    /// Data to use [default: the run's own]
    #[arg(long)]
    pub data: Option<String>,
    /// Folder holding named data sets (mnist, fashion-mnist)
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use the training part instead of the test part
    #[arg(long)]
    pub train: bool,
}

impl DataArgs {
    /// The chosen part of the chosen data for `subject`.
    pub fn load(&self, subject: &Subject) -> crate::Result<Dataset> {
        let (train, test) = subject.data(self.data.as_deref(), self.data_dir.as_deref())?;
        Ok(if self.train { train } else { test })
    }
}
