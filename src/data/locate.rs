//! Finding MNIST-style data sets on disk by name, and loading IDX directories.
//!
//! Nothing is downloaded here: the search order is an explicit `--data-dir`, then
//! `$CONVLAB_DATA/<name>`, the user's cache (`$XDG_CACHE_HOME/convlab/<name>` or
//! `~/.cache/convlab/<name>`, where `convlab data fetch` puts files), then
//! `/usr/share/datasets/<name>` (Debian's `dataset-fashion-mnist` package).

use std::path::{Path, PathBuf};

use super::dataset::{Split, Targets};
use super::idx::load_idx_pair;
use super::split::unify_num_classes;
use crate::error::{Error, Result};

/// The named sets that can be found on disk.
const KNOWN_SETS: &[&str] = &["mnist", "fashion-mnist"];

/// Fashion-MNIST's class names, in label order.
const FASHION_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// The four files of an MNIST-style directory, without extension.
const STEMS: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The environment the search depends on, captured once so tests can supply their own.
#[derive(Clone, Debug, Default)]
struct SearchEnv {
    pub convlab_data: Option<PathBuf>,
    pub xdg_cache_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub system_dir: PathBuf,
}

impl SearchEnv {
    /// Reads `$CONVLAB_DATA`, `$XDG_CACHE_HOME` and `$HOME`; empty values count as unset.
    fn from_env() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        SearchEnv {
            convlab_data: var("CONVLAB_DATA"),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            home: var("HOME"),
            system_dir: PathBuf::from("/usr/share/datasets"),
        }
    }

    /// convlab's cache folder: `$XDG_CACHE_HOME/convlab` or `~/.cache/convlab`.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        // The XDG spec says relative values are to be ignored.
        match &self.xdg_cache_home {
            Some(x) if x.is_absolute() => Some(x.join("convlab")),
            _ => self.home.as_ref().map(|h| h.join(".cache").join("convlab")),
        }
    }

    /// The directories searched for `name`, in order.
    fn candidates(&self, name: &str, data_dir: Option<&Path>) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(d) = data_dir {
            // `--data-dir` may point at the files themselves or at a parent of `<name>/`.
            v.push(d.to_path_buf());
            v.push(d.join(name));
        }
        if let Some(d) = &self.convlab_data {
            v.push(d.join(name));
        }
        if let Some(d) = self.cache_dir() {
            v.push(d.join(name));
        }
        v.push(self.system_dir.join(name));
        v
    }
}

/// convlab's cache folder for the current user (where `convlab data fetch` should write).
pub fn cache_dir() -> Option<PathBuf> {
    SearchEnv::from_env().cache_dir()
}

/// Paths of the four IDX files of a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IdxFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

/// Finds the four IDX files in `dir`, accepting `.gz` or raw and the `train-images.idx3-ubyte`
/// spelling some mirrors use. On failure returns the names that are missing.
fn find_idx_files(dir: &Path) -> Result<IdxFiles, Vec<String>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for stem in STEMS {
        let dotted = stem.replacen("-idx", ".idx", 1);
        let hit = [stem.to_string(), dotted]
            .iter()
            .flat_map(|s| [format!("{s}.gz"), s.clone()])
            .map(|f| dir.join(f))
            .find(|p| p.is_file());
        match hit {
            Some(p) => found.push(p),
            None => missing.push(format!("{stem}[.gz]")),
        }
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut it = found.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(IdxFiles { train_images: next(), train_labels: next(), test_images: next(), test_labels: next() })
}

/// Loads the train and test pairs of an MNIST-style directory (the `idx:DIR` source).
/// Both sides get the same `num_classes`.
pub fn load_idx_dir(dir: &Path) -> Result<Split> {
    if !dir.is_dir() {
        return Err(Error::data(format!(
            "{}: no such directory; give a directory holding {}",
            dir.display(),
            files_list()
        )));
    }
    let files = find_idx_files(dir).map_err(|missing| {
        Error::data(format!(
            "{}: missing {}; an IDX directory needs {}",
            dir.display(),
            missing.join(", "),
            files_list()
        ))
    })?;
    let label = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
    load_files(&files, &label)
}

