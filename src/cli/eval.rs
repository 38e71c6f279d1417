//! `convlab eval RUN|MODEL [--data SOURCE]`: loss, accuracy, per-class accuracy and the
//! confusion matrix of a trained model on a data set's test (or training) part.

use crate::data::Targets;
use crate::inspect::confusion::counts;
use crate::inspect::{class_names, Subject};
use crate::losses::Loss;
use crate::optim::OptimizerConfig;
use crate::train::run::{default_loss, target_of};
use crate::train::Trainer;
use std::path::PathBuf;
#[derive(clap::Args)]
pub struct Args {
    /// A run folder (uses its model and data) or a model file (.safetensors)
    model: PathBuf,
    /// Data to evaluate on (default: the run's own data)
    #[arg(long)]
    data: Option<String>,
    /// Folder holding named data sets
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Evaluate the training part instead of the test part
    #[arg(long)]
    train: bool,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let subject = Subject::open(&a.model)?;
    let (train, test) = subject.data(a.data.as_deref(), a.data_dir.as_deref())?;
    let ds = if a.train { train } else { test };
    let loss = match subject.config.as_ref().and_then(|c| c.loss.as_ref()) {
        Some(l) => Loss::parse(l)?,
        None => default_loss(&ds.targets),
    };
    let mut trainer = Trainer::new(
        subject.model,
        OptimizerConfig::parse("sgd(lr=0)")?.build(),
        loss,
        256.min(ds.len().max(1)),
        0,
        0,
    )?;
    let (l, acc) = trainer.evaluate(&ds.x, target_of(&ds), ds.len())?;
    println!(
        "{}: {} samples, loss {l:.4}{}",
        ds.name,
        ds.len(),
        acc.map(|a| format!(", accuracy {:.2}%", 100.0 * a)).unwrap_or_default()
    );
    if let Targets::Classes { .. } = &ds.targets {
        let (confusion, c) = counts(&trainer.model, &ds)?;
        let names = class_names(&ds);
        let name = |i: usize| names.get(i).cloned().unwrap_or(i.to_string());
        println!("\nper-class accuracy:");
        for i in 0..c {
            let total: u32 = confusion[i * c..(i + 1) * c].iter().sum();
            if total > 0 {
                println!(
                    "  {:<12} {:6.2}%  ({} samples)",
                    name(i),
                    100.0 * confusion[i * c + i] as f64 / total as f64,
                    total
                );
            }
        }
        println!("\nconfusion matrix (rows: true class, columns: predicted):");
        print!("{:>6}", "");
        (0..c).for_each(|j| print!("{j:>6}"));
        println!();
        for i in 0..c {
            print!("{i:>6}");
            (0..c).for_each(|j| print!("{:>6}", confusion[i * c + j]));
            println!();
        }
    }
    Ok(0)
}
