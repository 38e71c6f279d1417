//! The tutorials' synthetic data sets, built with numpy's legacy global stream exactly as
//! their Python code builds them (same calls, same order, same arithmetic).

use crate::rng::numpy::NumpyRandomState;

/// The 1-D pattern-detector lab (lab 9):
///
/// ```python
/// np.random.seed(seed)
/// for i in range(n):
///     size = np.random.randint(1, 3)
///     start = np.random.randint(0, W - size)
///     value = np.random.choice([-1., -0.5, 0.5, 1.])
///     X[i, 0, start:start+size] = value
///     y[i] = size == 1 and float(value) == 1
/// ```
///
/// Returns `X` (n x 1 x width, C order) and `y` (n labels, 0.0 or 1.0).
pub fn pattern1d(seed: u32, n: usize, width: usize) -> (Vec<f32>, Vec<f32>) {
    const VALUES: [f32; 4] = [-1.0, -0.5, 0.5, 1.0];
    assert!(width >= 3, "pattern1d: width must be at least 3");
    let mut rs = NumpyRandomState::seed(seed);
    let mut x = vec![0f32; n * width];
    let mut y = vec![0f32; n];
    for i in 0..n {
        let size = rs.randint(1, 3) as usize;
        let start = rs.randint(0, (width - size) as i64) as usize;
        let value = VALUES[rs.choice_index(VALUES.len())];
        x[i * width + start..i * width + start + size].fill(value);
        y[i] = if size == 1 && value == 1.0 { 1.0 } else { 0.0 };
    }
    (x, y)
}

/// Output of [`sim1d`]. Arrays are float32 as `torch.Tensor(...)` makes them; `y` is
/// computed in float64 as numpy does and rounded once at the end.
#[derive(Clone, Debug)]
pub struct Sim1d {
    /// n x channels x length.
    pub x: Vec<f32>,
    /// n targets.
    pub y: Vec<f32>,
    /// filters x channels x kernel.
    pub conv_weight: Vec<f32>,
    /// filters * length.
    pub linear_weight: Vec<f32>,
    pub bias: f32,
}

