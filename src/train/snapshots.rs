//! Parameter snapshots during training (`--snapshot-every N`): every trainable tensor (conv and
//! linear weights and biases, batch norm's scale and shift) at epoch 0 and every N epochs, kept
//! in `snapshots.safetensors` as `epoch0005.0.weight`. `convlab plot evolution` draws the conv
//! kernels among them, `convlab plot histograms` all of them.

use crate::error::{Error, Result};
use crate::model::{io, Model, Store};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::path::Path;

pub const FILE: &str = "snapshots.safetensors";

#[derive(Clone, Debug, Default)]
pub struct Snapshots {
    /// (epoch, tensor name, shape, values), in the order taken.
    pub entries: Vec<(usize, String, Vec<usize>, Vec<f32>)>,
}

impl Snapshots {
    /// Records the trainable tensors of `model` after `epoch` epochs.
    pub fn take(&mut self, model: &Model<f32>, epoch: usize) {
        for t in model.tensors() {
            if t.store == Store::Param {
                self.entries.push((epoch, t.name.clone(), t.shape.clone(), model.tensor(&t).to_vec()));
            }
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let data: Vec<Vec<u8>> =
            self.entries.iter().map(|e| e.3.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
        let mut views = vec![];
        for (e, bytes) in self.entries.iter().zip(&data) {
            views.push((
                format!("epoch{:04}.{}", e.0, e.1),
                TensorView::new(Dtype::F32, e.2.clone(), bytes).map_err(|x| Error::shape(x.to_string()))?,
            ));
        }
        safetensors::serialize(views, &None).map_err(|e| Error::shape(e.to_string()))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::model_file(format!("{}: {e}", path.display())))?;
        let mut entries = vec![];
        for name in st.names() {
            // `epoch0005.0.weight`: the epoch has at least four digits, more past 9999.
            let parsed = name.strip_prefix("epoch").and_then(|r| r.split_once('.'));
            let Some((epoch, rest)) = parsed.and_then(|(e, rest)| Some((e.parse::<usize>().ok()?, rest))) else {
                return Err(Error::model_file(format!("{}: unexpected tensor {name}", path.display())));
            };
            let view = st.tensor(name).map_err(|e| Error::model_file(format!("{}: {e}", path.display())))?;
            let values = io::read_f64(&view)?.into_iter().map(|v| v as f32).collect();
            entries.push((epoch, rest.to_string(), view.shape().to_vec(), values));
        }
        // By epoch as a number (names sort 10000 before 2000).
        entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(Snapshots { entries })
    }

    /// Whether `name` is a conv layer's kernel (O×C×k or O×C×kh×kw), the tensors `plot
    /// evolution` draws.
    pub fn is_kernel(&self, name: &str) -> bool {
        name.ends_with(".weight") && self.entries.iter().any(|e| e.1 == name && e.2.len() >= 3)
    }

    /// The snapshots of one tensor, by epoch.
    pub fn of(&self, name: &str) -> Vec<(usize, &[usize], &[f32])> {
        self.entries.iter().filter(|e| e.1 == name).map(|e| (e.0, e.2.as_slice(), e.3.as_slice())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn epochs_past_9999_read_back_in_order() {
        let model = Model::<f32>::new("conv1d(2,k=3) flatten linear(1)", Dims::signal(1, 8)).unwrap();
        let mut s = Snapshots::default();
        for epoch in [0, 2000, 9999, 10000, 123456] {
            s.take(&model, epoch);
        }
        let path = std::env::temp_dir().join(format!("convlab-snapshots-test-{}.safetensors", std::process::id()));
        std::fs::write(&path, s.to_bytes().unwrap()).unwrap();
        let back = Snapshots::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let epochs: Vec<usize> = back.of("0.weight").iter().map(|e| e.0).collect();
        assert_eq!(epochs, [0, 2000, 9999, 10000, 123456]);
        let names: Vec<&str> = back.entries.iter().filter(|e| e.0 == 0).map(|e| e.1.as_str()).collect();
        assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
        assert!(back.is_kernel("0.weight") && !back.is_kernel("2.weight") && !back.is_kernel("0.bias"));
    }
}
