//! Writes `.npz` archives that `numpy.load` (and convlab's reader) open: one `.npy` (format
//! 1.0) per array, in a zip of stored (uncompressed) entries — what `np.savez` writes, minus
//! zip64, so archives are limited to 4 GB.

use super::npz::{NpyArray, NpyData};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use std::path::Path;

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

/// A zip of stored entries `NAME.npy`, in the given order.
pub fn npz_bytes(arrays: &[(&str, &NpyArray)]) -> Result<Vec<u8>> {
    const DOS_DATE: u16 = 0x21; // 1980-01-01: fixed, so the same arrays give the same bytes
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, array) in arrays {
        let data = npy_bytes(array);
        let name = format!("{name}.npy");
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        let (size, offset) = (u32::try_from(data.len()), u32::try_from(out.len()));
        let (Ok(size), Ok(offset)) = (size, offset) else {
            return Err(Error::data(format!("array {name} does not fit a zip without zip64 (4 GB); save less data")));
        };
        // Fields shared by the local header and the central directory entry, from "version needed".
        let mut common = Vec::new();
        for v in [20u16, 0, 0, 0, DOS_DATE] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc.sum(), size, size] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        central.extend_from_slice(&[0; 10]); // comment length, disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).map_err(|_| Error::data("the archive exceeds 4 GB; save less data"))?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// Writes `arrays` to `path` atomically.
pub fn write_npz(path: &Path, arrays: &[(&str, &NpyArray)]) -> Result<()> {
    write_atomic(path, &npz_bytes(arrays)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npz::{npz_from_bytes, parse_npy};
    use crate::data::zip::ZipArchive;
    use crate::data::Targets;

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

    #[test]
    fn npz_round_trips_through_the_reader() {
        let x = NpyArray { shape: vec![4, 2, 5], data: NpyData::F32((0..40).map(|i| i as f32 / 3.0).collect()) };
        let y = NpyArray { shape: vec![4], data: NpyData::F32(vec![1.0, -2.0, 3.5, 0.0]) };
        let bytes = npz_bytes(&[("X", &x), ("y", &y)]).unwrap();
        let zip = ZipArchive::parse(&bytes, "t.npz").unwrap();
        assert_eq!(zip.names(), ["X.npy", "y.npy"]);
        let ds = npz_from_bytes(&bytes, "t.npz", "t".into()).unwrap();
        assert_eq!(ds.sample_shape, [2, 5]);
        assert_eq!(
            ds.x,
            match x.data {
                NpyData::F32(v) => v,
                _ => unreachable!(),
            }
        );
        assert_eq!(ds.targets, Targets::Values { values: vec![1.0, -2.0, 3.5, 0.0], width: 1 });
    }
}
