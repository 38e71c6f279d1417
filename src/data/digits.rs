//! scikit-learn's 8x8 handwritten digits, built into the binary so convlab works with no
//! download.
//!
//! 1797 images, 10 classes: the test part of the UCI "Optical Recognition of Handwritten
//! Digits" data set (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0). Stored as gzip CSV, one image a
//! row: 64 pixel values 0..16 row by row, then the label. There is no official split: use
//! [`super::split::split_seeded`].

use super::dataset::{Dataset, Targets};
use super::gzip::maybe_gunzip;
use crate::error::{Error, Result};

/// The embedded gzip CSV (about 60 KB).
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Number of images in the built-in set.
pub const DIGITS_LEN: usize = 1797;

/// The built-in digits: `sample_shape` `[1, 8, 8]`, pixels scaled to [0, 1] by /16, classes
/// named "0".."9".
pub fn load_digits() -> Dataset {
    // The embedded file is fixed at build time and checked by the tests below.
    parse_digits_csv(DIGITS_CSV_GZ).expect("embedded digits.csv.gz is valid")
}

/// Parses digits-format CSV (gzip or plain).
fn parse_digits_csv(bytes: &[u8]) -> Result<Dataset> {
    const NAME: &str = "digits.csv.gz";
    let text = maybe_gunzip(bytes.to_vec(), NAME)?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| Error::data(format!("{NAME}: not text; expected CSV of 64 pixel values and a label per line")))?;
    let mut x = Vec::with_capacity(DIGITS_LEN * 64);
    let mut labels = Vec::with_capacity(DIGITS_LEN);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |what: String| {
            Error::data(format!(
                "{NAME}: line {}: {what}; each line must be 64 pixel values 0..16 then a label 0..9",
                i + 1
            ))
        };
        let mut n = 0;
        for (j, field) in line.split(',').enumerate() {
            n += 1;
            let v: u32 =
                field.trim().parse().map_err(|_| bad(format!("field {} ('{field}') is not a whole number", j + 1)))?;
            match j {
                0..=63 if v <= 16 => x.push(v as f32 / 16.0),
                0..=63 => return Err(bad(format!("pixel {} is {v}, above 16", j + 1))),
                64 if v <= 9 => labels.push(v),
                64 => return Err(bad(format!("label {v} is not a digit"))),
                _ => {}
            }
        }
        if n != 65 {
            return Err(bad(format!("{n} fields")));
        }
    }
    if labels.is_empty() {
        return Err(Error::data(format!("{NAME}: holds no images")));
    }
    Ok(Dataset {
        name: "digits".into(),
        x: x.into(),
        sample_shape: vec![1, 8, 8],
        targets: Targets::Classes { labels, num_classes: 10 },
        class_names: Some((0..10).map(|d| d.to_string()).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_set_loads() {
        let ds = load_digits();
        assert_eq!(ds.len(), DIGITS_LEN);
        assert_eq!(ds.sample_shape, vec![1, 8, 8]);
        assert!(ds.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(ds.x.contains(&1.0));
        let Targets::Classes { labels, num_classes } = &ds.targets else { panic!() };
        assert_eq!(*num_classes, 10);
        let mut counts = [0; 10];
        labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert!(counts.iter().all(|&c| c > 170), "{counts:?}");
        // First row of the file: 0,0,5,13,9,1,0,0,... label 0.
        assert_eq!(&ds.sample(0)[..4], &[0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
        assert_eq!(labels[0], 0);
        assert_eq!(ds.class_names.as_ref().unwrap()[3], "3");
    }

    fn row(px: u32, label: u32) -> String {
        let mut v = vec![px.to_string(); 64];
        v.push(label.to_string());
        v.join(",")
    }

    #[test]
    fn plain_csv_parses() {
        let csv = format!("{}\n{}\n\n", row(16, 3), row(8, 9));
        let ds = parse_digits_csv(csv.as_bytes()).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.x[64], 0.5);
    }

    #[test]
    fn errors() {
        let cases = [
            (row(17, 1), "pixel 1 is 17"),
            (row(1, 10), "label 10 is not a digit"),
            (row(1, 1) + ",3", "66 fields"),
            ("1,2,3".to_string(), "3 fields"),
            (row(1, 1).replace("1,1,1", "1,x,1"), "is not a whole number"),
            (String::new(), "holds no images"),
        ];
        for (csv, want) in cases {
            let e = parse_digits_csv(csv.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?}: {e}");
        }
        let e = parse_digits_csv(&[0x1f, 0x8b, 0, 0]).unwrap_err().to_string();
        assert!(e.contains("gzip"), "{e}");
        let e = parse_digits_csv(&[0xff, 0xfe, 0]).unwrap_err().to_string();
        assert!(e.contains("not text"), "{e}");
    }
}
