//! IDX files, the format of MNIST and Fashion-MNIST (gzip or raw).
//!
//! Layout: a 4-byte big-endian magic `0x0000TTDD` (`TT` the element type, `DD` the number of
//! dimensions), `DD` big-endian u32 sizes, then the elements. Only unsigned bytes (`TT = 0x08`)
//! are read: labels are `0x00000801` (1-D), images `0x00000803` (3-D).
//!
//! Policy: the payload must be exactly as long as the header says. A shorter file is truncated;
//! a longer one is also rejected, since extra bytes mean a wrong or corrupt file (e.g. two files
//! concatenated) rather than something safe to ignore.

use std::path::Path;

use super::dataset::{Dataset, Targets};
use super::gzip::{gunzip_at_most, size_hint, stream_gunzip};
use super::limits::{check_data_bytes, read_data_file};
use crate::error::{Error, Result};

/// Magic of a 1-D unsigned-byte IDX file (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic of a 3-D unsigned-byte IDX file (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

/// A decoded IDX file: its sizes and its bytes. The header stays in the buffer (no copy of
/// tens of megabytes just to drop 16 bytes); [`IdxArray::data`] skips it.
#[derive(Clone, Debug)]
struct IdxArray {
    pub dims: Vec<usize>,
    raw: Vec<u8>,
    offset: usize,
}

impl IdxArray {
    /// The elements, row-major.
    pub fn data(&self) -> &[u8] {
        &self.raw[self.offset..]
    }
}

/// Reads an IDX file (gzip or raw) and checks it has the `expected` magic.
///
/// The header is inflated first and its sizes checked against the data limit; then exactly
/// the bytes it promises (and one more, to catch trailing data) are inflated, so a
/// decompression bomb or a header claiming gigabytes costs no more than the limit allows.
fn read_idx(path: &Path, expected: u32) -> Result<IdxArray> {
    let name = path.display().to_string();
    let bytes = read_data_file(path)?;
    let header = 4 + 4 * (expected & 0xff) as usize;
    let (head, _) = gunzip_at_most(&bytes, &name, header)?;
    let (dims, _, len) = parse_header(&head, expected, &name)?;
    check_data_bytes(&format!("{name}: the header's {dims:?} bytes"), Some(len as u64))?;
    let (raw, more) = gunzip_at_most(&bytes, &name, header + len)?;
    if more {
        return Err(trailing(&dims, &name));
    }
    parse_idx(raw, expected, &name)
}

/// Parses decompressed IDX bytes; `name` is used in messages.
fn parse_idx(raw: Vec<u8>, expected: u32, name: &str) -> Result<IdxArray> {
    let (dims, header, len) = parse_header(&raw, expected, name)?;
    check_len(raw.len() - header, len, &dims, name)?;
    Ok(IdxArray { dims, raw, offset: header })
}

/// Checks the header at the start of `raw`: returns the dims, the header's length and the
/// payload's length in bytes.
fn parse_header(raw: &[u8], expected: u32, name: &str) -> Result<(Vec<usize>, usize, usize)> {
    let what = if expected == LABELS_MAGIC { "label" } else { "image" };
    if raw.len() < 4 {
        return Err(Error::data(format!(
            "{name}: too short to be an IDX {what} file ({} bytes); is it the right file, and \
             was it downloaded completely?",
            raw.len()
        )));
    }
    let magic = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if magic != expected {
        let hint = match magic {
            LABELS_MAGIC => " (that is a label file: were the images and labels swapped?)",
            IMAGES_MAGIC => " (that is an image file: were the images and labels swapped?)",
            m if m >> 16 == 0 && matches!((m >> 8) & 0xff, 0x09 | 0x0B..=0x0E) => {
                " (an IDX file of a non-byte type, which convlab does not read)"
            }
            _ => "",
        };
        return Err(Error::data(format!(
            "{name}: not an IDX {what} file (magic 0x{magic:08X}, expected 0x{expected:08X}){hint}; \
             is it the right file?"
        )));
    }
    let ndims = (expected & 0xff) as usize;
    let header = 4 + 4 * ndims;
    if raw.len() < header {
        return Err(Error::data(format!(
            "{name}: truncated IDX header ({} bytes, need {header}); the file is incomplete: \
             fetch it again",
            raw.len()
        )));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            let b = &raw[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    if dims.iter().skip(1).any(|&d| d == 0) {
        return Err(Error::data(format!(
            "{name}: IDX dimensions {dims:?} include a zero size; the file is corrupt: fetch it again"
        )));
    }
    let len = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        Error::data(format!(
            "{name}: IDX dimensions {dims:?} are impossibly large; the file is corrupt: fetch it again"
        ))
    })?;
    Ok((dims, header, len))
}

