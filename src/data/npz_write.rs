//! Writes `.npz` archives that `numpy.load` (and convlab's reader) open: one `.npy` (format
//! 1.0) per array, in a zip of stored (uncompressed) entries — what `np.savez` writes, minus
//! zip64, so archives are limited to 4 GB. The zip writer itself, [`stored_zip`], also writes
//! PyTorch's `.pt` archives (with their 64-byte alignment).

use super::npy::{npy_bytes, NpyArray};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use std::path::Path;

/// The bytes of an `.npz` file (a stored, uncompressed zip) holding `arrays` as `NAME.npy`.
pub fn npz_bytes(arrays: &[(&str, &NpyArray)]) -> Result<Vec<u8>> {
    let members: Vec<(String, Vec<u8>)> = arrays.iter().map(|(n, a)| (format!("{n}.npy"), npy_bytes(a))).collect();
    let members: Vec<(&str, &[u8])> = members.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    stored_zip(&members, 1)
}

/// A zip of stored (uncompressed) members, in the given order. With `align` > 1 each member's
/// data starts at a multiple of `align` bytes, padded by an extra field in its local header as
/// PyTorch's writer does (`FB` and `Z`s: `torch.load` of a `.pt` file expects 64).
pub fn stored_zip(members: &[(&str, &[u8])], align: usize) -> Result<Vec<u8>> {
    const DOS_DATE: u16 = 0x21; // 1980-01-01: fixed, so the same arrays give the same bytes
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let (size, offset) = (u32::try_from(data.len()), u32::try_from(out.len()));
        let (Ok(size), Ok(offset)) = (size, offset) else {
            return Err(Error::data(format!("member {name} does not fit a zip without zip64 (4 GB); save less data")));
        };
        let unpadded = out.len() + 30 + name.len();
        let pad = if align > 1 { (align - (unpadded + 4) % align) % align } else { 0 };
        let extra_len = if align > 1 { 4 + pad } else { 0 };
        // Fields shared by the local header and the central directory entry, from "version needed".
        let mut common = Vec::new();
        for v in [20u16, 0, 0, 0, DOS_DATE] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc.sum(), size, size] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(&(extra_len as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        if align > 1 {
            out.extend_from_slice(b"FB");
            out.extend_from_slice(&(pad as u16).to_le_bytes());
            out.resize(out.len() + pad, b'Z');
        }
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        central.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        central.extend_from_slice(&[0; 10]); // comment length, disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).map_err(|_| Error::data("the archive exceeds 4 GB; save less data"))?;
    let count =
        u16::try_from(members.len()).map_err(|_| Error::data("more than 65535 members need zip64; save fewer"))?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
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
    use crate::data::npy::NpyData;
    use crate::data::npz::npz_from_bytes;
    use crate::data::zip::ZipArchive;
    use crate::data::Targets;

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

    #[test]
    fn aligned_members_start_at_multiples_and_read_back() {
        let members: [(&str, &[u8]); 3] =
            [("a/data.pkl", b"xyz"), ("a/data/0", &[7; 100]), ("a/version", b"VERSION 3\n")];
        let bytes = stored_zip(&members, 64).unwrap();
        let zip = ZipArchive::parse(&bytes, "t.pt").unwrap();
        for (name, data) in members {
            assert_eq!(zip.read(name).unwrap().unwrap(), data);
            let at = bytes.windows(data.len()).position(|w| w == data).unwrap();
            assert_eq!(at % 64, 0, "{name} starts at {at}");
        }
    }
}
