//! A restricted unpickler: it reads Python pickles (protocols 0–5) into inert values and never
//! runs anything. Every global a pickle names is looked up in an allowlist
//! ([`super::torch_globals`]: what PyTorch's own `weights_only` loader allows, plus the
//! `nn.Sequential` layers convlab has), and "calling" one only builds data (a dict, a tensor
//! reference, a module record); anything else is refused before it is even looked at further.
//!
//! Values live in one arena and refer to each other by index, as Python objects do by
//! reference: the memo and `DUP` share an object instead of copying it, so a small pickle cannot
//! grow into a huge tree, and the arena grows by at most one value per opcode. Sizes are checked
//! against the bytes left before anything is allocated, and walks over the values stop at
//! [`MAX_DEPTH`] (a pickle can make a list that holds itself).

use super::torch_globals::{self, Global, Made};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// Index of a value in [`Pickle::values`].
pub type Id = usize;

/// How deep a walk over the values may go (containers in containers); a checkpoint is a few levels.
pub const MAX_DEPTH: usize = 64;

/// The most values (and memo entries) one pickle may make.
pub const MAX_OBJECTS: usize = 1 << 24;

/// The element type of a PyTorch storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F16,
    BF16,
    F32,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// PyTorch's name, as in `torch.float32`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F16 => "float16",
            Dtype::BF16 => "bfloat16",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::I64 => "int64",
            Dtype::I32 => "int32",
            Dtype::I16 => "int16",
            Dtype::I8 => "int8",
            Dtype::U8 => "uint8",
            Dtype::Bool => "bool",
        }
    }
}

/// A storage named by a persistent id: its bytes are elsewhere in the file (`data/KEY`).
#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    pub dtype: Dtype,
    pub key: String,
    /// Elements, as the pickle claims (checked against the file when read).
    pub numel: u64,
}

/// A tensor: a view (offset, sizes, strides in elements) into a storage.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub storage: Storage,
    pub offset: u64,
    pub shape: Vec<u64>,
    pub stride: Vec<u64>,
}

/// An instance of an allowed class (an `nn` layer): its class and the state `BUILD` gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// The class's name, e.g. `Conv2d`.
    pub class: &'static str,
    pub state: Option<Id>,
}

/// A dict's key, for replacing an entry set twice (as Python does): strings and numbers by
/// value, anything else by identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Str(String),
    Int(i128),
    Other(Id),
}

/// A dict (or `OrderedDict`) in insertion order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dict {
    pub entries: Vec<(Id, Id)>,
    index: HashMap<Key, usize>,
}

/// One value of the arena.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i128),
    /// An integer too large for 128 bits (its bytes are not kept).
    BigInt,
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Dict),
    Set(Vec<Id>),
    /// An allowed class or function, not called.
    Global(Global),
    Storage(Storage),
    Tensor(Tensor),
    Object(Object),
}

/// The values of one pickle and its result.
#[derive(Debug, Default)]
pub struct Pickle {
    pub values: Vec<Value>,
}

impl Pickle {
    pub fn get(&self, id: Id) -> &Value {
        &self.values[id]
    }

    fn add(&mut self, v: Value) -> Result<Id> {
        if self.values.len() >= MAX_OBJECTS {
            return Err(bad(&format!("it makes more than {MAX_OBJECTS} objects")));
        }
        self.values.push(v);
        Ok(self.values.len() - 1)
    }

    fn key(&self, id: Id) -> Key {
        match &self.values[id] {
            Value::Str(s) => Key::Str(s.clone()),
            Value::Int(i) => Key::Int(*i),
            Value::Bool(b) => Key::Int(*b as i128),
            _ => Key::Other(id),
        }
    }

    /// `dict[key]` for a string key.
    pub fn dict_get(&self, dict: &Dict, key: &str) -> Option<Id> {
        dict.index.get(&Key::Str(key.to_string())).map(|&i| dict.entries[i].1)
    }

