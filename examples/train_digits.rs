//! Trains a small CNN on the built-in 8×8 digits with the library, as `convlab train --data
//! digits` does, and prints each epoch's test accuracy. Run: `cargo run --release --example
//! train_digits`.

use convlab::train::config::TrainingSettings;
use convlab::{RunConfig, Session};

fn main() -> convlab::Result<()> {
    // What is trained and how; the rest of RunConfig (seed, threads, checkpoints) as default.
    let training = TrainingSettings {
        data: "digits".into(),
        model: "conv2d(8,k=3,p=1) relu maxpool2d(2) conv2d(16,k=3,p=1) relu flatten linear(10)".into(),
        optimizer: "adam(lr=1e-3)".into(),
        epochs: 10,
        batch_size: 32,
        ..TrainingSettings::default()
    };
    let config = RunConfig { training, ..RunConfig::default() };
    let dir = std::env::temp_dir().join("convlab-example-digits");
    // A run folder with config.toml, metrics.jsonl, checkpoint and model.safetensors.
    let session = Session::create(config, Some(&dir), true)?;
    let done = session.run(true)?;
    for m in &done.outcome.metrics {
        println!(
            "epoch {:>2}  train loss {:.4}  test accuracy {:.2}%",
            m.epoch,
            m.train_loss,
            100.0 * m.test_accuracy.unwrap_or(0.0)
        );
    }
    println!("model: {}", dir.join("model.safetensors").display());
    Ok(())
}
