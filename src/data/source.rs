//! The `--data SOURCE` argument: which data to use, parsed once into a [`DataSource`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::dataset::Split;
use crate::error::{Error, Result};

/// Names of the synthetic generators (implemented elsewhere; here only parsed).
const SYNTHETIC: [&str; 3] = ["sim1d", "pattern1d", "lines"];

/// A generator's `key=value` parameters, in the order given.
pub type Params = Vec<(String, String)>;

/// Where the data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// The built-in 8x8 digits (no official split).
    Digits,
    Mnist,
    FashionMnist,
    /// A directory of MNIST-style IDX files.
    Idx(PathBuf),
    /// `.npz` files with arrays `X` and `y`, with an optional separate test file.
    Npz {
        train: PathBuf,
        test: Option<PathBuf>,
    },
    /// A directory with one sub-folder of images per class.
    Images(PathBuf),
    /// A synthetic generator with its `key=value` parameters, in the order given.
    Synthetic {
        name: String,
        params: Params,
    },
}

/// The accepted forms, for messages.
const FORMS: &str = "digits, mnist, fashion-mnist, idx:DIR, npz:FILE.npz, \
     npz:TRAIN.npz,TEST.npz, images:DIR, sim1d, pattern1d, lines (generators take optional \
     parameters, e.g. sim1d(n=1000,noise=0.1))";

fn unknown(s: &str, why: &str) -> Error {
    Error::data(format!("unknown data source '{s}' ({why}); valid forms: {FORMS}"))
}

/// Splits `name(k=v,...)` into the name and its parameters.
fn parse_params(s: &str) -> Result<(&str, Params)> {
    let Some(open) = s.find('(') else {
        return Ok((s.trim(), Vec::new()));
    };
    let name = s[..open].trim();
    let inner = s[open + 1..].strip_suffix(')').ok_or_else(|| {
        Error::data(format!("data source '{s}': parameters must end with ')', e.g. {name}(n=1000,noise=0.1)"))
    })?;
    let mut params: Params = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| {
                Error::data(format!(
                    "data source '{s}': parameter '{part}' is not key=value, e.g. \
                     {name}(n=1000,noise=0.1)"
                ))
            })?;
        if k.contains(['(', ')']) || v.contains(['(', ')']) {
            return Err(Error::data(format!(
                "data source '{s}': parameter '{part}' contains a parenthesis; values cannot \
                 be nested"
            )));
        }
        if params.iter().any(|(pk, _)| pk == k) {
            return Err(Error::data(format!("data source '{s}': parameter '{k}' is given twice; give it once")));
        }
        params.push((k.to_string(), v.to_string()));
    }
    Ok((name, params))
}

fn path_arg(s: &str, kind: &str, rest: &str) -> Result<PathBuf> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(Error::data(format!("data source '{s}' lacks a path; write {kind}:PATH")));
    }
    Ok(PathBuf::from(rest))
}

impl FromStr for DataSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        // Prefixed forms first: a path may contain '(' or '=' and must not look like params.
        if let Some((kind, rest)) = t.split_once(':') {
            return match kind.trim().to_ascii_lowercase().as_str() {
                "idx" => Ok(DataSource::Idx(path_arg(s, "idx", rest)?)),
                "images" => Ok(DataSource::Images(path_arg(s, "images", rest)?)),
                "npz" => {
                    // Paths containing ',' are not supported: the comma separates train, test.
                    let (train, test) = match rest.split_once(',') {
                        Some((a, b)) => (a, Some(b)),
                        None => (rest, None),
                    };
                    Ok(DataSource::Npz {
                        train: path_arg(s, "npz", train)?,
                        test: test.map(|b| path_arg(s, "npz", b)).transpose()?,
                    })
                }
                other => Err(unknown(s, &format!("no source kind '{other}:'"))),
            };
        }
        let (name, params) = parse_params(t)?;
        let lower = name.to_ascii_lowercase();
        let plain = match lower.as_str() {
            "digits" => Some(DataSource::Digits),
            "mnist" => Some(DataSource::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Some(DataSource::FashionMnist),
            _ => None,
        };
        if let Some(src) = plain {
            if !params.is_empty() {
                return Err(Error::data(format!("data source '{name}' takes no parameters; write just {name}")));
            }
            return Ok(src);
        }
        if SYNTHETIC.contains(&lower.as_str()) {
            return Ok(DataSource::Synthetic { name: lower, params });
        }
        if t.is_empty() {
            return Err(unknown(s, "empty"));
        }
        let hint = if Path::new(t).exists() {
            format!("'{t}' is a path: prefix it with idx:, npz: or images:")
        } else {
            "not a known name".to_string()
        };
        Err(unknown(s, &hint))
    }
}

impl fmt::Display for DataSource {
    /// The canonical spelling, which parses back to the same source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Digits => f.write_str("digits"),
            DataSource::Mnist => f.write_str("mnist"),
            DataSource::FashionMnist => f.write_str("fashion-mnist"),
            DataSource::Idx(p) => write!(f, "idx:{}", p.display()),
            DataSource::Images(p) => write!(f, "images:{}", p.display()),
            DataSource::Npz { train, test } => {
                write!(f, "npz:{}", train.display())?;
                if let Some(t) = test {
                    write!(f, ",{}", t.display())?;
                }
                Ok(())
            }
            DataSource::Synthetic { name, params } => {
                f.write_str(name)?;
                if !params.is_empty() {
                    let p: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, "({})", p.join(","))?;
                }
                Ok(())
            }
        }
    }
}

