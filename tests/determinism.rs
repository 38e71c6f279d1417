//! Training gives bit-identical parameters on 1 thread and on 2 (the shard design in
//! train/step.rs), through every fast path: direct convolution, fused ReLU + pool, the
//! sharded optimizer step.

use convlab::bench::synthetic_images;
use convlab::engine::Dims;
use convlab::losses::{Loss, Target};
use convlab::model::Model;
use convlab::optim::OptimizerConfig;
use convlab::train::Trainer;

fn train(spec: &str, opt: &str, batch: usize, threads: usize) -> Vec<f32> {
    let images = synthetic_images(4 * batch, 7);
    let mut model = Model::<f32>::new(spec, Dims::parse("1,28,28").unwrap()).unwrap();
    model.init(3);
    let opt = OptimizerConfig::parse(opt).unwrap();
    let mut t = Trainer::new(model, opt.build(), Loss::CrossEntropy, batch, threads, 0).unwrap();
    for b in 0..4 {
        let x = &images.x[b * batch * 784..(b + 1) * batch * 784];
        t.train_step(x, Target::Classes(&images.labels[b * batch..(b + 1) * batch]), batch).unwrap();
    }
    t.model.params.clone()
}

#[test]
fn one_thread_and_two_give_identical_parameters() {
    let cases = [
        ("conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)", "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", 100),
        (
            "conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) flatten linear(32) relu linear(10)",
            "adam(lr=1e-3)",
            32,
        ),
    ];
    for (spec, opt, batch) in cases {
        let (a, b) = (train(spec, opt, batch, 1), train(spec, opt, batch, 2));
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{spec}");
    }
}
