//! NumPy `.npz` archives holding `X` (samples) and `y` (targets), as a lab would save with
//! `np.savez("mnist_train.npz", X=X, y=y)` (or `savez_compressed`).
//!
//! X: uint8 (scaled to [0, 1] by /255), float32 or float64. Its shape decides the sample shape:
//! `(N, D)` with D a square (784) → `(N, 1, s, s)`; `(N, H, W)` → `(N, 1, H, W)`, except that
//! a non-square `(N, C, L)` with C ≤ 4 is taken as C channels of a 1-D signal (an image with at
//! most 4 rows is implausible, a signal of 1–4 channels common); `(N, C, H, W)` is kept.
//! y: integers → classes `0..=max`; floats → regression values. The arrays themselves are read
//! by [`super::npy`].

use std::path::Path;

use super::dataset::{Dataset, Split, Targets};
use super::npy::{parse_npy, NpyArray, NpyData};
use super::split::unify_num_classes;
use super::zip::ZipArchive;
use crate::error::{Error, Result};

/// The sample shape for X's array shape (see the module doc), or why it is not usable.
fn sample_shape(shape: &[usize]) -> Result<Vec<usize>> {
    let fix = "save X as (N, H, W) or (N, C, H, W) images, (N, C, L) signals, or (N, H*W) \
               square images";
    match shape {
        [_, d] => {
            let s = (*d as f64).sqrt().round() as usize;
            if s * s == *d {
                Ok(vec![1, s, s])
            } else {
                Err(Error::data(format!("X has shape {shape:?}: {d} values per sample is not a square image; {fix}")))
            }
        }
        [_, c, l] if *c <= 4 && c != l => Ok(vec![*c, *l]),
        [_, h, w] => Ok(vec![1, *h, *w]),
        [_, c, h, w] => {
            if matches!(w, 1 | 3 | 4) && !matches!(c, 1 | 3 | 4) {
                Err(Error::data(format!(
                    "X has shape {shape:?}, which looks channels-last (N, H, W, C); convlab wants \
                     (N, C, H, W): save np.transpose(X, (0, 3, 1, 2))"
                )))
            } else {
                Ok(vec![*c, *h, *w])
            }
        }
        _ => Err(Error::data(format!(
            "X has {} dimensions {shape:?}, which is not a batch of samples; {fix}",
            shape.len()
        ))),
    }
}

/// Labels at most this large are class indices; beyond it they are surely ids or values.
const MAX_CLASSES: usize = 1 << 16;

fn targets(y: &NpyArray, n: usize) -> Result<Targets> {
    if y.shape.first() != Some(&n) {
        return Err(Error::data(format!(
            "X holds {n} samples but y has shape {:?}; they must have the same first dimension",
            y.shape
        )));
    }
    let width: usize = y.shape[1..].iter().product();
    let ints: Option<Vec<i64>> = match &y.data {
        NpyData::U8(v) => Some(v.iter().map(|&l| l as i64).collect()),
        NpyData::I32(v) => Some(v.iter().map(|&l| l as i64).collect()),
        NpyData::I64(v) => Some(v.clone()),
        _ => None,
    };
    if let Some(ints) = ints {
        if width != 1 {
            return Err(Error::data(format!(
                "integer y has shape {:?}; class labels must be one per sample, shape ({n},) \
                 (for one-hot labels save y.argmax(1); for regression save y as float)",
                y.shape
            )));
        }
        if let Some((i, l)) = ints.iter().enumerate().find(|(_, &l)| l < 0) {
            return Err(Error::data(format!(
                "y holds a negative label ({l}, sample {i}); class labels must be 0..K-1: remap \
                 them, e.g. y - y.min()"
            )));
        }
        let max = ints.iter().copied().max().unwrap_or(0) as usize;
        if max >= MAX_CLASSES {
            return Err(Error::data(format!(
                "y's largest label is {max}; class labels must be 0..K-1 with K < {MAX_CLASSES}: \
                 remap them (np.unique(y, return_inverse=True)), or save y as float for regression"
            )));
        }
        return Ok(Targets::Classes { labels: ints.iter().map(|&l| l as u32).collect(), num_classes: max + 1 });
    }
    let values: Vec<f32> = match &y.data {
        NpyData::F32(v) => v.clone(),
        NpyData::F64(v) => v.iter().map(|&f| f as f32).collect(),
        _ => unreachable!("integer dtypes handled above"),
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(format!(
            "y holds a non-finite value (NaN or infinity) at element {i}; clean the targets"
        )));
    }
    Ok(Targets::Values { values, width })
}