    pub fn str_of(&self, id: Id) -> Option<&str> {
        match &self.values[id] {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn int_of(&self, id: Id) -> Option<i128> {
        match &self.values[id] {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i128),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn items(&self, id: Id) -> Option<&[Id]> {
        match &self.values[id] {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    fn set_item(&mut self, dict: Id, k: Id, v: Id) -> Result<()> {
        let key = self.key(k);
        let Value::Dict(d) = &mut self.values[dict] else {
            return Err(bad("it sets an item on something that is not a dict"));
        };
        match d.index.get(&key) {
            Some(&i) => d.entries[i].1 = v,
            None => {
                d.index.insert(key, d.entries.len());
                d.entries.push((k, v));
            }
        }
        Ok(())
    }

    /// A dict built from (key, value) pairs.
    pub(super) fn new_dict(&mut self, pairs: &[(Id, Id)]) -> Result<Id> {
        let id = self.add(Value::Dict(Dict::default()))?;
        for &(k, v) in pairs {
            self.set_item(id, k, v)?;
        }
        Ok(id)
    }

    /// A short description of a value for messages: "a dict with keys a, b", "a tensor [2, 3]".
    pub fn describe(&self, id: Id) -> String {
        match &self.values[id] {
            Value::None => "None".into(),
            Value::Bool(b) => format!("the boolean {}", if *b { "True" } else { "False" }),
            Value::Int(i) => format!("the number {i}"),
            Value::BigInt => "a very large number".into(),
            Value::Float(f) => format!("the number {f}"),
            Value::Str(s) => format!("the text {:?}", s.chars().take(40).collect::<String>()),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::Tuple(v) => format!("a tuple of {} items", v.len()),
            Value::List(v) => format!("a list of {} items", v.len()),
            Value::Set(v) => format!("a set of {} items", v.len()),
            Value::Dict(d) => {
                let keys: Vec<String> = d
                    .entries
                    .iter()
                    .take(8)
                    .map(|&(k, _)| match &self.values[k] {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        _ => "?".into(),
                    })
                    .collect();
                let more =
                    if d.entries.len() > 8 { format!(" and {} more", d.entries.len() - 8) } else { String::new() };
                if keys.is_empty() {
                    "an empty dict".into()
                } else {
                    format!("a dict with keys {}{more}", keys.join(", "))
                }
            }
            Value::Global(g) => format!("the {}", g.describe()),
            Value::Storage(s) => format!("a raw {} storage", s.dtype.name()),
            Value::Tensor(t) => format!("one {} tensor of shape {:?}", t.storage.dtype.name(), t.shape),
            Value::Object(o) => format!("an nn.{} module", o.class),
        }
    }
}

/// A pickle that cannot be read: the caller adds the file's name.
fn bad(what: &str) -> Error {
    Error::model_file(format!("the pickle is damaged or not one convlab can read ({what})"))
}

/// Reads one pickle from the start of `bytes`; returns its values, its result and how many bytes
/// it took (a legacy `.pt` file is several pickles in a row).
pub fn unpickle(bytes: &[u8]) -> Result<(Pickle, Id, usize)> {
    let mut m = Machine { b: bytes, at: 0, p: Pickle::default(), stack: vec![], marks: vec![], memo: HashMap::new() };
    let root = m.run()?;
    Ok((m.p, root, m.at))
}

struct Machine<'a> {
    b: &'a [u8],
    at: usize,
    p: Pickle,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| bad("it ends early (truncated)"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64> {
        let s = self.take(n)?;
        Ok(s.iter().rev().fold(0u64, |acc, &b| acc << 8 | b as u64))
    }

    /// A length field, checked against the bytes left before anything is allocated.
    fn len(&mut self, n: usize) -> Result<usize> {
        let v = self.uint(n)?;
        let left = (self.b.len() - self.at) as u64;
        if v > left {
            return Err(bad(&format!("a {v}-byte item with only {left} bytes left (truncated)")));
        }
        Ok(v as usize)
    }

    fn line(&mut self) -> Result<&str> {
        let rest = &self.b[self.at..];
        let n = rest.iter().position(|&c| c == b'\n').ok_or_else(|| bad("a text line never ends"))?;
        self.at += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| bad("a text line is not UTF-8"))
    }

    fn push(&mut self, v: Value) -> Result<()> {
        let id = self.p.add(v)?;
        self.stack.push(id);
        Ok(())
    }

    fn pop(&mut self) -> Result<Id> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(bad("it pops past a mark"));
        }
        self.stack.pop().ok_or_else(|| bad("it pops an empty stack"))
    }

    fn top(&self) -> Result<Id> {
        self.stack.last().copied().ok_or_else(|| bad("it uses an empty stack"))
    }

    /// The items pushed since the last mark, removing them and the mark.
    fn pop_mark(&mut self) -> Result<Vec<Id>> {
        let m = self.marks.pop().ok_or_else(|| bad("it closes a mark it never set"))?;
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, key: u64) -> Result<()> {
        let top = self.top()?;
        if self.memo.len() >= MAX_OBJECTS {
            return Err(bad("its memo grows past its limit"));
        }
        self.memo.insert(key, top);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<()> {
        let id = *self.memo.get(&key).ok_or_else(|| bad(&format!("it refers to memo entry {key}, never stored")))?;
        self.stack.push(id);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        let g = torch_globals::find_class(module, name)?;
        self.push(Value::Global(g))
    }

    /// The result of an allowed call: a new value or an existing one.
    fn made(&mut self, m: Made) -> Result<()> {
        match m {
            Made::New(v) => self.push(v),
            Made::Same(id) => {
                self.stack.push(id);
                Ok(())
            }
        }
    }

    fn append(&mut self, list: Id, items: Vec<Id>) -> Result<()> {
        match &mut self.p.values[list] {
            Value::List(v) => v.extend(items),
            Value::Set(v) => v.extend(items),
            _ => return Err(bad("it appends to something that is not a list")),
        }
        Ok(())
    }

    fn run(&mut self) -> Result<Id> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let v = self.u8()?;
                    if v > 5 {
                        return Err(bad(&format!("pickle protocol {v}; the newest is 5")));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?;
                    self.stack.push(t);
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'K' => {
                    let v = self.uint(1)?;
                    self.push(Value::Int(v as i128))?
                }
                b'M' => {
                    let v = self.uint(2)?;
                    self.push(Value::Int(v as i128))?
                }
                b'J' => {
                    let v = self.uint(4)? as u32 as i32;
                    self.push(Value::Int(v as i128))?
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { self.u8()? as usize } else { self.len(4)? };
                    let s = self.take(n)?;
                    let v = if n > 16 {
                        Value::BigInt
                    } else {
                        // Little-endian two's complement.
                        let mut v: i128 = 0;
                        for (i, &b) in s.iter().enumerate() {
                            v |= (b as i128) << (8 * i);
                        }
                        if n > 0 && n < 16 && s[n - 1] & 0x80 != 0 {
                            v -= 1i128 << (8 * n);
                        }
                        Value::Int(v)
                    };
                    self.push(v)?
                }
                b'I' | b'L' => {
                    let t = self.line()?.trim_end_matches('L').to_string();
                    let v = match t.as_str() {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        t => t.parse::<i128>().map(Value::Int).unwrap_or(Value::BigInt),
                    };
                    self.push(v)?
                }
                b'F' => {
                    let v = self.line()?.trim().parse::<f64>().map_err(|_| bad("a text float does not parse"))?;
                    self.push(Value::Float(v))?
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    self.push(Value::Float(v))?
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => self.len(4)?,
                        0x8c => self.len(1)?,
                        _ => self.len(8)?,
                    };
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.push(Value::Str(s))?
                }
                b'T' | b'U' => {
                    // Python 2 `str`: text, as torch.load reads it.
                    let n = if op == b'T' { self.len(4)? } else { self.len(1)? };
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.push(Value::Str(s))?
                }
                b'S' | b'V' => {
                    let t = self.line()?;
                    let t = if op == b'S' { t.trim_matches(|c| c == '\'' || c == '"') } else { t };
                    if t.contains('\\') {
                        return Err(bad("an escaped protocol-0 string"));
                    }
                    let s = t.to_string();
                    self.push(Value::Str(s))?
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => self.len(4)?,
                        b'C' => self.len(1)?,
                        _ => self.len(8)?,
                    };
                    let s = self.take(n)?.to_vec();
                    self.push(Value::Bytes(s))?
                }
                b']' => self.push(Value::List(vec![]))?,
                b')' => self.push(Value::Tuple(vec![]))?,
                b'}' => self.push(Value::Dict(Dict::default()))?,
                0x8f => self.push(Value::Set(vec![]))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items))?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Value::Set(items))?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = vec![0; n];
                    for slot in items.iter_mut().rev() {
                        *slot = self.pop()?;
                    }
                    self.push(Value::Tuple(items))?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(bad("a dict with a key but no value"));
                    }
                    let pairs: Vec<(Id, Id)> = items.chunks(2).map(|c| (c[0], c[1])).collect();
                    let id = self.p.new_dict(&pairs)?;
                    self.stack.push(id);
                }
                b'a' => {
                    let v = self.pop()?;
                    let list = self.top()?;
                    self.append(list, vec![v])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.append(list, items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let d = self.top()?;
                    self.p.set_item(d, k, v)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(bad("SETITEMS with a key but no value"));
                    }
                    let d = self.top()?;
                    for c in items.chunks(2) {
                        self.p.set_item(d, c[0], c[1])?;
                    }
                }
                b'g' => {
                    let k = self.line()?.trim().parse::<u64>().map_err(|_| bad("a memo key does not parse"))?;
                    self.memo_get(k)?
                }
                b'h' => {
                    let k = self.uint(1)?;
                    self.memo_get(k)?
                }
                b'j' => {
                    let k = self.uint(4)?;
                    self.memo_get(k)?
                }
                b'p' => {
                    let k = self.line()?.trim().parse::<u64>().map_err(|_| bad("a memo key does not parse"))?;
                    self.memo_put(k)?
                }
                b'q' => {
                    let k = self.uint(1)?;
                    self.memo_put(k)?
                }
                b'r' => {
                    let k = self.uint(4)?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.global(&module, &name)?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (self.p.str_of(module), self.p.str_of(name)) else {
                        return Err(bad("STACK_GLOBAL of something that is not a name"));
                    };
                    let (module, name) = (module.to_string(), name.to_string());
                    self.global(&module, &name)?
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let made = torch_globals::call(&mut self.p, f, args)?;
                    self.made(made)?
                }
                0x81 | 0x92 => {
                    if op == 0x92 {
                        let kwargs = self.pop()?;
                        if !matches!(self.p.get(kwargs), Value::Dict(d) if d.entries.is_empty()) {
                            return Err(bad("NEWOBJ_EX with keyword arguments"));
                        }
                    }
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let made = torch_globals::new_object(&mut self.p, cls, args)?;
                    self.made(made)?
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    torch_globals::build(&mut self.p, target, state)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let made = torch_globals::persistent_load(&mut self.p, pid)?;
                    self.made(made)?
                }
                b'P' => return Err(bad("a text persistent id (PyTorch writes binary ones)")),
                b'i' | b'o' => {
                    return Err(Error::model_file(
                        "the pickle creates an object the pre-2 way (INST/OBJ), which runs the class's code; \
                         convlab loads only tensors, containers and nn.Sequential layers, and nothing from the file was executed",
                    ))
                }
                0x82..=0x84 => return Err(bad("it uses copyreg extension codes, which name code to run")),
                0x97 | 0x98 => return Err(bad("it uses out-of-band buffers (protocol 5), which torch.save never writes")),
                other => return Err(bad(&format!("unknown opcode 0x{other:02x} at byte {}", self.at - 1))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(b: &[u8]) -> Result<(Pickle, Id)> {
        unpickle(b).map(|(p, r, _)| (p, r))
    }

    #[test]
    fn containers_numbers_and_shared_references() {
        // pickle.dumps({"a": [1, -2, 3.5, None, True], "b": (b"xy", "é"), "big": 2**70}, 2) with
        // the list memoised and fetched again for "c".
        let mut b = vec![0x80, 2, b'}', b'q', 0, b'(', b'X', 1, 0, 0, 0, b'a', b']', b'q', 1, b'('];
        b.extend_from_slice(&[b'K', 1, b'J', 0xFE, 0xFF, 0xFF, 0xFF, b'G']);
        b.extend_from_slice(&3.5f64.to_be_bytes());
        b.extend_from_slice(&[b'N', 0x88, b'e', b'X', 1, 0, 0, 0, b'b', b'C', 2, b'x', b'y', b'X', 2, 0, 0, 0]);
        b.extend_from_slice("é".as_bytes());
        b.extend_from_slice(&[0x86, b'X', 3, 0, 0, 0, b'b', b'i', b'g', 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40]);
        b.extend_from_slice(&[b'X', 1, 0, 0, 0, b'c', b'h', 1, b'u', b'.']);
        let (p, root) = load(&b).unwrap();
        let Value::Dict(d) = p.get(root) else { panic!() };
        let a = p.dict_get(d, "a").unwrap();
        assert_eq!(p.dict_get(d, "c"), Some(a), "the memo shares, not copies");
        let items: Vec<&Value> = p.items(a).unwrap().iter().map(|&i| p.get(i)).collect();
        assert_eq!(items, [&Value::Int(1), &Value::Int(-2), &Value::Float(3.5), &Value::None, &Value::Bool(true)]);
        let t = p.items(p.dict_get(d, "b").unwrap()).unwrap();
        assert_eq!(p.get(t[0]), &Value::Bytes(b"xy".to_vec()));
        assert_eq!(p.str_of(t[1]), Some("é"));
        assert_eq!(p.int_of(p.dict_get(d, "big").unwrap()), Some(1 << 70));
    }

    #[test]
    fn forbidden_globals_are_refused_by_name_before_any_call() {
        let mut b = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.".to_vec();
        let e = load(&b).unwrap_err().to_string();
        assert!(e.contains("posix.system (os.system)") && e.contains("nothing"), "{e}");
        b = b"\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R.".to_vec();
        let e = load(&b).unwrap_err().to_string();
        assert!(e.contains("builtins.eval"), "{e}");
        // STACK_GLOBAL names its module and function on the stack.
        let b = b"\x80\x04\x8c\x02os\x8c\x06system\x93.";
        assert!(load(b).unwrap_err().to_string().contains("os.system"));
    }

    #[test]
    fn damaged_pickles_are_errors() {
        for b in [
            &b""[..],
            b"\x80\x02",
            b"\x80\x02]",
            b"\x80\x02a.",
            b"\x80\x02X\xff\xff\xff\x7f",
            b"\x80\x02h\x05.",
            b"\x80\x09N.",
        ] {
            let e = load(b).unwrap_err();
            assert!(matches!(e, Error::ModelFile(_)), "{e}");
        }
    }

    #[test]
    fn a_list_holding_itself_is_one_value() {
        // l = []; l.append(l): memo and APPEND share the list.
        let (p, root) = load(b"\x80\x02]q\x00h\x00a.").unwrap();
        assert_eq!(p.items(root).unwrap(), &[root]);
    }
}
