//! The parameters every data source takes: `n=` (the first n training samples), `test_n=` (the
//! first n test samples) and `classes=(3,8)` (keep these classes, relabelled 0, 1, … in the
//! order given, with their old labels or names as class names).
//!
//! `fashion-mnist(n=1000)` is tutorial 004's "we will just train on the first 1000";
//! `digits(classes=(3,8))` a two-class problem. Classes are kept first, then the first n of
//! what is left, so `fashion-mnist(classes=(0,6),n=1000)` has 1000 samples of those two classes.

use super::dataset::{Dataset, Split, Targets};
use super::split::subset;
use crate::error::{Error, Result};

/// The parameters' names, for messages.
pub const KEYS: [&str; 3] = ["n", "test_n", "classes"];

/// Which samples of a loaded source to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Keep the first `n` training samples.
    pub n: Option<usize>,
    /// Keep the first `test_n` test samples (only for sources with a test set of their own).
    pub test_n: Option<usize>,
    /// Keep these classes, relabelled 0, 1, … in this order.
    pub classes: Option<Vec<u32>>,
}

impl Selection {
    /// True when nothing is selected (every sample kept).
    pub fn is_empty(&self) -> bool {
        self == &Selection::default()
    }

    /// Reads `key = value` for one of [`KEYS`]; `Ok(false)` for another key.
    pub fn take(&mut self, source: &str, key: &str, value: &str) -> Result<bool> {
        let count = |v: &str| -> Result<usize> {
            v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                Error::data(format!("data source '{source}': {key}={v} must be a positive whole number"))
            })
        };
        match key {
            "n" => self.n = Some(count(value)?),
            "test_n" => self.test_n = Some(count(value)?),
            "classes" => self.classes = Some(parse_classes(source, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The parameters as `key=value` text, in [`KEYS`] order (for a source's canonical spelling).
    pub fn params(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = self.n {
            out.push(format!("n={n}"));
        }
        if let Some(n) = self.test_n {
            out.push(format!("test_n={n}"));
        }
        if let Some(c) = &self.classes {
            let c: Vec<String> = c.iter().map(u32::to_string).collect();
            out.push(format!("classes=({})", c.join(",")));
        }
        out
    }

    /// Keeps the selected samples of a freshly loaded split.
    pub fn apply(&self, split: &mut Split) -> Result<()> {
        if let Some(classes) = &self.classes {
            split.train = keep_classes(&split.train, classes)?;
            if let Some(test) = &split.test {
                split.test = Some(keep_classes(test, classes)?);
            }
        }
        if let Some(n) = self.n {
            split.train = first(&split.train, n, "n")?;
        }
        if let Some(n) = self.test_n {
            let test = split.test.as_ref().ok_or_else(|| {
                Error::data(format!(
                    "test_n={n}: {} has no test set of its own (convlab splits off \
                     --test-fraction of it); use n= to keep fewer samples",
                    split.train.name
                ))
            })?;
            split.test = Some(first(test, n, "test_n")?);
        }
        Ok(())
    }
}

/// `(3,8)` or `3`: distinct class labels.
fn parse_classes(source: &str, value: &str) -> Result<Vec<u32>> {
    let inner = value.strip_prefix('(').and_then(|v| v.strip_suffix(')')).unwrap_or(value);
    let mut out: Vec<u32> = Vec::new();
    for part in inner.split(',').map(str::trim) {
        let c = part.parse::<u32>().map_err(|_| {
            Error::data(format!(
                "data source '{source}': classes={value}: '{part}' is not a class label (a whole \
                 number ≥ 0); write e.g. classes=(3,8)"
            ))
        })?;
        if out.contains(&c) {
            return Err(Error::data(format!("data source '{source}': classes={value} names class {c} twice")));
        }
        out.push(c);
    }
    Ok(out)
}

/// The first `n` samples of `ds` (an error if it has fewer, so a typo is not silently ignored).
fn first(ds: &Dataset, n: usize, key: &str) -> Result<Dataset> {
    if n > ds.len() {
        return Err(Error::data(format!(
            "{key}={n}: {} has only {} samples; choose {key} ≤ {}",
            ds.name,
            ds.len(),
            ds.len()
        )));
    }
    let indices: Vec<usize> = (0..n).collect();
    Ok(subset(ds, &indices, ds.name.clone()))
}

/// The samples of `classes`, relabelled by their position in `classes`.
fn keep_classes(ds: &Dataset, classes: &[u32]) -> Result<Dataset> {
    let Targets::Classes { labels, num_classes } = &ds.targets else {
        return Err(Error::data(format!(
            "classes=: {} has real-valued targets, not classes; classes= needs a classification data set",
            ds.name
        )));
    };
    if let Some(&c) = classes.iter().find(|&&c| c as usize >= *num_classes) {
        return Err(Error::data(format!(
            "classes=: {} has classes 0..{}, not {c}",
            ds.name,
            num_classes.saturating_sub(1)
        )));
    }
    let indices: Vec<usize> = (0..ds.len()).filter(|&i| classes.contains(&labels[i])).collect();
    let mut kept = subset(ds, &indices, ds.name.clone());
    let relabel = |old: u32| classes.iter().position(|&c| c == old).expect("kept only these classes") as u32;
    kept.targets =
        Targets::Classes { labels: indices.iter().map(|&i| relabel(labels[i])).collect(), num_classes: classes.len() };
    let name_of = |c: u32| match &ds.class_names {
        Some(names) => names.get(c as usize).cloned().unwrap_or_else(|| c.to_string()),
        None => c.to_string(),
    };
    kept.class_names = Some(classes.iter().map(|&c| name_of(c)).collect());
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Dataset {
        // Sample i holds the value i; labels cycle 0, 1, 2, 3.
        Dataset {
            name: "toy".into(),
            x: (0..12).map(|i| i as f32).collect(),
            sample_shape: vec![1, 1],
            targets: Targets::Classes { labels: (0..12).map(|i| i % 4).collect(), num_classes: 4 },
            class_names: Some(vec!["a".into(), "b".into(), "c".into(), "d".into()]),
        }
    }

    fn select(pairs: &[(&str, &str)]) -> Selection {
        let mut s = Selection::default();
        for (k, v) in pairs {
            assert!(s.take("toy", k, v).unwrap());
        }
        s
    }

    #[test]
    fn classes_then_first_n_relabelled_with_names() {
        let mut split = Split { train: toy(), test: Some(toy()) };
        select(&[("classes", "(3,1)"), ("n", "4"), ("test_n", "2")]).apply(&mut split).unwrap();
        assert_eq!(split.train.x, vec![1.0, 3.0, 5.0, 7.0]);
        assert_eq!(split.train.targets, Targets::Classes { labels: vec![1, 0, 1, 0], num_classes: 2 });
        assert_eq!(split.train.class_names, Some(vec!["d".to_string(), "b".to_string()]));
        assert_eq!(split.test.unwrap().x, vec![1.0, 3.0]);
    }

    #[test]
    fn names_fall_back_to_the_old_labels() {
        let mut ds = toy();
        ds.class_names = None;
        let mut split = Split { train: ds, test: None };
        select(&[("classes", "2")]).apply(&mut split).unwrap();
        assert_eq!(split.train.class_names, Some(vec!["2".to_string()]));
        assert_eq!(split.train.len(), 3);
    }

    #[test]
    fn refusals() {
        let mut s = Selection::default();
        for (k, v, want) in [
            ("n", "0", "positive whole number"),
            ("n", "-3", "positive whole number"),
            ("classes", "(3,x)", "'x' is not a class label"),
            ("classes", "(3,3)", "class 3 twice"),
        ] {
            let m = s.take("toy", k, v).unwrap_err().to_string();
            assert!(m.contains(want), "{k}={v}: {m}");
        }
        assert!(!s.take("toy", "noise", "0.1").unwrap());
        let apply = |sel: Selection, test: bool| {
            let mut split = Split { train: toy(), test: test.then(toy) };
            sel.apply(&mut split).unwrap_err().to_string()
        };
        assert!(apply(select(&[("n", "13")]), false).contains("has only 12 samples"));
        assert!(apply(select(&[("classes", "(4)")]), false).contains("classes 0..3, not 4"));
        assert!(apply(select(&[("test_n", "2")]), false).contains("no test set of its own"));
        let mut reg = Split { train: toy(), test: None };
        reg.train.targets = Targets::Values { values: vec![0.0; 12], width: 1 };
        let m = select(&[("classes", "1")]).apply(&mut reg).unwrap_err().to_string();
        assert!(m.contains("real-valued targets"), "{m}");
    }

    #[test]
    fn params_spell_back() {
        let s = select(&[("classes", "( 3, 8 )"), ("n", "10")]);
        assert_eq!(s.params(), vec!["n=10".to_string(), "classes=(3,8)".to_string()]);
    }
}
