//! Reading what `torch.save` writes, in both of its formats, without Python:
//!
//! - the zip format (PyTorch ≥ 1.6): `NAME/data.pkl` (the pickle), `NAME/data/KEY` (one record
//!   per storage), `NAME/byteorder`, `NAME/version` and a few more records, all stored;
//! - the legacy format (`_use_new_zipfile_serialization=False`, and PyTorch < 1.6): five pickles
//!   in a row (magic number, protocol version, system info, the object, the list of storage
//!   keys), then each storage in the order of that list as an 8-byte element count and its raw
//!   bytes.
//!
//! The pickle goes through the restricted unpickler ([`super::pickle`]); tensors stay views
//! (storage, offset, sizes, strides) until [`PtFile::values`] reads one, checking that the view
//! lies inside its storage and the storage inside the file.

use super::pickle::{unpickle, Dtype, Id, Pickle, Tensor, Value};
use crate::data::zip::{ZipArchive, ZipKind};
use crate::engine::dims::MAX_VALUES;
use crate::error::{Error, Result};
use std::collections::HashMap;

/// How the zip reader words its messages for `.pt` files.
pub const PT_ZIP: ZipKind =
    ZipKind { format: "PyTorch .pt (zip)", resave: "load it in PyTorch and save it again with torch.save" };

/// The legacy format's first pickle: this number.
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;

/// An opened `.pt` file: its pickle and where its storages' bytes are.
pub struct PtFile<'a> {
    pub pickle: Pickle,
    pub root: Id,
    /// "zip" or "legacy", for messages.
    pub format: &'static str,
    storages: Storages<'a>,
}

enum Storages<'a> {
    Zip { archive: ZipArchive<'a>, prefix: String },
    Legacy(HashMap<String, &'a [u8]>),
}

/// True when `bytes` start like a `.pt` file (a zip, or a legacy file's first pickle).
pub fn looks_like_pt(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0x80, 0x02, 0x8a, 0x0a])
}

/// Opens `bytes` (a file called `label`, for messages).
pub fn read_pt<'a>(bytes: &'a [u8], label: &str) -> Result<PtFile<'a>> {
    if bytes.starts_with(b"PK") {
        // The archive's own messages name the file already.
        let archive = ZipArchive::parse_as(bytes, label, PT_ZIP).map_err(as_model_file)?;
        read_zip(archive).map_err(|e| as_model_file(e.context(label)))
    } else {
        read_legacy(bytes).map_err(|e| e.context(label))
    }
}

/// The zip reader's errors are data errors; in a `.pt` file they are about a model file.
fn as_model_file(e: Error) -> Error {
    match e {
        Error::Data(m) => Error::ModelFile(m),
        other => other,
    }
}

fn read_zip(archive: ZipArchive<'_>) -> Result<PtFile<'_>> {
    let pickles: Vec<&str> =
        archive.names().into_iter().filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl")).collect();
    let names = archive.names();
    if names.iter().any(|n| n.ends_with("constants.pkl") || n.contains("/code/")) {
        return Err(Error::model_file(
            "this is a TorchScript archive (torch.jit.save), which holds code; save the weights with \
             torch.save(model.state_dict(), path) instead",
        ));
    }
    let [pkl] = pickles[..] else {
        return Err(Error::model_file(format!(
            "a zip with {} data.pkl records is not a torch.save file; save it again with torch.save",
            pickles.len()
        )));
    };
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    if let Some(order) = archive.read(&format!("{prefix}byteorder")) {
        let order = order?;
        if order != b"little" {
            return Err(Error::model_file(format!(
                "its tensors are stored {}; convlab reads little-endian files: load it in PyTorch on this machine and save it again",
                String::from_utf8_lossy(&order)
            )));
        }
    }
    let data = archive.read(pkl).expect("listed")?;
    let (pickle, root, _) = unpickle(&data)?;
    Ok(PtFile { pickle, root, format: "zip", storages: Storages::Zip { archive, prefix } })
}

fn read_legacy(bytes: &[u8]) -> Result<PtFile<'_>> {
    let not_pt = || {
        Error::model_file(
            "not a PyTorch file: it is neither a zip (torch.save since 1.6) nor a legacy torch.save file; \
             is it the right file, and was it written completely?",
        )
    };
    let mut at = 0;
    let mut next = |what: &str| -> Result<(Pickle, Id)> {
        let (p, root, n) = unpickle(&bytes[at..]).map_err(|e| e.context(format!("its {what}")))?;
        at += n;
        Ok((p, root))
    };
    let (p, magic) = next("magic number").map_err(|_| not_pt())?;
    if p.int_of(magic) != Some(LEGACY_MAGIC) {
        return Err(not_pt());
    }
    let (p, proto) = next("protocol version")?;
    if p.int_of(proto) != Some(1001) {
        return Err(Error::model_file(format!(
            "legacy protocol version {}, not 1001; load it in PyTorch and save it again",
            p.describe(proto)
        )));
    }
    let (p, info) = next("system info")?;
    if let Value::Dict(d) = p.get(info) {
        if p.dict_get(d, "little_endian").is_some_and(|v| p.get(v) == &Value::Bool(false)) {
            return Err(Error::model_file(
                "it was written on a big-endian machine; load it in PyTorch and save it again",
            ));
        }
    }
    let (pickle, root) = next("object")?;
    let (kp, keys) = next("storage keys")?;
    let keys: Vec<String> = kp
        .items(keys)
        .ok_or_else(|| Error::model_file("its storage keys are not a list; the file is damaged"))?
        .iter()
        .map(|&k| kp.str_of(k).map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::model_file("a storage key is not text; the file is damaged"))?;
    // Element sizes from the storages the object names.
    let mut sizes = HashMap::new();
    for v in &pickle.values {
        if let Value::Storage(s) = v {
            sizes.insert(s.key.clone(), s.dtype.size());
        }
    }
    let mut storages = HashMap::new();
    for key in keys {
        let size = *sizes.get(&key).ok_or_else(|| {
            Error::model_file(format!("storage {key} is listed but no tensor uses it; the file is damaged"))
        })?;
        let truncated = || Error::model_file(format!("storage {key} ends past the end of the file (truncated?)"));
        let count = bytes.get(at..at + 8).ok_or_else(truncated)?;
        let count = u64::from_le_bytes(count.try_into().unwrap());
        let len = count.checked_mul(size as u64).and_then(|l| usize::try_from(l).ok()).ok_or_else(truncated)?;
        let start = at + 8;
        let data = start.checked_add(len).and_then(|end| bytes.get(start..end)).ok_or_else(truncated)?;
        at = start + len;
        storages.insert(key, data);
    }
    Ok(PtFile { pickle, root, format: "legacy", storages: Storages::Legacy(storages) })
}

