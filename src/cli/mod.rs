//! The `convlab` command: one subcommand per file, each a thin layer over the library.

mod bench;
mod data;
mod data_args;
mod eval;
mod import;
mod lab;
mod plot;
mod predict;
mod recover;
mod report;
mod show;
mod simulate;
mod summary;
mod sweep;
mod train;
mod training_args;
mod verify;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "convlab", version, about = "Build, train, inspect and visualise small CNNs, fast on a CPU", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model's layers, output shapes, parameter counts and output-size arithmetic
    Summary(summary::Args),
    /// Train a model on a data set into a run folder
    Train(Box<train::Args>),
    /// Run a tutorial's workflow with its settings (omit NAME to list them)
    Lab(lab::Args),
    /// Loss, accuracy, per-class accuracy and confusion matrix of a trained model
    Eval(eval::Args),
    /// Class probabilities (or outputs) for images or the rows of an npz file
    Predict(predict::Args),
    /// Draw what a network learned: filters, activations, tensors, curves, scatter, examples, confusion, evolution, samples
    Plot(plot::Args),
    /// Print a tensor, or the predictions for some samples, as a notebook prints them
    Show(show::Args),
    /// Write a run's self-contained HTML report
    Report(report::Args),
    /// Look at data sets
    Data(data::Args),
    /// Simulate data from a known network (tutorial 000's by default), keeping the truth
    Simulate(simulate::Args),
    /// Fit replicates to simulated data and compare them with the true network
    Recover(recover::Args),
    /// Train a grid of settings over many seeds and report how often training succeeds
    Sweep(Box<sweep::Args>),
    /// Turn weights saved by PyTorch (safetensors state dict) into a convlab model file
    Import(import::Args),
    /// Check the engine against PyTorch reference fixtures
    Verify(verify::Args),
    /// Time the standard workloads (training epochs and inference)
    Bench(bench::Args),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Summary(a) => summary::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Train(a) => train::run(*a),
        Command::Lab(a) => lab::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Import(a) => import::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Report(a) => report::run(a),
        Command::Show(a) => show::run(a),
        Command::Data(a) => data::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Recover(a) => recover::run(a),
        Command::Sweep(a) => sweep::run(*a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
