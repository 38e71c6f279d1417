//! From a one-line spec to layers with every size inferred from the input shape.
//! A layer that does not fit its input is refused with the arithmetic that shows why.

use crate::engine::dims::{checked_size, MAX_VALUES};
use crate::engine::im2col::Geometry;
use crate::engine::{Dims, Rank, Window};
use crate::error::{Error, Result};
use crate::layers::*;
use crate::spec::call::{parse_calls, Args, Call};

/// The layer names the spec understands, for messages.
const LAYER_NAMES: &str = "conv1d, conv2d, maxpool1d, maxpool2d, avgpool1d, avgpool2d, adaptiveavgpool1d, \
adaptiveavgpool2d, adaptivemaxpool1d, adaptivemaxpool2d, batchnorm1d, batchnorm2d, dropout, relu, leakyrelu, sigmoid, tanh, flatten, linear";

/// Builds the layers of `spec` for samples of shape `input`.
pub fn build_layers(spec: &str, input: Dims) -> Result<Vec<Layer>> {
    let calls = parse_calls(spec)?;
    if calls.is_empty() {
        return Err(Error::spec(
            "the model spec is empty; e.g. `conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)`",
        ));
    }
    let mut layers = Vec::with_capacity(calls.len());
    let mut dims = input;
    for (i, call) in calls.iter().enumerate() {
        let layer = build_one(call, dims).map_err(|e| e.context(format!("layer {i} `{call}` (input {dims})")))?;
        dims = layer.output;
        layers.push(layer);
    }
    check_total(&layers)?;
    Ok(layers)
}

/// Each layer is capped by `check_sizes`; the whole model is too: its parameters, and one
/// sample's activations through every layer, at most `MAX_VALUES` each (1 GiB of float32).
fn check_total(layers: &[Layer]) -> Result<()> {
    let sum = |f: &dyn Fn(&Layer) -> usize| layers.iter().try_fold(0usize, |acc, l| acc.checked_add(f(l)));
    let params = sum(&|l| l.param_len());
    let activations = sum(&|l| l.output.len());
    if params.is_none_or(|p| p > MAX_VALUES) {
        return Err(Error::spec(format!(
            "the model would have more than {MAX_VALUES} parameters in all (1 GiB of float32); convlab is for small CNNs: use fewer or narrower layers"
        )));
    }
    if activations.is_none_or(|a| a > MAX_VALUES) {
        return Err(Error::spec(format!(
            "one sample's feature maps through all layers would exceed {MAX_VALUES} values (1 GiB of float32); use fewer channels or a smaller input"
        )));
    }
    Ok(())
}

/// Which spatial rank a 1-D or 2-D layer needs, with the advice to give if it is wrong.
fn need_rank(dims: Dims, two_d: bool) -> Result<()> {
    match (dims.rank, two_d) {
        (Rank::Image, true) | (Rank::Signal, false) => Ok(()),
        (Rank::Flat, _) => Err(Error::spec("needs a spatial input but gets a flat vector; put it before `flatten`")),
        (Rank::Signal, true) => Err(Error::spec("is 2-D but the input is a 1-D signal (C×L); use the 1d layer")),
        (Rank::Image, false) => Err(Error::spec("is 1-D but the input is an image (C×H×W); use the 2d layer")),
    }
}

/// `3` or `3x5` (height × width); 1-D layers take one number.
fn pair(text: Option<&str>, default: usize, two_d: bool, what: &str) -> Result<(usize, usize)> {
    let Some(t) = text else {
        return Ok((default, default));
    };
    let t = t.trim().trim_matches(|c| c == '(' || c == ')');
    let nums: Vec<usize> =
        t.split(['x', ',']).map(|p| p.trim().parse::<usize>()).collect::<Result<_, _>>().map_err(|_| {
            Error::spec(format!("{what} `{t}` is not a whole number{}", if two_d { " or HxW" } else { "" }))
        })?;
    if let Some(big) = nums.iter().find(|&&v| v > MAX_VALUES) {
        return Err(Error::spec(format!("{what} {big} is too large (at most {MAX_VALUES})")));
    }
    match (nums.as_slice(), two_d) {
        ([v], _) => Ok((*v, *v)),
        ([h, w], true) => Ok((*h, *w)),
        _ => Err(Error::spec(format!("{what} `{t}` has the wrong number of sizes"))),
    }
}