/// Checks that the payload (`have` bytes) is exactly the `want` bytes the header describes.
fn check_len(have: usize, want: usize, dims: &[usize], name: &str) -> Result<()> {
    if have < want {
        return Err(Error::data(format!(
            "{name}: truncated: the header promises {dims:?} = {want} bytes of data but \
             the file holds {have}; fetch the file again"
        )));
    }
    if have > want {
        return Err(trailing(dims, name));
    }
    Ok(())
}

fn trailing(dims: &[usize], name: &str) -> Error {
    Error::data(format!(
        "{name}: unexpected data after the {dims:?} the header describes; the file is corrupt \
         or not what it claims to be: fetch it again"
    ))
}

/// Images read straight to floats.
#[derive(Clone, Debug)]
struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    /// `count * rows * cols` values, each `byte as f32 / 255.0`.
    pub pixels: Vec<f32>,
}

/// Reads an image IDX file (gzip or raw) straight into scaled floats.
///
/// This is the hot path for MNIST-size files: gzip is inflated on a helper thread while this
/// thread converts the previous chunk, and the decompressed bytes are never held whole.
fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let name = path.display().to_string();
    let bytes = read_data_file(path)?;
    const HEADER: usize = 16;
    // The header first, its sizes checked before the pixels are allocated.
    let (head, _) = gunzip_at_most(&bytes, &name, HEADER)?;
    let (dims, _, want) = parse_header(&head, IMAGES_MAGIC, &name)?;
    check_data_bytes(&format!("{name}: the header's {dims:?} images as 32-bit floats"), (want as u64).checked_mul(4))?;
    // Sized by the header, but no more than the file can hold (a raw file its length, gzip at
    // most 1032:1), so a header lying within the limit costs no more than the file.
    let mut pixels: Vec<f32> = vec![0.0; want.min(size_hint(&bytes))];
    let mut skip = HEADER;
    let mut filled = 0;
    stream_gunzip(&bytes, &name, |mut chunk| {
        let s = skip.min(chunk.len());
        chunk = &chunk[s..];
        skip -= s;
        if chunk.len() > want - filled {
            // More than the header promises: stop inflating right here.
            return Err(trailing(&dims, &name));
        }
        if pixels.len() < filled + chunk.len() {
            pixels.resize(filled + chunk.len(), 0.0);
        }
        scale_bytes(chunk, &mut pixels[filled..filled + chunk.len()]);
        filled += chunk.len();
        Ok(())
    })?;
    pixels.truncate(filled);
    check_len(filled, want, &dims, &name)?;
    let [count, rows, cols] = dims[..] else {
        return Err(Error::data(format!("{name}: not a 3-D IDX image file")));
    };
    Ok(IdxImages { count, rows, cols, pixels })
}

