//! `convlab data show SOURCE --out FILE.png`: a grid of samples with their labels.

use crate::train::run::load_data;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Draw the first samples of a data set with their labels
    Show {
        /// digits, fashion-mnist, mnist, idx:DIR, npz:FILE, images:DIR, sim1d, pattern1d, lines
        source: String,
        /// Output file (.png or .svg)
        #[arg(long, default_value = "samples.png")]
        out: PathBuf,
        #[arg(long, default_value_t = 32)]
        count: usize,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

pub fn run(a: Args) -> Result<i32, String> {
    match a.command {
        DataCommand::Show { source, out, count, data_dir } => {
            let (train, _) = load_data(&source, data_dir.as_deref(), 0.2, 0)?;
            let fig = crate::inspect::samples::figure(&train, count)?;
            fig.save(&out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!("wrote {} ({} of {} samples)", out.display(), count.min(train.len()), train.len());
            Ok(0)
        }
    }
}
