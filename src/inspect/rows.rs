//! `--rows A:B`: a Python slice of a data set's samples, shared by `show --predictions` and
//! `predict`.

use crate::error::{Error, Result};
use std::ops::Range;

/// `A:B`, `:B`, `A:` or `A` (one row), within `0..n`; B past the end is cut to `n`, as a
/// Python slice is, but an empty range is refused.
pub fn parse_rows(text: &str, n: usize) -> Result<Range<usize>> {
    parse(text, n, false)
}

/// As [`parse_rows`], but B past the end is refused too: rows asked for by name must exist.
pub fn parse_rows_strict(text: &str, n: usize) -> Result<Range<usize>> {
    parse(text, n, true)
}

fn parse(text: &str, n: usize, strict: bool) -> Result<Range<usize>> {
    let bad = || {
        let have = if n == 0 { "there are no rows".to_string() } else { format!("the rows are 0..{n}") };
        Error::config(format!("--rows {text}: give A:B (a Python slice, B excluded) or one row A; {have}"))
    };
    let num = |t: &str, default: usize| {
        if t.trim().is_empty() {
            Ok(default)
        } else {
            t.trim().parse::<usize>().map_err(|_| bad())
        }
    };
    let (start, end) = match text.split_once(':') {
        Some((a, b)) => {
            let end = num(b, n)?;
            if strict && end > n {
                return Err(bad());
            }
            (num(a, 0)?, end.min(n))
        }
        None => {
            let i = num(text, 0)?;
            (i, i.saturating_add(1))
        }
    };
    if start >= end || end > n {
        return Err(bad());
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_read_as_python_reads_them_and_empty_or_outside_ones_are_refused() {
        assert_eq!(parse_rows("2:5", 10).unwrap(), 2..5);
        assert_eq!(parse_rows(":3", 10).unwrap(), 0..3);
        assert_eq!(parse_rows("7:", 10).unwrap(), 7..10);
        assert_eq!(parse_rows("4", 10).unwrap(), 4..5);
        assert_eq!(parse_rows("8:99", 10).unwrap(), 8..10);
        for bad in ["5:2", "10", "10:12", "a:b", "-1", "3:3", &usize::MAX.to_string()] {
            let e = parse_rows(bad, 10).unwrap_err().to_string();
            assert!(e.contains(&format!("--rows {bad}")) && e.contains("0..10"), "{e}");
        }
        assert!(parse_rows("0", 0).unwrap_err().to_string().contains("no rows"));
        assert_eq!(parse_rows_strict("8:10", 10).unwrap(), 8..10);
        assert_eq!(parse_rows_strict("3:", 10).unwrap(), 3..10);
        assert!(parse_rows_strict("8:11", 10).unwrap_err().to_string().contains("0..10"));
    }
}