/// A tensor's values, in its element type.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl PtFile<'_> {
    /// The bytes of storage `key`.
    fn storage_bytes(&self, key: &str) -> Result<std::borrow::Cow<'_, [u8]>> {
        let missing = || Error::model_file(format!("storage {key} is missing from the file; the file is damaged"));
        match &self.storages {
            Storages::Zip { archive, prefix } => {
                Ok(archive.read(&format!("{prefix}data/{key}")).ok_or_else(missing)??.into())
            }
            Storages::Legacy(map) => Ok((*map.get(key).ok_or_else(missing)?).into()),
        }
    }

    /// Reads a tensor (row-major, following its strides), as float32 (float16, bfloat16 and
    /// float32 storages), float64, or int64 (integer and bool storages).
    pub fn values(&self, t: &Tensor, name: &str) -> Result<TensorData> {
        let bad = |what: String| Error::model_file(format!("tensor {name}: {what}; the file is damaged"));
        let n = t.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).filter(|&n| n <= MAX_VALUES as u64);
        let n = n.ok_or_else(|| {
            Error::model_file(format!(
                "tensor {name} of shape {:?} has more than {MAX_VALUES} values; convlab is for small CNNs",
                t.shape
            ))
        })? as usize;
        let es = t.storage.dtype.size();
        let bytes = self.storage_bytes(&t.storage.key)?;
        let have = bytes.len() as u64 / es as u64;
        if t.storage.numel > have {
            return Err(bad(format!("its storage claims {} values but the file holds {have}", t.storage.numel)));
        }
        // The furthest element the view reaches.
        if n > 0 {
            let last = t
                .shape
                .iter()
                .zip(&t.stride)
                .try_fold(t.offset, |acc, (&d, &s)| acc.checked_add((d - 1).checked_mul(s)?));
            if last.is_none_or(|l| l >= t.storage.numel) {
                return Err(bad(format!(
                    "the view (offset {}, shape {:?}, strides {:?}) reaches past its storage of {} values",
                    t.offset, t.shape, t.stride, t.storage.numel
                )));
            }
        }
        // A broadcast view (stride 0) could claim far more values than the file holds.
        if n as u64 > t.storage.numel {
            return Err(Error::model_file(format!(
                "tensor {name} is a view of {n} values into a storage of {}; save tensor.contiguous() instead",
                t.storage.numel
            )));
        }
        let at = |i: usize| -> [u8; 8] {
            let mut b = [0; 8];
            b[..es].copy_from_slice(&bytes[i * es..(i + 1) * es]);
            b
        };
        let (shape, stride, base) = (&t.shape, &t.stride, t.offset as usize);
        let data = match t.storage.dtype {
            Dtype::F32 => {
                TensorData::F32(gather(shape, stride, base, n, |i| f32::from_le_bytes(at(i)[..4].try_into().unwrap())))
            }
            Dtype::F16 => TensorData::F32(gather(shape, stride, base, n, |i| {
                f16_to_f32(u16::from_le_bytes([at(i)[0], at(i)[1]]))
            })),
            Dtype::BF16 => TensorData::F32(gather(shape, stride, base, n, |i| {
                f32::from_bits((u16::from_le_bytes([at(i)[0], at(i)[1]]) as u32) << 16)
            })),
            Dtype::F64 => TensorData::F64(gather(shape, stride, base, n, |i| f64::from_le_bytes(at(i)))),
            Dtype::I64 => TensorData::I64(gather(shape, stride, base, n, |i| i64::from_le_bytes(at(i)))),
            Dtype::I32 => TensorData::I64(gather(shape, stride, base, n, |i| {
                i32::from_le_bytes(at(i)[..4].try_into().unwrap()) as i64
            })),
            Dtype::I16 => {
                TensorData::I64(gather(shape, stride, base, n, |i| i16::from_le_bytes([at(i)[0], at(i)[1]]) as i64))
            }
            Dtype::I8 => TensorData::I64(gather(shape, stride, base, n, |i| at(i)[0] as i8 as i64)),
            Dtype::U8 | Dtype::Bool => TensorData::I64(gather(shape, stride, base, n, |i| at(i)[0] as i64)),
        };
        Ok(data)
    }
}

