//! The table `convlab summary` prints: one row per layer with its output shape, parameter
//! count and the arithmetic of its output size.

use super::Model;
use crate::engine::im2col::Geometry;
use crate::engine::Float;
use crate::layers::adaptive_pool::{window, AdaptivePool};
use crate::layers::Op;

fn size_arithmetic(g: &Geometry, two_d: bool) -> String {
    let w = g.ww.arithmetic(g.w);
    if !two_d {
        return w;
    }
    let h = g.wh.arithmetic(g.h);
    if h == w {
        h
    } else {
        format!("H: {h}; W: {w}")
    }
}

/// An adaptive pool's windows along one axis, e.g. `5 → 3, windows of 2-3`; the output size is
/// given, and output i pools floor(i·L/n) .. ceil((i+1)·L/n).
fn axis_windows(len: usize, out: usize) -> String {
    let sizes = (0..out).map(|i| window(i, len, out).len());
    let (lo, hi) = (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0));
    let of = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
    format!("{len} → {out}, windows of {of}")
}

fn adaptive_arithmetic(p: &AdaptivePool) -> String {
    let w = axis_windows(p.w, p.out_w);
    if p.one_d {
        return format!("adaptive: {w}");
    }
    let h = axis_windows(p.h, p.out_h);
    if h == w {
        format!("adaptive: {h}")
    } else {
        format!("adaptive: H: {h}; W: {w}")
    }
}

pub fn summary<T: Float>(model: &Model<T>) -> String {
    let mut rows: Vec<[String; 5]> =
        vec![["#".into(), "layer".into(), "output".into(), "params".into(), "output size".into()]];
    rows.push(["".into(), "input".into(), model.input.to_string(), "".into(), "".into()]);
    for (i, l) in model.layers.iter().enumerate() {
        let arith = match &l.op {
            Op::Conv(c) => size_arithmetic(&c.geom, !c.one_d),
            Op::MaxPool(p) => size_arithmetic(&p.geom, l.output.rank == crate::engine::Rank::Image),
            Op::AvgPool(p) => size_arithmetic(&p.geom, l.output.rank == crate::engine::Rank::Image),
            Op::AdaptivePool(p) => adaptive_arithmetic(p),
            Op::Flatten => format!(
                "{} = {}",
                l.input.to_vec().iter().map(|v| v.to_string()).collect::<Vec<_>>().join("*"),
                l.output.len()
            ),
            Op::Linear(lin) => format!("{} → {}", lin.in_features, lin.out_features),
            _ => "same as input".into(),
        };
        rows.push([i.to_string(), l.text.clone(), l.output.to_string(), l.param_len().to_string(), arith]);
    }
    let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (ri, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let pad = widths[c] - v.chars().count();
                if c == 3 {
                    format!("{}{v}", " ".repeat(pad))
                } else {
                    format!("{v}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if ri == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 8));
            out.push('\n');
        }
    }
    let trainable = model.params.len();
    let buffers = model.buffers.len();
    out.push_str(&format!(
        "total: {} layers, {trainable} trainable parameters{}, output {}, {:.3} MFLOP per sample forward\n",
        model.layers.len(),
        if buffers > 0 { format!(" (+{buffers} buffer values)") } else { String::new() },
        model.output(),
        model.flops_per_sample() as f64 / 1e6
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn shows_shapes_params_and_arithmetic() {
        let m = Model::<f32>::new("conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)", Dims::image(1, 28, 28))
            .unwrap();
        let s = summary(&m);
        assert!(s.contains("(28 + 2*2 - 5)/1 + 1 = 28"), "{s}");
        assert!(s.contains("(28 + 2*0 - 2)/2 + 1 = 14"), "{s}");
        assert!(s.contains("8×14×14"), "{s}");
        assert!(s.contains("15690"), "{s}"); // 1568*10 + 10
        assert!(s.contains("15898 trainable"), "{s}"); // 200 + 8 + 15690
    }

    #[test]
    fn shows_adaptive_windows() {
        let m = Model::<f32>::new("adaptivemaxpool2d(3x2) adaptiveavgpool2d(1)", Dims::image(2, 8, 7)).unwrap();
        let s = summary(&m);
        assert!(s.contains("adaptive: H: 8 → 3, windows of 3-4; W: 7 → 2, windows of 4"), "{s}");
        assert!(s.contains("adaptive: H: 3 → 1, windows of 3; W: 2 → 1, windows of 2"), "{s}");
        assert!(s.contains("2×1×1"), "{s}");
        let m = Model::<f32>::new("adaptiveavgpool1d(3)", Dims::signal(1, 5)).unwrap();
        assert!(summary(&m).contains("adaptive: 5 → 3, windows of 2-3"), "{}", summary(&m));
    }
}
