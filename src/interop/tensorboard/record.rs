//! TFRecord framing, the container of TensorBoard's event files: each record is its length
//! (u64, little-endian), the masked CRC-32C of those 8 bytes, the payload, and the masked CRC-32C
//! of the payload.

use crate::error::{Error, Result};

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup per byte: event
/// files are small.
pub fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !bytes.iter().fold(!0u32, |c, &b| TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8))
}

/// The masked CRC TFRecord stores (a CRC of data that itself holds CRCs is still checkable).
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let c = crc32c(bytes);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// `payload` as one framed record.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
    out
}

/// The payloads of the records in `bytes`, every CRC checked. A last record cut short (a file
/// still being written) is left out; anything else wrong is an error naming the record.
pub fn unframe(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = vec![];
    let mut at = 0;
    while at < bytes.len() {
        let bad = |what: &str| Error::data(format!("record {} (byte {at}) of the event file: {what}", out.len()));
        if bytes.len() - at < 12 {
            break;
        }
        let len_bytes = &bytes[at..at + 8];
        let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        if masked_crc(len_bytes) != crc {
            return Err(bad("the length's CRC does not match; the file is damaged"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let rest = (bytes.len() - at - 12) as u64;
        if len.checked_add(4).is_none_or(|need| need > rest) {
            break;
        }
        let payload = &bytes[at + 12..at + 12 + len as usize];
        let end = at + 12 + len as usize;
        let crc = u32::from_le_bytes(bytes[end..end + 4].try_into().expect("4 bytes"));
        if masked_crc(payload) != crc {
            return Err(bad("the payload's CRC does not match; the file is damaged"));
        }
        out.push(payload);
        at = end + 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_has_the_published_check_values() {
        // RFC 3720's check value and its 32-byte test vectors.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
    }

    #[test]
    fn records_read_back_and_damage_is_found() {
        let mut file = frame(b"first");
        file.extend(frame(b""));
        file.extend(frame(&[7u8; 300]));
        let back = unframe(&file).unwrap();
        assert_eq!(back, [b"first".as_slice(), b"", &[7u8; 300]]);
        // A record cut short at the end is one still being written.
        assert_eq!(unframe(&file[..file.len() - 3]).unwrap().len(), 2);
        let mut damaged = file.clone();
        damaged[14] ^= 1;
        let e = unframe(&damaged).unwrap_err().to_string();
        assert!(e.contains("record 0") && e.contains("payload's CRC"), "{e}");
        let mut damaged = file;
        damaged[0] ^= 0x40;
        assert!(unframe(&damaged).unwrap_err().to_string().contains("length's CRC"));
    }
}
