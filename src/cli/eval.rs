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
        println!("\nconfusion matrix (rows: true class, columns: predicted):");
        print!("{:>6}", "");
        (0..c).for_each(|j| print!("{j:>6}"));
        println!();
        for i in 0..c {
            print!("{i:>6}");
            (0..c).for_each(|j| print!("{:>6}", e.confusion[i * c + j]));
            println!();
        }
    }
    Ok(0)
}
