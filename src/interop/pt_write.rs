//! A model as the `.pt` file `torch.save(model.state_dict(), path)` writes (the zip format):
//! `NAME/data.pkl`, a protocol-2 pickle of an `OrderedDict` from the `nn.Sequential` state-dict
//! names to tensors rebuilt by `torch._utils._rebuild_tensor_v2` from persistent storages;
//! `NAME/data/0`, `NAME/data/1`, ... the storages' little-endian bytes (float32, and int64 for
//! batch norm's `num_batches_tracked`), each at a multiple of 64 bytes; and the records
//! `.format_version`, `.storage_alignment`, `byteorder`, `version` and
//! `.data/serialization_id`, in torch's order. It names only globals the `weights_only` loader
//! allows, so `torch.load(path, weights_only=True)` reads it, and the same model gives the same
//! bytes.

use crate::data::npz_write::stored_zip;
use crate::engine::Float;
use crate::error::Result;
use crate::layers::Op;
use crate::model::Model;

/// One tensor to write: its name, shape, storage type and bytes.
struct Entry {
    name: String,
    shape: Vec<usize>,
    storage: &'static str,
    bytes: Vec<u8>,
}

/// The bytes of the `.pt` file of `model`'s state dict; `archive` names the folder inside the
/// zip (torch uses the file's stem).
pub fn pt_bytes<T: Float>(model: &Model<T>, archive: &str) -> Result<Vec<u8>> {
    let mut entries: Vec<Entry> = model
        .tensors()
        .iter()
        .map(|t| Entry {
            name: t.name.clone(),
            shape: t.shape.clone(),
            storage: "FloatStorage",
            bytes: model.tensor(t).iter().flat_map(|v| v.to_f32().to_le_bytes()).collect(),
        })
        .collect();
    // PyTorch's BatchNorm keeps num_batches_tracked after its running variance.
    for (i, l) in model.layers.iter().enumerate().rev() {
        if matches!(l.op, Op::BatchNorm(_)) {
            let var = format!("{i}.running_var");
            let at = entries.iter().position(|e| e.name == var).map_or(entries.len(), |p| p + 1);
            let tracked = Entry {
                name: format!("{i}.num_batches_tracked"),
                shape: vec![],
                storage: "LongStorage",
                bytes: model.batches_tracked.to_le_bytes().to_vec(),
            };
            entries.insert(at, tracked);
        }
    }
    let pickle = state_dict_pickle(&entries);
    let archive = sanitise(archive);
    let mut records: Vec<(String, Vec<u8>)> = vec![
        (format!("{archive}/data.pkl"), pickle),
        (format!("{archive}/.format_version"), b"1".to_vec()),
        (format!("{archive}/.storage_alignment"), b"64".to_vec()),
        (format!("{archive}/byteorder"), b"little".to_vec()),
    ];
    for (i, e) in entries.iter().enumerate() {
        records.push((format!("{archive}/data/{i}"), e.bytes.clone()));
    }
    records.push((format!("{archive}/version"), b"3\n".to_vec()));
    records.push((format!("{archive}/.data/serialization_id"), serialization_id(&records).into_bytes()));
    let members: Vec<(&str, &[u8])> = records.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    stored_zip(&members, 64)
}

/// Torch writes a random 40-digit id; this one comes from the contents, so files are reproducible.
fn serialization_id(records: &[(String, Vec<u8>)]) -> String {
    let mut digits = String::new();
    for round in 0u32.. {
        let mut crc = flate2::Crc::new();
        crc.update(&round.to_le_bytes());
        for (n, d) in records {
            crc.update(n.as_bytes());
            crc.update(d);
        }
        digits.push_str(&format!("{:010}", crc.sum()));
        if digits.len() >= 40 {
            break;
        }
    }
    digits.truncate(40);
    digits
}

/// Letters, digits, `_` and `-` (torch's archive folder is a plain name).
fn sanitise(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if s.is_empty() {
        "archive".into()
    } else {
        s
    }
}

/// A protocol-2 pickle writer for exactly what a state dict needs.
struct Writer(Vec<u8>);

impl Writer {
    fn global(&mut self, module: &str, name: &str) {
        self.0.push(b'c');
        self.0.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    }

    fn str(&mut self, s: &str) {
        self.0.push(b'X');
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: usize) {
        match v {
            0..=0xFF => self.0.extend_from_slice(&[b'K', v as u8]),
            0x100..=0xFFFF => {
                self.0.push(b'M');
                self.0.extend_from_slice(&(v as u16).to_le_bytes());
            }
            _ if v <= i32::MAX as usize => {
                self.0.push(b'J');
                self.0.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                // LONG1: little-endian two's complement, with a zero byte to keep it positive.
                self.0.extend_from_slice(&[0x8a, 9]);
                self.0.extend_from_slice(&(v as u64).to_le_bytes());
                self.0.push(0);
            }
        }
    }

    fn tuple(&mut self, items: &[usize]) {
        match items.len() {
            0 => self.0.push(b')'),
            n => {
                if n > 3 {
                    self.0.push(b'(');
                }
                for &v in items {
                    self.int(v);
                }
                self.0.push(match n {
                    1 => 0x85,
                    2 => 0x86,
                    3 => 0x87,
                    _ => b't',
                });
            }
        }
    }

    fn empty_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.0.extend_from_slice(b")R");
    }
}

/// `OrderedDict(name → _rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict()))`.
fn state_dict_pickle(entries: &[Entry]) -> Vec<u8> {
    let mut w = Writer(vec![0x80, 2]);
    w.empty_ordered_dict();
    w.0.push(b'(');
    for (key, e) in entries.iter().enumerate() {
        w.str(&e.name);
        w.global("torch._utils", "_rebuild_tensor_v2");
        w.0.push(b'(');
        // The persistent id of the storage.
        w.0.push(b'(');
        w.str("storage");
        w.global("torch", e.storage);
        w.str(&key.to_string());
        w.str("cpu");
        w.int(e.shape.iter().product());
        w.0.extend_from_slice(b"tQ");
        w.int(0);
        w.tuple(&e.shape);
        let mut strides = vec![1; e.shape.len()];
        for i in (0..e.shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * e.shape[i + 1];
        }
        w.tuple(&strides);
        w.0.push(0x89); // requires_grad = False
        w.empty_ordered_dict(); // backward hooks
        w.0.extend_from_slice(b"tR");
    }
    w.0.extend_from_slice(b"u.");
    w.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;
    use crate::interop::import::{import_pt, ImportOptions};

    #[test]
    fn a_written_state_dict_reads_back_bit_for_bit() {
        let spec = "conv1d(3,k=3,p=1) batchnorm1d relu flatten linear(2)";
        let mut m = Model::<f32>::new(spec, Dims::signal(2, 6)).unwrap();
        m.init(5);
        m.buffers[0] = 0.125;
        m.batches_tracked = 9;
        let bytes = pt_bytes(&m, "model").unwrap();
        assert_eq!(bytes, pt_bytes(&m, "model").unwrap(), "reproducible");
        let opts = ImportOptions { model: Some(spec.into()), input: Some("2,6".into()), key: None };
        let back = import_pt(&bytes, "model.pt", &opts).unwrap().model;
        assert_eq!(back.params, m.params);
        assert_eq!(back.buffers, m.buffers);
        assert_eq!(back.batches_tracked, 9);
    }

    #[test]
    fn archive_names_are_plain() {
        assert_eq!(sanitise("my model.v2"), "my_model_v2");
        assert_eq!(sanitise(""), "archive");
        assert_eq!(serialization_id(&[]).len(), 40);
    }
}