/// Writes `b as f32 / 255.0` for each byte; big inputs (raw files arrive in one piece) are
/// split over two threads, which also shares out the page faults of the fresh output.
fn scale_bytes(src: &[u8], dst: &mut [f32]) {
    fn run(src: &[u8], dst: &mut [f32]) {
        for (d, &b) in dst.iter_mut().zip(src) {
            *d = b as f32 / 255.0;
        }
    }
    if src.len() < 1 << 22 {
        return run(src, dst);
    }
    let half = src.len() / 2;
    let (s0, s1) = src.split_at(half);
    let (d0, d1) = dst.split_at_mut(half);
    std::thread::scope(|scope| {
        scope.spawn(|| run(s1, d1));
        run(s0, d0);
    });
}

/// Loads an image file and a label file into one [`Dataset`] named `name`.
///
/// Pixels become `b as f32 / 255.0` in one pass; `sample_shape` is `[1, rows, cols]`. Classes
/// number `max(label) + 1`: the file carries no class count, and that is the smallest count
/// that fits every label. (MNIST and Fashion-MNIST use all ten; callers that know the true
/// count, like [`super::locate::load_named`], set it, and [`super::split::unify_num_classes`]
/// makes train and test agree.)
pub fn load_idx_pair(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    let images = read_idx_images(images_path)?;
    let labels = read_idx(labels_path, LABELS_MAGIC)?;
    if images.count == 0 {
        return Err(Error::data(format!("{}: holds no images; is it the right file?", images_path.display())));
    }
    if labels.dims[0] != images.count {
        return Err(Error::data(format!(
            "{} holds {} images but {} holds {} labels; the two files do not belong together \
             (train vs t10k mixed up, or one is incomplete)",
            images_path.display(),
            images.count,
            labels_path.display(),
            labels.dims[0]
        )));
    }
    let labels: Vec<u32> = labels.data().iter().map(|&b| b as u32).collect();
    let num_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    Ok(Dataset {
        name: images_path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        x: images.pixels.into(),
        sample_shape: vec![1, images.rows, images.cols],
        targets: Targets::Classes { labels, num_classes },
        class_names: None,
    })
}