/// Padding before and after along one axis.
type Pads = (usize, usize);

/// Padding: a number, HxW, `valid` (0) or `same` (keep the size; stride 1 only).
fn padding(
    text: Option<&str>,
    kernel: (usize, usize),
    dilation: (usize, usize),
    stride: (usize, usize),
    two_d: bool,
) -> Result<(Pads, Pads)> {
    match text.map(|t| t.trim().to_ascii_lowercase()) {
        Some(t) if t == "same" => {
            if stride != (1, 1) {
                return Err(Error::spec("padding=same needs stride 1 (as in PyTorch)"));
            }
            // Total d·(k-1), the odd one extra at the end, as PyTorch does.
            let total = |k: usize, d: usize| d.saturating_mul(k - 1);
            let (th, tw) = (total(kernel.0, dilation.0), total(kernel.1, dilation.1));
            Ok(((th / 2, th - th / 2), (tw / 2, tw - tw / 2)))
        }
        Some(t) if t == "valid" => Ok(((0, 0), (0, 0))),
        other => {
            let (ph, pw) = pair(other.as_deref(), 0, two_d, "padding")?;
            Ok(((ph, ph), (pw, pw)))
        }
    }
}

fn nonzero(v: (usize, usize), what: &str) -> Result<(usize, usize)> {
    if v.0 == 0 || v.1 == 0 {
        Err(Error::spec(format!("{what} must be at least 1")))
    } else {
        Ok(v)
    }
}

/// The output geometry of a window over `dims`, or the arithmetic of why it does not fit.
fn geometry(dims: Dims, wh: Window, ww: Window, two_d: bool) -> Result<Geometry> {
    let (oh, ow) = (wh.output_len(dims.h), ww.output_len(dims.w));
    match Geometry::new(dims.c, dims.h, dims.w, wh, ww) {
        Some(g) => Ok(g),
        None => {
            let mut why = vec![];
            if two_d && oh.is_none() {
                why.push(format!("height {}", wh.arithmetic(dims.h)));
            }
            if ow.is_none() {
                why.push(format!("{} {}", if two_d { "width" } else { "length" }, ww.arithmetic(dims.w)));
            }
            Err(Error::spec(format!(
                "the window ({}) is larger than the padded input: {}. Use a smaller kernel, more padding, or fewer pooling layers before it",
                if two_d { format!("{}x{}", wh.span(), ww.span()) } else { ww.span().to_string() },
                why.join("; ")
            )))
        }
    }
}

fn output_dims(c: usize, g: &Geometry, two_d: bool) -> Dims {
    if two_d {
        Dims::image(c, g.out_h, g.out_w)
    } else {
        Dims::signal(c, g.out_w)
    }
}

