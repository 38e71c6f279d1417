//! The synthetic generators behind `--data sim1d|pattern1d|lines`, with the tutorials'
//! parameters as defaults. They draw from numpy's legacy stream (`tutorial.rs`), so with the
//! tutorials' seeds they give the tutorials' exact arrays.

use super::dataset::{Dataset, Split, Targets};
use super::source::Params;
use super::split::split_seeded;
use super::tutorial;
use crate::error::{Error, Result};

/// Reads `key=value` parameters with defaults, refusing unknown keys and bad values.
struct Reader<'a> {
    name: &'a str,
    params: &'a Params,
    known: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    fn get<V: std::str::FromStr>(&mut self, key: &'static str, default: V) -> Result<V> {
        self.known.push(key);
        match self.params.iter().rev().find(|(k, _)| k == key) {
            None => Ok(default),
            Some((_, v)) => {
                v.parse().map_err(|_| Error::data(format!("{}: `{key}={v}` is not a valid value for {key}", self.name)))
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Some((k, _)) = self.params.iter().find(|(k, _)| !self.known.contains(&k.as_str())) {
            return Err(Error::data(format!(
                "{}: unknown parameter `{k}`; it takes {}",
                self.name,
                self.known.join(", ")
            )));
        }
        Ok(())
    }
}

/// Checks the generated arrays (each a product of `factors` in bytes) against the data limit,
/// with checked arithmetic, before anything is generated.
fn fits(what: &str, factors: &[&[u64]]) -> Result<()> {
    for f in factors {
        super::limits::check_data_bytes(what, super::limits::product(f))?;
    }
    Ok(())
}

fn check(ok: bool, msg: impl Into<String>) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::data(msg))
    }
}

/// The lab's "[0,1,0]" detector data: `n` signals of width `width`, label 1 when the signal
/// holds a single +1 pixel. The test set is drawn with `seed + 1`.
fn pattern1d(p: &Params) -> Result<Split> {
    let mut r = Reader { name: "pattern1d", params: p, known: vec![] };
    let n: usize = r.get("n", 75)?;
    let width: usize = r.get("width", 20)?;
    let seed: u32 = r.get("seed", 0)?;
    let test_n: usize = r.get("test_n", 75)?;
    r.finish()?;
    check(n >= 1 && test_n >= 1, "pattern1d: n and test_n must be at least 1")?;
    check(width >= 3, "pattern1d: width must be at least 3")?;
    let both = (n as u64).saturating_add(test_n as u64);
    fits(&format!("pattern1d(n={n},test_n={test_n},width={width})"), &[&[both, width as u64, 8]])?;
    let make = |seed: u32, n: usize, part: &str| {
        let (x, y) = tutorial::pattern1d(seed, n, width);
        Dataset {
            name: format!("pattern1d ({part})"),
            x: x.into(),
            sample_shape: vec![1, width],
            targets: Targets::Values { values: y, width: 1 },
            class_names: None,
        }
    };
    Ok(Split { train: make(seed, n, "train"), test: Some(make(seed.wrapping_add(1), test_n, "test")) })
}

/// Tutorial 000: inputs N(0,1), outputs from a known conv1d + linear network plus noise.
/// The true parameters are returned too, for recovery studies.
pub fn sim1d_with_truth(p: &Params) -> Result<(Split, tutorial::Sim1d)> {
    let mut r = Reader { name: "sim1d", params: p, known: vec![] };
    let n: usize = r.get("n", 1000)?;
    let channels: usize = r.get("channels", 2)?;
    let length: usize = r.get("length", 5)?;
    let filters: usize = r.get("filters", 4)?;
    let kernel: usize = r.get("kernel", 3)?;
    let noise: f64 = r.get("noise", 1.0)?;
    let bias: f64 = r.get("bias", -0.5)?;
    let seed: u32 = r.get("seed", 1337)?;
    let test_fraction: f64 = r.get("test_fraction", 0.2)?;
    r.finish()?;
    check(n >= 2 && channels >= 1 && filters >= 1, "sim1d: n ≥ 2, channels ≥ 1 and filters ≥ 1 are needed")?;
    check(
        kernel % 2 == 1 && kernel <= length.saturating_mul(2).saturating_add(1),
        "sim1d: kernel must be odd (same padding) and at most 2·length+1",
    )?;
    check(noise.is_finite() && noise >= 0.0, "sim1d: noise must be a finite sd ≥ 0")?;
    check(bias.is_finite(), "sim1d: bias must be a finite number")?;
    check(test_fraction.is_finite(), "sim1d: test_fraction must be a finite fraction")?;
    let (n64, c, l, f, k) = (n as u64, channels as u64, length as u64, filters as u64, kernel as u64);
    fits(
        &format!("sim1d(n={n},channels={channels},length={length},filters={filters},kernel={kernel})"),
        &[&[n64, c, l, 8], &[n64, f, l, 8], &[f, c, k, 8], &[f, l, 8]],
    )?;
    let sim = tutorial::sim1d(seed, n, channels, length, filters, kernel, noise, bias);
    let all = Dataset {
        name: "sim1d".into(),
        x: sim.x.clone().into(),
        sample_shape: vec![channels, length],
        targets: Targets::Values { values: sim.y.clone(), width: 1 },
        class_names: None,
    };
    Ok((split_seeded(&all, test_fraction, seed as u64)?, sim))
}

