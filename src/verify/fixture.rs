//! Reading a reference fixture: safetensors tensors plus the JSON `case` in its metadata
//! (format described in tests/fixtures/README.md).

use crate::error::{Error, Result};
use crate::model::io::{describe, read_f64};
use safetensors::SafeTensors;
use serde_json::Value;
use std::path::Path;

pub struct Fixture {
    pub name: String,
    pub case: Value,
    bytes: Vec<u8>,
}

/// A tensor's values (as f64) and shape.
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
    pub is_integer: bool,
}

impl Fixture {
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = crate::fs::read_file(path)?;
        let bad = |what: &str, e: safetensors::SafeTensorError| Error::data(format!("{what}: {}", describe(&e)));
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad("not a safetensors file", e))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let case = meta
            .get("case")
            .ok_or_else(|| Error::data("no `case` in the safetensors metadata; not a convlab/PyTorch fixture"))?;
        let case: Value =
            serde_json::from_str(case).map_err(|e| Error::data(format!("the `case` metadata is not JSON: {e}")))?;
        SafeTensors::deserialize(&bytes).map_err(|e| bad("not a valid safetensors file", e))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        Ok(Fixture { name, case, bytes })
    }

    pub fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("checked in open")
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors().tensor(name).is_ok()
    }

    pub fn array(&self, name: &str) -> Result<Array> {
        let st = self.tensors();
        let view = st.tensor(name).map_err(|_| Error::data(format!("tensor `{name}` is missing")))?;
        let is_integer = !matches!(view.dtype(), safetensors::Dtype::F32 | safetensors::Dtype::F64);
        Ok(Array { shape: view.shape().to_vec(), values: read_f64(&view)?, is_integer })
    }

    pub fn kind(&self) -> &str {
        self.case.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn str(&self, key: &str) -> Result<&str> {
        self.case.get(key).and_then(Value::as_str).ok_or_else(|| Error::data(format!("case has no text `{key}`")))
    }

    pub fn f64_or(&self, key: &str, default: f64) -> f64 {
        self.case.get(key).and_then(Value::as_f64).unwrap_or(default)
    }

    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        self.case.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    /// A per-axis list such as `kernel_size: [3, 5]`, or a single number.
    pub fn list(&self, key: &str) -> Option<Vec<usize>> {
        match self.case.get(key)? {
            Value::Array(v) => v.iter().map(|x| x.as_u64().map(|u| u as usize)).collect(),
            Value::Number(n) => n.as_u64().map(|u| vec![u as usize]),
            _ => None,
        }
    }
}
