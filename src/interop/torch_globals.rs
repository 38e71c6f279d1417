//! The globals a `.pt` pickle may name, and what "calling" each one builds. This is the
//! allowlist of PyTorch's `weights_only` loader (`torch/_weights_only_unpickler.py`: containers,
//! tensor and parameter rebuilders, storage types, dtypes, `torch.Size`, `torch.device`,
//! `_codecs.encode` for bytes), plus the `nn` layer classes convlab has, so a whole pickled
//! `nn.Sequential` (`torch.save(model)`) can be read: its layers become inert records of their
//! attributes, and no constructor, `__setstate__` or any other code is run. Every other global is
//! refused, naming it.

use super::pickle::{Dtype, Id, Object, Pickle, Storage, Tensor, Value};
use crate::error::{Error, Result};

/// The layers convlab can read from a pickled module, with the module PyTorch defines them in.
pub const MODULE_CLASSES: &[(&str, &str)] = &[
    ("torch.nn.modules.container", "Sequential"),
    ("torch.nn.modules.conv", "Conv1d"),
    ("torch.nn.modules.conv", "Conv2d"),
    ("torch.nn.modules.pooling", "MaxPool1d"),
    ("torch.nn.modules.pooling", "MaxPool2d"),
    ("torch.nn.modules.pooling", "AvgPool1d"),
    ("torch.nn.modules.pooling", "AvgPool2d"),
    ("torch.nn.modules.pooling", "AdaptiveAvgPool1d"),
    ("torch.nn.modules.pooling", "AdaptiveAvgPool2d"),
    ("torch.nn.modules.pooling", "AdaptiveMaxPool1d"),
    ("torch.nn.modules.pooling", "AdaptiveMaxPool2d"),
    ("torch.nn.modules.batchnorm", "BatchNorm1d"),
    ("torch.nn.modules.batchnorm", "BatchNorm2d"),
    ("torch.nn.modules.dropout", "Dropout"),
    ("torch.nn.modules.activation", "ReLU"),
    ("torch.nn.modules.activation", "LeakyReLU"),
    ("torch.nn.modules.activation", "Sigmoid"),
    ("torch.nn.modules.activation", "Tanh"),
    ("torch.nn.modules.flatten", "Flatten"),
    ("torch.nn.modules.linear", "Linear"),
];

/// An allowed class or function.
#[derive(Clone, Debug, PartialEq)]
pub enum Global {
    OrderedDict,
    Set,
    FrozenSet,
    ByteArray,
    CodecsEncode,
    RebuildTensor,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    TensorClass,
    ParameterClass,
    Size,
    Device,
    GetLayout,
    StorageType(Dtype),
    Dtype(Dtype),
    /// An `nn` layer class, by name (`Conv2d`).
    Module(&'static str),
}

impl Global {
    pub fn describe(&self) -> String {
        match self {
            Global::StorageType(d) => format!("storage type of {}", d.name()),
            Global::Dtype(d) => format!("dtype torch.{}", d.name()),
            Global::Module(m) => format!("class nn.{m}"),
            other => format!("function {other:?}"),
        }
    }
}

/// What an allowed call gives: a new value, or one that already exists (a parameter is its tensor).
pub enum Made {
    New(Value),
    Same(Id),
}

const STORAGES: &[(&str, Dtype)] = &[
    ("FloatStorage", Dtype::F32),
    ("DoubleStorage", Dtype::F64),
    ("HalfStorage", Dtype::F16),
    ("BFloat16Storage", Dtype::BF16),
    ("LongStorage", Dtype::I64),
    ("IntStorage", Dtype::I32),
    ("ShortStorage", Dtype::I16),
    ("CharStorage", Dtype::I8),
    ("ByteStorage", Dtype::U8),
    ("BoolStorage", Dtype::Bool),
];

const DTYPES: &[(&str, Dtype)] = &[
    ("float32", Dtype::F32),
    ("float", Dtype::F32),
    ("float64", Dtype::F64),
    ("double", Dtype::F64),
    ("float16", Dtype::F16),
    ("half", Dtype::F16),
    ("bfloat16", Dtype::BF16),
    ("int64", Dtype::I64),
    ("long", Dtype::I64),
    ("int32", Dtype::I32),
    ("int", Dtype::I32),
    ("int16", Dtype::I16),
    ("int8", Dtype::I8),
    ("uint8", Dtype::U8),
    ("bool", Dtype::Bool),
];

/// Looks up a global the pickle names; anything outside the allowlist is refused, naming it.
pub fn find_class(module: &str, name: &str) -> Result<Global> {
    let module = match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        m => m,
    };
    let g = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("builtins", "set") => Global::Set,
        ("builtins", "frozenset") => Global::FrozenSet,
        ("builtins", "bytearray") => Global::ByteArray,
        ("_codecs", "encode") => Global::CodecsEncode,
        ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromTypeV2,
        ("torch" | "torch._tensor", "Tensor") => Global::TensorClass,
        ("torch.nn.parameter", "Parameter") => Global::ParameterClass,
        ("torch", "Size") => Global::Size,
        ("torch", "device") => Global::Device,
        ("torch.serialization", "_get_layout") => Global::GetLayout,
        ("torch", n) if STORAGES.iter().any(|s| s.0 == n) => {
            Global::StorageType(STORAGES.iter().find(|s| s.0 == n).unwrap().1)
        }
        ("torch", n) if DTYPES.iter().any(|s| s.0 == n) => Global::Dtype(DTYPES.iter().find(|s| s.0 == n).unwrap().1),
        (m, n) => match MODULE_CLASSES.iter().find(|(cm, cn)| *cm == m && *cn == n) {
            Some((_, class)) => Global::Module(class),
            None => return Err(refused(m, n)),
        },
    };
    Ok(g)
}

