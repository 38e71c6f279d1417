//! `convlab eval RUN|MODEL [--data SOURCE]`: loss, accuracy, per-class accuracy and the
//! confusion matrix of a trained model on a data set's test (or training) part.

use crate::data::Targets;
use crate::losses::{Loss, Target};
use crate::train::run::{default_loss, load_run_data, target_of};
use crate::train::{argmax, Trainer};
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

pub fn run(a: Args) -> Result<i32, String> {
    let subject = crate::inspect::Subject::open(&a.model)?;
    let (model, cfg) = (subject.model, subject.config.unwrap_or_default());
    let data =
        a.data.clone().or((!cfg.data.is_empty()).then(|| cfg.data.clone())).ok_or("give the data with --data")?;
    let (train, test) = load_run_data(&cfg, &data, a.data_dir.as_deref())?;
    let ds = if a.train { train } else { test };
    if ds.sample_shape != model.input.to_vec() {
        return Err(format!("the model takes samples of {} but {} has {:?}", model.input, ds.name, ds.sample_shape));
    }
    let loss = match &cfg.loss {
        Some(l) => Loss::parse(l)?,
        None => default_loss(&ds.targets),
    };
    let k = model.output().len();
    let mut trainer = Trainer::new(
        model,
        crate::optim::OptimizerConfig::parse("sgd(lr=0)")?.build(),
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
    if let (Targets::Classes { labels, num_classes }, Target::Classes(_)) = (&ds.targets, target_of(&ds)) {
        let c = (*num_classes).max(k);
        let mut confusion = vec![0u32; c * c];
        let mut ws = crate::model::Workspace::new(&trainer.model, 256, false);
        for start in (0..ds.len()).step_by(256) {
            let m = 256.min(ds.len() - start);
            let x = &ds.x[start * ds.sample_len()..(start + m) * ds.sample_len()];
            ws.forward(&trainer.model, x, m, crate::layers::Mode::Eval, Default::default());
            for (row, &l) in ws.output(&trainer.model).chunks_exact(k).zip(&labels[start..start + m]) {
                confusion[l as usize * c + argmax(row)] += 1;
            }
        }
        let name = |i: usize| ds.class_names.as_ref().and_then(|n| n.get(i).cloned()).unwrap_or(i.to_string());
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
