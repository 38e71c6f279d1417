//! A minimal zip reader: just enough for `.npz` files (and PyTorch's zip `.pt` files, which are
//! stored entries too; [`ZipKind`] words the messages for either).
//!
//! `np.savez` writes stored entries and `np.savez_compressed` deflated ones, always through
//! Python's `zipfile` with zip64 extras in the local headers. Reading those needs the central
//! directory, stored and deflate entries, and zip64 sizes — about 200 lines over `flate2`
//! (already a dependency), instead of the `zip` crate and its dependency tree. Encryption,
//! multi-disk archives and other compression methods are rejected with a clear message.

use std::io::Read;

use flate2::read::DeflateDecoder;

use crate::error::{Error, Result};

/// One member of the archive, as the central directory describes it.
#[derive(Clone, Debug)]
pub struct ZipEntry {
    pub name: String,
    method: u16,
    flags: u16,
    crc: u32,
    compressed_size: u64,
    size: u64,
    header_offset: u64,
}

/// An archive held in memory. `label` (the file name) is used in messages.
#[derive(Debug)]
pub struct ZipArchive<'a> {
    bytes: &'a [u8],
    label: String,
    kind: ZipKind,
    pub entries: Vec<ZipEntry>,
}

/// What kind of file a zip is, for messages: its name and how to write it again.
#[derive(Clone, Copy, Debug)]
pub struct ZipKind {
    /// E.g. `zip/.npz`.
    pub format: &'static str,
    /// E.g. `re-save it with numpy.savez or numpy.savez_compressed`.
    pub resave: &'static str,
}

/// `.npz` files.
pub const NPZ: ZipKind =
    ZipKind { format: "zip/.npz", resave: "re-save it with numpy.savez or numpy.savez_compressed" };

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = u32_at(b, at)? as u64;
    let hi = u32_at(b, at.checked_add(4)?)? as u64;
    Some(lo | hi << 32)
}

const EOCD: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_EOCD: u32 = 0x0606_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

impl<'a> ZipArchive<'a> {
    /// Reads the central directory of `bytes`, an `.npz` file.
    pub fn parse(bytes: &'a [u8], label: &str) -> Result<Self> {
        Self::parse_as(bytes, label, NPZ)
    }

    /// Reads the central directory of `bytes`, a zip of the given kind.
    pub fn parse_as(bytes: &'a [u8], label: &str, kind: ZipKind) -> Result<Self> {
        let corrupt = |what: &str| {
            Error::data(format!(
                "{label}: not a valid {} file ({what}); is it the right file, and was it \
                 written completely? If so, {}",
                kind.format, kind.resave
            ))
        };
        // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
        let lowest = bytes.len().saturating_sub(22 + 65_535);
        let eocd = (lowest..=bytes.len().saturating_sub(22))
            .rev()
            .find(|&i| u32_at(bytes, i) == Some(EOCD))
            .ok_or_else(|| corrupt("no end-of-central-directory record"))?;
        let r = |o: usize| u16_at(bytes, eocd + o).unwrap_or(0);
        if r(4) != 0 || r(6) != 0 {
            return Err(corrupt("multi-disk archives are not supported"));
        }
        let mut count = r(10) as u64;
        let mut cd_offset = u32_at(bytes, eocd + 16).unwrap_or(0) as u64;
        if count == 0xFFFF || cd_offset == 0xFFFF_FFFF {
            let loc = eocd
                .checked_sub(20)
                .filter(|&l| u32_at(bytes, l) == Some(ZIP64_LOCATOR))
                .ok_or_else(|| corrupt("zip64 locator missing"))?;
            let z = u64_at(bytes, loc + 8).ok_or_else(|| corrupt("bad zip64 locator"))? as usize;
            if u32_at(bytes, z) != Some(ZIP64_EOCD) {
                return Err(corrupt("bad zip64 end record"));
            }
            count = u64_at(bytes, z + 32).ok_or_else(|| corrupt("bad zip64 end record"))?;
            cd_offset = u64_at(bytes, z + 48).ok_or_else(|| corrupt("bad zip64 end record"))?;
        }
        let mut entries = Vec::new();
        let mut at = usize::try_from(cd_offset).map_err(|_| corrupt("bad directory offset"))?;
        for _ in 0..count {
            if u32_at(bytes, at) != Some(CENTRAL) {
                return Err(corrupt("damaged central directory"));
            }
            let f16 = |o: usize| u16_at(bytes, at + o).ok_or_else(|| corrupt("truncated directory"));
            let f32_ = |o: usize| u32_at(bytes, at + o).ok_or_else(|| corrupt("truncated directory"));
            let (flags, method) = (f16(8)?, f16(10)?);
            let crc = f32_(16)?;
            let mut compressed_size = f32_(20)? as u64;
            let mut size = f32_(24)? as u64;
            let (name_len, extra_len, comment_len) = (f16(28)? as usize, f16(30)? as usize, f16(32)? as usize);
            let mut header_offset = f32_(42)? as u64;
            let name_at = at + 46;
            let name = bytes.get(name_at..name_at + name_len).ok_or_else(|| corrupt("truncated directory"))?;
            let name = String::from_utf8_lossy(name).into_owned();
            let extra = bytes
                .get(name_at + name_len..name_at + name_len + extra_len)
                .ok_or_else(|| corrupt("truncated directory"))?;
            // Zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
            let mut e = 0;
            while e + 4 <= extra.len() {
                let (id, len) = (u16_at(extra, e).unwrap_or(0), u16_at(extra, e + 2).unwrap_or(0));
                if id == 0x0001 {
                    let mut p = e + 4;
                    for field in [&mut size, &mut compressed_size, &mut header_offset] {
                        if *field == 0xFFFF_FFFF {
                            *field = u64_at(extra, p).ok_or_else(|| corrupt("bad zip64 extra"))?;
                            p += 8;
                        }
                    }
                }
                e += 4 + len as usize;
            }
            if entries.iter().any(|e: &ZipEntry| e.name == name) {
                // numpy would read the last, a first-match reader the first: refuse to guess.
                return Err(Error::data(format!(
                    "{label}: holds two members named {name}; which one is meant is ambiguous \
                     (numpy takes the last): {}, each member once",
                    kind.resave
                )));
            }
            entries.push(ZipEntry { name, method, flags, crc, compressed_size, size, header_offset });
            at = name_at + name_len + extra_len + comment_len;
        }
        Ok(ZipArchive { bytes, label: label.to_string(), kind, entries })
    }

