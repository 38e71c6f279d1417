//! A model as an ONNX graph (opset 17) for inference, computing what convlab's own evaluation
//! forward pass computes (`Model::predict`):
//!
//! - conv → `Conv` (strides, pads before and after, dilations); max-pool → `MaxPool` (padding
//!   never wins, as PyTorch's −∞ padding); avg-pool → `AveragePool` with `count_include_pad=1`;
//! - batch norm → `BatchNormalization` in inference form (the running statistics);
//! - dropout → nothing (the identity at inference); flatten → `Flatten(axis=1)`;
//!   linear → `Gemm(transB=1)`, without C when the layer has no bias;
//! - ReLU, LeakyReLU (its slope), Sigmoid, Tanh → the ONNX operator of the same name;
//! - an adaptive pool → `GlobalAveragePool`/`GlobalMaxPool` for output size 1; an
//!   `AveragePool`/`MaxPool` when every window along each axis has one size and one stride
//!   (e.g. 8 → 4, 7 → 3); otherwise its windows one axis at a time (the reduction over a
//!   rectangle is the reduction over its rows of the reduction over its columns): a `Slice`
//!   and a `ReduceMean`/`ReduceMax` per output, joined by a `Concat`.
//!
//! Weights are initializers under their PyTorch state-dict names (`0.weight`); the batch
//! dimension is the symbol `N`; every intermediate tensor has its shape in `value_info` (so
//! Netron shows shapes on every edge); `metadata_props` holds the spec, the input shape and
//! convlab's version.

use super::proto::{
    self as pb, tensor_proto::DataType, tensor_shape_proto::dimension, tensor_shape_proto::Dimension, type_proto,
};
use crate::engine::{Dims, Rank, Window};
use crate::error::{Error, Result};
use crate::layers::adaptive_pool::window;
use crate::layers::{Activation, AdaptivePool, Layer, Op, PoolKind};
use crate::model::Model;
use prost::Message;
use std::path::Path;

/// The ONNX operator set the graph is written for.
pub const OPSET: i64 = 17;
/// The IR version that came with opset 17 (ONNX 1.12), so older runtimes read the file too.
const IR_VERSION: i64 = 8;
/// The symbolic batch dimension.
pub const BATCH: &str = "N";
/// Names of the graph's input and output.
pub const INPUT: &str = "input";
pub const OUTPUT: &str = "output";

/// Writes `model` as an ONNX file at `path` (atomically).
pub fn export(model: &Model<f32>, path: &Path) -> Result<()> {
    crate::fs::write_atomic(path, &to_bytes(model)?)
}

/// The ONNX file's bytes.
pub fn to_bytes(model: &Model<f32>) -> Result<Vec<u8>> {
    Ok(to_model_proto(model)?.encode_to_vec())
}

