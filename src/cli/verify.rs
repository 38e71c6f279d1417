//! `convlab verify FILE|DIR...`

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Fixture files (.safetensors) or folders of them
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Threads for training fixtures (0 = all cores)
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let files = crate::verify::expand(&a.paths)?;
    if files.is_empty() {
        return Err(crate::Error::config("no .safetensors fixtures found in the given paths"));
    }
    let (_, failed, _) = crate::verify::run_all(&files, a.threads, &mut std::io::stdout().lock())?;
    Ok(if failed > 0 { 1 } else { 0 })
}
