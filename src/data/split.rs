//! Reproducible train/test splits for sources without an official one (e.g. `digits`).
//!
//! The shuffle uses SplitMix64 (`rng`), so a seed gives the same split on every platform and
//! every version of every dependency.

use super::dataset::{Dataset, Split, Targets};
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// `0..n` in a seeded random order (Fisher–Yates).
fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        idx.swap(i, j);
    }
    idx
}

/// The samples of `ds` at `indices`, in that order, as a new data set called `name`.
/// Indices must be `< ds.len()`.
pub fn subset(ds: &Dataset, indices: &[usize], name: String) -> Dataset {
    let per = ds.sample_len();
    let mut x = Vec::with_capacity(indices.len() * per);
    for &i in indices {
        x.extend_from_slice(ds.sample(i));
    }
    let targets = match &ds.targets {
        Targets::Classes { labels, num_classes } => {
            Targets::Classes { labels: indices.iter().map(|&i| labels[i]).collect(), num_classes: *num_classes }
        }
        Targets::Values { values, width } => {
            let mut v = Vec::with_capacity(indices.len() * width);
            for &i in indices {
                v.extend_from_slice(&values[i * width..(i + 1) * width]);
            }
            Targets::Values { values: v, width: *width }
        }
    };
    Dataset { name, x: x.into(), sample_shape: ds.sample_shape.clone(), targets, class_names: ds.class_names.clone() }
}

/// Splits `ds` into train and test after a seeded shuffle; `round(len * test_fraction)`
/// samples go to test. Same data, fraction and seed → same split, everywhere.
pub fn split_seeded(ds: &Dataset, test_fraction: f64, seed: u64) -> Result<Split> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::config(format!(
            "test fraction {test_fraction} is not between 0 and 1 (exclusive); use e.g. 0.2 for \
             a 80/20 split"
        )));
    }
    let n = ds.len();
    let n_test = (n as f64 * test_fraction).round() as usize;
    if n_test == 0 || n_test >= n {
        return Err(Error::config(format!(
            "a test fraction of {test_fraction} of {n} samples leaves {} for training and \
             {n_test} for testing; each side needs at least one: choose a fraction nearer 0.5 \
             or use more data",
            n.saturating_sub(n_test)
        )));
    }
    let n_targets = match &ds.targets {
        Targets::Classes { labels, .. } => labels.len(),
        Targets::Values { values, width } => values.len().checked_div(*width).unwrap_or(0),
    };
    if n_targets != n || ds.x.len() != n * ds.sample_len() {
        return Err(Error::shape(format!(
            "data set '{}' is inconsistent: {} values for samples of shape {:?}, and {n_targets} \
             targets; it was built wrongly",
            ds.name,
            ds.x.len(),
            ds.sample_shape
        )));
    }
    let idx = shuffled_indices(n, seed);
    let (train_idx, test_idx) = idx.split_at(n - n_test);
    Ok(Split {
        train: subset(ds, train_idx, format!("{} (train)", ds.name)),
        test: Some(subset(ds, test_idx, format!("{} (test)", ds.name))),
    })
}

/// Gives train and test the same `num_classes` (the larger), so a test set that happens to
/// lack the last class still matches the model's output size.
pub fn unify_num_classes(split: &mut Split) {
    let Some(test) = split.test.as_mut() else {
        return;
    };
    if let (Targets::Classes { num_classes: a, .. }, Targets::Classes { num_classes: b, .. }) =
        (&mut split.train.targets, &mut test.targets)
    {
        let m = (*a).max(*b);
        *a = m;
        *b = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        Dataset {
            name: "toy".into(),
            x: (0..n * 2).map(|i| i as f32).collect(),
            sample_shape: vec![1, 2],
            targets: Targets::Classes { labels: (0..n as u32).map(|i| i % 3).collect(), num_classes: 3 },
            class_names: None,
        }
    }

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 1234567 from the reference implementation (Vigna).
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn shuffle_is_permutation_and_deterministic() {
        let a = shuffled_indices(100, 7);
        let b = shuffled_indices(100, 7);
        let c = shuffled_indices(100, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn split_sizes_and_content() {
        let ds = toy(10);
        let s = split_seeded(&ds, 0.3, 42).unwrap();
        let test = s.test.unwrap();
        assert_eq!((s.train.len(), test.len()), (7, 3));
        assert_eq!(s.train.name, "toy (train)");
        // Every sample keeps its own label: sample i is [2i, 2i+1] with label i % 3.
        for d in [&s.train, &test] {
            let Targets::Classes { labels, .. } = &d.targets else { panic!() };
            for (k, l) in labels.iter().enumerate() {
                let i = d.sample(k)[0] as u32 / 2;
                assert_eq!(*l, i % 3);
            }
        }
        let s2 = split_seeded(&ds, 0.3, 42).unwrap();
        assert_eq!(s2.train.x, s.train.x);
    }

    #[test]
    fn values_targets_follow() {
        let mut ds = toy(4);
        ds.targets = Targets::Values { values: (0..8).map(|i| i as f32).collect(), width: 2 };
        let sub = subset(&ds, &[2, 0], "s".into());
        assert_eq!(sub.targets, Targets::Values { values: vec![4.0, 5.0, 0.0, 1.0], width: 2 });
        assert_eq!(sub.x, vec![4.0, 5.0, 0.0, 1.0]);
    }

    #[test]
    fn bad_fractions() {
        let ds = toy(10);
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            let e = split_seeded(&ds, f, 1).unwrap_err().to_string();
            assert!(e.contains("not between 0 and 1"), "{f}: {e}");
        }
    }

    #[test]
    fn empty_side() {
        let e = split_seeded(&toy(10), 0.01, 1).unwrap_err().to_string();
        assert!(e.contains("each side needs at least one"), "{e}");
        let e = split_seeded(&toy(10), 0.99, 1).unwrap_err().to_string();
        assert!(e.contains("leaves 0 for training"), "{e}");
        assert!(split_seeded(&toy(0), 0.5, 1).is_err());
    }

    #[test]
    fn inconsistent_dataset() {
        let mut ds = toy(4);
        ds.targets = Targets::Classes { labels: vec![0, 1], num_classes: 2 };
        let e = split_seeded(&ds, 0.5, 1).unwrap_err().to_string();
        assert!(e.contains("inconsistent"), "{e}");
    }

    #[test]
    fn unify() {
        let mut a = toy(3);
        let mut b = toy(3);
        a.targets = Targets::Classes { labels: vec![0, 1, 2], num_classes: 3 };
        b.targets = Targets::Classes { labels: vec![0, 4, 1], num_classes: 5 };
        let mut s = Split { train: a, test: Some(b) };
        unify_num_classes(&mut s);
        assert!(matches!(s.train.targets, Targets::Classes { num_classes: 5, .. }));
    }
}
