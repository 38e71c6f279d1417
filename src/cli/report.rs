//! `convlab report RUN`: write the run's self-contained HTML report.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder
    run: PathBuf,
}

pub fn run(a: Args) -> crate::Result<i32> {
    if !a.run.is_dir() {
        return Err(crate::Error::config(format!("{} is not a run folder", a.run.display())));
    }
    let path = crate::inspect::report::write(&a.run)?;
    println!("wrote {}", path.display());
    Ok(0)
}