    /// The names of the members, in archive order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// The decompressed contents of the member called `name`, or `None` if there is none.
    pub fn read(&self, name: &str) -> Option<Result<Vec<u8>>> {
        let entry = self.entries.iter().find(|e| e.name == name)?;
        Some(self.extract(entry))
    }

    fn extract(&self, e: &ZipEntry) -> Result<Vec<u8>> {
        let bad = |what: &str| {
            Error::data(format!("{}: member {}: {what}; the file is damaged: {}", self.label, e.name, self.kind.resave))
        };
        if e.flags & 1 != 0 {
            return Err(Error::data(format!(
                "{}: member {} is encrypted; save the arrays without a password",
                self.label, e.name
            )));
        }
        crate::data::limits::check_data_bytes(
            &format!("{}: member {}, by its declared size,", self.label, e.name),
            Some(e.size),
        )?;
        let h = usize::try_from(e.header_offset).map_err(|_| bad("bad offset"))?;
        if u32_at(self.bytes, h) != Some(LOCAL) {
            return Err(bad("local header missing"));
        }
        let n = u16_at(self.bytes, h + 26).ok_or_else(|| bad("truncated"))? as usize;
        let x = u16_at(self.bytes, h + 28).ok_or_else(|| bad("truncated"))? as usize;
        let start = h + 30 + n + x;
        let len = usize::try_from(e.compressed_size).map_err(|_| bad("bad size"))?;
        let data =
            start.checked_add(len).and_then(|end| self.bytes.get(start..end)).ok_or_else(|| bad("truncated data"))?;
        let out = match e.method {
            0 => data.to_vec(),
            8 => {
                // Never trust the declared size for the allocation beyond a sane bound, and stop
                // one byte past it so an over-long stream is caught without inflating it all.
                // (Deflate expands at most 1032:1.)
                let cap = e.size.min(e.compressed_size.saturating_mul(1032));
                let mut out = Vec::with_capacity(usize::try_from(cap).unwrap_or(0));
                DeflateDecoder::new(data)
                    .take(e.size.saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|err| bad(&format!("corrupt deflate data ({err})")))?;
                out
            }
            m => {
                return Err(Error::data(format!(
                    "{}: member {} uses zip compression method {m}, but only stored (0) and \
                     deflate (8) are supported; {}",
                    self.label, e.name, self.kind.resave
                )))
            }
        };
        if out.len() as u64 != e.size {
            return Err(bad(&format!("holds {} bytes, the directory says {}", out.len(), e.size)));
        }
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        if crc.sum() != e.crc {
            return Err(bad("checksum mismatch"));
        }
        Ok(out)
    }
}