/// The `n` elements of a view, in row-major order, `read` giving the element at a storage index.
fn gather<T>(shape: &[u64], stride: &[u64], base: usize, n: usize, read: impl Fn(usize) -> T) -> Vec<T> {
    fn walk<T>(shape: &[u64], stride: &[u64], base: usize, read: &impl Fn(usize) -> T, out: &mut Vec<T>) {
        match shape.split_first() {
            None => out.push(read(base)),
            Some((&d, rest)) => {
                for i in 0..d as usize {
                    walk(rest, &stride[1..], base + i * stride[0] as usize, read, out);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    walk(shape, stride, base, &read, &mut out);
    out
}

/// IEEE half precision to single (exact: every half is a float).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: value = frac · 2^-24.
            return if sign != 0 { -(frac as f32) * 2f32.powi(-24) } else { frac as f32 * 2f32.powi(-24) };
        }
        0x1f => sign | 0x7f80_0000 | frac << 13,
        e => sign | (e + 112) << 23 | frac << 13,
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert!(f16_to_f32(0x7c00).is_infinite() && f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn views_follow_strides() {
        // A transposed 3×2 block from offset 4.
        assert_eq!(gather(&[2, 3], &[1, 2], 4, 6, |i| i), [4, 6, 8, 5, 7, 9]);
        assert_eq!(gather(&[], &[], 7, 1, |i| i), [7]);
        assert!(gather(&[2, 0], &[1, 1], 0, 0, |i| i).is_empty());
    }

    /// A zip `.pt` whose one tensor is a `rows`×3 view (strides 3, 1) into a storage that claims
    /// `numel` values and holds 4.
    fn one_view(rows: u8, numel: u8) -> Vec<u8> {
        let mut pkl =
            b"\x80\x02}(X\x08\x00\x00\x000.weightctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage\
ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK"
                .to_vec();
        pkl.extend_from_slice(&[numel, b't', b'Q', b'K', 0, b'K', rows, b'K', 3, 0x86, b'K', 3, b'K', 1, 0x86, 0x89]);
        pkl.extend_from_slice(b")tRu.");
        let data: Vec<u8> = [1f32, 2., 3., 4.].iter().flat_map(|v| v.to_le_bytes()).collect();
        crate::data::npz_write::stored_zip(&[("a/data.pkl", &pkl), ("a/data/0", &data)], 64).unwrap()
    }

    fn read_view(bytes: &[u8]) -> Result<TensorData> {
        let f = read_pt(bytes, "v.pt")?;
        let Value::Dict(d) = f.pickle.get(f.root) else { panic!() };
        let Value::Tensor(t) = f.pickle.get(f.pickle.dict_get(d, "0.weight").unwrap()) else { panic!() };
        f.values(t, "0.weight")
    }

    #[test]
    fn views_must_lie_inside_storages_inside_the_file() {
        assert_eq!(read_view(&one_view(1, 4)).unwrap(), TensorData::F32(vec![1., 2., 3.]));
        let e = read_view(&one_view(2, 4)).unwrap_err().to_string();
        assert!(e.contains("reaches past its storage of 4 values"), "{e}");
        let e = read_view(&one_view(1, 8)).unwrap_err().to_string();
        assert!(e.contains("claims 8 values but the file holds 4"), "{e}");
    }

    #[test]
    fn not_a_pt_file() {
        for b in [&b""[..], b"hello", b"PK\x03\x04rest"] {
            assert!(read_pt(b, "x.pt").is_err());
        }
        assert!(looks_like_pt(b"PK\x03\x04") && !looks_like_pt(b"{}"));
    }
}
