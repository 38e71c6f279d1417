//! `convlab data fetch NAME`: download a named data set; `convlab data show SOURCE --out FILE.png`: a grid
//! of samples with their labels.

use crate::train::run::load_data;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Download mnist or fashion-mnist from the usual public mirrors, checking SHA-256 (needs
    /// the `fetch` feature, on by default)
    Fetch {
        /// mnist or fashion-mnist
        name: String,
        /// Where to put the files (default: the cache folder that --data NAME searches)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Mirror base URL to try instead of the defaults (repeatable)
        #[arg(long)]
        mirror: Vec<String>,
    },
    /// Draw the first samples of a data set with their labels
    Show {
        /// digits, fashion-mnist, mnist, idx:DIR, npz:FILE, images:DIR, sim1d, pattern1d, lines
        source: String,
        /// Output file (.png or .svg)
        #[arg(long, default_value = "samples.png")]
        out: PathBuf,
        /// How many samples to show, classes taking turns
        #[arg(long, default_value_t = 32)]
        count: usize,
        /// Seed of the draw of samples (the same seed shows the same samples)
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Folder the data set's files are in (default: where `data fetch` puts them)
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

pub fn run(a: Args) -> crate::Result<i32> {
    match a.command {
        DataCommand::Fetch { name, dir, mirror } => {
            use crate::data::fetch;
            let (files, defaults) = fetch::catalogue(&name)?;
            let dest = match dir {
                Some(d) => d,
                None => fetch::default_dest(&name)?,
            };
            let mirrors = if mirror.is_empty() { defaults } else { mirror };
            #[cfg(feature = "fetch")]
            {
                fetch::fetch_files(files, &mirrors, &dest, |s| println!("{s}"))?;
                println!("{name} is in {}", dest.display());
                Ok(0)
            }
            #[cfg(not(feature = "fetch"))]
            Err(fetch::without_downloader(&name, files, &mirrors, &dest))
        }
        DataCommand::Show { source, out, count, seed, data_dir } => {
            let (train, _) = load_data(&source, data_dir.as_deref(), 0.2, 0)?;
            let fig = crate::inspect::samples::figure(&train, count, seed)?;
            fig.save(&out)?;
            println!("wrote {} ({} of {} samples)", out.display(), count.min(train.len()), train.len());
            Ok(0)
        }
    }
}