fn load_files(files: &IdxFiles, label: &str) -> Result<Split> {
    let mut train = load_idx_pair(&files.train_images, &files.train_labels)?;
    let mut test = load_idx_pair(&files.test_images, &files.test_labels)?;
    train.name = format!("{label} (train)");
    test.name = format!("{label} (test)");
    if train.sample_shape != test.sample_shape {
        return Err(Error::data(format!(
            "{} has images of shape {:?} but {} has {:?}; train and test must come from the \
             same data set",
            files.train_images.display(),
            train.sample_shape,
            files.test_images.display(),
            test.sample_shape
        )));
    }
    let mut split = Split { train, test: Some(test) };
    unify_num_classes(&mut split);
    Ok(split)
}

fn files_list() -> String {
    STEMS.iter().map(|s| format!("{s}[.gz]")).collect::<Vec<_>>().join(", ")
}

/// Finds and loads the named set (`mnist` or `fashion-mnist`), with class names.
pub fn load_named(name: &str, data_dir: Option<&Path>) -> Result<Split> {
    load_named_in(name, data_dir, &SearchEnv::from_env())
}

/// [`load_named`] with an explicit environment.
fn load_named_in(name: &str, data_dir: Option<&Path>, env: &SearchEnv) -> Result<Split> {
    let class_names: Vec<String> = match name {
        "mnist" => (0..10).map(|d| d.to_string()).collect(),
        "fashion-mnist" => FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
        _ => return Err(Error::data(format!("unknown data set '{name}'; known sets: {}", KNOWN_SETS.join(", ")))),
    };
    let mut looked = Vec::new();
    for dir in env.candidates(name, data_dir) {
        match find_idx_files(&dir) {
            Ok(files) => {
                let mut split = load_files(&files, name)?;
                let n = class_names.len();
                for ds in std::iter::once(&mut split.train).chain(split.test.as_mut()) {
                    if let Targets::Classes { labels, num_classes } = &mut ds.targets {
                        if let Some(bad) = labels.iter().find(|&&l| l as usize >= n) {
                            return Err(Error::data(format!(
                                "{}: label {bad} is out of range for {name}, which has {n} \
                                 classes; the files are not {name}: replace them",
                                dir.display()
                            )));
                        }
                        *num_classes = n;
                    }
                    ds.class_names = Some(class_names.clone());
                }
                return Ok(split);
            }
            Err(missing) if dir.is_dir() => {
                looked.push(format!("  {} (exists, but lacks {})", dir.display(), missing.join(", ")))
            }
            Err(_) => looked.push(format!("  {} (not found)", dir.display())),
        }
    }
    let apt = if name == "fashion-mnist" {
        "\n  - install Debian's package: apt-get install dataset-fashion-mnist"
    } else {
        ""
    };
    Err(Error::data(format!(
        "data set '{name}' not found. Looked in:\n{}\nTo get it:{apt}\n  - download it: convlab \
         data fetch {name}\n  - or put {} in a directory and pass --data-dir DIR (or set \
         CONVLAB_DATA=DIR with the files in DIR/{name}/)",
        looked.join("\n"),
        files_list()
    )))
}