fn build_one(call: &Call, dims: Dims) -> Result<Layer> {
    let mut a = Args::new(call);
    let name = call.name.replace('_', "");
    let (op, output, allowed) = match name.as_str() {
        "conv1d" | "conv2d" => {
            let two_d = name == "conv2d";
            need_rank(dims, two_d)?;
            let out: usize = a
                .parse(Some(0), &["out", "out_channels", "filters"])?
                .ok_or(Error::spec("needs the number of output channels, e.g. conv2d(16,k=3)"))?;
            if out == 0 {
                return Err(Error::spec("needs at least 1 output channel"));
            }
            let k = nonzero(
                pair(a.get(Some(1), &["k", "kernel", "kernel_size"])?, 0, two_d, "kernel")?,
                "the kernel size (k=)",
            )?;
            let s = nonzero(pair(a.get(None, &["s", "stride"])?, 1, two_d, "stride")?, "the stride")?;
            let d = nonzero(pair(a.get(None, &["d", "dilation"])?, 1, two_d, "dilation")?, "the dilation")?;
            let p = a.get(None, &["p", "padding", "pad"])?;
            let bias = a.bool(&["bias"], true)?;
            let (ph, pw) = padding(p, k, d, s, two_d)?;
            let (ph, k_h, s_h, d_h) = if two_d { (ph, k.0, s.0, d.0) } else { ((0, 0), 1, 1, 1) };
            let wh = Window { kernel: k_h, stride: s_h, pad_before: ph.0, pad_after: ph.1, dilation: d_h };
            let ww = Window { kernel: k.1, stride: s.1, pad_before: pw.0, pad_after: pw.1, dilation: d.1 };
            let geom = geometry(dims, wh, ww, two_d)?;
            let output = output_dims(out, &geom, two_d);
            (
                Op::Conv(Conv { geom, out_channels: out, bias, one_d: !two_d }),
                output,
                "(out, k=, s=1, p=0|same, d=1, bias=true)",
            )
        }
        "maxpool1d" | "maxpool2d" | "avgpool1d" | "avgpool2d" => {
            let two_d = name.ends_with("2d");
            need_rank(dims, two_d)?;
            let k = nonzero(
                pair(a.get(Some(0), &["k", "kernel", "kernel_size"])?, 0, two_d, "kernel")?,
                "the kernel size",
            )?;
            // No stride given means stride = kernel, as in PyTorch; an explicit 0 is an error.
            let s = match a.get(Some(1), &["s", "stride"])? {
                None => k,
                given => nonzero(pair(given, 0, two_d, "stride")?, "the stride")?,
            };
            let p = pair(a.get(Some(2), &["p", "padding", "pad"])?, 0, two_d, "padding")?;
            if p.0 * 2 > k.0 || p.1 * 2 > k.1 {
                return Err(Error::spec(format!(
                    "padding {p:?} is more than half the kernel {k:?}; PyTorch refuses this too"
                )));
            }
            let (kh, sh, ph) = if two_d { (k.0, s.0, p.0) } else { (1, 1, 0) };
            let geom = geometry(dims, Window::simple(kh, sh, ph), Window::simple(k.1, s.1, p.1), two_d)?;
            let output = output_dims(dims.c, &geom, two_d);
            let op =
                if name.starts_with("max") { Op::MaxPool(MaxPool { geom }) } else { Op::AvgPool(AvgPool { geom }) };
            (op, output, "(k, s=k, p=0)")
        }
        "adaptiveavgpool1d" | "adaptiveavgpool2d" | "adaptivemaxpool1d" | "adaptivemaxpool2d" => {
            let two_d = name.ends_with("2d");
            need_rank(dims, two_d)?;
            let size = a.get(Some(0), &["output_size", "size", "out"])?.ok_or_else(|| {
                Error::spec(format!(
                    "needs the output size, e.g. {}",
                    if two_d { "adaptiveavgpool2d(1) or adaptiveavgpool2d(3x2)" } else { "adaptiveavgpool1d(4)" }
                ))
            })?;
            let (out_h, out_w) = nonzero(pair(Some(size), 0, two_d, "output size")?, "the output size")?;
            let (out_h, h) = if two_d { (out_h, dims.h) } else { (1, 1) };
            let mut too_big = vec![];
            if out_h > h {
                too_big.push(format!("height {out_h} > {h}"));
            }
            if out_w > dims.w {
                too_big.push(format!("{} {out_w} > {}", if two_d { "width" } else { "length" }, dims.w));
            }
            if !too_big.is_empty() {
                return Err(Error::spec(format!(
                    "the output size is larger than the input ({}); each output needs its own input, so give at most the input's size",
                    too_big.join(", ")
                )));
            }
            let kind = if name.contains("max") { PoolKind::Max } else { PoolKind::Avg };
            let pool = AdaptivePool { kind, c: dims.c, h, w: dims.w, out_h, out_w, one_d: !two_d };
            let output = if two_d { Dims::image(dims.c, out_h, out_w) } else { Dims::signal(dims.c, out_w) };
            (Op::AdaptivePool(pool), output, if two_d { "(output_size: n or HxW)" } else { "(output_size)" })
        }
        "batchnorm1d" | "batchnorm2d" => {
            let two_d = name == "batchnorm2d";
            match (dims.rank, two_d) {
                (Rank::Image, true) | (Rank::Signal | Rank::Flat, false) => {}
                (_, true) => return Err(Error::spec("batchnorm2d needs an image input (C×H×W); use batchnorm1d")),
                (_, false) => {
                    return Err(Error::spec("batchnorm1d needs a flat (F) or 1-D (C×L) input; use batchnorm2d"))
                }
            }
            if let Some(nf) = a.parse::<usize>(Some(0), &["num_features", "features"])? {
                if nf != dims.c {
                    return Err(Error::spec(format!("says {nf} features but its input has {} channels", dims.c)));
                }
            }
            let eps: f64 = a.parse(None, &["eps"])?.unwrap_or(1e-5);
            let momentum: f64 = a.parse(None, &["momentum"])?.unwrap_or(0.1);
            if eps.is_nan() || eps <= 0.0 || !(0.0..=1.0).contains(&momentum) {
                return Err(Error::spec("eps must be > 0 and momentum in [0, 1]"));
            }
            let op = BatchNorm { channels: dims.c, plane: dims.h * dims.w, eps, momentum, one_d: !two_d };
            (Op::BatchNorm(op), dims, "(num_features, eps=1e-5, momentum=0.1)")
        }
        "dropout" => {
            let p: f64 = a.parse(Some(0), &["p"])?.unwrap_or(0.5);
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::spec(format!("p = {p} is not a probability in [0, 1]")));
            }
            (Op::Dropout(Dropout { p, len: dims.len() }), dims, "(p=0.5)")
        }
        "relu" => (Op::Activation(Activation::Relu), dims, "no arguments"),
        "sigmoid" => (Op::Activation(Activation::Sigmoid), dims, "no arguments"),
        "tanh" => (Op::Activation(Activation::Tanh), dims, "no arguments"),
        "leakyrelu" => {
            let slope: f64 = a.parse(Some(0), &["negative_slope", "slope"])?.unwrap_or(0.01);
            if !slope.is_finite() {
                return Err(Error::spec(format!("negative_slope must be a finite number, not {slope}")));
            }
            (Op::Activation(Activation::LeakyRelu(slope)), dims, "(negative_slope=0.01)")
        }
        "flatten" => (Op::Flatten, Dims::flat(dims.len()), "no arguments"),
        "linear" => {
            if dims.rank != Rank::Flat {
                return Err(Error::spec(format!("needs a flat input but gets {dims}; put `flatten` before it")));
            }
            let out: usize = a
                .parse(Some(0), &["out", "out_features"])?
                .ok_or(Error::spec("needs the number of outputs, e.g. linear(10)"))?;
            if out == 0 {
                return Err(Error::spec("needs at least 1 output"));
            }
            let bias = a.bool(&["bias"], true)?;
            (Op::Linear(Linear { in_features: dims.c, out_features: out, bias }), Dims::flat(out), "(out, bias=true)")
        }
        _ => return Err(Error::spec(format!("unknown layer `{}`; known layers: {LAYER_NAMES}", call.name))),
    };
    a.finish(allowed)?;
    check_sizes(&op, output)?;
    Ok(Layer { op, input: dims, output, text: call.text.clone() })
}

