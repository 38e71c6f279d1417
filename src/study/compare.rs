//! How a learned network compares with the true one, honestly. Raw parameters are not
//! identifiable — filters can come out in any order, and a filter's sign and scale trade
//! against the weights that read it — so besides their raw correlation we compare what is:
//! filters matched up to permutation, sign and scale (with batch norm's scale folded in), the
//! effective input → output map when the network is affine, and the predictions.

use super::forward::{effective_map, predict};
use super::hungarian::max_assignment;
use crate::layers::Op;
use crate::model::{Model, NamedTensor, Store};
use crate::stats::{mse, pearson, r2};
use serde::Serialize;

/// One true filter and the learned filter matched to it: learned ≈ scale · true.
#[derive(Clone, Debug, Serialize)]
pub struct FilterMatch {
    pub true_filter: usize,
    pub learned_filter: usize,
    /// |correlation| of the two filters.
    pub abs_r: f64,
    /// Least-squares factor from true to learned (its sign is the filter's sign flip).
    pub scale: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Filters {
    pub matches: Vec<FilterMatch>,
    /// Correlation of all true filters with the matched learned ones divided by their scale.
    pub r: f64,
    /// The same with the read-out weights included, each block permuted and multiplied by its
    /// filter's scale (when the first convolution feeds one linear layer through flatten).
    pub with_readout_r: Option<f64>,
    /// Whether batch norm's per-channel scale was folded into the learned filters.
    pub batchnorm_folded: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct EffectiveMap {
    pub r: f64,
    pub max_abs_error: f64,
    /// ‖Â − A‖ / ‖A‖.
    pub relative_error: f64,
    pub true_bias: Vec<f64>,
    pub bias: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    pub train_mse: f64,
    pub test_mse: f64,
    pub test_r2: f64,
    /// The true network on the same samples: what noise alone leaves.
    pub oracle_test_mse: f64,
    pub oracle_test_r2: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Correlation of the raw parameters the two networks share (the n-th layer of a kind
    /// against the other's n-th, same shapes).
    pub raw_r: f64,
    pub filters: Option<Filters>,
    pub map: Option<EffectiveMap>,
    pub prediction: Prediction,
    /// (true, learned) pairs behind `raw_r`, `filters.r` and `map.r`, for the plots.
    #[serde(skip)]
    pub pairs: Pairs,
}

/// Matching (true, learned) values.
pub type PairSet = (Vec<f64>, Vec<f64>);

#[derive(Clone, Debug, Default)]
pub struct Pairs {
    pub raw: PairSet,
    pub filters: PairSet,
    pub map: PairSet,
}

/// Samples with their targets: `x` is n × d, `y` n × k.
pub struct Samples<'a> {
    pub x: &'a [f64],
    pub y: &'a [f64],
    pub n: usize,
}

pub fn compare(truth: &Model<f32>, learned: &Model<f32>, train: &Samples, test: &Samples) -> Comparison {
    let mut pairs = Pairs::default();
    let learned_tensors = learned.tensors();
    for t in truth.tensors().iter().filter(|t| t.store == Store::Param) {
        let key = tensor_key(truth, t);
        if let Some(l) = learned_tensors.iter().find(|l| tensor_key(learned, l) == key && l.shape == t.shape) {
            pairs.raw.0.extend(truth.tensor(t).iter().map(|&v| v as f64));
            pairs.raw.1.extend(learned.tensor(l).iter().map(|&v| v as f64));
        }
    }
    let raw_r = pearson(&pairs.raw.0, &pairs.raw.1);
    let filters = match_filters(truth, learned, &mut pairs.filters);
    let map = compare_maps(truth, learned, &mut pairs.map);
    let prediction = predictions(truth, learned, train, test);
    Comparison { raw_r, filters, map, prediction, pairs }
}

/// Which tensors correspond across two specs: the n-th conv (or linear, ...) layer's weight
/// matches the other's n-th, whatever layers without parameters lie between.
fn tensor_key(m: &Model<f32>, t: &NamedTensor) -> (std::mem::Discriminant<Op>, usize, String) {
    let kind = std::mem::discriminant(&m.layers[t.layer].op);
    let ordinal = m.layers[..t.layer].iter().filter(|l| std::mem::discriminant(&l.op) == kind).count();
    (kind, ordinal, t.name.rsplit('.').next().unwrap_or_default().to_string())
}

/// The first convolution's filters (each C·kernel long), batch norm's eval-mode scale folded
/// in when one follows directly; with the layer index and whether a scale was folded.
fn first_filters(m: &Model<f32>) -> Option<(usize, Vec<Vec<f64>>, bool)> {
    let i = m.layers.iter().position(|l| matches!(l.op, Op::Conv(_)))?;
    let Op::Conv(c) = &m.layers[i].op else { return None };
    let w = &m.layer_params(i)[..c.weight_len()];
    let mut f: Vec<Vec<f64>> = w.chunks(c.kernel_len()).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
    let mut folded = false;
    if let Some(Op::BatchNorm(b)) = m.layers.get(i + 1).map(|l| &l.op) {
        let (gamma, var) = (m.layer_params(i + 1), &m.layer_buffers(i + 1)[b.channels..]);
        for (j, filter) in f.iter_mut().enumerate() {
            let s = gamma[j] as f64 / (var[j] as f64 + b.eps).sqrt();
            filter.iter_mut().for_each(|v| *v *= s);
        }
        folded = true;
    }
    Some((i, f, folded))
}

/// The read-out weights of each filter: when conv → (batch norm, dropout, activation)* →
/// flatten → linear, the linear layer's columns that read filter j's output positions.
fn readout_blocks(m: &Model<f32>, conv: usize, filters: usize) -> Option<Vec<Vec<f64>>> {
    let mut i = conv + 1;
    while matches!(m.layers.get(i)?.op, Op::BatchNorm(_) | Op::Dropout(_) | Op::Activation(_)) {
        i += 1;
    }
    if !matches!(m.layers.get(i)?.op, Op::Flatten) {
        return None;
    }
    let Op::Linear(lin) = &m.layers.get(i + 1)?.op else { return None };
    let per = lin.in_features / filters;
    let w = &m.layer_params(i + 1)[..lin.in_features * lin.out_features];
    let blocks = (0..filters)
        .map(|j| {
            w.chunks(lin.in_features).flat_map(|row| row[j * per..(j + 1) * per].iter().map(|&v| v as f64)).collect()
        })
        .collect();
    Some(blocks)
}

fn match_filters(truth: &Model<f32>, learned: &Model<f32>, pairs: &mut PairSet) -> Option<Filters> {
    let (ti, tf, _) = first_filters(truth)?;
    let (li, lf, batchnorm_folded) = first_filters(learned)?;
    if tf[0].len() != lf[0].len() {
        return None;
    }
    let score: Vec<f64> = tf
        .iter()
        .flat_map(|t| lf.iter().map(move |l| pearson(t, l).abs()))
        .map(|r| if r.is_nan() { 0.0 } else { r })
        .collect();
    let assignment = max_assignment(&score, tf.len(), lf.len());
    let mut matches = vec![];
    for (i, j) in assignment.iter().enumerate() {
        let Some(j) = *j else { continue };
        let (t, l) = (&tf[i], &lf[j]);
        let tt: f64 = t.iter().map(|v| v * v).sum();
        let scale = if tt > 0.0 { t.iter().zip(l).map(|(a, b)| a * b).sum::<f64>() / tt } else { 0.0 };
        matches.push(FilterMatch { true_filter: i, learned_filter: j, abs_r: score[i * lf.len() + j], scale });
    }
    let usable = |m: &&FilterMatch| m.scale != 0.0;
    for m in matches.iter().filter(usable) {
        pairs.0.extend(&tf[m.true_filter]);
        pairs.1.extend(lf[m.learned_filter].iter().map(|v| v / m.scale));
    }
    let r = pearson(&pairs.0, &pairs.1);
    // Filter j scaled by s means its read-out is scaled by 1/s: multiply back to compare.
    let with_readout_r = match (readout_blocks(truth, ti, tf.len()), readout_blocks(learned, li, lf.len())) {
        (Some(tb), Some(lb)) if tb[0].len() == lb[0].len() => {
            let (mut a, mut b) = pairs.clone();
            for m in matches.iter().filter(usable) {
                a.extend(&tb[m.true_filter]);
                b.extend(lb[m.learned_filter].iter().map(|v| v * m.scale));
            }
            Some(pearson(&a, &b))
        }
        _ => None,
    };
    Some(Filters { matches, r, with_readout_r, batchnorm_folded })
}

fn compare_maps(truth: &Model<f32>, learned: &Model<f32>, pairs: &mut PairSet) -> Option<EffectiveMap> {
    let (ta, tb) = effective_map(truth)?;
    let (la, lb) = effective_map(learned)?;
    if ta.len() != la.len() {
        return None;
    }
    let max_abs_error = ta.iter().zip(&la).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = ta.iter().zip(&la).map(|(a, b)| a - b).collect();
    let relative_error = norm(&diff) / norm(&ta);
    let r = pearson(&ta, &la);
    *pairs = (ta, la);
    Some(EffectiveMap { r, max_abs_error, relative_error, true_bias: tb, bias: lb })
}

fn predictions(truth: &Model<f32>, learned: &Model<f32>, train: &Samples, test: &Samples) -> Prediction {
    let fit = |m: &Model<f32>, s: &Samples| predict(m, s.x, s.n);
    let (learned_test, oracle_test) = (fit(learned, test), fit(truth, test));
    Prediction {
        train_mse: mse(&fit(learned, train), train.y),
        test_mse: mse(&learned_test, test.y),
        test_r2: r2(test.y, &learned_test),
        oracle_test_mse: mse(&oracle_test, test.y),
        oracle_test_r2: r2(test.y, &oracle_test),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn a_permuted_rescaled_network_is_recognised_as_the_same() {
        let spec = "conv1d(3,k=3,p=1,bias=false) flatten linear(1)";
        let mut truth = Model::<f32>::new(spec, Dims::signal(2, 4)).unwrap();
        truth.init(7);
        // Learned = truth with filters in order 2, 0, 1, filter 0 negated and doubled.
        let mut learned = truth.clone();
        let (fl, per) = (6, 4);
        let order = [2, 0, 1];
        let scale = [-2.0f32, 1.0, 1.0];
        for (j, &src) in order.iter().enumerate() {
            for t in 0..fl {
                learned.params[j * fl + t] = truth.params[src * fl + t] * scale[src];
            }
            for p in 0..per {
                learned.params[18 + j * per + p] = truth.params[18 + src * per + p] / scale[src];
            }
        }
        let x: Vec<f64> = (0..80).map(|i| (i as f64 * 0.7).sin()).collect();
        let y = predict(&truth, &x, 10);
        let s = Samples { x: &x, y: &y, n: 10 };
        let c = compare(&truth, &learned, &s, &s);
        assert!(c.raw_r < 0.9, "raw r {}", c.raw_r);
        let f = c.filters.unwrap();
        assert!((f.r - 1.0).abs() < 1e-6 && (f.with_readout_r.unwrap() - 1.0).abs() < 1e-6);
        assert_eq!(f.matches.iter().map(|m| m.learned_filter).collect::<Vec<_>>(), [1, 2, 0]);
        assert!((f.matches[0].scale + 2.0).abs() < 1e-5);
        let m = c.map.unwrap();
        assert!((m.r - 1.0).abs() < 1e-9 && m.max_abs_error < 1e-5);
        assert!(c.prediction.test_mse < 1e-10);
    }
}