/// Test helper: builds a zip the way Python's `zipfile` does for numpy (zip64 extras with
/// 0xFFFFFFFF sizes in local headers, real sizes in the central directory).
#[cfg(test)]
pub(crate) fn build_zip(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let body = if deflate {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        } else {
            data.to_vec()
        };
        let method: u16 = if deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let mut local = Vec::new();
        local.extend_from_slice(&LOCAL.to_le_bytes());
        local.extend_from_slice(&45u16.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(&method.to_le_bytes());
        local.extend_from_slice(&[0; 4]);
        local.extend_from_slice(&crc.sum().to_le_bytes());
        local.extend_from_slice(&[0xFF; 8]);
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&20u16.to_le_bytes());
        local.extend_from_slice(name.as_bytes());
        local.extend_from_slice(&1u16.to_le_bytes());
        local.extend_from_slice(&16u16.to_le_bytes());
        local.extend_from_slice(&(data.len() as u64).to_le_bytes());
        local.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend(local);
        out.extend_from_slice(&body);

        central.extend_from_slice(&CENTRAL.to_le_bytes());
        central.extend_from_slice(&[45, 3, 45, 0, 0, 0]);
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0; 4]);
        central.extend_from_slice(&crc.sum().to_le_bytes());
        central.extend_from_slice(&(body.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_len = central.len() as u32;
    out.extend(central);
    out.extend_from_slice(&EOCD.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_deflated_roundtrip() {
        let big: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        for deflate in [false, true] {
            let z = build_zip(&[("a.npy", b"hello"), ("b.npy", &big)], deflate);
            let a = ZipArchive::parse(&z, "t.npz").unwrap();
            assert_eq!(a.names(), vec!["a.npy", "b.npy"]);
            assert_eq!(a.read("a.npy").unwrap().unwrap(), b"hello");
            assert_eq!(a.read("b.npy").unwrap().unwrap(), big);
            assert!(a.read("c.npy").is_none());
        }
    }

    #[test]
    fn not_a_zip() {
        for bytes in [&b""[..], b"PK", &[7u8; 100]] {
            let e = ZipArchive::parse(bytes, "x.npz").unwrap_err().to_string();
            assert!(e.contains("x.npz: not a valid zip/.npz file"), "{e}");
        }
    }

    #[test]
    fn truncated_archive() {
        let z = build_zip(&[("a.npy", &[1u8; 300])], true);
        // Cutting off the end loses the directory; cutting the middle breaks offsets.
        assert!(ZipArchive::parse(&z[..z.len() - 3], "t").is_err());
        let mut cut = z[..20].to_vec();
        cut.extend_from_slice(&z[40..]);
        let r = ZipArchive::parse(&cut, "t").and_then(|a| a.read("a.npy").unwrap());
        assert!(r.is_err());
    }

    #[test]
    fn corrupt_data_fails_checksum_or_inflate() {
        for deflate in [false, true] {
            let mut z = build_zip(&[("a.npy", &[5u8; 200])], deflate);
            z[60] ^= 0x55; // inside the member's data
            let a = ZipArchive::parse(&z, "t.npz").unwrap();
            let e = a.read("a.npy").unwrap().unwrap_err().to_string();
            assert!(e.contains("t.npz: member a.npy"), "{e}");
        }
    }

    #[test]
    fn duplicate_members_are_refused() {
        let z = build_zip(&[("X.npy", b"a"), ("X.npy", b"b")], false);
        let e = ZipArchive::parse(&z, "d.npz").unwrap_err().to_string();
        assert!(e.contains("two members named X.npy"), "{e}");
    }

    /// A member declaring 6 GB is refused before inflating; one declaring less than it
    /// inflates to stops one byte past the declaration.
    #[test]
    fn declared_sizes_bound_inflation() {
        let zeros = vec![0u8; 8 << 20];
        let z = build_zip(&[("X.npy", &zeros)], true);
        let cd = z.len() - 22 - 46 - 5;
        // The same member, its directory entry declaring 6 GB through a zip64 extra field.
        let mut big = z[..cd].to_vec();
        let mut entry = z[cd..cd + 46 + 5].to_vec();
        entry[24..28].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        entry[30..32].copy_from_slice(&12u16.to_le_bytes());
        entry.extend_from_slice(&[1, 0, 8, 0]);
        entry.extend_from_slice(&(6u64 << 30).to_le_bytes());
        big.extend_from_slice(&entry);
        let mut eocd = z[z.len() - 22..].to_vec();
        eocd[12..16].copy_from_slice(&(entry.len() as u32).to_le_bytes());
        big.extend_from_slice(&eocd);
        let e = ZipArchive::parse(&big, "b.npz").unwrap().read("X.npy").unwrap().unwrap_err().to_string();
        assert!(e.contains("6.0 GiB") && e.contains("CONVLAB_MAX_DATA_BYTES"), "{e}");
        let mut z = build_zip(&[("X.npy", &zeros)], true);
        z[cd + 24..cd + 28].copy_from_slice(&100u32.to_le_bytes());
        let e = ZipArchive::parse(&z, "b.npz").unwrap().read("X.npy").unwrap().unwrap_err().to_string();
        assert!(e.contains("holds 101 bytes, the directory says 100"), "{e}");
    }

    #[test]
    fn unsupported_method_and_encryption() {
        let mut z = build_zip(&[("a.npy", b"abc")], false);
        let cd = z.len() - 22 - 46 - 5;
        z[cd + 10] = 14; // LZMA
        let a = ZipArchive::parse(&z, "t").unwrap();
        let e = a.read("a.npy").unwrap().unwrap_err().to_string();
        assert!(e.contains("method 14"), "{e}");
        z[cd + 10] = 0;
        z[cd + 8] = 1;
        let a = ZipArchive::parse(&z, "t").unwrap();
        let e = a.read("a.npy").unwrap().unwrap_err().to_string();
        assert!(e.contains("encrypted"), "{e}");
    }
}