/// Refuses layers whose output, parameters or im2col columns would exceed `MAX_VALUES`, so a
/// typo such as `linear(99999999999)` gets a message rather than a failed allocation.
fn check_sizes(op: &Op, output: Dims) -> Result<()> {
    if checked_size(&[output.c, output.h, output.w]).is_none() {
        return Err(Error::spec(format!(
            "its output would hold more than {MAX_VALUES} values per sample; use fewer channels or a smaller input"
        )));
    }
    let (params, columns) = match op {
        Op::Conv(c) => {
            let g = &c.geom;
            let (kh, kw) = (g.wh.kernel, g.ww.kernel);
            // The direct convolution pads the input plane: count the padding too.
            let padded = |n: usize, w: &crate::engine::Window| n.checked_add(w.pad_before)?.checked_add(w.pad_after);
            let padded_plane = padded(g.h, &g.wh).zip(padded(g.w, &g.ww)).and_then(|(h, w)| checked_size(&[g.c, h, w]));
            let columns = checked_size(&[g.c, kh, kw, g.out_h, g.out_w]).and(padded_plane);
            (checked_size(&[c.out_channels, g.c, kh, kw]), columns)
        }
        Op::Linear(l) => (checked_size(&[l.in_features, l.out_features]), Some(0)),
        _ => (Some(0), Some(0)),
    };
    if params.is_none() {
        return Err(Error::spec(format!(
            "it would have more than {MAX_VALUES} parameters; use fewer channels or outputs"
        )));
    }
    if columns.is_none() {
        return Err(Error::spec(format!("its im2col buffer (inputs × kernel × outputs) or its padded input would exceed {MAX_VALUES} values; use a smaller kernel, padding or input")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_model_and_padded_inputs_are_capped() {
        let six = "flatten linear(16384) linear(16384) linear(16384) linear(16384) linear(16384) linear(16384)";
        let e = build_layers(six, Dims::flat(16384)).unwrap_err().to_string();
        assert!(e.contains("parameters in all"), "{e}");
        let e = build_layers("conv2d(1,k=1,s=1000,p=20000)", Dims::image(1, 8, 8)).unwrap_err().to_string();
        assert!(e.contains("padded input"), "{e}");
        assert!(build_layers("conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)", Dims::image(1, 28, 28)).is_ok());
    }

    #[test]
    fn infers_every_size_of_the_lab_models() {
        let l = build_layers("conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) flatten linear(32) relu linear(10)", Dims::image(1, 28, 28)).unwrap();
        assert_eq!(l[5].output, Dims::image(32, 7, 7));
        assert_eq!(l[6].output, Dims::flat(1568));
        assert_eq!(l[9].output, Dims::flat(10));
        let p = build_layers("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", Dims::signal(1, 20)).unwrap();
        assert_eq!(p[2].output, Dims::signal(4, 1));
        let same = build_layers("conv2d(3,k=4,p=same)", Dims::image(1, 9, 9)).unwrap();
        assert_eq!(same[0].output, Dims::image(3, 9, 9));
    }

    #[test]
    fn refuses_layers_that_do_not_fit_with_the_arithmetic() {
        let e = build_layers("conv2d(8,k=3) maxpool2d(2) maxpool2d(2) maxpool2d(2)", Dims::image(1, 8, 8)).unwrap_err();
        assert!(matches!(e, Error::Spec(_)), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("layer 3 `maxpool2d(2)`"), "{e}");
        assert!(e.contains("(1 + 2*0 - 2)/2 + 1"), "{e}");
        let e = build_layers("conv2d(8,k=3) linear(10)", Dims::image(1, 8, 8)).unwrap_err().to_string();
        assert!(e.contains("flatten"), "{e}");
        let e = build_layers("conv1d(8,k=3)", Dims::image(1, 8, 8)).unwrap_err().to_string();
        assert!(e.contains("2d"), "{e}");
        assert!(build_layers("conv2d(8)", Dims::image(1, 8, 8)).unwrap_err().to_string().contains("kernel"));
        assert!(build_layers("relu(3)", Dims::flat(3)).unwrap_err().to_string().contains("extra argument"));
        assert!(build_layers("wobble", Dims::flat(3)).unwrap_err().to_string().contains("unknown layer"));
        assert!(build_layers("dropout(1.5)", Dims::flat(3)).is_err());
        assert!(build_layers("", Dims::flat(3)).is_err());
        // Sizes that would not fit in memory are refused, not allocated.
        assert!(build_layers("linear(99999999999)", Dims::flat(8)).unwrap_err().to_string().contains("more than"));
        assert!(build_layers("linear(100000)", Dims::flat(100000)).unwrap_err().to_string().contains("parameters"));
        assert!(build_layers("conv2d(99999999999,k=1)", Dims::image(1, 1, 1)).is_err());
        assert!(build_layers("conv2d(4,k=3,p=9999999999999999999)", Dims::image(1, 8, 8)).is_err());
        assert!(build_layers("conv2d(4,k=3,p=same,d=9999999999999999999)", Dims::image(1, 8, 8)).is_err());
        assert!(build_layers("maxpool2d(k=2,s=0)", Dims::image(1, 8, 8)).unwrap_err().to_string().contains("stride"));
        assert!(build_layers("leakyrelu(nan)", Dims::flat(3)).is_err());
        assert!(Dims::parse("4294967296,4294967296,1").is_err());
    }

    #[test]
    fn adaptive_pools_take_their_output_size() {
        let img = Dims::image(3, 8, 7);
        let l = build_layers("adaptiveavgpool2d(1) flatten", img).unwrap();
        assert_eq!((l[0].output, l[1].output), (Dims::image(3, 1, 1), Dims::flat(3)));
        let l = build_layers("adaptivemaxpool2d(3x2)", img).unwrap();
        assert_eq!(l[0].output, Dims::image(3, 3, 2));
        let l = build_layers("adaptiveavgpool2d(output_size=(2,5))", img).unwrap();
        assert_eq!(l[0].output, Dims::image(3, 2, 5));
        let l = build_layers("adaptivemaxpool1d(5) adaptive_avg_pool1d(1)", Dims::signal(2, 5)).unwrap();
        assert_eq!((l[0].output, l[1].output), (Dims::signal(2, 5), Dims::signal(2, 1)));
        assert!(matches!(&l[0].op, Op::AdaptivePool(p) if p.kind == PoolKind::Max));
        assert!(matches!(&l[1].op, Op::AdaptivePool(p) if p.kind == PoolKind::Avg));
    }

    #[test]
    fn refuses_bad_adaptive_pools() {
        let img = Dims::image(1, 8, 7);
        let err = |spec: &str, input| build_layers(spec, input).unwrap_err();
        let e = err("adaptiveavgpool2d(0)", img);
        assert!(matches!(e, Error::Spec(_)), "{e:?}");
        assert!(e.to_string().contains("the output size must be at least 1"), "{e}");
        let e = err("adaptiveavgpool2d(8x8)", img).to_string();
        assert!(e.contains("larger than the input (width 8 > 7)"), "{e}");
        let e = err("adaptivemaxpool1d(21)", Dims::signal(1, 20)).to_string();
        assert!(e.contains("length 21 > 20"), "{e}");
        assert!(err("adaptiveavgpool2d", img).to_string().contains("needs the output size"));
        assert!(err("adaptiveavgpool1d(2x2)", Dims::signal(1, 20)).to_string().contains("wrong number"));
        assert!(err("adaptiveavgpool2d(2)", Dims::signal(1, 20)).to_string().contains("1d layer"));
        assert!(err("adaptiveavgpool2d(2,k=3)", img).to_string().contains("unknown argument `k`"));
        assert!(err("flatten adaptiveavgpool1d(1)", img).to_string().contains("flatten"));
    }
}
