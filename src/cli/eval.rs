//! `convlab eval RUN|MODEL [--data SOURCE]`: loss, accuracy, per-class accuracy and the
//! confusion matrix of a trained model on a data set's test (or training) part.

use super::data_args::DataArgs;
use crate::inspect::evaluate::evaluate;
use crate::inspect::Subject;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run folder (uses its model and data) or a model file (.safetensors)
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let subject = Subject::open(&a.model)?;
    let ds = a.data.load(&subject)?;
    let e = evaluate(&subject, &ds)?;
    println!(
        "{}: {} samples, loss {:.4}{}",
        ds.name,
        e.samples,
        e.loss,
        e.accuracy.map(|a| format!(", accuracy {:.2}%", 100.0 * a)).unwrap_or_default()
    );
    if e.classes > 0 {
        println!("\nper-class accuracy:");
        for c in &e.per_class {
            println!("  {:<12} {:6.2}%  ({} samples)", c.name, 100.0 * c.accuracy, c.samples);
        }
        let c = e.classes;
        // Rows and columns named by class (the model's or the data's names), each column as
        // wide as its name.
        let task = crate::inspect::task_of(&subject.model, &ds);
        let names: Vec<String> = (0..c).map(|i| task.name(i)).collect();
        let first = names.iter().map(|n| n.chars().count()).max().unwrap_or(1).max(4);
        let width = |n: &str| n.chars().count().max(5) + 1;
        println!("\nconfusion matrix (rows: true class, columns: predicted):");
        print!("{:>first$}", "");
        names.iter().for_each(|n| print!("{n:>w$}", w = width(n)));
        println!();
        for (i, row_name) in names.iter().enumerate() {
            print!("{row_name:>first$}");
            names.iter().enumerate().for_each(|(j, n)| print!("{:>w$}", e.confusion[i * c + j], w = width(n)));
            println!();
        }
    }
    Ok(0)
}
