//! Tensors printed as a notebook prints them (`print(model.state_dict()['0.weight'])`,
//! `print(y_pred[:5])`): PyTorch's layout of nested brackets, aligned columns, four decimals
//! or scientific notation, and `...` for tensors of more than a thousand values.

/// Above this many values only the first and last `EDGE_ITEMS` of each dimension are shown.
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE_ITEMS: usize = 3;

/// `values` (row-major, of `shape`) in the format of PyTorch's `print(tensor)`.
pub fn format_tensor(values: &[f32], shape: &[usize]) -> String {
    let summarize = values.len() > SUMMARIZE_ABOVE;
    let style = Style::for_values(values);
    let cells: Vec<String> = values.iter().map(|&v| style.format(v)).collect();
    let width = cells.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut out = String::from("tensor(");
    if shape.is_empty() {
        out.push_str(cells.first().map_or("", |c| c.as_str()));
    } else {
        write_block(&mut out, &cells, shape, 0, width, summarize);
    }
    out.push(')');
    out
}

/// How the numbers of one tensor are written: all alike, as PyTorch decides per tensor.
enum Style {
    /// Every value is a whole number: `1.`, `-3.`.
    Whole,
    Fixed,
    Scientific,
}

impl Style {
    fn for_values(values: &[f32]) -> Style {
        let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let nonzero = finite.iter().map(|v| v.abs()).filter(|&a| a > 0.0);
        let (lo, hi) = nonzero.fold((f32::INFINITY, 0f32), |(lo, hi), a| (lo.min(a), hi.max(a)));
        if hi > 1e8 || lo < 1e-4 || hi / lo > 1000.0 {
            Style::Scientific
        } else if finite.iter().all(|v| v.fract() == 0.0) {
            Style::Whole
        } else {
            Style::Fixed
        }
    }

    fn format(&self, v: f32) -> String {
        if !v.is_finite() {
            return if v.is_nan() {
                "nan".into()
            } else if v > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            };
        }
        match self {
            Style::Whole => format!("{v:.0}."),
            Style::Fixed => format!("{v:.4}"),
            Style::Scientific => {
                // Rust writes `1.0000e-5`; PyTorch `1.0000e-05`.
                let s = format!("{v:.4e}");
                let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
                let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
                format!("{mantissa}e{sign}{digits:0>2}")
            }
        }
    }
}

/// The indices shown along a dimension of `n`: all, or the edges around a `...`.
fn shown(n: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS).map(Some).chain([None]).chain((n - EDGE_ITEMS..n).map(Some)).collect()
    } else {
        (0..n).map(Some).collect()
    }
}

fn write_block(out: &mut String, cells: &[String], shape: &[usize], depth: usize, width: usize, summarize: bool) {
    out.push('[');
    let inner: usize = shape[1..].iter().product();
    let last = shape.len() == 1;
    // Rows of the innermost dimension end a line; outer blocks leave blank lines between them.
    let separator = if last {
        ", ".to_string()
    } else {
        format!(",{}{}", "\n".repeat(shape.len() - 1), " ".repeat("tensor(".len() + depth + 1))
    };
    for (k, i) in shown(shape[0], summarize).into_iter().enumerate() {
        if k > 0 {
            out.push_str(&separator);
        }
        match (i, last) {
            (None, _) => out.push_str("..."),
            (Some(i), true) => out.push_str(&format!("{:>width$}", cells[i])),
            (Some(i), false) => {
                write_block(out, &cells[i * inner..(i + 1) * inner], &shape[1..], depth + 1, width, summarize)
            }
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected strings are PyTorch 2.15's `print` of the same tensors
    /// (`torch.manual_seed(0); print(torch.randn(2, 3))`, ...).
    #[test]
    fn prints_as_pytorch_does() {
        let a = [1.5410, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986];
        assert_eq!(
            format_tensor(&a, &[2, 3]),
            "tensor([[ 1.5410, -0.2934, -2.1788],\n        [ 0.5684, -1.0845, -1.3986]])"
        );
        let b = [0.4033, 0.8380, -0.7193, -0.4033, -0.5966, 0.1820, -0.8567, 1.1006, -1.0712, 0.1227, -0.5663, 0.3731];
        assert_eq!(
            format_tensor(&b, &[2, 1, 2, 3]),
            "tensor([[[[ 0.4033,  0.8380, -0.7193],\n          [-0.4033, -0.5966,  0.1820]]],\n\n\n        [[[-0.8567,  1.1006, -1.0712],\n          [ 0.1227, -0.5663,  0.3731]]]])"
        );
        assert_eq!(format_tensor(&[1.5, -20.25], &[2, 1]), "tensor([[  1.5000],\n        [-20.2500]])");
        assert_eq!(format_tensor(&[1e-5, 3.0], &[2]), "tensor([1.0000e-05, 3.0000e+00])");
        assert_eq!(format_tensor(&[123456.0, 1.0], &[2]), "tensor([1.2346e+05, 1.0000e+00])");
        assert_eq!(format_tensor(&[1.0, -2.0], &[2]), "tensor([ 1., -2.])");
    }

    #[test]
    fn large_tensors_are_summarised() {
        let v: Vec<f32> = (0..3 * 400).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        let s = format_tensor(&v, &[3, 400]);
        assert_eq!(s.lines().count(), 3);
        assert!(s.lines().all(|l| l.contains("...")), "{s}");
    }
}
