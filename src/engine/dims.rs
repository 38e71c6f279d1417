//! Per-sample tensor shapes and the output-size arithmetic of sliding windows.
//!
//! Every buffer is stored as N×C×H×W. A 1-D signal (C×L) is kept as C×1×L and a flat
//! vector (F) as F×1×1, so one implementation serves 1-D and 2-D layers.

use crate::error::{Error, Result};
use std::fmt;

/// The largest tensor convlab builds: values per sample of any layer, and parameters of any
/// layer (2^28 float32 values = 1 GiB). Larger requests are refused with a message instead of
/// failing an allocation.
pub const MAX_VALUES: usize = 1 << 28;

/// `a · b · c` if it stays within `MAX_VALUES`.
pub fn checked_size(parts: &[usize]) -> Option<usize> {
    parts.iter().try_fold(1usize, |acc, &p| acc.checked_mul(p)).filter(|&v| v <= MAX_VALUES)
}

/// How a per-sample shape is shown to the user and written to files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rank {
    /// `F` features (after `flatten` or `linear`).
    Flat,
    /// `C×L`, for 1-D layers.
    Signal,
    /// `C×H×W`, for 2-D layers.
    Image,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub rank: Rank,
}

impl Dims {
    pub fn flat(f: usize) -> Self {
        Dims { c: f, h: 1, w: 1, rank: Rank::Flat }
    }
    pub fn signal(c: usize, l: usize) -> Self {
        Dims { c, h: 1, w: l, rank: Rank::Signal }
    }
    pub fn image(c: usize, h: usize, w: usize) -> Self {
        Dims { c, h, w, rank: Rank::Image }
    }

    /// Values per sample.
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape as a list, as PyTorch would show it without the batch dimension.
    pub fn to_vec(&self) -> Vec<usize> {
        match self.rank {
            Rank::Flat => vec![self.c],
            Rank::Signal => vec![self.c, self.w],
            Rank::Image => vec![self.c, self.h, self.w],
        }
    }

    /// Parses `C,H,W` (image), `C,L` (signal) or `F` (flat), as the CLI's `--input`.
    pub fn parse(text: &str) -> Result<Self> {
        let parts: Result<Vec<usize>, _> = text.split([',', 'x', '×']).map(|p| p.trim().parse::<usize>()).collect();
        let bad = || {
            Error::spec(format!(
                "input shape `{text}` is not C,H,W (image), C,L (1-D signal) or F (flat), e.g. 1,28,28"
            ))
        };
        let parts = parts.map_err(|_| bad())?;
        if parts.contains(&0) {
            return Err(Error::spec(format!("input shape `{text}` has a zero size; every size must be at least 1")));
        }
        if checked_size(&parts).is_none() {
            return Err(Error::spec(format!(
                "input shape `{text}` has more than {MAX_VALUES} values per sample; convlab is for small CNNs"
            )));
        }
        match parts[..] {
            [f] => Ok(Dims::flat(f)),
            [c, l] => Ok(Dims::signal(c, l)),
            [c, h, w] => Ok(Dims::image(c, h, w)),
            _ => Err(bad()),
        }
    }

    /// Builds dims from a tensor shape without its batch dimension.
    pub fn from_shape(shape: &[usize]) -> Result<Self> {
        match *shape {
            [f] => Ok(Dims::flat(f)),
            [c, l] => Ok(Dims::signal(c, l)),
            [c, h, w] => Ok(Dims::image(c, h, w)),
            _ => Err(Error::shape(format!("a sample of shape {shape:?} is not F, C×L or C×H×W"))),
        }
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.to_vec();
        let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        write!(f, "{}", s.join("×"))
    }
}

/// One spatial axis of a sliding window (convolution or pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: usize,
    pub stride: usize,
    /// Zero (or -inf) padding before the first element.
    pub pad_before: usize,
    /// Padding after the last element; equal to `pad_before` except for `same` with even kernels.
    pub pad_after: usize,
    pub dilation: usize,
}

impl Window {
    pub fn simple(kernel: usize, stride: usize, pad: usize) -> Self {
        Window { kernel, stride, pad_before: pad, pad_after: pad, dilation: 1 }
    }

    /// The extent the kernel covers: `d*(k-1) + 1`.
    pub fn span(&self) -> usize {
        self.dilation.saturating_mul(self.kernel.saturating_sub(1)).saturating_add(1)
    }

    /// Output length for an input of length `n`, as PyTorch computes it (floor mode);
    /// `None` when the window does not fit even once.
    pub fn output_len(&self, n: usize) -> Option<usize> {
        let padded = n.checked_add(self.pad_before)?.checked_add(self.pad_after)?;
        if self.stride == 0 || self.kernel == 0 || padded < self.span() {
            return None;
        }
        Some((padded - self.span()) / self.stride + 1)
    }

    /// The arithmetic behind `output_len`, e.g. `(28 + 2*2 - 5)/1 + 1 = 28`.
    pub fn arithmetic(&self, n: usize) -> String {
        let pad = if self.pad_before == self.pad_after {
            format!("2*{}", self.pad_before)
        } else {
            format!("{}+{}", self.pad_before, self.pad_after)
        };
        let k = if self.dilation == 1 {
            format!("{}", self.kernel)
        } else {
            format!("{}*({}-1) - 1", self.dilation, self.kernel)
        };
        let padded = n.saturating_add(self.pad_before).saturating_add(self.pad_after) as i64;
        let result = match self.output_len(n) {
            Some(v) => v.to_string(),
            None => {
                let num = padded.saturating_sub(self.span() as i64);
                format!("{} (no room: {} < 0)", num.div_euclid(self.stride.max(1) as i64) + 1, num)
            }
        };
        format!("({n} + {pad} - {k})/{} + 1 = {result}", self.stride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        assert_eq!(Window::simple(5, 1, 2).output_len(28), Some(28));
        assert_eq!(Window::simple(2, 2, 0).output_len(28), Some(14));
        assert_eq!(Window::simple(2, 2, 0).output_len(9), Some(4));
        assert_eq!(Window::simple(3, 2, 1).output_len(11), Some(6));
        let dilated = Window { kernel: 5, stride: 2, pad_before: 3, pad_after: 3, dilation: 2 };
        assert_eq!(dilated.output_len(17), Some(8));
        assert_eq!(Window::simple(20, 20, 0).output_len(19), None);
    }

    #[test]
    fn arithmetic_reads_like_the_formula() {
        assert_eq!(Window::simple(5, 1, 2).arithmetic(28), "(28 + 2*2 - 5)/1 + 1 = 28");
        assert!(Window::simple(4, 1, 0).arithmetic(2).contains("no room"));
    }

    #[test]
    fn parses_input_shapes() {
        assert_eq!(Dims::parse("1,28,28").unwrap(), Dims::image(1, 28, 28));
        assert_eq!(Dims::parse("2,5").unwrap(), Dims::signal(2, 5));
        assert!(Dims::parse("1,0,3").is_err());
        assert!(Dims::parse("a,b").is_err());
        assert!(Dims::parse("1,2,3,4").is_err());
    }
}