/// Why a global is refused, with what to do.
fn refused(module: &str, name: &str) -> Error {
    let alias = match (module, name) {
        ("posix" | "nt", n) => format!(" (os.{n})"),
        _ => String::new(),
    };
    let called = format!(
        "the pickle calls {module}.{name}{alias}; convlab loads only tensors, containers and nn.Sequential layers, \
         and nothing from the file was executed"
    );
    // Modules whose functions run commands, files or code: no model file names them.
    const DANGEROUS: &[&str] = &[
        "os",
        "posix",
        "nt",
        "builtins",
        "subprocess",
        "sys",
        "shutil",
        "socket",
        "runpy",
        "importlib",
        "pickle",
        "pty",
        "webbrowser",
    ];
    let root = module.split('.').next().unwrap_or(module);
    let advice = if module.starts_with("torch.nn.modules") {
        let known: Vec<&str> = MODULE_CLASSES.iter().map(|c| c.1).collect();
        format!(
            "nn.{name} has no convlab layer (it reads {}); save the weights with torch.save(model.state_dict(), path) and give --model",
            known.join(", ")
        )
    } else if root == "torch" {
        "convlab reads state dicts, checkpoint dicts of them and whole nn.Sequential models; save the weights with \
         torch.save(model.state_dict(), path) and give --model"
            .to_string()
    } else if root == "numpy" {
        "numpy values are not read; save plain Python numbers or tensors".to_string()
    } else if DANGEROUS.contains(&root) {
        "The file may be malicious: do not open it with torch.load(weights_only=False)".to_string()
    } else {
        format!(
            "if {module}.{name} is a model class of your own, save its state dict instead (torch.save(model.state_dict(), path)) \
             and give --model; if you did not write it, do not open the file with torch.load(weights_only=False)"
        )
    };
    Error::model_file(format!("{called}. {advice}"))
}

fn bad(what: &str) -> Error {
    Error::model_file(format!("the pickle is damaged or not one convlab can read ({what})"))
}

fn args_of<'p>(p: &'p Pickle, args: Id, what: &str) -> Result<&'p [Id]> {
    p.items(args).ok_or_else(|| bad(&format!("{what} is given arguments that are not a tuple")))
}

/// A non-negative integer that fits in 64 bits.
fn count(p: &Pickle, id: Id, what: &str) -> Result<u64> {
    p.int_of(id).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| bad(&format!("{what} is not a size")))
}

fn sizes(p: &Pickle, id: Id, what: &str) -> Result<Vec<u64>> {
    let items = p.items(id).ok_or_else(|| bad(&format!("{what} is not a tuple")))?;
    if items.len() > 16 {
        return Err(bad(&format!("a tensor of {} dimensions", items.len())));
    }
    items.iter().map(|&i| count(p, i, what)).collect()
}

