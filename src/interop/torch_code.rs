//! The PyTorch code of a model: the `nn.Sequential` whose `state_dict()` names and shapes are
//! the model's, so the `.pt` (or safetensors) file convlab writes loads into it with
//! `load_state_dict`. Every argument that differs from PyTorch's default is written out.

use crate::engine::im2col::Geometry;
use crate::engine::{Rank, Window};
use crate::layers::{Activation, AvgPool, Layer, MaxPool, Op, PoolKind};
use crate::model::Model;

/// Python floats: `0.1`, `1e-05`, `1.0` (Rust's `{:?}` is shortest round-trip and keeps the `.0`).
fn py_float(v: f64) -> String {
    format!("{v:?}")
}

/// `3` or `(3, 5)`: (height, width); a 1-D layer's size is the width.
fn py_pair(a: usize, b: usize, two_d: bool) -> String {
    if !two_d || a == b {
        b.to_string()
    } else {
        format!("({a}, {b})")
    }
}

/// The padding argument of a convolution: a size, or `'same'` when the two sides differ.
fn py_padding(wh: &Window, ww: &Window, two_d: bool) -> Option<String> {
    let sym = |w: &Window| w.pad_before == w.pad_after;
    if !sym(ww) || two_d && !sym(wh) {
        return Some("'same'".into());
    }
    let (ph, pw) = (if two_d { wh.pad_before } else { 0 }, ww.pad_before);
    (ph != 0 || pw != 0).then(|| py_pair(ph, pw, two_d))
}

/// One layer's constructor call, e.g. `nn.Conv2d(1, 8, kernel_size=5, padding=2)`.
fn layer_code(layer: &Layer) -> String {
    let op = &layer.op;
    match op {
        Op::Conv(c) => {
            let g = &c.geom;
            let two_d = !c.one_d;
            let d = if two_d { "2d" } else { "1d" };
            let mut args = vec![
                g.c.to_string(),
                c.out_channels.to_string(),
                format!("kernel_size={}", py_pair(g.wh.kernel, g.ww.kernel, two_d)),
            ];
            if g.wh.stride != 1 && two_d || g.ww.stride != 1 {
                args.push(format!("stride={}", py_pair(g.wh.stride, g.ww.stride, two_d)));
            }
            if let Some(p) = py_padding(&g.wh, &g.ww, two_d) {
                args.push(format!("padding={p}"));
            }
            if g.wh.dilation != 1 && two_d || g.ww.dilation != 1 {
                args.push(format!("dilation={}", py_pair(g.wh.dilation, g.ww.dilation, two_d)));
            }
            if !c.bias {
                args.push("bias=False".into());
            }
            format!("nn.Conv{d}({})", args.join(", "))
        }
        Op::MaxPool(MaxPool { geom }) | Op::AvgPool(AvgPool { geom }) => {
            pool_code(matches!(op, Op::MaxPool(_)), geom, layer.input.rank == Rank::Image)
        }
        Op::AdaptivePool(a) => {
            let kind = if a.kind == PoolKind::Max { "Max" } else { "Avg" };
            if a.one_d {
                format!("nn.Adaptive{kind}Pool1d({})", a.out_w)
            } else {
                format!("nn.Adaptive{kind}Pool2d({})", py_pair(a.out_h, a.out_w, true))
            }
        }
        Op::BatchNorm(b) => {
            let mut args = vec![b.channels.to_string()];
            if b.eps != 1e-5 {
                args.push(format!("eps={}", py_float(b.eps)));
            }
            if b.momentum != 0.1 {
                args.push(format!("momentum={}", py_float(b.momentum)));
            }
            format!("nn.BatchNorm{}({})", if b.one_d { "1d" } else { "2d" }, args.join(", "))
        }
        Op::Dropout(d) => format!("nn.Dropout(p={})", py_float(d.p)),
        Op::Activation(Activation::Relu) => "nn.ReLU()".into(),
        Op::Activation(Activation::Sigmoid) => "nn.Sigmoid()".into(),
        Op::Activation(Activation::Tanh) => "nn.Tanh()".into(),
        Op::Activation(Activation::LeakyRelu(s)) => format!("nn.LeakyReLU(negative_slope={})", py_float(*s)),
        Op::Flatten => "nn.Flatten()".into(),
        Op::Linear(l) => {
            let bias = if l.bias { "" } else { ", bias=False" };
            format!("nn.Linear({}, {}{bias})", l.in_features, l.out_features)
        }
    }
}