impl DataSource {
    /// Parses a `--data` argument.
    pub fn parse(s: &str) -> Result<Self> {
        s.parse()
    }

    /// Loads a file-backed source. `data_dir` is `--data-dir` (used by `mnist` and
    /// `fashion-mnist`). `digits` comes back without a test set: split it with
    /// [`super::split::split_seeded`]. Synthetic sources are generated elsewhere, so asking to
    /// load one here is an error.
    pub fn load(&self, data_dir: Option<&Path>) -> Result<Split> {
        match self {
            DataSource::Digits => Ok(Split { train: super::digits::load_digits(), test: None }),
            DataSource::Mnist => super::locate::load_named("mnist", data_dir),
            DataSource::FashionMnist => super::locate::load_named("fashion-mnist", data_dir),
            DataSource::Idx(dir) => super::locate::load_idx_dir(dir),
            DataSource::Npz { train, test } => super::npz::load_npz_split(train, test.as_deref()),
            DataSource::Images(dir) => Ok(Split { train: super::images::load_image_folder(dir)?, test: None }),
            DataSource::Synthetic { name, .. } => Err(Error::data(format!(
                "'{name}' is a synthetic generator, not a file source; generate it with the \
                 synthetic module"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DataSource {
        s.parse().unwrap()
    }

    fn e(s: &str) -> String {
        DataSource::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn names() {
        assert_eq!(p("digits"), DataSource::Digits);
        assert_eq!(p(" MNIST "), DataSource::Mnist);
        assert_eq!(p("fashion-mnist"), DataSource::FashionMnist);
        assert_eq!(p("fashion_mnist"), DataSource::FashionMnist);
    }

    #[test]
    fn paths() {
        assert_eq!(p("idx:data/m"), DataSource::Idx("data/m".into()));
        assert_eq!(p("images:/a/b c"), DataSource::Images("/a/b c".into()));
        assert_eq!(p("idx:C:\\x"), DataSource::Idx("C:\\x".into()));
        assert_eq!(p("npz:t.npz"), DataSource::Npz { train: "t.npz".into(), test: None });
        assert_eq!(p("npz:a.npz, b.npz"), DataSource::Npz { train: "a.npz".into(), test: Some("b.npz".into()) });
        // A path may hold parentheses and '=' without being taken for parameters.
        assert_eq!(p("images:x(a=1)"), DataSource::Images("x(a=1)".into()));
    }

    #[test]
    fn synthetic() {
        assert_eq!(p("sim1d"), DataSource::Synthetic { name: "sim1d".into(), params: vec![] });
        assert_eq!(
            p("lines( n = 500 , noise=0.1,)"),
            DataSource::Synthetic {
                name: "lines".into(),
                params: vec![("n".into(), "500".into()), ("noise".into(), "0.1".into())]
            }
        );
        assert_eq!(p("pattern1d()"), p("pattern1d"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["digits", "fashion-mnist", "idx:d", "npz:a.npz,b.npz", "images:i", "sim1d(n=5,seed=2)"] {
            assert_eq!(p(s).to_string(), s);
            assert_eq!(p(&p(s).to_string()), p(s));
        }
    }

    #[test]
    fn errors() {
        let cases = [
            ("cifar10", "unknown data source 'cifar10'"),
            ("", "empty"),
            ("foo:bar", "no source kind 'foo:'"),
            ("idx:", "lacks a path"),
            ("npz:a.npz,", "lacks a path"),
            ("images:  ", "lacks a path"),
            ("sim1d(n=1", "must end with ')'"),
            ("sim1d(n)", "is not key=value"),
            ("sim1d(=3)", "is not key=value"),
            ("sim1d(n=1,n=2)", "given twice"),
            ("sim1d(n=(1))", "parenthesis"),
            ("mnist(n=1)", "takes no parameters"),
        ];
        for (s, want) in cases {
            let m = e(s);
            assert!(m.contains(want), "{s:?}: {m}");
        }
        assert!(e("cifar10").contains("idx:DIR"), "lists the valid forms");
    }

    #[test]
    fn bare_path_gets_a_hint() {
        let dir = std::env::temp_dir();
        let m = e(&dir.display().to_string());
        assert!(m.contains("prefix it with idx:, npz: or images:"), "{m}");
    }

    #[test]
    fn load_dispatch() {
        let s = p("digits").load(None).unwrap();
        assert_eq!(s.train.len(), super::super::digits::DIGITS_LEN);
        assert!(s.test.is_none());
        let m = p("sim1d").load(None).unwrap_err().to_string();
        assert!(m.contains("synthetic generator"), "{m}");
        let m = p("idx:/no/such/dir").load(None).unwrap_err().to_string();
        assert!(m.contains("no such directory"), "{m}");
    }
}
