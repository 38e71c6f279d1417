//! The NumPy `.npy` format: one array — magic, a header dict (`descr`, `fortran_order`,
//! `shape`), then the little-endian elements in C order. Reading accepts format versions 1.0
//! to 3.0 and the dtypes convlab uses; writing produces version 1.0, as `np.save` does.

use crate::error::{Error, Result};

/// The elements of an `.npy` array, in one of the supported little-endian dtypes.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl NpyData {
    /// The NumPy name of the dtype, e.g. `float32`.
    pub fn dtype(&self) -> &'static str {
        match self {
            NpyData::U8(_) => "uint8",
            NpyData::I32(_) => "int32",
            NpyData::I64(_) => "int64",
            NpyData::F32(_) => "float32",
            NpyData::F64(_) => "float64",
        }
    }
}

/// A C-ordered `.npy` array.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

/// The dtypes read, with their `descr` spellings and sizes.
const DTYPES: [(&str, usize); 6] = [("|u1", 1), ("<u1", 1), ("<i4", 4), ("<i8", 8), ("<f4", 4), ("<f8", 8)];

/// A value in the header dict; only what `.npy` headers hold.
#[derive(Debug, PartialEq)]
enum HeaderValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the Python dict literal of a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(s: &str) -> Result<Vec<(String, HeaderValue)>> {
    let b = s.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> Result<String> {
        let q = b[*i];
        let start = *i + 1;
        let end = b[start..].iter().position(|&c| c == q).ok_or_else(|| Error::data("unterminated string"))?;
        *i = start + end + 1;
        Ok(s[start..start + end].to_string())
    };
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return Err(Error::data("header is not a dict"));
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        ws(&mut i);
        match b.get(i) {
            Some(b'}') => return Ok(out),
            Some(b'\'' | b'"') => {}
            _ => return Err(Error::data("expected a quoted key")),
        }
        let key = string(&mut i)?;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return Err(Error::data(format!("expected ':' after '{key}'")));
        }
        i += 1;
        ws(&mut i);
        let value = match b.get(i) {
            Some(b'\'' | b'"') => HeaderValue::Str(string(&mut i)?),
            Some(b'T') if s[i..].starts_with("True") => {
                i += 4;
                HeaderValue::Bool(true)
            }
            Some(b'F') if s[i..].starts_with("False") => {
                i += 5;
                HeaderValue::Bool(false)
            }
            Some(b'(') => {
                let end = i + s[i..].find(')').ok_or_else(|| Error::data("unterminated tuple"))?;
                let dims = s[i + 1..end]
                    .split(',')
                    .map(|t| t.trim().trim_end_matches('L'))
                    .filter(|t| !t.is_empty())
                    .map(|t| t.parse::<usize>().map_err(|_| Error::data(format!("bad dimension '{t}'"))))
                    .collect::<Result<Vec<_>, _>>()?;
                i = end + 1;
                HeaderValue::Tuple(dims)
            }
            Some(b'[') => return Err(Error::data(format!("'{key}' is a structured (record) dtype"))),
            _ => return Err(Error::data(format!("unexpected value for '{key}'"))),
        };
        out.push((key, value));
        ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {}
            _ => return Err(Error::data("expected ',' or '}'")),
        }
    }
}

/// Parses one `.npy` file (format versions 1.0, 2.0 and 3.0). `name` is used in messages.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<NpyArray> {
    let err = |what: &str| Error::data(format!("{name}: {what}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(err("not a NumPy .npy array (bad magic); save arrays with numpy.savez"));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => {
            return Err(err(&format!(
                ".npy format version {v}.{} is not supported; save with numpy.save (version 1.0 \
                 or 2.0)",
                bytes[7]
            )))
        }
    };
    let header = bytes
        .get(start..start.saturating_add(header_len))
        .ok_or_else(|| err("truncated .npy header; the file is incomplete"))?;
    let header = std::str::from_utf8(header).map_err(|_| err(".npy header is not text; the file is damaged"))?;
    let fields = parse_header(header).map_err(|e| err(&format!("unreadable .npy header ({e}): {}", header.trim())))?;
    let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let descr = match get("descr") {
        Some(HeaderValue::Str(d)) => d.as_str(),
        _ => return Err(err(".npy header lacks 'descr'; the file is damaged")),
    };
    match get("fortran_order") {
        Some(HeaderValue::Bool(false)) => {}
        Some(HeaderValue::Bool(true)) => {
            return Err(err("array is stored in Fortran (column-major) order; save \
                 numpy.ascontiguousarray(arr) instead"))
        }
        _ => return Err(err(".npy header lacks 'fortran_order'")),
    }
    let shape = match get("shape") {
        Some(HeaderValue::Tuple(s)) => s.clone(),
        _ => return Err(err(".npy header lacks 'shape'")),
    };
    let Some(&(_, size)) = DTYPES.iter().find(|(d, _)| *d == descr) else {
        let hint = if descr.starts_with('>') {
            "it is big-endian; save arr.astype(arr.dtype.newbyteorder('<'))"
        } else {
            "use uint8, float32 or float64 for X and int64, int32, uint8 or a float for y"
        };
        return Err(err(&format!("dtype '{descr}' is not supported: {hint}")));
    };
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|c| c.checked_mul(size))
        .ok_or_else(|| err(&format!("shape {shape:?} is impossibly large")))?;
    let data = &bytes[start + header_len..];
    if data.len() != count {
        return Err(err(&format!(
            "shape {shape:?} of {descr} needs {count} bytes but the array holds {}; the file is \
             damaged",
            data.len()
        )));
    }
    macro_rules! typed {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n).map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; $n]))).collect()
        };
    }
    let data = match &descr[1..] {
        "u1" => NpyData::U8(data.to_vec()),
        "i4" => NpyData::I32(typed!(i32, 4)),
        "i8" => NpyData::I64(typed!(i64, 8)),
        "f4" => NpyData::F32(typed!(f32, 4)),
        _ => NpyData::F64(typed!(f64, 8)),
    };
    Ok(NpyArray { shape, data })
}

