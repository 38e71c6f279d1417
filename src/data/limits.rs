//! The limits that keep hostile or corrupt input from taking all the memory: every size a file
//! header or a parameter claims is checked against them *before* anything is allocated, and
//! past a limit the message names it and how to raise it.
//!
//! Two limits can be raised by environment variables, for genuinely big data:
//! [`MAX_DATA_BYTES_ENV`] and [`MAX_IMAGE_PIXELS_ENV`]. The others are fixed.

use crate::error::{Error, Result};
use std::path::Path;

/// Default for the most memory one data set's array (decoded IDX file, npz member, generated
/// data, all images of an `images:DIR`) may take, in bytes: 4 GiB, about 70 times MNIST's
/// training images as floats.
pub const MAX_DATA_BYTES: u64 = 4 << 30;

/// Environment variable that raises (or lowers) [`MAX_DATA_BYTES`]: a number of bytes, with an
/// optional K, M, G or T suffix (powers of 1024), e.g. `CONVLAB_MAX_DATA_BYTES=16G`.
pub const MAX_DATA_BYTES_ENV: &str = "CONVLAB_MAX_DATA_BYTES";

/// Default for the pixels (width × height) of one PNG or JPEG image: 64 Mpx (8192 × 8192).
pub const MAX_IMAGE_PIXELS: u64 = 1 << 26;

/// Environment variable that raises [`MAX_IMAGE_PIXELS`] (a number, suffixes as above).
pub const MAX_IMAGE_PIXELS_ENV: &str = "CONVLAB_MAX_IMAGE_PIXELS";

/// The most threads `--jobs` may ask for (sweep, recover): far more than any machine's cores,
/// far fewer than an operating system refuses.
pub const MAX_JOBS: usize = 1024;

/// The most runs a sweep (its grid points × seeds) may have; also bounds what a shard file's
/// header may claim.
pub const MAX_SWEEP_RUNS: usize = 1 << 20;

/// Parses `16G`, `512M`, `1000`.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        (i, 't' | 'T') => (&s[..i], 1 << 40),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mul)
}

fn from_env(var: &str, default: u64) -> Result<u64> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => parse_size(&v).filter(|&n| n > 0).ok_or_else(|| {
            Error::config(format!("{var}={v} is not a size; give a number of bytes such as 8000000000 or 16G"))
        }),
    }
}

/// The data limit in force: [`MAX_DATA_BYTES_ENV`] or [`MAX_DATA_BYTES`].
pub fn max_data_bytes() -> Result<u64> {
    from_env(MAX_DATA_BYTES_ENV, MAX_DATA_BYTES)
}

/// The image limit in force: [`MAX_IMAGE_PIXELS_ENV`] or [`MAX_IMAGE_PIXELS`].
pub fn max_image_pixels() -> Result<u64> {
    from_env(MAX_IMAGE_PIXELS_ENV, MAX_IMAGE_PIXELS)
}

/// Human-readable bytes: `6.0 GiB`.
pub fn human(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Checks that `bytes` (None: beyond u64, from an overflowing product) fit the data limit.
/// `what` says what needs them, e.g. "x.gz: the header's [60000, 28, 28] images as floats".
pub fn check_data_bytes(what: &str, bytes: Option<u64>) -> Result<()> {
    let limit = max_data_bytes()?;
    match bytes {
        Some(b) if b <= limit => Ok(()),
        b => Err(Error::data(format!(
            "{what} would take {}, more than convlab's data limit of {}; if that is wrong the \
             input is corrupt or hostile, and if the data really are that big raise the limit, \
             e.g. {MAX_DATA_BYTES_ENV}={}G",
            b.map_or("more than 16 EiB".to_string(), human),
            human(limit),
            b.map_or((limit >> 30).saturating_mul(2), |b| (b >> 30) + 1)
        ))),
    }
}

/// The product of `factors` in bytes, `None` on overflow.
pub fn product(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |a, &f| a.checked_mul(f))
}

/// Checks that a `width × height` image fits the image limit, before it is decoded.
pub fn check_image_pixels(name: &str, width: u64, height: u64) -> Result<()> {
    let limit = max_image_pixels()?;
    let px = width.saturating_mul(height);
    if px > limit {
        return Err(Error::data(format!(
            "{name}: the image claims {width}x{height} = {px} pixels, more than convlab's limit \
             of {limit} ({MAX_IMAGE_PIXELS_ENV}); use a smaller image, or raise the limit, e.g. \
             {MAX_IMAGE_PIXELS_ENV}={px}"
        )));
    }
    Ok(())
}

/// Reads a whole data file, refusing one larger than the data limit before reading it.
pub fn read_data_file(path: &Path) -> Result<Vec<u8>> {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_file() {
            check_data_bytes(&path.display().to_string(), Some(meta.len()))?;
        }
    }
    crate::fs::read_file(path)
}

/// Checks `--jobs N` against [`MAX_JOBS`].
pub fn check_jobs(jobs: usize) -> Result<()> {
    if jobs > MAX_JOBS {
        return Err(Error::config(format!(
            "--jobs {jobs} is more than the limit of {MAX_JOBS} threads; use --jobs 0 (one per \
             core) or a number up to {MAX_JOBS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("16G"), Some(16 << 30));
        assert_eq!(parse_size(" 512m "), Some(512 << 20));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn messages_name_the_limit_and_how_to_raise_it() {
        let e = check_data_bytes("f.gz: the images", Some(6 << 30)).unwrap_err().to_string();
        assert!(e.contains("6.0 GiB") && e.contains("4.0 GiB") && e.contains("CONVLAB_MAX_DATA_BYTES=7G"), "{e}");
        let e = check_data_bytes("f", None).unwrap_err().to_string();
        assert!(e.contains("more than 16 EiB"), "{e}");
        let e = check_image_pixels("a.png", 65535, 65535).unwrap_err().to_string();
        assert!(e.contains("65535x65535") && e.contains("CONVLAB_MAX_IMAGE_PIXELS"), "{e}");
        assert!(check_jobs(100_000).unwrap_err().to_string().contains("--jobs 0"));
        check_jobs(MAX_JOBS).unwrap();
    }
}
