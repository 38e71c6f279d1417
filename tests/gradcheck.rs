//! Finite-difference checks (float64) of every layer and loss, alone and inside whole models.

use convlab::engine::Dims;
use convlab::losses::Loss;
use convlab::verify::gradcheck::check;

fn assert_grads(spec: &str, input: Dims, loss: Loss) {
    for seed in [1, 2] {
        let r = check(spec, input, 3, loss, seed).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert!(r.checked > 0);
        assert!(
            r.max_rel_error < 1e-5,
            "{spec} with {loss:?} (seed {seed}): error {:.2e} at {}",
            r.max_rel_error,
            r.worst
        );
    }
}

#[test]
fn conv_layers() {
    let img = Dims::image(2, 7, 6);
    assert_grads("conv2d(3,k=3,p=1) flatten", img, Loss::Mse);
    assert_grads("conv2d(2,k=3x2,s=2x1,p=1x0,d=1x2) flatten", img, Loss::Mse);
    assert_grads("conv2d(2,k=4,p=same,bias=false) flatten", img, Loss::Mse);
    assert_grads("conv1d(3,k=3,s=2,p=2,d=2) flatten", Dims::signal(2, 11), Loss::Mse);
    // Channel counts that take the Winograd path (forward and input gradient, 16→16, 16→32)
    // and its channels-last weight gradient.
    assert_grads(
        "conv2d(32,k=3,p=1) relu maxpool2d(2) conv2d(16,k=3,p=1) flatten linear(2)",
        Dims::image(16, 4, 6),
        Loss::Mse,
    );
}

#[test]
fn pooling_layers() {
    let img = Dims::image(2, 7, 6);
    assert_grads("maxpool2d(2) flatten", img, Loss::Mse);
    assert_grads("maxpool2d(3,s=2,p=1) flatten", img, Loss::Mse);
    assert_grads("avgpool2d(2) flatten", img, Loss::Mse);
    assert_grads("avgpool2d(3,s=2,p=1) flatten", img, Loss::Mse);
    assert_grads("maxpool1d(3,s=2) flatten", Dims::signal(2, 9), Loss::Mse);
    assert_grads("avgpool1d(2) flatten", Dims::signal(2, 9), Loss::Mse);
    // Adaptive pools, with uneven and overlapping windows (7→3 rows, 6→2 columns; 5→3).
    assert_grads("adaptiveavgpool2d(3x2) flatten", img, Loss::Mse);
    assert_grads("adaptivemaxpool2d(2) flatten", img, Loss::Mse);
    assert_grads("adaptiveavgpool1d(4) flatten", Dims::signal(2, 11), Loss::Mse);
    assert_grads("adaptivemaxpool1d(3) flatten", Dims::signal(2, 5), Loss::Mse);
    assert_grads("conv2d(3,k=3,p=1) relu adaptiveavgpool2d(1) flatten linear(3)", img, Loss::Mse);
}

#[test]
fn normalisation_dropout_and_activations() {
    assert_grads("batchnorm2d flatten", Dims::image(2, 3, 4), Loss::Mse);
    assert_grads("batchnorm1d flatten", Dims::signal(3, 4), Loss::Mse);
    assert_grads("flatten batchnorm1d", Dims::signal(3, 4), Loss::Mse);
    assert_grads("dropout(0.3) flatten", Dims::signal(2, 5), Loss::Mse);
    for act in ["relu", "leakyrelu(0.1)", "sigmoid", "tanh"] {
        assert_grads(&format!("{act} flatten"), Dims::signal(2, 5), Loss::Mse);
    }
    assert_grads("flatten linear(4) linear(3,bias=false)", Dims::image(1, 3, 3), Loss::Mse);
}

#[test]
fn losses() {
    let spec = "flatten linear(4)";
    assert_grads(spec, Dims::signal(1, 5), Loss::Mse);
    assert_grads(spec, Dims::signal(1, 5), Loss::BceWithLogits);
    assert_grads(spec, Dims::signal(1, 5), Loss::CrossEntropy);
}

#[test]
fn whole_models() {
    assert_grads("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", Dims::signal(1, 20), Loss::BceWithLogits);
    assert_grads(
        "conv1d(4,k=3,p=1,bias=false) batchnorm1d relu dropout(0.25) flatten linear(1)",
        Dims::signal(2, 5),
        Loss::Mse,
    );
    assert_grads(
        "conv2d(4,k=3,p=1) relu maxpool2d(2) conv2d(6,k=3,p=1) tanh avgpool2d(2) flatten linear(5) sigmoid linear(3)",
        Dims::image(1, 8, 8),
        Loss::CrossEntropy,
    );
    // Maps large enough (over 512 KB a sample in f64) that the per-sample layers run one
    // sample at a time, with gradients in chunk-sized buffers.
    assert_grads(
        "conv2d(8,k=3,p=1) relu maxpool2d(2) conv2d(4,k=3,p=1) relu maxpool2d(2) flatten linear(3)",
        Dims::image(1, 32, 32),
        Loss::CrossEntropy,
    );
    assert_grads(
        "conv2d(2,k=2) relu maxpool2d(2,s=1) conv2d(1,k=2) relu maxpool2d(2,s=1) flatten linear(2)",
        Dims::image(1, 11, 11),
        Loss::CrossEntropy,
    );
}