/// Tutorial 003: 11×11 images of a vertical (class 0) or horizontal (class 1) bar of 0/1 pixels.
fn lines(p: &Params) -> Result<Split> {
    let mut r = Reader { name: "lines", params: p, known: vec![] };
    let n: usize = r.get("n", 10000)?;
    let test_n: usize = r.get("test_n", 1000)?;
    let offset: usize = r.get("offset", 0)?;
    let prob: f64 = r.get("p", 0.9)?;
    let seed: u32 = r.get("seed", 1)?;
    r.finish()?;
    check(n >= 2 && test_n >= 2, "lines: n and test_n must be at least 2")?;
    check(offset <= 2, "lines: offset must be 0, 1 or 2 (the bar must stay inside the 11x11 image)")?;
    check((0.0..=1.0).contains(&prob), "lines: p must be a probability")?;
    fits(&format!("lines(n={n},test_n={test_n})"), &[&[(n as u64).saturating_add(test_n as u64), 121, 8]])?;
    let make = |seed: u32, n: usize, part: &str| {
        let (x, y) = tutorial::lines(seed, n, offset, prob);
        Dataset {
            name: format!("lines ({part})"),
            x: x.into(),
            sample_shape: vec![1, 11, 11],
            targets: Targets::Classes { labels: y, num_classes: 2 },
            class_names: Some(vec!["vertical".into(), "horizontal".into()]),
        }
    };
    Ok(Split { train: make(seed, n, "train"), test: Some(make(seed.wrapping_add(1), test_n, "test")) })
}

/// Generates a synthetic source by name.
pub fn generate(name: &str, params: &Params) -> Result<Split> {
    match name {
        "pattern1d" => pattern1d(params),
        "sim1d" => sim1d_with_truth(params).map(|(s, _)| s),
        "lines" => lines(params),
        other => Err(Error::data(format!("unknown generator `{other}`; use sim1d, pattern1d or lines"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &[(&str, &str)]) -> Params {
        s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_follow_the_tutorials() {
        let s = generate("pattern1d", &vec![]).unwrap();
        assert_eq!(s.train.len(), 75);
        assert_eq!(s.train.sample_shape, vec![1, 20]);
        let s = generate("lines", &params(&[("n", "100")])).unwrap();
        assert_eq!(s.train.len(), 100);
        let s = generate("sim1d", &vec![]).unwrap();
        assert_eq!(s.train.len() + s.test.unwrap().len(), 1000);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(generate("pattern1d", &params(&[("width", "2")])).is_err());
        assert!(generate("pattern1d", &params(&[("widht", "20")])).unwrap_err().to_string().contains("widht"));
        assert!(generate("lines", &params(&[("offset", "3")])).is_err());
        assert!(generate("sim1d", &params(&[("kernel", "2")])).is_err());
        assert!(generate("sim1d", &params(&[("n", "x")])).is_err());
    }

    #[test]
    fn huge_parameters_are_refused_without_overflow() {
        let limit = |e: Error| assert!(e.to_string().contains("CONVLAB_MAX_DATA_BYTES"), "{e}");
        limit(generate("pattern1d", &params(&[("n", "18446744073709551615")])).unwrap_err());
        limit(generate("pattern1d", &params(&[("width", "18446744073709551615")])).unwrap_err());
        limit(generate("lines", &params(&[("n", "18446744073709551615")])).unwrap_err());
        limit(generate("sim1d", &params(&[("length", "9223372036854775807"), ("kernel", "1")])).unwrap_err());
        for k in ["channels", "filters", "n"] {
            limit(generate("sim1d", &params(&[(k, "4611686018427387904")])).unwrap_err());
        }
        assert!(generate("sim1d", &params(&[("bias", "nan")])).is_err());
    }
}
