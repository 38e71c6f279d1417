//! The standard workloads of `convlab bench`, with PyTorch 2.15's figures measured on
//! 2026-12-01 on a 2-core Intel Xeon VM with AVX-512 (shared/design/engine-notes.md; other
//! machines differ: `bench --compare-pytorch` measures them live) and the bar this project set
//! itself.

pub struct Workload {
    pub name: &'static str,
    pub spec: &'static str,
    pub input: &'static str,
    pub optimizer: &'static str,
    pub batch: usize,
    /// Samples in the timed run (one epoch, or the inference set).
    pub samples: usize,
    /// Full-batch epochs (pattern1d); 1 elsewhere.
    pub epochs: usize,
    pub inference: bool,
    /// PyTorch's time in seconds (for `infer`: images per second).
    pub pytorch: f64,
    /// The target: seconds at most (for `infer`: images per second at least).
    pub target: f64,
}

const SIMPLECNN: &str =
    "conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) flatten linear(32) relu linear(10)";

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "mnist-lab",
        spec: "conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)",
        input: "1,28,28",
        optimizer: "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)",
        batch: 100,
        samples: 60000,
        epochs: 1,
        inference: false,
        pytorch: 2.9,
        target: 0.6,
    },
    Workload {
        name: "simplecnn-b16",
        spec: SIMPLECNN,
        input: "1,28,28",
        optimizer: "adam(lr=1e-3)",
        batch: 16,
        samples: 60000,
        epochs: 1,
        inference: false,
        pytorch: 18.9,
        target: 3.8,
    },
    Workload {
        name: "simplecnn-b128",
        spec: SIMPLECNN,
        input: "1,28,28",
        optimizer: "adam(lr=1e-3)",
        batch: 128,
        samples: 60000,
        epochs: 1,
        inference: false,
        pytorch: 9.8,
        target: 3.3,
    },
    Workload {
        name: "pattern1d",
        spec: "conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)",
        input: "1,20",
        optimizer: "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)",
        batch: 75,
        samples: 75,
        epochs: 500,
        inference: false,
        pytorch: 0.32,
        target: 0.015,
    },
    Workload {
        name: "infer",
        spec: SIMPLECNN,
        input: "1,28,28",
        optimizer: "adam(lr=1e-3)",
        batch: 1000,
        samples: 10000,
        epochs: 1,
        inference: true,
        pytorch: 8600.0,
        target: 43000.0,
    },
];

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

pub fn names() -> String {
    WORKLOADS.iter().map(|w| w.name).collect::<Vec<_>>().join(", ")
}