#[cfg(test)]
mod tests {
    use super::super::gzip::gzip;
    use super::super::idx::{idx_bytes, IMAGES_MAGIC, LABELS_MAGIC};
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("convlab-loc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Writes a tiny MNIST-style set: `n` 2x2 images per side, labels `0..n`.
    fn write_set(dir: &Path, gz: bool, dotted: bool, max_label: u8) {
        std::fs::create_dir_all(dir).unwrap();
        for (stem, n) in [("train", 4u8), ("t10k", 2u8)] {
            let px: Vec<u8> = (0..n as u32 * 4).map(|i| i as u8).collect();
            let labs: Vec<u8> = (0..n).map(|i| i.min(max_label)).collect();
            let mut files = vec![
                (format!("{stem}-images-idx3-ubyte"), idx_bytes(IMAGES_MAGIC, &[n as u32, 2, 2], &px)),
                (format!("{stem}-labels-idx1-ubyte"), idx_bytes(LABELS_MAGIC, &[n as u32], &labs)),
            ];
            if stem == "train" {
                files[1].1[8..].copy_from_slice(&[0, 1, 2, max_label]);
            }
            for (mut f, b) in files {
                if dotted {
                    f = f.replacen("-idx", ".idx", 1);
                }
                if gz {
                    std::fs::write(dir.join(f + ".gz"), gzip(&b)).unwrap();
                } else {
                    std::fs::write(dir.join(f), b).unwrap();
                }
            }
        }
    }

    fn env_in(root: &Path) -> SearchEnv {
        SearchEnv {
            convlab_data: Some(root.join("env")),
            xdg_cache_home: None,
            home: Some(root.join("home")),
            system_dir: root.join("sys"),
        }
    }

    #[test]
    fn candidate_order() {
        let env = SearchEnv {
            convlab_data: Some("/d".into()),
            xdg_cache_home: Some("/x".into()),
            home: Some("/h".into()),
            system_dir: "/usr/share/datasets".into(),
        };
        let c = env.candidates("mnist", Some(Path::new("/cli")));
        let want: Vec<PathBuf> = ["/cli", "/cli/mnist", "/d/mnist", "/x/convlab/mnist", "/usr/share/datasets/mnist"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(c, want);
        let env = SearchEnv { xdg_cache_home: Some("relative".into()), ..env };
        assert_eq!(env.cache_dir(), Some(PathBuf::from("/h/.cache/convlab")));
    }

    #[test]
    fn finds_in_each_place() {
        let root = tmp("places");
        let env = env_in(&root);
        write_set(&root.join("sys/fashion-mnist"), true, false, 9);
        let s = load_named_in("fashion-mnist", None, &env).unwrap();
        assert_eq!(s.train.len(), 4);
        assert_eq!(s.test.as_ref().unwrap().len(), 2);
        assert_eq!(s.train.name, "fashion-mnist (train)");
        assert_eq!(s.train.class_names.as_ref().unwrap()[9], "Ankle boot");
        assert!(matches!(s.train.targets, Targets::Classes { num_classes: 10, .. }));

        // The cache beats the system directory: give it a set with different labels.
        write_set(&root.join("home/.cache/convlab/fashion-mnist"), false, true, 3);
        let s = load_named_in("fashion-mnist", None, &env).unwrap();
        let Targets::Classes { labels, .. } = &s.train.targets else { panic!() };
        assert_eq!(labels, &vec![0, 1, 2, 3]);

        write_set(&root.join("cli"), true, false, 5);
        let s = load_named_in("fashion-mnist", Some(&root.join("cli")), &env).unwrap();
        let Targets::Classes { labels, .. } = &s.train.targets else { panic!() };
        assert_eq!(labels, &vec![0, 1, 2, 5]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn mnist_digit_names() {
        let root = tmp("digits");
        write_set(&root.join("env/mnist"), true, false, 9);
        let s = load_named_in("mnist", None, &env_in(&root)).unwrap();
        let names = s.train.class_names.unwrap();
        assert_eq!(names, (0..10).map(|d| d.to_string()).collect::<Vec<_>>());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn absent_lists_places_and_remedies() {
        let root = tmp("absent");
        std::fs::create_dir_all(root.join("env/fashion-mnist")).unwrap();
        let e = load_named_in("fashion-mnist", Some(&root.join("cli")), &env_in(&root)).unwrap_err().to_string();
        for want in [
            "cli (not found)",
            "env/fashion-mnist (exists, but lacks train-images-idx3-ubyte[.gz]",
            "home/.cache/convlab/fashion-mnist (not found)",
            "sys/fashion-mnist (not found)",
            "apt-get install dataset-fashion-mnist",
            "convlab data fetch fashion-mnist",
            "--data-dir DIR",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        let e = load_named_in("mnist", None, &env_in(&root)).unwrap_err().to_string();
        assert!(!e.contains("apt-get"), "{e}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn unknown_name() {
        let e = load_named_in("cifar", None, &SearchEnv::default()).unwrap_err().to_string();
        assert!(e.contains("mnist, fashion-mnist"), "{e}");
    }

    #[test]
    fn label_out_of_range_for_named_set() {
        let root = tmp("range");
        write_set(&root.join("env/mnist"), false, false, 12);
        let e = load_named_in("mnist", None, &env_in(&root)).unwrap_err().to_string();
        assert!(e.contains("label 12 is out of range"), "{e}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn idx_dir_source() {
        let root = tmp("idxdir");
        let d = root.join("mydata");
        write_set(&d, true, false, 6);
        let s = load_idx_dir(&d).unwrap();
        assert_eq!(s.train.name, "mydata (train)");
        // Test labels only reach 1 but share train's class count.
        let t = s.test.unwrap();
        assert!(matches!(t.targets, Targets::Classes { num_classes: 7, .. }));
        assert!(t.class_names.is_none());

        std::fs::remove_file(d.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let e = load_idx_dir(&d).unwrap_err().to_string();
        assert!(e.contains("missing t10k-labels-idx1-ubyte[.gz]"), "{e}");
        let e = load_idx_dir(&root.join("nope")).unwrap_err().to_string();
        assert!(e.contains("no such directory"), "{e}");
        std::fs::remove_dir_all(root).unwrap();
    }

    /// The real thing, from Debian's `dataset-fashion-mnist`.
    #[test]
    #[ignore = "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist); .ci/run installs it and runs this test"]
    fn real_fashion_mnist() {
        let env = SearchEnv { system_dir: "/usr/share/datasets".into(), ..SearchEnv::default() };
        let s = load_named_in("fashion-mnist", None, &env).unwrap();
        let test = s.test.clone().unwrap();
        assert_eq!((s.train.len(), test.len()), (60_000, 10_000));
        assert_eq!(s.train.sample_shape, vec![1, 28, 28]);
        let Targets::Classes { labels, .. } = &s.train.targets else { panic!() };
        let mut counts = [0; 10];
        labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [6000; 10]);
        assert!(s.train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // Tutorial 004's "the first 1000", and two classes of it with their names.
        let mut split = s.clone();
        let mut sel = crate::data::selection::Selection::default();
        sel.take("fashion-mnist", "n", "1000").unwrap();
        sel.apply(&mut split).unwrap();
        assert_eq!((split.train.len(), split.test.as_ref().unwrap().len()), (1000, 10_000));
        assert_eq!(split.train.x[..], s.train.x[..1000 * 784]);
        let mut split = s;
        sel.take("fashion-mnist", "classes", "(9,0)").unwrap();
        sel.apply(&mut split).unwrap();
        assert_eq!(split.train.class_names, Some(vec!["Ankle boot".to_string(), "T-shirt/top".to_string()]));
        assert_eq!(split.test.unwrap().len(), 2000);
    }

    #[test]
    fn shape_mismatch_between_sides() {
        let root = tmp("shape");
        let d = root.join("s");
        write_set(&d, false, false, 3);
        let px = [0u8; 2 * 9];
        std::fs::write(d.join("t10k-images-idx3-ubyte"), idx_bytes(IMAGES_MAGIC, &[2, 3, 3], &px)).unwrap();
        let e = load_idx_dir(&d).unwrap_err().to_string();
        assert!(e.contains("same data set"), "{e}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