/// A 1-D pool keeps its window in `ww` (`wh` is the unit window).
fn pool_code(max: bool, g: &Geometry, two_d: bool) -> String {
    let name = if max { "MaxPool" } else { "AvgPool" };
    let d = if two_d { "2d" } else { "1d" };
    let mut args = vec![py_pair(g.wh.kernel, g.ww.kernel, two_d)];
    if (g.wh.stride, g.ww.stride) != (g.wh.kernel, g.ww.kernel) && (two_d || g.ww.stride != g.ww.kernel) {
        args.push(format!("stride={}", py_pair(g.wh.stride, g.ww.stride, two_d)));
    }
    if g.ww.pad_before != 0 || two_d && g.wh.pad_before != 0 {
        args.push(format!("padding={}", py_pair(g.wh.pad_before, g.ww.pad_before, two_d)));
    }
    format!("nn.{name}{d}({})", args.join(", "))
}

/// The Python expression `nn.Sequential(...)` of the model's layers, one a line.
pub fn sequential_expr<T>(model: &Model<T>) -> String {
    let mut s = String::from("nn.Sequential(\n");
    for l in &model.layers {
        s.push_str(&format!("    {},\n", layer_code(l)));
    }
    s.push(')');
    s
}

/// Python that builds the model's `nn.Sequential` as `model` and loads `weights` (a `.pt` file
/// convlab wrote) into it.
pub fn sequential_code<T>(model: &Model<T>, weights: &str) -> String {
    let mut s = String::from("import torch\nfrom torch import nn\n\n");
    let input: Vec<String> = model.input.to_vec().iter().map(|d| d.to_string()).collect();
    s.push_str(&format!("# convlab: {}  (input {})\n", model.spec, input.join(",")));
    s.push_str(&format!("model = {}\n", sequential_expr(model)));
    s.push_str(&format!("model.load_state_dict(torch.load({weights:?}, weights_only=True))\n"));
    s.push_str("model.eval()\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    fn code(spec: &str, input: Dims) -> Vec<String> {
        let m = Model::<f32>::new(spec, input).unwrap();
        m.layers.iter().map(layer_code).collect()
    }

    #[test]
    fn layers_become_their_pytorch_constructors() {
        assert_eq!(
            code("conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)", Dims::image(1, 28, 28)),
            [
                "nn.Conv2d(1, 8, kernel_size=5, padding=2)",
                "nn.ReLU()",
                "nn.MaxPool2d(2)",
                "nn.Flatten()",
                "nn.Linear(1568, 10)"
            ]
        );
        assert_eq!(
            code("conv1d(4,k=3,s=2,d=2,bias=false) batchnorm1d(eps=0.001) leakyrelu(0.2) maxpool1d(2,s=1) dropout(0.25) adaptiveavgpool1d(1) flatten", Dims::signal(2, 20)),
            [
                "nn.Conv1d(2, 4, kernel_size=3, stride=2, dilation=2, bias=False)",
                "nn.BatchNorm1d(4, eps=0.001)",
                "nn.LeakyReLU(negative_slope=0.2)",
                "nn.MaxPool1d(2, stride=1)",
                "nn.Dropout(p=0.25)",
                "nn.AdaptiveAvgPool1d(1)",
                "nn.Flatten()"
            ]
        );
        assert_eq!(
            code(
                "conv2d(2,k=3x1,p=same) avgpool2d(2,s=1,p=1) adaptivemaxpool2d(2x3) batchnorm2d(momentum=0.3)",
                Dims::image(3, 6, 6)
            ),
            [
                "nn.Conv2d(3, 2, kernel_size=(3, 1), padding=(1, 0))",
                "nn.AvgPool2d(2, stride=1, padding=1)",
                "nn.AdaptiveMaxPool2d((2, 3))",
                "nn.BatchNorm2d(2, momentum=0.3)"
            ]
        );
    }
}
