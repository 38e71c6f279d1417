//! The notation shared by model and optimizer specs: `name` or `name(arg, key=value, ...)`,
//! where a value may itself hold parentheses, e.g. `adam(lr=1e-3, betas=(0.9,0.999))`.

use crate::error::{Error, Result};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub key: Option<String>,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
    /// The text it was parsed from, for messages.
    pub text: String,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits `text` on `sep` where the parenthesis depth is zero.
pub(crate) fn split_top(text: &str, is_sep: impl Fn(char) -> bool) -> Result<Vec<String>> {
    let mut parts = vec![];
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in text.chars() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(Error::spec(format!("`{text}`: a `)` has no matching `(`")));
                }
            }
            _ => {}
        }
        if depth == 0 && is_sep(ch) {
            if !cur.trim().is_empty() {
                parts.push(cur.trim().to_string());
            }
            cur.clear();
        } else {
            cur.push(ch);
        }
    }
    if depth != 0 {
        return Err(Error::spec(format!("`{text}`: a `(` is not closed")));
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_string());
    }
    Ok(parts)
}

/// Parses a whitespace-separated list of calls (a model spec).
pub fn parse_calls(text: &str) -> Result<Vec<Call>> {
    split_top(text, char::is_whitespace)?.iter().map(|t| parse_call(t)).collect()
}

/// Parses one `name(args)`.
pub fn parse_call(text: &str) -> Result<Call> {
    let text = text.trim();
    let (name, inner) = match text.find('(') {
        None => (text, ""),
        Some(open) => {
            if !text.ends_with(')') {
                return Err(Error::spec(format!(
                    "`{text}`: expected `name(arguments)`; text after `)` is not allowed"
                )));
            }
            (&text[..open], &text[open + 1..text.len() - 1])
        }
    };
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Error::spec(format!("`{text}`: `{name}` is not a name (letters, digits, _ and -)")));
    }
    let mut args = vec![];
    for part in split_top(inner, |c| c == ',')? {
        let arg = match split_top(&part, |c| c == '=')?.as_slice() {
            [v] => Arg { key: None, value: v.clone() },
            [k, v] => Arg { key: Some(k.to_ascii_lowercase()), value: v.clone() },
            _ => return Err(Error::spec(format!("`{text}`: argument `{part}` is not `value` or `key=value`"))),
        };
        args.push(arg);
    }
    Ok(Call { name: name.to_ascii_lowercase(), args, text: text.to_string() })
}

/// Reads a call's arguments by position or by key, and complains about leftovers.
pub struct Args<'a> {
    call: &'a Call,
    used: Vec<bool>,
}

impl<'a> Args<'a> {
    pub fn new(call: &'a Call) -> Self {
        Args { call, used: vec![false; call.args.len()] }
    }

    /// The value given for `keys` (any spelling), or the `pos`-th positional argument.
    pub fn get(&mut self, pos: Option<usize>, keys: &[&str]) -> Result<Option<&'a str>> {
        let mut found = None;
        for (i, a) in self.call.args.iter().enumerate() {
            if let Some(k) = &a.key {
                if keys.contains(&k.as_str()) {
                    if found.is_some() {
                        return Err(Error::spec(format!("`{}`: `{}` is given twice", self.call, keys[0])));
                    }
                    found = Some(i);
                }
            }
        }
        if found.is_none() {
            if let Some(p) = pos {
                found = self.call.args.iter().enumerate().filter(|(_, a)| a.key.is_none()).nth(p).map(|(i, _)| i);
            }
        }
        Ok(found.map(|i| {
            self.used[i] = true;
            self.call.args[i].value.as_str()
        }))
    }

    pub fn parse<V: std::str::FromStr>(&mut self, pos: Option<usize>, keys: &[&str]) -> Result<Option<V>> {
        match self.get(pos, keys)? {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<V>()
                .map(Some)
                .map_err(|_| Error::spec(format!("`{}`: `{}` = `{v}` is not a valid value", self.call, keys[0]))),
        }
    }

    pub fn bool(&mut self, keys: &[&str], default: bool) -> Result<bool> {
        match self.get(None, keys)? {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(Error::spec(format!("`{}`: `{}` must be true or false, not `{v}`", self.call, keys[0]))),
            },
        }
    }

    /// Fails if any argument was not read: catches typos such as `kernal=3`.
    pub fn finish(self, allowed: &str) -> Result<()> {
        for (a, used) in self.call.args.iter().zip(&self.used) {
            if !used {
                let what = match &a.key {
                    Some(k) => format!("unknown argument `{k}`"),
                    None => format!("extra argument `{}`", a.value),
                };
                return Err(Error::spec(format!("`{}`: {what}; {} takes {allowed}", self.call, self.call.name)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls_with_nested_values() {
        let c = parse_call("adam(lr=1e-3, betas=(0.9,0.999))").unwrap();
        assert_eq!(c.name, "adam");
        assert_eq!(c.args[1], Arg { key: Some("betas".into()), value: "(0.9,0.999)".into() });
        let calls = parse_calls("conv2d(16, k=3,p=1)  relu\tflatten").unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].args.len(), 3);
    }

    #[test]
    fn rejects_broken_text() {
        assert!(parse_calls("conv2d(16").is_err());
        assert!(parse_calls("conv2d)16(").is_err());
        assert!(parse_call("linear(10)x").is_err());
        assert!(parse_call("(3)").is_err());
    }

    #[test]
    fn unused_arguments_are_reported() {
        let c = parse_call("linear(10, kernal=3)").unwrap();
        let mut a = Args::new(&c);
        assert_eq!(a.parse::<usize>(Some(0), &["out"]).unwrap(), Some(10));
        let e = a.finish("(out, bias=)").unwrap_err().to_string();
        assert!(e.contains("kernal"), "{e}");
    }
}