/// The `.npy` bytes of an array: magic, version 1.0, a header padded to 64 bytes, the data.
pub fn npy_bytes(a: &NpyArray) -> Vec<u8> {
    let (descr, data): (&str, Vec<u8>) = match &a.data {
        NpyData::U8(v) => ("|u1", v.clone()),
        NpyData::I32(v) => ("<i4", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        NpyData::I64(v) => ("<i8", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        NpyData::F32(v) => ("<f4", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        NpyData::F64(v) => ("<f8", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    // Python's tuple spelling: `(5,)` for one dimension, `()` for a scalar.
    let dims: Vec<String> = a.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // numpy pads with spaces and ends with a newline so the data starts 64-byte aligned.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(data);
    out
}

/// The bytes of a version-1.0 `.npy` file with any `descr` (tests build bad ones too).
#[cfg(test)]
pub(crate) fn npy_v1(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(data);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_errors() {
        let good = npy_v1("<f4", "(1, 4)", &[0; 16]);
        assert!(parse_npy(&good, "a").is_ok());
        let mut f = good.clone();
        let at = f.windows(5).position(|w| w == b"False").unwrap();
        f[at..at + 5].copy_from_slice(b"True ");
        let e = parse_npy(&f, "a").unwrap_err().to_string();
        assert!(e.contains("Fortran"), "{e}");

        let e = parse_npy(b"not numpy at all", "a").unwrap_err().to_string();
        assert!(e.contains("not a NumPy"), "{e}");
        let mut v = good.clone();
        v[6] = 9;
        let e = parse_npy(&v, "a").unwrap_err().to_string();
        assert!(e.contains("version 9.0"), "{e}");
        let e = parse_npy(&good[..good.len() - 1], "a").unwrap_err().to_string();
        assert!(e.contains("needs 16 bytes but the array holds 15"), "{e}");
        let e = parse_npy(&good[..20], "a").unwrap_err().to_string();
        assert!(e.contains("truncated .npy header"), "{e}");

        let mut s = good.clone();
        let at = s.windows(7).position(|w| w == b"'descr'").unwrap();
        s[at + 9..at + 14].copy_from_slice(b"[('a'");
        let e = parse_npy(&s, "a").unwrap_err().to_string();
        assert!(e.contains("structured"), "{e}");
    }

    #[test]
    fn npy_version_2() {
        let h = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n";
        let mut v = b"\x93NUMPY\x02\x00".to_vec();
        v.extend_from_slice(&(h.len() as u32).to_le_bytes());
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(&[7, 0, 0, 0, 1, 0, 0, 0]);
        let a = parse_npy(&v, "v2").unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.data, NpyData::I32(vec![7, 1]));
    }

    #[test]
    fn header_parser() {
        let h = parse_header("{'descr': '|u1', 'fortran_order': False, 'shape': (3L, 4), }").unwrap();
        assert_eq!(h[2].1, HeaderValue::Tuple(vec![3, 4]));
        assert_eq!(parse_header("{\"shape\": ()}").unwrap()[0].1, HeaderValue::Tuple(vec![]));
        for bad in ["", "[]", "{'a' 1}", "{'a': (1, x)}", "{'a': 'b'", "{'a': None}"] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn npy_headers_are_aligned_and_read_back() {
        for shape in [vec![3], vec![2, 3], vec![1, 2, 3]] {
            let n: usize = shape.iter().product();
            let a = NpyArray { shape: shape.clone(), data: NpyData::F32((0..n).map(|i| i as f32).collect()) };
            let b = npy_bytes(&a);
            let header_len = u16::from_le_bytes([b[8], b[9]]) as usize;
            assert_eq!((10 + header_len) % 64, 0);
            assert_eq!(parse_npy(&b, "a").unwrap(), a);
        }
        let one = npy_bytes(&NpyArray { shape: vec![5], data: NpyData::I64(vec![0; 5]) });
        assert!(String::from_utf8_lossy(&one).contains("'shape': (5,)"));
    }
}
