//! Every PyTorch reference fixture in tests/fixtures/torch passes `convlab verify`, and the
//! 1-D lab's training run reproduces the losses the lab prints. (`tests/fixtures/pt` is checked
//! by tests/pt_files.rs.)

use convlab::verify::{expand, run_all, run_fixture, Outcome};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch")
}

#[test]
fn every_fixture_passes() {
    let files = expand(&[fixtures()]).unwrap();
    assert!(files.len() >= 64, "expected the 64 fixtures of tests/fixtures/torch, found {}", files.len());
    let mut report = Vec::new();
    let (passed, failed, skipped) = run_all(&files, 2, &mut report).unwrap();
    let text = String::from_utf8(report).unwrap();
    assert_eq!(failed, 0, "{text}");
    assert_eq!(passed + skipped, files.len());
    assert!(text.contains(&format!("{passed} passed, 0 failed")));
}

#[test]
fn pattern_lab_prints_the_lab_numbers() {
    let Outcome::Passed(c) = run_fixture(&fixtures().join("train_pattern1d.safetensors"), 1) else {
        panic!("train_pattern1d did not pass")
    };
    assert!(c.iter().any(|c| c.name == "losses"));
    // The numbers themselves: PyTorch prints 0.5462 at epoch 1 and 0.0095 at epoch 500.
    let (losses, _) = convlab_losses_of_pattern_lab();
    assert_eq!(format!("{:.4}", losses[0]), "0.5462");
    assert_eq!(format!("{:.4}", losses[499]), "0.0095");
}

/// Trains the pattern lab from the fixture's initial weights and returns the loss curve.
fn convlab_losses_of_pattern_lab() -> (Vec<f64>, ()) {
    use convlab::engine::Dims;
    use convlab::losses::{Loss, Target};
    use convlab::model::{io, Model};
    use convlab::optim::OptimizerConfig;
    use convlab::train::Trainer;
    use safetensors::SafeTensors;
    let bytes = std::fs::read(fixtures().join("train_pattern1d.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let read =
        |n: &str| -> Vec<f32> { io::read_f64(&st.tensor(n).unwrap()).unwrap().iter().map(|&v| v as f32).collect() };
    let (x, y) = (read("X"), read("y"));
    let mut model =
        Model::<f32>::new("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", Dims::signal(1, 20)).unwrap();
    io::load_state_prefixed(&mut model, &st, "init.").unwrap();
    let opt = OptimizerConfig::parse("sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)").unwrap();
    let mut t = Trainer::new(model, opt.build(), Loss::BceWithLogits, 75, 2, 0).unwrap();
    let losses = (0..500).map(|_| t.train_step(&x, Target::Values(&y), 75).unwrap().loss).collect();
    (losses, ())
}