/// numpy's add-reduction of a contiguous run (`arr.sum(axis=-1)`): the output starts at
/// the identity 0.0 and gets numpy's pairwise sum of the whole run added to it; blocks of
/// fewer than 8 are a plain loop, blocks of 8..=128 use 8 running partial sums combined as
/// a tree. (Checked on numpy 2.4: "first element + pairwise(rest)" does not match.)
fn numpy_sum(a: &[f64]) -> f64 {
    fn pairwise(a: &[f64]) -> f64 {
        let n = a.len();
        if n < 8 {
            let mut res = 0.0;
            for &v in a {
                res += v;
            }
            res
        } else if n <= 128 {
            let mut r = [0f64; 8];
            r.copy_from_slice(&a[..8]);
            let mut i = 8;
            while i < n - n % 8 {
                for (j, rj) in r.iter_mut().enumerate() {
                    *rj += a[i + j];
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for &v in &a[i..] {
                res += v;
            }
            res
        } else {
            let mut n2 = n / 2;
            n2 -= n2 % 8;
            pairwise(&a[..n2]) + pairwise(&a[n2..])
        }
    }
    0.0 + pairwise(a)
}

/// The CNN simulation tutorial:
///
/// ```python
/// np.random.seed(seed)
/// x = np.random.normal(0, 1, size=[n, channels, length])
/// true_conv1_weights = np.random.normal(0, 1, [filters, channels, kernel])
/// true_lin_weights = np.random.normal(0, 1, filters * length)
/// # z = "same" cross-correlation with padding int((kernel-1)/2), by explicit slicing
/// y = bias + (true_lin_weights * z.reshape(n, -1)).sum(axis=1)
/// y = y + np.random.normal(0, noise_sd, n)   # the tutorial uses noise_sd = 1
/// ```
///
/// The tutorial computes each `z[obs, :, c]` as `(x_slice * w_slice).sum(axis=1).sum(axis=1)`
/// over a (filters, channels, taps) product: the first sum adds channels in order, the
/// second adds the taps (numpy reduction order, see `numpy_sum`).
#[allow(clippy::too_many_arguments)]
pub fn sim1d(
    seed: u32,
    n: usize,
    channels: usize,
    length: usize,
    filters: usize,
    kernel: usize,
    noise_sd: f64,
    bias: f64,
) -> Sim1d {
    let mut rs = NumpyRandomState::seed(seed);
    let mut x = vec![0f64; n * channels * length];
    rs.normal_fill(0.0, 1.0, &mut x);
    let mut w = vec![0f64; filters * channels * kernel];
    rs.normal_fill(0.0, 1.0, &mut w);
    let mut lin = vec![0f64; filters * length];
    rs.normal_fill(0.0, 1.0, &mut lin);

    let pad = (kernel - 1) / 2;
    let mut z = vec![0f64; filters * length];
    let mut y = vec![0f64; n];
    let mut taps = Vec::with_capacity(kernel);
    let mut prods = Vec::with_capacity(filters * length);
    for obs in 0..n {
        let xo = &x[obs * channels * length..(obs + 1) * channels * length];
        for kc in 0..length {
            // The tutorial's three slicing cases: (x range, first weight tap).
            let (x0, x1, w0) = if kc < pad {
                (0, (kc + pad + 1).min(length), kernel - kc - pad - 1)
            } else if kc >= length - pad {
                (kc - pad, length, 0)
            } else {
                (kc - pad, (kc + pad + 1).min(length), 0)
            };
            let width = x1 - x0;
            assert!(w0 + width <= kernel, "sim1d: slice shapes do not broadcast");
            for f in 0..filters {
                taps.clear();
                for t in 0..width {
                    let mut s = xo[x0 + t] * w[(f * channels) * kernel + w0 + t];
                    for ch in 1..channels {
                        s += xo[ch * length + x0 + t] * w[(f * channels + ch) * kernel + w0 + t];
                    }
                    taps.push(s);
                }
                z[f * length + kc] = numpy_sum(&taps);
            }
        }
        prods.clear();
        prods.extend(lin.iter().zip(&z).map(|(l, zz)| l * zz));
        y[obs] = bias + numpy_sum(&prods);
    }
    for yi in y.iter_mut() {
        *yi += rs.normal(0.0, noise_sd);
    }
    let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    Sim1d { x: to32(&x), y: to32(&y), conv_weight: to32(&w), linear_weight: to32(&lin), bias: bias as f32 }
}

/// The lines tutorial's `Data(N_images, offset, p, train=True)`:
///
/// ```python
/// np.random.seed(1)            # the tutorial's seed; `seed` here
/// N_images = 2 * (N_images // 2)
/// for n in range(N_images):
///     if offset > 0:
///         low = int(np.random.randint(low=3, high=3 + offset, size=1))
///         high = int(np.random.randint(low=1, high=1 + offset, size=1))
///     else:
///         low, high = 4, 1
///     if n <= N_images // 2:   # note: <=, so one more vertical than horizontal
///         y[n] = 0; images[n, 0, high:high+9, low:low+3] = np.random.binomial(1, p, (9, 3))
///     else:
///         y[n] = 1; images[n, 0, low:low+3, high:high+9] = np.random.binomial(1, p, (3, 9))
/// ```
///
/// Returns images (N x 1 x 11 x 11, C order) and labels. `offset` must be at most 2 (a
/// larger one makes numpy's slice assignment fail on a shape mismatch).
pub fn lines(seed: u32, n_images: usize, offset: usize, p: f64) -> (Vec<f32>, Vec<u32>) {
    const S: usize = 11;
    assert!(offset <= 2, "lines: offset must be at most 2");
    let mut rs = NumpyRandomState::seed(seed);
    let total = 2 * (n_images / 2);
    let mut images = vec![0f32; total * S * S];
    let mut y = vec![0u32; total];
    for n in 0..total {
        let (low, high) = if offset > 0 {
            let low = rs.randint(3, 3 + offset as i64) as usize;
            let high = rs.randint(1, 1 + offset as i64) as usize;
            (low, high)
        } else {
            (4, 1)
        };
        let img = &mut images[n * S * S..(n + 1) * S * S];
        // (rows, cols, first row, first col) of the 0/1 block.
        let (rows, cols, r0, c0, label) = if n <= total / 2 { (9, 3, high, low, 0) } else { (3, 9, low, high, 1) };
        y[n] = label;
        for r in 0..rows {
            for c in 0..cols {
                img[(r0 + r) * S + c0 + c] = rs.binomial(1, p) as f32;
            }
        }
    }
    (images, y)
}

#[cfg(test)]
mod tests {
    use super::{lines, numpy_sum, pattern1d, sim1d, NumpyRandomState};
    use safetensors::SafeTensors;

    /// The PyTorch reference fixtures the repository ships (`tests/fixtures/torch`).
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/torch");

    fn load(name: &str) -> Vec<u8> {
        let path = format!("{FIXTURES}/{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    fn f32s(st: &SafeTensors, name: &str) -> Vec<f32> {
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    fn i64s(st: &SafeTensors, name: &str) -> Vec<i64> {
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), safetensors::Dtype::I64, "{name}");
        t.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect()
    }

    fn assert_bits(ours: &[f32], theirs: &[f32], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}: length");
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{what}[{i}]: ours {a} numpy {b}");
        }
    }

    #[test]
    fn numpy_sum_order() {
        // np.random.seed(0); a = np.random.normal(0, 1, 20); b = np.random.normal(0, 1, 300)
        // a.sum() -> 11.386691858912695 (a[0] + a[1:].sum() would be ...696, sum(a) ...693)
        // b.sum() -> -7.217650533147664 (sequential: -7.217650533147673)
        let mut rs = NumpyRandomState::seed(0);
        let mut a = vec![0f64; 20];
        rs.normal_fill(0.0, 1.0, &mut a);
        let mut b = vec![0f64; 300];
        rs.normal_fill(0.0, 1.0, &mut b);
        assert_eq!(numpy_sum(&a).to_bits(), f64::to_bits(11.386691858912695));
        assert_eq!(numpy_sum(&b).to_bits(), f64::to_bits(-7.217650533147664));
    }

    #[test]
    fn pattern1d_matches_lab_data() {
        let bytes = load("train_pattern1d.safetensors");
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (x, y) = pattern1d(0, 75, 20);
        assert_bits(&x, &f32s(&st, "X"), "pattern1d X");
        assert_bits(&y, &f32s(&st, "y"), "pattern1d y");
        assert!(y.contains(&1.0) && y.contains(&0.0));
    }

    #[test]
    fn sim1d_matches_tutorial_data() {
        let bytes = load("sim1d_truth.safetensors");
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let s = sim1d(1337, 1000, 2, 5, 4, 3, 1.0, -0.5);
        assert_bits(&s.x, &f32s(&st, "X"), "sim1d X");
        assert_bits(&s.conv_weight, &f32s(&st, "true_conv_weight"), "sim1d conv");
        assert_bits(&s.linear_weight, &f32s(&st, "true_linear_weight"), "sim1d lin");
        assert_bits(&[s.bias], &f32s(&st, "true_bias"), "sim1d bias");
        // y is float64 in numpy; the tutorial's own y[0], y[1], y[999] are
        // 13.56838628879337, 16.334186708254396, -2.0714225465163403, stored as float32.
        assert_eq!(s.y[0], 13.56838628879337f64 as f32);
        assert_eq!(s.y[1], 16.334186708254396f64 as f32);
        assert_eq!(s.y[999], -2.0714225465163403f64 as f32);
        assert_bits(&s.y, &f32s(&st, "y"), "sim1d y");
    }

    fn check_lines(file: &str, offset: usize) {
        let bytes = load(file);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (x, y) = lines(1, 100, offset, 0.9);
        assert_bits(&x, &f32s(&st, "X"), file);
        let want: Vec<u32> = i64s(&st, "y").into_iter().map(|v| v as u32).collect();
        assert_eq!(y, want, "{file} y");
        // `n <= N_images // 2` labels 51 images 0 and 49 images 1.
        assert_eq!(y.iter().filter(|&&v| v == 0).count(), 51);
    }

    #[test]
    fn lines_offset0_matches_tutorial_data() {
        check_lines("lines_offset0.safetensors", 0);
    }

    #[test]
    fn lines_offset2_matches_tutorial_data() {
        check_lines("lines_offset2.safetensors", 2);
    }

    #[test]
    fn lines_rounds_down_to_even() {
        let (x, y) = lines(1, 7, 1, 0.5);
        assert_eq!(y, [0, 0, 0, 0, 1, 1]);
        assert_eq!(x.len(), 6 * 121);
    }
}
