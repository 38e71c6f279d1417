//! The `--data SOURCE` argument: which data to use, parsed once into a [`DataSource`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::dataset::Split;
use super::selection::{Selection, KEYS};
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

/// Splits `inner` at the commas outside parentheses: `n=5,classes=(3,8)` → `n=5`, `classes=(3,8)`.
fn split_top_level(s: &str, inner: &str) -> Result<Vec<String>> {
    let (mut parts, mut depth, mut current) = (Vec::new(), 0usize, String::new());
    for ch in inner.chars() {
        match ch {
            '(' if depth == 1 => {
                return Err(Error::data(format!(
                    "data source '{s}': values nest at most one pair of parentheses, as in classes=(3,8)"
                )))
            }
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| Error::data(format!("data source '{s}': a ')' has no matching '('")))?
            }
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    if depth != 0 {
        return Err(Error::data(format!("data source '{s}': a '(' is not closed")));
    }
    parts.push(current);
    Ok(parts)
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
    for part in split_top_level(s, inner)? {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
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
        if k.contains(['(', ')']) {
            return Err(Error::data(format!("data source '{s}': parameter name '{k}' contains a parenthesis")));
        }
        if params.iter().any(|(pk, _)| pk == k) {
            return Err(Error::data(format!("data source '{s}': parameter '{k}' is given twice; give it once")));
        }
        params.push((k.to_string(), v.to_string()));
    }
    Ok((name, params))
}

/// Splits a path source's `PATH(n=…,classes=…)` into the path and its selection, when the path
/// as written does not exist and the trailing group holds only selection keys; otherwise the
/// whole text is the path (a folder may be called `x(a=1)`).
fn split_path_selection<'a>(s: &str, rest: &'a str) -> Result<(&'a str, Selection)> {
    let rest = rest.trim();
    let mut selection = Selection::default();
    if !rest.ends_with(')') || Path::new(rest).exists() {
        return Ok((rest, selection));
    }
    // The '(' that matches the final ')'.
    let mut depth = 0usize;
    let mut open = None;
    for (i, ch) in rest.char_indices().rev() {
        match ch {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(open) = open else { return Ok((rest, selection)) };
    let Ok((_, params)) = parse_params(&rest[open..]) else { return Ok((rest, selection)) };
    if params.is_empty() || !params.iter().all(|(k, _)| KEYS.contains(&k.as_str())) {
        return Ok((rest, selection));
    }
    for (k, v) in &params {
        selection.take(s, k, v)?;
    }
    Ok((&rest[..open], selection))
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

    /// The source alone; [`DataSource::parse_selected`] also gives its `n=`/`classes=`.
    fn from_str(s: &str) -> Result<Self> {
        Ok(DataSource::parse_selected(s)?.0)
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

    /// Parses a `--data` argument into the source and the samples to keep of it
    /// (`fashion-mnist(n=1000)`, `npz:a.npz(classes=(3,8))`, `lines(n=500,classes=(0,1))`).
    pub fn parse_selected(s: &str) -> Result<(Self, Selection)> {
        let t = s.trim();
        // Prefixed forms first: a path may contain '(' or '=' and must not look like params.
        if let Some((kind, rest)) = t.split_once(':') {
            let (rest, selection) = split_path_selection(s, rest)?;
            let source = match kind.trim().to_ascii_lowercase().as_str() {
                "idx" => DataSource::Idx(path_arg(s, "idx", rest)?),
                "images" => DataSource::Images(path_arg(s, "images", rest)?),
                "npz" => {
                    // Paths containing ',' are not supported: the comma separates train, test.
                    let (train, test) = match rest.split_once(',') {
                        Some((a, b)) => (a, Some(b)),
                        None => (rest, None),
                    };
                    DataSource::Npz {
                        train: path_arg(s, "npz", train)?,
                        test: test.map(|b| path_arg(s, "npz", b)).transpose()?,
                    }
                }
                other => return Err(unknown(s, &format!("no source kind '{other}:'"))),
            };
            return Ok((source, selection));
        }
        let (name, params) = parse_params(t)?;
        let lower = name.to_ascii_lowercase();
        let mut selection = Selection::default();
        let plain = match lower.as_str() {
            "digits" => Some(DataSource::Digits),
            "mnist" => Some(DataSource::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Some(DataSource::FashionMnist),
            _ => None,
        };
        if let Some(src) = plain {
            for (k, v) in &params {
                if !selection.take(s, k, v)? {
                    return Err(Error::data(format!(
                        "data source '{name}' takes only {}, not '{k}'; e.g. {name}(n=1000,classes=(3,8))",
                        KEYS.join("=, ") + "="
                    )));
                }
            }
            return Ok((src, selection));
        }
        if SYNTHETIC.contains(&lower.as_str()) {
            // n= and test_n= are the generator's own sample counts; classes= is kept after.
            let mut own = Params::new();
            for (k, v) in params {
                if k == "classes" {
                    selection.take(s, &k, &v)?;
                } else {
                    own.push((k, v));
                }
            }
            return Ok((DataSource::Synthetic { name: lower, params: own }, selection));
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
            ("sim1d(n=((1)))", "at most one pair of parentheses"),
            ("sim1d(n=1))", "no matching '('"),
            ("mnist(noise=1)", "takes only n=, test_n=, classes=, not 'noise'"),
            ("digits(n=0)", "positive whole number"),
        ];
        for (s, want) in cases {
            let m = e(s);
            assert!(m.contains(want), "{s:?}: {m}");
        }
        assert!(e("cifar10").contains("idx:DIR"), "lists the valid forms");
    }

    #[test]
    fn selections() {
        let sel = |s: &str| DataSource::parse_selected(s).unwrap();
        let (src, s) = sel("fashion-mnist(n=1000)");
        assert_eq!((src, s.n, s.classes), (DataSource::FashionMnist, Some(1000), None));
        let (src, s) = sel("npz:a.npz,b.npz(classes=(3,8),test_n=5)");
        assert_eq!(src, DataSource::Npz { train: "a.npz".into(), test: Some("b.npz".into()) });
        assert_eq!((s.classes, s.test_n), (Some(vec![3, 8]), Some(5)));
        let (src, s) = sel("lines(n=50,classes=(1,0))");
        assert_eq!(src, DataSource::Synthetic { name: "lines".into(), params: vec![("n".into(), "50".into())] });
        assert_eq!((s.n, s.classes), (None, Some(vec![1, 0])));
        // A trailing group with other keys stays part of the path.
        let (src, s) = sel("images:x(a=1)");
        assert_eq!((src, s.is_empty()), (DataSource::Images("x(a=1)".into()), true));
        let (src, s) = sel("idx:d(n=3)");
        assert_eq!((src, s.n), (DataSource::Idx("d".into()), Some(3)));
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
