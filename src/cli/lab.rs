//! `convlab lab [NAME]`: the tutorials' workflows (`train::labs`), printing what the notebook
//! printed and leaving a run folder with a report.

use crate::train::labs::{find, LABS};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The lab to run (omit to list them)
    name: Option<String>,
    /// Parent folder of the lab's run folder(s)
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Overwrite the lab's earlier run folders
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let Some(name) = a.name else {
        println!("labs (convlab lab NAME):");
        for l in LABS {
            println!("  {:<11} {}", l.name, l.about);
        }
        return Ok(0);
    };
    find(&name)?.run(&a.out, a.threads, a.force, &mut |line| println!("{line}"))?;
    Ok(0)
}
