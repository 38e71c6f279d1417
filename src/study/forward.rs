//! Running a model in evaluation mode in float64, and the effective map of an affine network:
//! the comparisons of a recovery study need exact-enough outputs, not speed.

use crate::engine::Float;
use crate::layers::Op;
use crate::model::Model;

/// The model's outputs (n × k) for `n` samples of `x`, in evaluation mode, in float64.
pub fn predict<T: Float>(model: &Model<T>, x: &[f64], n: usize) -> Vec<f64> {
    model.cast::<f64>().predict(x, n)
}

/// True when every layer is affine in evaluation mode (convolutions, linear layers, batch norm
/// with running statistics, average pooling, dropout, flatten): then input → output is one
/// affine map `y = A x + b`.
fn is_affine<T>(model: &Model<T>) -> bool {
    model.layers.iter().all(|l| {
        matches!(l.op, Op::Conv(_) | Op::Linear(_) | Op::Flatten | Op::BatchNorm(_) | Op::Dropout(_) | Op::AvgPool(_))
    })
}

/// The affine map `y = A x + b` of an affine model: `A` is k × d (row-major), found by pushing
/// the zero input (giving `b`) and each unit input (giving `b` plus a column of `A`) through it.
pub fn effective_map<T: Float>(model: &Model<T>) -> Option<(Vec<f64>, Vec<f64>)> {
    if !is_affine(model) {
        return None;
    }
    let (d, k) = (model.input.len(), model.output().len());
    let mut x = vec![0.0; (d + 1) * d];
    for i in 0..d {
        x[(i + 1) * d + i] = 1.0;
    }
    let out = predict(model, &x, d + 1);
    let b = out[..k].to_vec();
    let mut a = vec![0.0; k * d];
    for i in 0..d {
        for o in 0..k {
            a[o * d + i] = out[(i + 1) * k + o] - b[o];
        }
    }
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn the_map_reproduces_the_network() {
        let mut m = Model::<f32>::new("conv1d(3,k=3,p=1) batchnorm1d flatten linear(2)", Dims::signal(2, 4)).unwrap();
        m.init(1);
        m.buffers[0] = 0.3; // a running mean, so batch norm shifts too
        let (a, b) = effective_map(&m).unwrap();
        let x: Vec<f64> = (0..8).map(|i| (i as f64 * 0.37).sin()).collect();
        let y = predict(&m, &x, 1);
        for o in 0..2 {
            let lin: f64 = b[o] + (0..8).map(|i| a[o * 8 + i] * x[i]).sum::<f64>();
            assert!((lin - y[o]).abs() < 1e-9, "{lin} vs {}", y[o]);
        }
        let relu = Model::<f32>::new("conv1d(3,k=3) relu flatten linear(1)", Dims::signal(1, 4)).unwrap();
        assert!(effective_map(&relu).is_none());
    }
}