/// Test helper: the bytes of an IDX file with the given magic, dims and payload.
#[cfg(test)]
pub(crate) fn idx_bytes(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::super::gzip::gzip;
    use super::*;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("convlab-idx-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn images(n: u32, r: u32, c: u32) -> Vec<u8> {
        let px: Vec<u8> = (0..n * r * c).map(|i| (i % 256) as u8).collect();
        idx_bytes(IMAGES_MAGIC, &[n, r, c], &px)
    }

    fn labels(ls: &[u8]) -> Vec<u8> {
        idx_bytes(LABELS_MAGIC, &[ls.len() as u32], ls)
    }

    #[test]
    fn loads_pair_gz_and_raw() {
        let d = tmp("pair");
        let (ip, lp) = (d.join("img.gz"), d.join("lab"));
        std::fs::write(&ip, gzip(&images(3, 2, 2))).unwrap();
        std::fs::write(&lp, labels(&[0, 4, 2])).unwrap();
        let ds = load_idx_pair(&ip, &lp).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.sample_shape, vec![1, 2, 2]);
        assert_eq!(ds.x[1], 1.0f32 / 255.0);
        assert_eq!(ds.x[11], 11.0f32 / 255.0);
        assert_eq!(ds.targets, Targets::Classes { labels: vec![0, 4, 2], num_classes: 5 });
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn scaling_is_exact() {
        let d = tmp("scale");
        let px: Vec<u8> = (0..=255).collect();
        let (ip, lp) = (d.join("i.gz"), d.join("l"));
        std::fs::write(&ip, gzip(&idx_bytes(IMAGES_MAGIC, &[1, 16, 16], &px))).unwrap();
        std::fs::write(&lp, labels(&[1])).unwrap();
        let ds = load_idx_pair(&ip, &lp).unwrap();
        for (b, v) in ds.x.iter().enumerate() {
            assert_eq!(*v, (b as u8 as f32) / 255.0);
        }
        assert_eq!(ds.x[255], 1.0);
        std::fs::remove_dir_all(d).unwrap();
    }

    /// The streaming reader gives the same answers as the whole-file one, raw and gzip,
    /// across chunk boundaries, including every error.
    #[test]
    fn streaming_images_agree() {
        let d = tmp("stream");
        let big = images(1500, 28, 28); // > 1 MiB: the threaded path
        let mut trailing = big.clone();
        trailing.extend_from_slice(&[0; 5]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("ok", big.clone()),
            ("short", big[..big.len() - 1000].to_vec()),
            ("trailing", trailing),
            ("tiny", vec![0, 0, 8]),
            ("header", big[..10].to_vec()),
            ("magic", labels(&[1, 2])),
        ];
        for (what, raw) in cases {
            for gz in [false, true] {
                let p = d.join(what);
                std::fs::write(&p, if gz { gzip(&raw) } else { raw.clone() }).unwrap();
                let name = p.display().to_string();
                let whole = parse_idx(raw.clone(), IMAGES_MAGIC, &name);
                let streamed = read_idx_images(&p);
                match (whole, streamed) {
                    (Ok(w), Ok(s)) => {
                        assert_eq!((s.count, s.rows, s.cols), (w.dims[0], w.dims[1], w.dims[2]));
                        let conv: Vec<f32> = w.data().iter().map(|&b| b as f32 / 255.0).collect();
                        assert!(s.pixels == conv, "{what}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what} gz={gz}"),
                    (a, b) => panic!("{what} gz={gz}: {a:?} vs {:?}", b.map(|i| i.count)),
                }
            }
        }
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn wrong_magic() {
        let e = parse_idx(vec![0; 16], IMAGES_MAGIC, "train-images-idx3-ubyte.gz").unwrap_err().to_string();
        assert_eq!(
            e,
            "train-images-idx3-ubyte.gz: not an IDX image file (magic 0x00000000, expected \
             0x00000803); is it the right file?"
        );
    }

    #[test]
    fn swapped_files_are_named() {
        let e = parse_idx(labels(&[1, 2]), IMAGES_MAGIC, "x").unwrap_err().to_string();
        assert!(e.contains("swapped"), "{e}");
        let e = parse_idx(images(1, 1, 1), LABELS_MAGIC, "x").unwrap_err().to_string();
        assert!(e.contains("swapped"), "{e}");
    }

    #[test]
    fn non_byte_type() {
        let e = parse_idx(idx_bytes(0x0000_0D03, &[1, 1, 1], &[0; 4]), IMAGES_MAGIC, "f").unwrap_err().to_string();
        assert!(e.contains("non-byte type"), "{e}");
    }

    #[test]
    fn too_short_and_truncated_header() {
        let e = parse_idx(vec![0, 0], LABELS_MAGIC, "l").unwrap_err().to_string();
        assert!(e.contains("too short"), "{e}");
        let e = parse_idx(idx_bytes(IMAGES_MAGIC, &[5], &[]), IMAGES_MAGIC, "i").unwrap_err().to_string();
        assert!(e.contains("truncated IDX header"), "{e}");
    }

    #[test]
    fn truncated_data() {
        let mut b = images(2, 3, 3);
        b.pop();
        let e = parse_idx(b, IMAGES_MAGIC, "i").unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("17") && e.contains("18"), "{e}");
    }

    #[test]
    fn trailing_data() {
        let mut b = labels(&[1, 2, 3]);
        b.push(0);
        let e = parse_idx(b, LABELS_MAGIC, "l").unwrap_err().to_string();
        assert!(e.contains("unexpected data after"), "{e}");
    }

    #[test]
    fn zero_and_huge_dims() {
        let e = parse_idx(idx_bytes(IMAGES_MAGIC, &[1, 0, 5], &[]), IMAGES_MAGIC, "i").unwrap_err().to_string();
        assert!(e.contains("zero size"), "{e}");
        let big = u32::MAX;
        let r = parse_idx(idx_bytes(IMAGES_MAGIC, &[big, big, big], &[]), IMAGES_MAGIC, "i");
        assert!(r.is_err());
    }

    #[test]
    fn count_mismatch() {
        let d = tmp("mismatch");
        let (ip, lp) = (d.join("i"), d.join("l"));
        std::fs::write(&ip, images(3, 2, 2)).unwrap();
        std::fs::write(&lp, labels(&[0, 1])).unwrap();
        let e = load_idx_pair(&ip, &lp).unwrap_err().to_string();
        assert!(e.contains("3 images") && e.contains("2 labels"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn empty_image_file() {
        let d = tmp("empty");
        let (ip, lp) = (d.join("i"), d.join("l"));
        std::fs::write(&ip, images(0, 2, 2)).unwrap();
        std::fs::write(&lp, labels(&[])).unwrap();
        let e = load_idx_pair(&ip, &lp).unwrap_err().to_string();
        assert!(e.contains("holds no images"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn truncated_gzip_file() {
        let d = tmp("tgz");
        let ip = d.join("i.gz");
        let z = gzip(&images(50, 8, 8));
        std::fs::write(&ip, &z[..z.len() - 10]).unwrap();
        let e = read_idx(&ip, IMAGES_MAGIC).unwrap_err().to_string();
        assert!(e.contains("truncated gzip"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    /// Truncated and bit-flipped files give errors, never panics.
    #[test]
    fn no_panic_on_mangled_input() {
        use crate::rng::SplitMix64;
        let d = tmp("mangle");
        let p = d.join("m");
        let mut rng = SplitMix64::new(5);
        for good in [gzip(&images(4, 3, 3)), images(4, 3, 3)] {
            for cut in 0..good.len() {
                std::fs::write(&p, &good[..cut]).unwrap();
                let _ = read_idx_images(&p);
            }
            for _ in 0..100 {
                let mut b = good.clone();
                let i = rng.below(b.len());
                b[i] = rng.next_u64() as u8;
                std::fs::write(&p, &b).unwrap();
                let _ = read_idx_images(&p);
                let _ = parse_idx(b, IMAGES_MAGIC, "m");
            }
        }
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A header claiming gigabytes is refused before anything is allocated, naming the limit.
    #[test]
    fn huge_claimed_sizes_are_refused_before_allocating() {
        let d = tmp("huge");
        let p = d.join("i.gz");
        std::fs::write(&p, gzip(&idx_bytes(IMAGES_MAGIC, &[100_000, 256, 256], &[0; 64]))).unwrap();
        let e = read_idx_images(&p).unwrap_err().to_string();
        assert!(e.contains("data limit") && e.contains("CONVLAB_MAX_DATA_BYTES"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A bomb: a small gzip that inflates far beyond what its header promises stops at the
    /// promise (labels and images alike), instead of inflating it all.
    #[test]
    fn decompression_bombs_stop_at_the_header_size() {
        let d = tmp("bomb");
        let zeros = vec![0u8; 64 << 20];
        for (magic, dims) in [(LABELS_MAGIC, &[10u32][..]), (IMAGES_MAGIC, &[10, 28, 28][..])] {
            let p = d.join("b.gz");
            let z = gzip(&idx_bytes(magic, dims, &zeros));
            assert!(z.len() < 1 << 20);
            std::fs::write(&p, z).unwrap();
            let e =
                if magic == LABELS_MAGIC { read_idx(&p, magic).unwrap_err() } else { read_idx_images(&p).unwrap_err() };
            assert!(e.to_string().contains("unexpected data after"), "{e}");
        }
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn missing_file() {
        let e = read_idx(Path::new("/nope/x.gz"), LABELS_MAGIC).unwrap_err().to_string();
        assert!(e.contains("/nope/x.gz"), "{e}");
    }
}
