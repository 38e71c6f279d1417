//! `convlab lab [NAME]`: the tutorials' workflows (`train::labs`), printing what the notebook
//! printed and leaving a run folder with a report.

use crate::train::labs::{find, Prints, LABS};
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
        let mut r = run.prepare(&a.out, a.force)?;
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
        let accuracy = lab.prints == Prints::Accuracy;
        if accuracy {
            let (train, test) = r.accuracy(&r.prepared.model)?;
            println!("Train accuracy before training: {:.4}", train.unwrap_or(f64::NAN));
            println!("Test accuracy before training: {:.4}", test.unwrap_or(f64::NAN));
        }
        let (outcome, report) = r.train()?;
        for m in outcome.metrics.iter().filter(|m| (lab.prints_epoch)(m.epoch)) {
            if accuracy {
                println!("[Epoch {:03}] train_acc: {:.3}", m.epoch, m.train_accuracy.unwrap_or(f64::NAN));
            } else if lab.prints == Prints::FinalMinibatch {
                let acc = m.test_accuracy.map(|a| format!(", test accuracy {:.2}%", 100.0 * a)).unwrap_or_default();
                println!(
                    "Epoch {} final minibatch had loss {:.4} (epoch mean {:.4}{acc})",
                    m.epoch,
                    m.last_batch_loss.unwrap_or(f64::NAN),
                    m.train_loss
                );
            } else {
                let acc = m.test_accuracy.map(|a| format!(", test accuracy {:.2}%", 100.0 * a)).unwrap_or_default();
                println!("Epoch {} had training loss {:.4}{acc}", m.epoch, m.train_loss);
            }
        }
        if accuracy {
            let (train, test) = r.accuracy(&outcome.model)?;
            println!("Train accuracy after training: {:.4}", train.unwrap_or(f64::NAN));
            println!("Test accuracy after training: {:.4}", test.unwrap_or(f64::NAN));
        }
        if let Some(remark) = lab.remark.filter(|_| run.heading.is_none()) {
            println!("{}", remark(&outcome.metrics));
        }
        println!("run folder: {}", dir.display());
        println!("report: {}\n", report.display());
    }
    if let Some(extra) = lab.extra {
        let (heading, lines) = extra(&a.out, a.force)?;
        println!("-- {heading} --");
        lines.iter().for_each(|l| println!("{l}"));
    }
    Ok(0)
}