fn tensor(p: &Pickle, a: &[Id]) -> Result<Value> {
    if a.len() < 4 {
        return Err(bad("a tensor rebuilt from fewer than 4 arguments"));
    }
    let Value::Storage(storage) = p.get(a[0]) else {
        return Err(bad("a tensor whose storage is not a storage"));
    };
    let shape = sizes(p, a[2], "a tensor's size")?;
    let stride = sizes(p, a[3], "a tensor's stride")?;
    if shape.len() != stride.len() {
        return Err(bad("a tensor with different numbers of sizes and strides"));
    }
    Ok(Value::Tensor(Tensor { storage: storage.clone(), offset: count(p, a[1], "a storage offset")?, shape, stride }))
}

/// `f(*args)` for an allowed `f`: builds data, never runs anything.
pub fn call(p: &mut Pickle, f: Id, args: Id) -> Result<Made> {
    let Value::Global(g) = p.get(f).clone() else {
        return Err(bad(&format!("it calls {}, which is not a function", p.describe(f))));
    };
    call_global(p, &g, args, 0)
}

fn call_global(p: &mut Pickle, g: &Global, args: Id, depth: usize) -> Result<Made> {
    let a = args_of(p, args, &g.describe())?.to_vec();
    let made = match g {
        Global::OrderedDict => {
            let mut pairs = vec![];
            if let Some(&items) = a.first() {
                for &pair in p.items(items).ok_or_else(|| bad("OrderedDict of something that is not a list"))? {
                    match p.items(pair) {
                        Some(&[k, v]) => pairs.push((k, v)),
                        _ => return Err(bad("OrderedDict of items that are not pairs")),
                    }
                }
            }
            return p.new_dict(&pairs).map(Made::Same);
        }
        Global::Set | Global::FrozenSet => {
            let items = match a.first() {
                Some(&i) => match p.get(i) {
                    Value::Tuple(v) | Value::List(v) | Value::Set(v) => v.clone(),
                    _ => return Err(bad("a set of something that is not a list")),
                },
                None => vec![],
            };
            Made::New(Value::Set(items))
        }
        Global::ByteArray | Global::CodecsEncode => {
            let bytes = match a.first().map(|&i| p.get(i)) {
                None => vec![],
                Some(Value::Bytes(b)) => b.clone(),
                Some(Value::Str(s)) => {
                    let latin1 = a.get(1).and_then(|&e| p.str_of(e)).is_some_and(|e| e.starts_with("latin"));
                    if latin1 {
                        // Python 2 byte strings arrive as text with one character per byte.
                        s.chars()
                            .map(|c| u8::try_from(c as u32).map_err(|_| bad("latin-1 text outside latin-1")))
                            .collect::<Result<_>>()?
                    } else {
                        s.as_bytes().to_vec()
                    }
                }
                Some(_) => return Err(bad("bytes made from something that is not text")),
            };
            Made::New(Value::Bytes(bytes))
        }
        Global::RebuildTensor | Global::RebuildTensorV2 => Made::New(tensor(p, &a)?),
        Global::RebuildParameter | Global::RebuildParameterWithState => match a.first() {
            Some(&t) if matches!(p.get(t), Value::Tensor(_)) => Made::Same(t),
            _ => return Err(bad("a parameter that is not a tensor")),
        },
        Global::RebuildFromTypeV2 => {
            // (func, new_type, args, state): a tensor subclass; only plain tensors and parameters.
            let [func, new_type, inner, ..] = a[..] else {
                return Err(bad("_rebuild_from_type_v2 with too few arguments"));
            };
            if !matches!(p.get(new_type), Value::Global(Global::TensorClass | Global::ParameterClass)) {
                return Err(bad(&format!("a tensor of the type {}", p.describe(new_type))));
            }
            let Value::Global(inner_g) = p.get(func).clone() else {
                return Err(bad("_rebuild_from_type_v2 of something that is not a function"));
            };
            if depth > 0 {
                return Err(bad("nested _rebuild_from_type_v2"));
            }
            return call_global(p, &inner_g, inner, depth + 1);
        }
        Global::Size => match a.first() {
            Some(&t) if p.items(t).is_some() => Made::Same(t),
            _ => return Err(bad("torch.Size of something that is not a tuple")),
        },
        Global::Device | Global::GetLayout => {
            let s = a.first().and_then(|&i| p.str_of(i)).ok_or_else(|| bad("a device or layout that is not text"))?;
            Made::New(Value::Str(s.to_string()))
        }
        Global::TensorClass
        | Global::ParameterClass
        | Global::StorageType(_)
        | Global::Dtype(_)
        | Global::Module(_) => {
            return Err(Error::model_file(format!(
                "the pickle calls the {} (its constructor would run code); convlab loads only tensors, containers and \
                 nn.Sequential layers as torch.save writes them, and nothing from the file was executed",
                g.describe()
            )))
        }
    };
    Ok(made)
}

