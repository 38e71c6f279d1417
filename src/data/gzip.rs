//! Transparent gzip: data files come both compressed (`.gz`, as distributed) and raw.
//!
//! Detection is by content (the 0x1f 0x8b magic), not by file name, so a renamed file still
//! loads and a `.gz` name on a raw file is no trap.

use std::io::{self, Read};
use std::sync::mpsc;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// Whether `bytes` start with the gzip magic.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Returns `bytes` decompressed when they are gzip, unchanged otherwise.
///
/// `name` is only used in messages. Concatenated gzip members are decoded as one stream (as
/// `gunzip` does); anything after the last member that is not gzip is an error, as is a
/// truncated stream or a CRC mismatch.
pub fn maybe_gunzip(bytes: Vec<u8>, name: &str) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(size_hint(&bytes));
    MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).map_err(|e| gzip_error(name, &e))?;
    Ok(out)
}

/// The first `max` decompressed bytes of `bytes` (gzip or raw), and whether there is more.
///
/// Inflation stops one byte past `max`, so a decompression bomb costs at most `max` bytes of
/// memory and the time to inflate them, whatever it would expand to.
pub fn gunzip_at_most(bytes: &[u8], name: &str, max: usize) -> Result<(Vec<u8>, bool)> {
    if !is_gzip(bytes) {
        return Ok((bytes[..bytes.len().min(max)].to_vec(), bytes.len() > max));
    }
    let mut out = Vec::with_capacity(size_hint(bytes).min(max));
    MultiGzDecoder::new(bytes)
        .take((max as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| gzip_error(name, &e))?;
    let more = out.len() > max;
    out.truncate(max);
    Ok((out, more))
}

fn gzip_error(name: &str, e: &io::Error) -> Error {
    Error::data(format!(
        "{name}: corrupt or truncated gzip data ({e}); the download may be incomplete: fetch \
         the file again (check `gzip -t {name}`)"
    ))
}

/// Streaming chunk size: large enough to amortise hand-offs, small enough to stay in cache.
const CHUNK: usize = 1 << 18;

/// Reads from `dec` until `buf` is full or the stream ends; returns the bytes read (fewer than
/// `buf.len()` only at the end).
fn fill(dec: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match dec.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Feeds the decompressed contents of `bytes` (gzip or raw) to `sink`, chunk by chunk.
///
/// Gzip is inflated on a helper thread while `sink` works on the previous chunk, so for a big
/// file the caller's conversion costs almost nothing on top of inflation, and the decompressed
/// bytes are never held whole. Raw data go to `sink` in one piece, gzip under 1 MiB is inflated
/// on this thread, chunk by chunk. An error from `sink` stops the stream (and the inflation)
/// and is returned, so a sink that refuses data past what it expects bounds a bomb's cost.
pub fn stream_gunzip(bytes: &[u8], name: &str, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    if !is_gzip(bytes) {
        return sink(bytes);
    }
    if size_hint(bytes) < 4 * CHUNK {
        // Small (by the trailer, which may lie): a helper thread would cost more than it saves.
        let mut dec = MultiGzDecoder::new(bytes);
        let mut buf = vec![0; CHUNK];
        loop {
            let n = fill(&mut dec, &mut buf).map_err(|e| gzip_error(name, &e))?;
            sink(&buf[..n])?;
            if n < buf.len() {
                return Ok(());
            }
        }
    }
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(2);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..3 {
            let _ = empty_tx.send(vec![0; CHUNK]);
        }
        scope.spawn(move || {
            let mut dec = MultiGzDecoder::new(bytes);
            // Ends when the stream does, on an error, or when the consumer hangs up.
            while let Ok(mut buf) = empty_rx.recv() {
                let n = match fill(&mut dec, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        return;
                    }
                };
                let last = n < buf.len();
                if full_tx.send(Ok((buf, n))).is_err() || last {
                    return;
                }
            }
        });
        for msg in full_rx {
            let (buf, n) = msg.map_err(|e| gzip_error(name, &e))?;
            sink(&buf[..n])?;
            let _ = empty_tx.send(buf);
        }
        Ok(())
    })
}

