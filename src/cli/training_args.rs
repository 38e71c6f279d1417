//! The flags of [`TrainingSettings`], shared by `convlab train` and `convlab sweep`.

use crate::losses::Loss;
use crate::optim::Schedule;
use crate::train::config::{parse_batch_size, InitStream, TrainingSettings};
use crate::train::early_stop::EarlyStop;

#[derive(clap::Args)]
pub struct TrainingArgs {
    /// Data: digits (built in), fashion-mnist, mnist, idx:DIR, npz:FILE[,TEST], images:DIR, sim1d, pattern1d, lines; each takes n= (first n training samples), test_n= and classes=(3,8), e.g. fashion-mnist(n=1000) [default: digits]
    #[arg(long)]
    pub data: Option<String>,
    /// Folder holding named data sets (mnist, fashion-mnist) [default: searched in $CONVLAB_DATA, ~/.cache/convlab, /usr/share/datasets]
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Model spec (e.g. 'conv2d(8,k=3,p=1) relu maxpool2d(2) flatten linear(10)'), preset name, or
    /// auto [default: auto, a small CNN for the data's shape, printed so you can copy and edit it]
    #[arg(long)]
    pub model: Option<String>,
    /// Optimizer, e.g. 'sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)' [default: adam(lr=1e-3)]
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Epochs to train [default: 10]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per step, or `full` for the whole training set [default: 32]
    #[arg(long)]
    pub batch_size: Option<String>,
    /// mse, bce_with_logits or cross_entropy [default: chosen from the data]
    #[arg(long)]
    pub loss: Option<String>,
    /// Held-out fraction when the data has no test set of its own [default: 0.2]
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// Initial weights: convlab (own stream) or numpy (PyTorch's torch.manual_seed weights, with numpy-exact synthetic data) [default: convlab]
    #[arg(long)]
    pub rng: Option<String>,
    /// Learning-rate schedule, PyTorch's semantics and defaults, stepped after each epoch:
    /// step(step_size,gamma=0.1), multistep(milestones=(a,b),gamma=0.1), exponential(gamma),
    /// cosine(t_max,eta_min=0), linear(start_factor=1/3,end_factor=1,total_iters=5),
    /// onecycle(max_lr,total_steps=all batches,pct_start=0.3,div_factor=25,final_div_factor=1e4,
    /// cycle_momentum=true,base_momentum=0.85,max_momentum=0.95; stepped every batch),
    /// plateau(mode=min,factor=0.1,patience=10,threshold=1e-4,cooldown=0,min_lr=0; on the test
    /// loss, or the train loss without test data) [default: none, a constant rate]
    #[arg(long, verbatim_doc_comment)]
    pub schedule: Option<String>,
    /// Stop when a metric stops improving: METRIC[,patience=N][,min_delta=D][,mode=min|max],
    /// METRIC one of train_loss, test_loss, train_accuracy, test_accuracy (mode: min for a loss,
    /// max for an accuracy; patience 5, min_delta 0); the model then holds the best epoch's
    /// weights [default: none, train every epoch]
    #[arg(long, verbatim_doc_comment)]
    pub early_stop: Option<String>,
    /// Clip each step's gradient to this global 2-norm (PyTorch's clip_grad_norm_, after
    /// backward and before the optimizer step) [default: none, no clipping]
    #[arg(long, value_name = "MAX")]
    pub clip_grad_norm: Option<f64>,
}

impl TrainingArgs {
    /// Overrides `s` with the flags given.
    pub fn apply(&self, s: &mut TrainingSettings) -> crate::Result<()> {
        if let Some(v) = &self.data {
            s.data = v.clone();
        }
        if let Some(v) = &self.data_dir {
            s.data_dir = Some(v.clone());
        }
        if let Some(v) = &self.model {
            s.model = v.clone();
        }
        if let Some(v) = &self.optimizer {
            s.optimizer = v.clone();
        }
        if let Some(v) = self.epochs {
            s.epochs = v;
        }
        if let Some(v) = &self.batch_size {
            s.batch_size = parse_batch_size(v)?;
        }
        if let Some(v) = &self.loss {
            s.loss = Some(Loss::parse(v)?);
        }
        if let Some(v) = self.test_fraction {
            s.test_fraction = v;
        }
        if let Some(v) = &self.rng {
            s.rng = InitStream::parse(v)?;
        }
        if let Some(v) = &self.schedule {
            Schedule::parse(v)?;
            s.schedule = Some(v.clone());
        }
        if let Some(v) = &self.early_stop {
            EarlyStop::parse(v)?;
            s.early_stop = Some(v.clone());
        }
        if let Some(v) = self.clip_grad_norm {
            s.clip_grad_norm = Some(v);
        }
        Ok(())
    }
}