/// The model as an ONNX `ModelProto`.
pub fn to_model_proto(model: &Model<f32>) -> Result<pb::ModelProto> {
    let mut g = Graph::default();
    let mut x = INPUT.to_string();
    for (i, layer) in model.layers.iter().enumerate() {
        x = g.layer(model, i, layer, x);
    }
    if x == INPUT {
        // Only dropouts: the graph still needs one node from input to output.
        x = g.node("Identity", "0.identity", vec![x], model.output(), vec![]);
    }
    // The last tensor is the graph's output rather than an intermediate.
    let last = g.value_info.iter().position(|v| v.name.as_deref() == Some(x.as_str()));
    let mut output = last.map(|at| g.value_info.remove(at)).ok_or_else(|| Error::spec("the model has no layers"))?;
    output.name = Some(OUTPUT.into());
    for n in &mut g.nodes {
        n.output.iter_mut().filter(|o| **o == x).for_each(|o| *o = OUTPUT.into());
    }
    let meta = |k: &str, v: String| pb::StringStringEntryProto { key: Some(k.into()), value: Some(v) };
    let graph = pb::GraphProto {
        name: Some("convlab".into()),
        doc_string: Some(model.spec.clone()),
        node: g.nodes,
        initializer: g.initializers,
        input: vec![value_info(INPUT, model.input)],
        output: vec![output],
        value_info: g.value_info,
        ..Default::default()
    };
    Ok(pb::ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![pb::OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("convlab".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(format!("convlab model `{}` for input {}", model.spec, model.input)),
        graph: Some(graph),
        metadata_props: vec![
            meta("convlab_spec", model.spec.clone()),
            meta("convlab_input", model.input.to_vec().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")),
            meta("convlab_version", env!("CARGO_PKG_VERSION").into()),
        ],
        ..Default::default()
    })
}

/// A float32 tensor of shape `N × dims`.
fn value_info(name: &str, dims: Dims) -> pb::ValueInfoProto {
    let dim = |value| Dimension { value: Some(value), denotation: None };
    let mut shape = vec![dim(dimension::Value::DimParam(BATCH.into()))];
    shape.extend(dims.to_vec().into_iter().map(|d| dim(dimension::Value::DimValue(d as i64))));
    let tensor = type_proto::Tensor {
        elem_type: Some(DataType::Float as i32),
        shape: Some(pb::TensorShapeProto { dim: shape }),
    };
    pb::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(pb::TypeProto { value: Some(type_proto::Value::TensorType(tensor)), denotation: None }),
        ..Default::default()
    }
}

fn ints(name: &str, v: &[usize]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Ints as i32),
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

fn float(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

/// The spatial windows of a layer, as ONNX lists them: height then width for 2-D, length for 1-D.
fn axes(rank: Rank, wh: Window, ww: Window) -> Vec<Window> {
    if rank == Rank::Image {
        vec![wh, ww]
    } else {
        vec![ww]
    }
}

/// `kernel_shape`, `strides`, `pads` (all befores, then all afters) and, for convs, `dilations`.
fn window_attributes(windows: &[Window], dilations: bool) -> Vec<pb::AttributeProto> {
    let get = |f: fn(&Window) -> usize| windows.iter().map(f).collect::<Vec<_>>();
    let mut pads = get(|w| w.pad_before);
    pads.extend(get(|w| w.pad_after));
    let mut a =
        vec![ints("kernel_shape", &get(|w| w.kernel)), ints("strides", &get(|w| w.stride)), ints("pads", &pads)];
    if dilations {
        a.push(ints("dilations", &get(|w| w.dilation)));
    }
    a
}

/// The (kernel, stride) of pooling windows of one size at one stride, as an adaptive pool of
/// `len` → `out` takes them, or `None` when they differ.
fn uniform_windows(len: usize, out: usize) -> Option<(usize, usize)> {
    let k = window(0, len, out).len();
    let s = if out > 1 { window(1, len, out).start } else { 1 };
    (0..out).all(|i| window(i, len, out) == (i * s..i * s + k)).then_some((k, s))
}

/// The nodes, initializers and intermediate shapes built so far.
#[derive(Default)]
struct Graph {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    value_info: Vec<pb::ValueInfoProto>,
}

impl Graph {
    /// Adds a node with one output named `name`, of shape `N × out`; returns the output's name.
    fn node(&mut self, op: &str, name: &str, inputs: Vec<String>, out: Dims, attrs: Vec<pb::AttributeProto>) -> String {
        self.nodes.push(pb::NodeProto {
            input: inputs,
            output: vec![name.into()],
            name: Some(name.into()),
            op_type: Some(op.into()),
            attribute: attrs,
            ..Default::default()
        });
        self.value_info.push(value_info(name, out));
        name.into()
    }

    fn float_initializer(&mut self, name: &str, shape: &[usize], values: &[f32]) -> String {
        self.initializers.push(pb::TensorProto {
            name: Some(name.into()),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: Some(DataType::Float as i32),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
        name.into()
    }

    fn int64_initializer(&mut self, name: &str, values: &[i64]) -> String {
        self.initializers.push(pb::TensorProto {
            name: Some(name.into()),
            dims: vec![values.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
        name.into()
    }

    /// Layer `i`'s tensors (weights, biases, running statistics) as initializers, in
    /// state-dict order, under their state-dict names.
    fn weights(&mut self, model: &Model<f32>, i: usize) -> Vec<String> {
        let tensors = model.tensors().into_iter().filter(|t| t.layer == i);
        tensors.map(|t| self.float_initializer(&t.name, &t.shape, model.tensor(&t))).collect()
    }

    /// Adds layer `i`, reading tensor `x`; returns the name of its output.
    fn layer(&mut self, model: &Model<f32>, i: usize, layer: &Layer, x: String) -> String {
        let rank = layer.input.rank;
        let d = if rank == Rank::Image { "2d" } else { "1d" };
        let out = layer.output;
        match &layer.op {
            Op::Conv(c) => {
                let mut inputs = vec![x];
                inputs.extend(self.weights(model, i));
                let mut attrs = window_attributes(&axes(rank, c.geom.wh, c.geom.ww), true);
                attrs.push(int("group", 1));
                self.node("Conv", &format!("{i}.conv{d}"), inputs, out, attrs)
            }
            Op::MaxPool(p) => {
                let attrs = window_attributes(&axes(rank, p.geom.wh, p.geom.ww), false);
                self.node("MaxPool", &format!("{i}.maxpool{d}"), vec![x], out, attrs)
            }
            Op::AvgPool(p) => {
                let mut attrs = window_attributes(&axes(rank, p.geom.wh, p.geom.ww), false);
                attrs.push(int("count_include_pad", 1));
                self.node("AveragePool", &format!("{i}.avgpool{d}"), vec![x], out, attrs)
            }
            Op::AdaptivePool(p) => self.adaptive_pool(i, p, layer, x),
            Op::BatchNorm(b) => {
                let mut inputs = vec![x];
                inputs.extend(self.weights(model, i));
                let attrs = vec![float("epsilon", b.eps as f32)];
                self.node("BatchNormalization", &format!("{i}.batchnorm{d}"), inputs, out, attrs)
            }
            // The identity at inference: the next layer reads this one's input.
            Op::Dropout(_) => x,
            Op::Activation(a) => {
                let (op, attrs) = match *a {
                    Activation::Relu => ("Relu", vec![]),
                    Activation::LeakyRelu(slope) => ("LeakyRelu", vec![float("alpha", slope as f32)]),
                    Activation::Sigmoid => ("Sigmoid", vec![]),
                    Activation::Tanh => ("Tanh", vec![]),
                };
                self.node(op, &format!("{i}.{}", op.to_ascii_lowercase()), vec![x], out, attrs)
            }
            Op::Flatten => self.node("Flatten", &format!("{i}.flatten"), vec![x], out, vec![int("axis", 1)]),
            Op::Linear(_) => {
                let mut inputs = vec![x];
                inputs.extend(self.weights(model, i));
                self.node("Gemm", &format!("{i}.linear"), inputs, out, vec![int("transB", 1)])
            }
        }
    }

    /// An adaptive pool as a global pool, a plain pool, or axis by axis (see the module doc).
    fn adaptive_pool(&mut self, i: usize, p: &AdaptivePool, layer: &Layer, x: String) -> String {
        let (kind, d) = match (p.kind, p.one_d) {
            (PoolKind::Avg, false) => ("Average", "adaptiveavgpool2d"),
            (PoolKind::Avg, true) => ("Average", "adaptiveavgpool1d"),
            (PoolKind::Max, false) => ("Max", "adaptivemaxpool2d"),
            (PoolKind::Max, true) => ("Max", "adaptivemaxpool1d"),
        };
        let name = format!("{i}.{d}");
        let out = layer.output;
        if p.out_h == 1 && p.out_w == 1 {
            return self.node(&format!("Global{kind}Pool"), &name, vec![x], out, vec![]);
        }
        let (rows, cols) = (uniform_windows(p.h, p.out_h), uniform_windows(p.w, p.out_w));
        if let (Some((kh, sh)), Some((kw, sw))) = (rows, cols) {
            let windows = axes(layer.input.rank, Window::simple(kh, sh, 0), Window::simple(kw, sw, 0));
            return self.node(&format!("{kind}Pool"), &name, vec![x], out, window_attributes(&windows, false));
        }
        let reduce = if p.kind == PoolKind::Max { "ReduceMax" } else { "ReduceMean" };
        // Rows first (2-D only), then columns; an axis whose output equals its input is left as is.
        let mut x = x;
        let mut dims = layer.input;
        let spatial = if p.one_d { vec![(2, p.w, p.out_w)] } else { vec![(2, p.h, p.out_h), (3, p.w, p.out_w)] };
        for (axis, len, n) in spatial {
            if len == n {
                continue;
            }
            let axis_name = if axis == 3 || p.one_d { "cols" } else { "rows" };
            let along = |dims: Dims, size: usize| match (p.one_d, axis) {
                (true, _) => Dims::signal(dims.c, size),
                (false, 2) => Dims::image(dims.c, size, dims.w),
                _ => Dims::image(dims.c, dims.h, size),
            };
            let axes_init = self.int64_initializer(&format!("{name}.{axis_name}.axes"), &[axis]);
            let mut parts = vec![];
            for j in 0..n {
                let r = window(j, len, n);
                let part = format!("{name}.{axis_name}{j}");
                let starts = self.int64_initializer(&format!("{part}.starts"), &[r.start as i64]);
                let ends = self.int64_initializer(&format!("{part}.ends"), &[r.end as i64]);
                let inputs = vec![x.clone(), starts, ends, axes_init.clone()];
                let slice = self.node("Slice", &format!("{part}.slice"), inputs, along(dims, r.len()), vec![]);
                let attrs = vec![ints("axes", &[axis as usize]), int("keepdims", 1)];
                parts.push(self.node(
                    reduce,
                    &format!("{part}.{}", reduce.to_ascii_lowercase()),
                    vec![slice],
                    along(dims, 1),
                    attrs,
                ));
            }
            dims = along(dims, n);
            x = self.node("Concat", &format!("{name}.{axis_name}"), parts, dims, vec![int("axis", axis)]);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exported(spec: &str, input: Dims) -> pb::ModelProto {
        let mut m = Model::<f32>::new(spec, input).unwrap();
        m.init(1);
        // The bytes decode back to the same message.
        let bytes = to_bytes(&m).unwrap();
        let back = pb::ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, to_model_proto(&m).unwrap());
        back
    }

    fn ops(m: &pb::ModelProto) -> Vec<&str> {
        m.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.as_deref().unwrap()).collect()
    }

    /// A tensor's shape as text, `N` for the batch.
    fn shape(v: &pb::ValueInfoProto) -> String {
        let Some(type_proto::Value::TensorType(t)) = &v.r#type.as_ref().unwrap().value else { panic!("not a tensor") };
        let dims = t.shape.as_ref().unwrap().dim.iter().map(|d| match d.value.as_ref().unwrap() {
            dimension::Value::DimValue(v) => v.to_string(),
            dimension::Value::DimParam(p) => p.clone(),
        });
        dims.collect::<Vec<_>>().join("x")
    }

    #[test]
    fn every_edge_has_a_shape_and_the_weights_their_state_dict_names() {
        let m = exported("conv2d(8,k=5,p=2) relu maxpool2d(2) dropout flatten linear(10)", Dims::image(1, 28, 28));
        assert_eq!(ops(&m), ["Conv", "Relu", "MaxPool", "Flatten", "Gemm"]);
        let g = m.graph.as_ref().unwrap();
        let shapes: Vec<(String, String)> = g.value_info.iter().map(|v| (v.name.clone().unwrap(), shape(v))).collect();
        let want =
            [("0.conv2d", "Nx8x28x28"), ("1.relu", "Nx8x28x28"), ("2.maxpool2d", "Nx8x14x14"), ("4.flatten", "Nx1568")];
        assert_eq!(shapes, want.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!((shape(&g.input[0]), shape(&g.output[0])), ("Nx1x28x28".into(), "Nx10".into()));
        // Every node input is the graph input, an initializer or an earlier node's output.
        let mut known: Vec<String> = g.initializer.iter().map(|t| t.name.clone().unwrap()).collect();
        known.push(INPUT.into());
        for n in &g.node {
            assert!(n.input.iter().all(|i| known.contains(i)), "{:?} reads an unknown tensor", n.name);
            known.extend(n.output.iter().cloned());
        }
        assert_eq!(g.node.last().unwrap().output, [OUTPUT]);
        let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["0.weight", "0.bias", "5.weight", "5.bias"]);
        assert_eq!(g.initializer[0].dims, [8, 1, 5, 5]);
        let meta: Vec<(&str, &str)> =
            m.metadata_props.iter().map(|p| (p.key.as_deref().unwrap(), p.value.as_deref().unwrap())).collect();
        assert!(meta.contains(&("convlab_spec", "conv2d(8,k=5,p=2) relu maxpool2d(2) dropout flatten linear(10)")));
        assert!(meta.contains(&("convlab_input", "1,28,28")));
        assert_eq!(m.opset_import[0].version, Some(OPSET));
    }

    #[test]
    fn the_weights_are_the_models_bit_for_bit() {
        let mut model = Model::<f32>::new(
            "conv1d(3,k=3,p=1,bias=false) batchnorm1d flatten linear(2,bias=false)",
            Dims::signal(2, 6),
        )
        .unwrap();
        model.init(7);
        model.buffers.iter_mut().enumerate().for_each(|(i, v)| *v = 0.5 + i as f32);
        let m = to_model_proto(&model).unwrap();
        let g = m.graph.unwrap();
        let mut all = vec![];
        for t in &g.initializer {
            let raw = t.raw_data.as_ref().unwrap();
            all.extend(raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())));
        }
        // Conv weight, batch-norm weight and bias, running mean and variance, linear weight.
        let (p, b) = (&model.params, &model.buffers);
        let want: Vec<f32> = p[..18].iter().chain(&p[18..24]).chain(b).chain(&p[24..]).copied().collect();
        assert_eq!(all, want);
        // Without biases, Conv and Gemm take two inputs.
        assert_eq!(g.node[0].input.len(), 2);
        assert_eq!(g.node.last().unwrap().input.len(), 2);
        assert_eq!(g.node[1].input.len(), 5);
    }

    #[test]
    fn adaptive_pools_become_global_plain_or_axis_by_axis_pools() {
        let global = exported("adaptiveavgpool2d(1) flatten", Dims::image(3, 5, 7));
        assert_eq!(ops(&global), ["GlobalAveragePool", "Flatten"]);
        let plain = exported("adaptivemaxpool2d(4x3)", Dims::image(2, 8, 7));
        assert_eq!(ops(&plain), ["MaxPool"]);
        let attrs = &plain.graph.as_ref().unwrap().node[0].attribute;
        assert_eq!((attrs[0].ints.as_slice(), attrs[1].ints.as_slice()), ([2, 3].as_slice(), [2, 2].as_slice()));
        // 5 → 3 has windows 0..2, 1..4, 3..5: three slices and a concat along the length.
        let split = exported("adaptiveavgpool1d(3)", Dims::signal(2, 5));
        assert_eq!(ops(&split), ["Slice", "ReduceMean", "Slice", "ReduceMean", "Slice", "ReduceMean", "Concat"]);
        let g = split.graph.as_ref().unwrap();
        assert_eq!(shape(&g.value_info[2]), "Nx2x3");
        assert_eq!(shape(&g.output[0]), "Nx2x3");
        // Rows 6 → 6 stay; columns 5 → 2 (0..3, 2..5) have one size and one stride.
        assert_eq!(ops(&exported("adaptivemaxpool2d(6x2)", Dims::image(1, 6, 5))), ["MaxPool"]);
        assert_eq!(ops(&exported("adaptivemaxpool2d(6x3)", Dims::image(1, 6, 5))).len(), 7);
    }

    #[test]
    fn uniform_windows_are_found_exactly() {
        assert_eq!(uniform_windows(8, 4), Some((2, 2)));
        assert_eq!(uniform_windows(7, 3), Some((3, 2)));
        assert_eq!(uniform_windows(5, 1), Some((5, 1)));
        assert_eq!(uniform_windows(5, 5), Some((1, 1)));
        assert_eq!(uniform_windows(5, 3), None);
        assert_eq!(uniform_windows(10, 4), None); // 0..3, 2..5, 5..8, 7..10
    }

    #[test]
    fn a_model_of_dropout_alone_is_an_identity() {
        let m = exported("dropout(0.3)", Dims::flat(4));
        assert_eq!(ops(&m), ["Identity"]);
        assert_eq!(m.graph.unwrap().node[0].output, [OUTPUT]);
    }
}