/// The decompressed size to expect: the gzip trailer's ISIZE (size mod 2^32), capped by what
/// deflate can possibly produce from this input (at most 1032:1), so a corrupt trailer cannot
/// make us reserve absurd amounts of memory up front. Raw data: its length.
pub fn size_hint(bytes: &[u8]) -> usize {
    if !is_gzip(bytes) {
        return bytes.len();
    }
    if bytes.len() < 18 {
        return 0;
    }
    let t = &bytes[bytes.len() - 4..];
    let isize = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize;
    isize.min(bytes.len().saturating_mul(1032))
}

#[cfg(test)]
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_passes_through() {
        assert_eq!(maybe_gunzip(vec![1, 2, 3], "f").unwrap(), vec![1, 2, 3]);
        assert_eq!(maybe_gunzip(vec![], "f").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn roundtrip() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(maybe_gunzip(gzip(&data), "f").unwrap(), data);
    }

    #[test]
    fn concatenated_members() {
        let mut z = gzip(b"abc");
        z.extend(gzip(b"def"));
        assert_eq!(maybe_gunzip(z, "f").unwrap(), b"abcdef");
    }

    #[test]
    fn truncated_is_error() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 253) as u8).collect();
        let z = gzip(&data);
        for cut in [3, 10, z.len() / 2, z.len() - 5, z.len() - 1] {
            let e = maybe_gunzip(z[..cut].to_vec(), "t.gz").unwrap_err().to_string();
            assert!(e.contains("t.gz: corrupt or truncated gzip"), "cut {cut}: {e}");
            assert!(e.contains("fetch the file again"), "{e}");
        }
    }

    #[test]
    fn corrupt_crc_is_error() {
        let mut z = gzip(b"hello world, hello world");
        let n = z.len();
        z[n - 6] ^= 0xff; // inside the CRC32 of the trailer
        assert!(maybe_gunzip(z, "c.gz").is_err());
    }

    fn streamed(bytes: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        stream_gunzip(bytes, "s.gz", |c| {
            out.extend_from_slice(c);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn stream_matches_whole() {
        let data: Vec<u8> = (0..(9 * CHUNK as u32 + 123)).map(|i| (i % 241) as u8).collect();
        assert_eq!(streamed(&gzip(&data)).unwrap(), data);
        assert_eq!(streamed(&data).unwrap(), data);
        let exact: Vec<u8> = vec![9; 8 * CHUNK];
        assert_eq!(streamed(&gzip(&exact)).unwrap(), exact);
        assert_eq!(streamed(&gzip(&[])).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn stream_truncated_is_error() {
        let data: Vec<u8> = (0..(6 * CHUNK as u32)).map(|i| (i * 31 % 253) as u8).collect();
        let z = gzip(&data);
        for cut in [5, z.len() / 2, z.len() - 3] {
            let e = streamed(&z[..cut]).unwrap_err().to_string();
            assert!(e.contains("s.gz: corrupt or truncated gzip"), "{e}");
        }
    }

    #[test]
    fn stream_stops_on_sink_error() {
        let data = vec![1u8; 8 * CHUNK];
        let mut calls = 0;
        let r = stream_gunzip(&gzip(&data), "s.gz", |_| {
            calls += 1;
            Err(Error::data("stop"))
        });
        assert_eq!(r.unwrap_err().to_string(), "stop");
        assert_eq!(calls, 1);
    }

    #[test]
    fn trailing_garbage_is_error() {
        let mut z = gzip(b"payload");
        z.extend_from_slice(b"garbage!");
        let e = maybe_gunzip(z, "g.gz").unwrap_err().to_string();
        assert!(e.contains("g.gz"), "{e}");
    }
}
