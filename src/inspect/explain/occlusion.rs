//! Occlusion (Zeiler & Fergus 2014): a patch of the input set to 0 (in every channel) slid over
//! it with a stride; the map holds, per patch position, how much `output[target]` drops.
//! Patches start at 0, stride, 2·stride, …; the last one is cut at the edge, so every input
//! position is covered.

use super::positions_shape;
use crate::engine::{Dims, Rank};
use crate::error::{Error, Result};
use crate::model::Model;

/// Occluded copies run through the model at a time (memory stays small for big inputs).
const BATCH: usize = 64;

/// The patch and stride along (rows, columns); a 1-D or flat input has one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub patch: (usize, usize),
    pub stride: (usize, usize),
}

/// Patch starts along an axis of `len` positions: the last patch reaches the end.
fn starts(len: usize, patch: usize, stride: usize) -> Vec<usize> {
    let count = if len <= patch { 1 } else { (len - patch).div_ceil(stride) + 1 };
    (0..count).map(|k| k * stride).collect()
}

/// (rows, columns) of the input's positions.
fn grid(input: Dims) -> (usize, usize) {
    match input.rank {
        Rank::Image => (input.h, input.w),
        Rank::Signal => (1, input.w),
        Rank::Flat => (1, input.c),
    }
}

impl Window {
    /// `patch` and `stride` apply to both axes of an image [defaults: 1/7 of each side, at
    /// least 1; the stride equals the patch].
    pub fn new(input: Dims, patch: Option<usize>, stride: Option<usize>) -> Result<Window> {
        let (h, w) = grid(input);
        let side = |len: usize| ((len as f64 / 7.0).round() as usize).max(1);
        let patch = match patch {
            None => (if h == 1 { 1 } else { side(h) }, side(w)),
            Some(0) => return Err(Error::config("--patch 0: give a patch side of at least 1")),
            Some(p) if p > w || (h > 1 && p > h) => {
                return Err(Error::config(format!(
                    "--patch {p} is larger than the input ({}); give at most {}",
                    input,
                    if h > 1 { h.min(w) } else { w }
                )))
            }
            Some(p) => (if h == 1 { 1 } else { p }, p),
        };
        let stride = match stride {
            None => patch,
            Some(0) => return Err(Error::config("--stride 0: give a step of at least 1")),
            Some(s) => (s, s),
        };
        Ok(Window { patch, stride })
    }

    /// Patch starts along rows and along columns.
    pub fn starts(&self, input: Dims) -> (Vec<usize>, Vec<usize>) {
        let (h, w) = grid(input);
        (starts(h, self.patch.0, self.stride.0), starts(w, self.patch.1, self.stride.1))
    }

    /// The map's shape: patch positions, laid out as the input's positions.
    pub fn map_shape(&self, input: Dims) -> Vec<usize> {
        let (rows, cols) = self.starts(input);
        match positions_shape(input).len() {
            2 => vec![rows.len(), cols.len()],
            _ => vec![cols.len()],
        }
    }

    /// The map drawn over the input's positions: each position shows the patch whose centre is
    /// nearest (with the default stride, the patch that covers it).
    pub fn spread(&self, map: &[f32], input: Dims) -> Vec<f32> {
        let (h, w) = grid(input);
        let (rows, cols) = self.starts(input);
        let nearest = |starts: &[usize], patch: usize, len: usize, i: usize| -> usize {
            let centre = |s: usize| (s as f64 + (s + patch).min(len) as f64) / 2.0;
            let d = |k: usize| (centre(starts[k]) - (i as f64 + 0.5)).abs();
            (0..starts.len()).fold(0, |best, k| if d(k) < d(best) { k } else { best })
        };
        let r: Vec<usize> = (0..h).map(|i| nearest(&rows, self.patch.0, h, i)).collect();
        let c: Vec<usize> = (0..w).map(|j| nearest(&cols, self.patch.1, w, j)).collect();
        (0..h * w).map(|p| map[r[p / w] * cols.len() + c[p % w]]).collect()
    }
}

/// `output[target]` of `x` minus that of `x` with each patch zeroed, row-major over positions.
pub fn occlusion(model: &Model<f32>, x: &[f32], target: usize, window: &Window) -> Vec<f32> {
    let input = model.input;
    let ((h, w), channels) = (grid(input), if input.rank == Rank::Flat { 1 } else { input.c });
    let (rows, cols) = window.starts(input);
    let (d, k) = (input.len(), model.output().len());
    let score = model.predict(x, 1)[target];
    let patches: Vec<(usize, usize)> = rows.iter().flat_map(|&r| cols.iter().map(move |&c| (r, c))).collect();
    let mut map = Vec::with_capacity(patches.len());
    for batch in patches.chunks(BATCH) {
        let mut xs = Vec::with_capacity(batch.len() * d);
        for &(r0, c0) in batch {
            let mut xo = x.to_vec();
            for ch in 0..channels {
                for r in r0..(r0 + window.patch.0).min(h) {
                    let row = ch * h * w + r * w;
                    xo[row + c0..row + (c0 + window.patch.1).min(w)].fill(0.0);
                }
            }
            xs.extend_from_slice(&xo);
        }
        let out = model.predict(&xs, batch.len());
        map.extend(out.chunks_exact(k).map(|o| score - o[target]));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_cover_the_input_and_default_to_a_seventh_of_each_side() {
        assert_eq!(starts(28, 4, 4), [0, 4, 8, 12, 16, 20, 24]);
        assert_eq!(starts(20, 3, 3), [0, 3, 6, 9, 12, 15, 18]); // the last is cut to 2
        assert_eq!(starts(5, 3, 1), [0, 1, 2]);
        assert_eq!(starts(2, 3, 1), [0]);
        let w = Window::new(Dims::image(1, 28, 14), None, None).unwrap();
        assert_eq!(w, Window { patch: (4, 2), stride: (4, 2) });
        assert_eq!(w.map_shape(Dims::image(1, 28, 14)), [7, 7]);
        let s = Window::new(Dims::signal(1, 20), None, Some(1)).unwrap();
        assert_eq!((s.patch, s.stride), ((1, 3), (1, 1)));
        assert_eq!(s.map_shape(Dims::signal(1, 20)), [18]);
        assert!(Window::new(Dims::image(1, 8, 8), Some(9), None).unwrap_err().to_string().contains("at most 8"));
        assert!(Window::new(Dims::image(1, 8, 8), Some(2), Some(0)).is_err());
    }

    #[test]
    fn the_spread_map_shows_each_position_its_nearest_patch() {
        let input = Dims::signal(1, 5);
        let w = Window::new(input, Some(2), None).unwrap(); // patches [0,2) [2,4) [4,5)
        assert_eq!(w.spread(&[1.0, 2.0, 3.0], input), [1.0, 1.0, 2.0, 2.0, 3.0]);
    }
}