/// The data set called `name` of the arrays `X` and `y`; `label` (e.g. the file's path) starts
/// error messages.
fn build(x: NpyArray, y: &NpyArray, label: &str, name: String) -> Result<Dataset> {
    let err = |m: String| Error::data(format!("{label}: {m}"));
    let n = *x.shape.first().unwrap_or(&0);
    if x.shape.len() >= 2 && (n == 0 || x.shape.contains(&0)) {
        return Err(err(format!(
            "X has shape {:?}, with no samples or an empty dimension; save a non-empty array",
            x.shape
        )));
    }
    let sample_shape = sample_shape(&x.shape).map_err(|e| e.context(label))?;
    let values: Vec<f32> = match x.data {
        NpyData::U8(v) => v.iter().map(|&b| b as f32 / 255.0).collect(),
        NpyData::F32(v) => v,
        NpyData::F64(v) => v.iter().map(|&f| f as f32).collect(),
        other => return Err(err(format!("X has dtype {}; save X as uint8 (0..255) or float32", other.dtype()))),
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(err(format!(
            "X holds a non-finite value (NaN or infinity or too large for float32) in sample {}; \
             clean the data",
            i / (values.len() / n)
        )));
    }
    let targets = targets(y, n).map_err(|e| e.context(label))?;
    Ok(Dataset { name, x: values.into(), sample_shape, targets, class_names: None })
}

/// Loads the arrays `X` and `y` of an `.npz` file. (`x` and `Y` are accepted too.)
pub fn load_npz(path: &Path) -> Result<Dataset> {
    let bytes = super::limits::read_data_file(path)?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    npz_from_bytes(&bytes, &path.display().to_string(), name)
}

/// [`load_npz`] on the bytes of a file; `label` (the path) starts error messages.
pub fn npz_from_bytes(bytes: &[u8], label: &str, name: String) -> Result<Dataset> {
    let zip = ZipArchive::parse(bytes, label)?;
    let find = |names: [&str; 2]| names.iter().find_map(|n| zip.read(&format!("{n}.npy")).map(|r| (n.to_string(), r)));
    let (Some((xn, x)), Some((yn, y))) = (find(["X", "x"]), find(["y", "Y"])) else {
        let have: Vec<String> = zip.names().iter().map(|n| n.trim_end_matches(".npy").to_string()).collect();
        return Err(Error::data(format!(
            "{label}: needs arrays 'X' (samples) and 'y' (targets) but holds [{}]; save with \
             np.savez(\"{name}.npz\", X=..., y=...)",
            have.join(", "),
        )));
    };
    let x = parse_npy(&x?, &format!("{label}: {xn}"))?;
    let y = parse_npy(&y?, &format!("{label}: {yn}"))?;
    build(x, &y, label, name)
}