/// `cls.__new__(cls, *args)` (NEWOBJ): an empty layer record, or an empty container.
pub fn new_object(p: &mut Pickle, cls: Id, args: Id) -> Result<Made> {
    match p.get(cls) {
        Value::Global(Global::Module(class)) => Ok(Made::New(Value::Object(Object { class, state: None }))),
        Value::Global(Global::OrderedDict) => p.new_dict(&[]).map(Made::Same),
        Value::Global(Global::Set | Global::FrozenSet) => Ok(Made::New(Value::Set(vec![]))),
        Value::Global(_) => call(p, cls, args),
        _ => Err(bad(&format!("it instantiates {}, which is not a class", p.describe(cls)))),
    }
}

/// `BUILD`: a layer record keeps its state (its attributes); the attributes of a dict
/// (`_metadata` of a state dict) and of a tensor are not needed.
pub fn build(p: &mut Pickle, target: Id, state: Id) -> Result<()> {
    match &mut p.values[target] {
        Value::Object(o) => {
            o.state = Some(state);
            Ok(())
        }
        Value::Dict(_) | Value::Tensor(_) => Ok(()),
        _ => Err(bad(&format!("it sets the state of {}", p.describe(target)))),
    }
}

/// A persistent id: `('storage', StorageType, key, location, numel[, view])` names a storage
/// whose bytes are elsewhere in the file; the legacy format's `('module', cls, file, source)`
/// names a layer class.
pub fn persistent_load(p: &mut Pickle, pid: Id) -> Result<Made> {
    let items = p.items(pid).ok_or_else(|| bad("a persistent id that is not a tuple"))?.to_vec();
    match items.first().and_then(|&i| p.str_of(i)) {
        Some("storage") if items.len() >= 5 => {
            let Value::Global(Global::StorageType(dtype)) = p.get(items[1]) else {
                return Err(Error::model_file(format!(
                    "the file holds a storage of {}; convlab reads float16, bfloat16, float32, float64 and integer tensors",
                    p.describe(items[1])
                )));
            };
            let dtype = *dtype;
            let key = match p.get(items[2]) {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                _ => return Err(bad("a storage key that is not text")),
            };
            let numel = count(p, items[4], "a storage's size")?;
            if items.get(5).is_some_and(|&v| !matches!(p.get(v), Value::None)) {
                return Err(Error::model_file(
                    "the file holds storage views of PyTorch before 1.0; load it in PyTorch and save it again",
                ));
            }
            Ok(Made::New(Value::Storage(Storage { dtype, key, numel })))
        }
        Some("module") if items.len() >= 2 && matches!(p.get(items[1]), Value::Global(Global::Module(_))) => {
            Ok(Made::Same(items[1]))
        }
        _ => Err(bad(&format!("a persistent id convlab does not know ({})", p.describe(pid)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do_instead() {
        let says = |m: &str, n: &str| find_class(m, n).unwrap_err().to_string();
        assert!(says("__main__", "Net").contains("a model class of your own"));
        assert!(says("torch.nn.modules.conv", "ConvTranspose2d").contains("nn.ConvTranspose2d has no convlab layer"));
        assert!(says("torch.nn.parallel.data_parallel", "DataParallel").contains("state_dict"));
        assert!(says("subprocess", "Popen").contains("malicious"));
        assert!(says("numpy.core.multiarray", "scalar").contains("numpy"));
        assert_eq!(find_class("__builtin__", "set").unwrap(), Global::Set);
        assert_eq!(find_class("torch", "HalfStorage").unwrap(), Global::StorageType(Dtype::F16));
        assert_eq!(find_class("torch.nn.modules.linear", "Linear").unwrap(), Global::Module("Linear"));
        // A layer class under another module's name is not the layer.
        assert!(find_class("mymodels", "Linear").is_err());
    }
}
