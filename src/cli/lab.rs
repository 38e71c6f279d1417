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
    let lab = find(&name)?;
    for run in lab.runs(a.threads) {
        if let Some(h) = run.heading {
            println!("-- {h} --");
        }
        let r = run.prepare(&a.out, a.force)?;
        let p = &r.prepared;
        println!(
            "{}: {} on {} ({} train, {} test), {}",
            run.folder.trim_start_matches("lab-"),
            p.model.spec,
            p.train.name,
            p.train.len(),
            p.test.len(),
            p.optimizer.to_spec()
        );
        let dir = r.dir.clone();
        let (outcome, report) = r.train()?;
        for m in outcome.metrics.iter().filter(|m| (lab.prints_epoch)(m.epoch)) {
            let acc = m.test_accuracy.map(|a| format!(", test accuracy {:.2}%", 100.0 * a)).unwrap_or_default();
            println!("Epoch {} had training loss {:.4}{acc}", m.epoch, m.train_loss);
        }
        println!("run folder: {}", dir.display());
        println!("report: {}\n", report.display());
    }
    Ok(0)
}