/// Loads `npz:TRAIN.npz[,TEST.npz]`: both files must agree on sample shape and target kind.
pub fn load_npz_split(train: &Path, test: Option<&Path>) -> Result<Split> {
    let train_ds = load_npz(train)?;
    let test_ds = match test {
        Some(t) => {
            let d = load_npz(t)?;
            if d.sample_shape != train_ds.sample_shape {
                return Err(Error::data(format!(
                    "{} has samples of shape {:?} but {} has {:?}; train and test must match",
                    train.display(),
                    train_ds.sample_shape,
                    t.display(),
                    d.sample_shape
                )));
            }
            let kinds_match = match (&train_ds.targets, &d.targets) {
                (Targets::Classes { .. }, Targets::Classes { .. }) => true,
                (Targets::Values { width: a, .. }, Targets::Values { width: b, .. }) => a == b,
                _ => false,
            };
            if !kinds_match {
                return Err(Error::data(format!(
                    "{} and {} have different kinds of y (class labels vs values, or a different \
                     number of values); save both y arrays the same way",
                    train.display(),
                    t.display()
                )));
            }
            Some(d)
        }
        None => None,
    };
    let mut split = Split { train: train_ds, test: test_ds };
    unify_num_classes(&mut split);
    Ok(split)
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::super::zip::build_zip;
    use super::*;
    use crate::data::npy::npy_v1;
    use std::path::PathBuf;

    /// `np.savez_compressed("c.npz", X=np.arange(8, dtype=np.uint8).reshape(2, 2, 2) * 30,
    /// y=np.array([1, 0]))`, written by numpy 2.4.
    const NUMPY_COMPRESSED: &[u8] = &[
        0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0xcd, 0xb4, 0xee, 0xd1,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x14, 0x00, 0x58, 0x2e, 0x6e, 0x70, 0x79, 0x01,
        0x00, 0x10, 0x00, 0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x9b, 0xec, 0x17, 0xea, 0x1b, 0x10, 0xc9, 0xc8, 0x50, 0xc6, 0x50, 0xad, 0x9e, 0x92, 0x5a, 0x9c, 0x5c,
        0xa4, 0x6e, 0xa5, 0xa0, 0x5e, 0x53, 0x6a, 0xa8, 0xae, 0xa3, 0xa0, 0x9e, 0x96, 0x5f, 0x54, 0x52, 0x94, 0x98,
        0x17, 0x9f, 0x5f, 0x94, 0x92, 0x0a, 0x12, 0x77, 0x4b, 0xcc, 0x29, 0x4e, 0x05, 0x8a, 0x17, 0x67, 0x24, 0x16,
        0xa4, 0x02, 0xf9, 0x1a, 0x46, 0x3a, 0x0a, 0x20, 0xa4, 0xa9, 0xa3, 0x50, 0xab, 0x40, 0x1e, 0xe0, 0x62, 0x90,
        0xb3, 0x89, 0xaa, 0x98, 0xb6, 0xe5, 0x12, 0x00, 0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x21, 0x00, 0x71, 0xfb, 0x39, 0xab, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00,
        0x14, 0x00, 0x79, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x48, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9b, 0xec, 0x17, 0xea, 0x1b, 0x10, 0xc9, 0xc8, 0x50,
        0xc6, 0x50, 0xad, 0x9e, 0x92, 0x5a, 0x9c, 0x5c, 0xa4, 0x6e, 0xa5, 0xa0, 0x6e, 0x93, 0x69, 0xa1, 0xae, 0xa3,
        0xa0, 0x9e, 0x96, 0x5f, 0x54, 0x52, 0x94, 0x98, 0x17, 0x9f, 0x5f, 0x94, 0x92, 0x0a, 0x12, 0x77, 0x4b, 0xcc,
        0x29, 0x4e, 0x05, 0x8a, 0x17, 0x67, 0x24, 0x16, 0xa4, 0x02, 0xf9, 0x1a, 0x46, 0x3a, 0x9a, 0x3a, 0x0a, 0xb5,
        0x0a, 0x14, 0x00, 0x2e, 0x46, 0x06, 0x54, 0x00, 0x00, 0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00,
        0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0xcd, 0xb4, 0xee, 0xd1, 0x4f, 0x00, 0x00, 0x00, 0x88, 0x00, 0x00,
        0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x58, 0x2e, 0x6e, 0x70, 0x79, 0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x21, 0x00, 0x71, 0xfb, 0x39, 0xab, 0x48, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x05, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x86, 0x00, 0x00, 0x00, 0x79, 0x2e,
        0x6e, 0x70, 0x79, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x66, 0x00, 0x00,
        0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,
    ];

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    fn i64s(v: &[i64]) -> Vec<u8> {
        v.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("convlab-npz-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(name: &str, members: &[(&str, &[u8])], deflate: bool) -> PathBuf {
        let p = dir().join(name);
        std::fs::write(&p, build_zip(members, deflate)).unwrap();
        p
    }

    fn err_of(name: &str, x: Vec<u8>, y: Vec<u8>) -> String {
        let p = write(name, &[("X.npy", &x), ("y.npy", &y)], false);
        load_npz(&p).unwrap_err().to_string()
    }

    #[test]
    fn real_numpy_file() {
        let p = dir().join("numpy.npz");
        std::fs::write(&p, NUMPY_COMPRESSED).unwrap();
        let ds = load_npz(&p).unwrap();
        assert_eq!(ds.name, "numpy");
        assert_eq!(ds.sample_shape, vec![1, 2, 2]);
        assert_eq!(ds.x[1], 30.0 / 255.0);
        assert_eq!(ds.x[7], 210.0 / 255.0);
        assert_eq!(ds.targets, Targets::Classes { labels: vec![1, 0], num_classes: 2 });
    }

    #[test]
    fn flat_mnist_uint8_with_int32_labels_deflated() {
        let x = npy_v1("|u1", "(2, 784)", &[255u8; 2 * 784]);
        let y = npy_v1("<i4", "(2,)", &[3, 0, 0, 0, 9, 0, 0, 0]);
        let p = write("flat.npz", &[("X.npy", &x), ("y.npy", &y)], true);
        let ds = load_npz(&p).unwrap();
        assert_eq!(ds.sample_shape, vec![1, 28, 28]);
        assert_eq!(ds.len(), 2);
        assert!(ds.x.iter().all(|&v| v == 1.0));
        assert!(matches!(ds.targets, Targets::Classes { num_classes: 10, .. }));
    }

    #[test]
    fn float_signals_and_regression_targets() {
        let x = npy_v1("<f4", "(2, 1, 5)", &f32s(&[0.5; 10]));
        let y = npy_v1("<f8", "(2, 2)", &[1.5f64, 2.0, -1.0, 0.25].map(f64::to_le_bytes).concat());
        let p = write("sig.npz", &[("x.npy", &x), ("Y.npy", &y)], false);
        let ds = load_npz(&p).unwrap();
        assert_eq!(ds.sample_shape, vec![1, 5]);
        assert_eq!(ds.targets, Targets::Values { values: vec![1.5, 2.0, -1.0, 0.25], width: 2 });
    }

    #[test]
    fn shapes() {
        assert_eq!(sample_shape(&[5, 784]).unwrap(), vec![1, 28, 28]);
        assert_eq!(sample_shape(&[5, 28, 28]).unwrap(), vec![1, 28, 28]);
        assert_eq!(sample_shape(&[5, 20, 30]).unwrap(), vec![1, 20, 30]);
        assert_eq!(sample_shape(&[5, 3, 100]).unwrap(), vec![3, 100]);
        assert_eq!(sample_shape(&[5, 1, 64]).unwrap(), vec![1, 64]);
        assert_eq!(sample_shape(&[5, 3, 3]).unwrap(), vec![1, 3, 3]);
        assert_eq!(sample_shape(&[5, 3, 32, 32]).unwrap(), vec![3, 32, 32]);
        assert!(sample_shape(&[5, 32, 32, 3]).unwrap_err().to_string().contains("channels-last"));
        assert!(sample_shape(&[5, 10]).unwrap_err().to_string().contains("not a square"));
        assert!(sample_shape(&[5]).unwrap_err().to_string().contains("1 dimensions"));
        assert!(sample_shape(&[5, 1, 2, 3, 4]).is_err());
    }

    #[test]
    fn float64_x_and_uint8_y() {
        let x = npy_v1("<f8", "(1, 2, 2)", &[0.25f64; 4].map(f64::to_le_bytes).concat());
        let y = npy_v1("|u1", "(1,)", &[2]);
        let ds = build(parse_npy(&x, "x").unwrap(), &parse_npy(&y, "y").unwrap(), "t", "t".into()).unwrap();
        assert_eq!(ds.x, vec![0.25; 4]);
        assert!(matches!(ds.targets, Targets::Classes { num_classes: 3, .. }));
    }

    #[test]
    fn missing_x_lists_arrays() {
        let y = npy_v1("<i8", "(1,)", &i64s(&[0]));
        let p = write("nox.npz", &[("data.npy", &y), ("y.npy", &y)], false);
        let e = load_npz(&p).unwrap_err().to_string();
        assert!(e.contains("needs arrays 'X'"), "{e}");
        assert!(e.contains("holds [data, y]"), "{e}");
        assert!(e.contains("np.savez(\"nox.npz\", X=..., y=...)"), "{e}");
    }

    #[test]
    fn missing_y() {
        let x = npy_v1("|u1", "(1, 4)", &[0; 4]);
        let p = write("noy.npz", &[("X.npy", &x)], true);
        let e = load_npz(&p).unwrap_err().to_string();
        assert!(e.contains("holds [X]"), "{e}");
    }

    #[test]
    fn count_mismatch() {
        let e = err_of("count.npz", npy_v1("|u1", "(3, 4)", &[0; 12]), npy_v1("<i8", "(2,)", &i64s(&[0, 1])));
        assert!(e.contains("X holds 3 samples but y has shape [2]"), "{e}");
        assert!(e.contains("count.npz"), "{e}");
    }

    #[test]
    fn bad_shape() {
        let e = err_of("shape.npz", npy_v1("|u1", "(3, 10)", &[0; 30]), npy_v1("<i8", "(3,)", &i64s(&[0, 1, 2])));
        assert!(e.contains("not a square image"), "{e}");
        let e = err_of("empty.npz", npy_v1("|u1", "(0, 4)", &[]), npy_v1("<i8", "(0,)", &[]));
        assert!(e.contains("no samples"), "{e}");
    }

    #[test]
    fn negative_and_huge_labels() {
        let x = || npy_v1("|u1", "(2, 4)", &[0; 8]);
        let e = err_of("neg.npz", x(), npy_v1("<i8", "(2,)", &i64s(&[0, -1])));
        assert!(e.contains("negative label (-1, sample 1)"), "{e}");
        let e = err_of("big.npz", x(), npy_v1("<i8", "(2,)", &i64s(&[0, 1 << 40])));
        assert!(e.contains("largest label"), "{e}");
        let e = err_of("2d.npz", x(), npy_v1("<i8", "(2, 2)", &i64s(&[0, 1, 1, 0])));
        assert!(e.contains("argmax"), "{e}");
    }

    #[test]
    fn bad_dtypes() {
        let y = || npy_v1("<i8", "(1,)", &i64s(&[0]));
        let e = err_of("be.npz", npy_v1(">f4", "(1, 4)", &[0; 16]), y());
        assert!(e.contains("big-endian"), "{e}");
        let e = err_of("f2.npz", npy_v1("<f2", "(1, 4)", &[0; 8]), y());
        assert!(e.contains("dtype '<f2' is not supported"), "{e}");
        let e = err_of("ix.npz", npy_v1("<i8", "(1, 4)", &i64s(&[0; 4])), y());
        assert!(e.contains("X has dtype int64"), "{e}");
    }

    #[test]
    fn non_finite_values() {
        let y = || npy_v1("<i8", "(1,)", &i64s(&[0]));
        let nan = f32s(&[0.0, f32::NAN, 0.0, 0.0]);
        let e = err_of("nan.npz", npy_v1("<f4", "(1, 4)", &nan), y());
        assert!(e.contains("X holds a non-finite"), "{e}");
        let x = || npy_v1("<f4", "(1, 4)", &f32s(&[0.0; 4]));
        let e = err_of("ynan.npz", x(), npy_v1("<f4", "(1,)", &f32s(&[f32::INFINITY])));
        assert!(e.contains("y holds a non-finite"), "{e}");
    }

    #[test]
    fn split_files_must_agree() {
        let x4 = npy_v1("|u1", "(2, 4)", &[0; 8]);
        let x9 = npy_v1("|u1", "(2, 9)", &[0; 18]);
        let yc = npy_v1("<i8", "(2,)", &i64s(&[0, 1]));
        let yc3 = npy_v1("<i8", "(2,)", &i64s(&[0, 3]));
        let yv = npy_v1("<f4", "(2,)", &f32s(&[0.0, 1.0]));
        let a = write("a.npz", &[("X.npy", &x4), ("y.npy", &yc)], true);
        let b = write("b.npz", &[("X.npy", &x4), ("y.npy", &yc3)], false);
        let c = write("c.npz", &[("X.npy", &x9), ("y.npy", &yc)], false);
        let d = write("d.npz", &[("X.npy", &x4), ("y.npy", &yv)], false);
        let s = load_npz_split(&a, Some(&b)).unwrap();
        assert!(matches!(s.train.targets, Targets::Classes { num_classes: 4, .. }));
        let e = load_npz_split(&a, Some(&c)).unwrap_err().to_string();
        assert!(e.contains("train and test must match"), "{e}");
        let e = load_npz_split(&a, Some(&d)).unwrap_err().to_string();
        assert!(e.contains("different kinds of y"), "{e}");
        assert!(load_npz_split(&a, None).unwrap().test.is_none());
    }

    /// Truncated and bit-flipped archives give errors, never panics.
    #[test]
    fn no_panic_on_mangled_input() {
        use crate::rng::SplitMix64;
        let x = npy_v1("|u1", "(3, 4)", &[7; 12]);
        let y = npy_v1("<i8", "(3,)", &i64s(&[0, 1, 2]));
        let mut rng = SplitMix64::new(3);
        for deflate in [false, true] {
            let good = build_zip(&[("X.npy", &x), ("y.npy", &y)], deflate);
            assert!(npz_from_bytes(&good, "g", "g".into()).is_ok());
            for cut in 0..good.len() {
                let _ = npz_from_bytes(&good[..cut], "t", "t".into());
            }
            for _ in 0..3000 {
                let mut b = good.clone();
                for _ in 0..1 + rng.below(3) {
                    let i = rng.below(b.len());
                    b[i] = rng.next_u64() as u8;
                }
                let _ = npz_from_bytes(&b, "f", "f".into());
            }
        }
    }

    #[test]
    fn not_a_zip_file() {
        let p = dir().join("plain.npz");
        std::fs::write(&p, npy_v1("|u1", "(1,)", &[0])).unwrap();
        let e = load_npz(&p).unwrap_err().to_string();
        assert!(e.contains("not a valid zip/.npz file"), "{e}");
    }
}
