//! A training step allocates nothing of its own: all buffers are sized when the trainer is
//! built. (The gemm crate allocates packing buffers inside some of its calls; the tiny pattern
//! model's shapes take none of those paths, so for it the count must be exactly zero.)

use convlab::bench::alloc_count::{count_on_this_thread, CountingAllocator};
use convlab::engine::Dims;
use convlab::losses::{Loss, Target};
use convlab::model::Model;
use convlab::optim::OptimizerConfig;
use convlab::train::Trainer;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn pattern_lab_steps_allocate_nothing() {
    let (x, y) = convlab::data::tutorial::pattern1d(0, 75, 20);
    let mut model =
        Model::<f32>::new("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", Dims::signal(1, 20)).unwrap();
    model.init_torch(0);
    let opt = OptimizerConfig::parse("sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)").unwrap();
    let mut t = Trainer::new(model, opt.build(), Loss::BceWithLogits, 75, 1, 0).unwrap();
    // The first step creates the optimizer's state. One shard, no pool: the steps run on this
    // thread, whose allocations alone are counted (the harness's threads allocate meanwhile).
    assert_eq!(t.shards_for(75), 1);
    t.train_step(&x, Target::Values(&y), 75).unwrap();
    let before = count_on_this_thread();
    for _ in 0..50 {
        t.train_step(&x, Target::Values(&y), 75).unwrap();
    }
    assert_eq!(count_on_this_thread() - before, 0, "heap allocations in 50 training steps");
}
