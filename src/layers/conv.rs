//! Conv1d and Conv2d: im2col and one matrix product per sample.
//! A 1-D convolution is a 2-D one over a 1×L plane with a 1×k kernel.

use super::{Chunk, Scratch};
use crate::engine::gemm::{matmul, matmul_col_major, Mat};
use crate::engine::im2col::{col2im, im2col, Geometry};
use crate::engine::{chunk_dw, direct};
use crate::engine::{sum_lanes, Float};

#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub geom: Geometry,
    pub out_channels: usize,
    pub bias: bool,
    /// Conv1d: weights are O×C×k rather than O×C×kh×kw.
    pub one_d: bool,
}

impl Conv {
    pub fn kernel_len(&self) -> usize {
        self.geom.col_rows()
    }
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.kernel_len()
    }
    pub fn weight_shape(&self) -> Vec<usize> {
        let (o, c, kh, kw) = (self.out_channels, self.geom.c, self.geom.wh.kernel, self.geom.ww.kernel);
        if self.one_d {
            vec![o, c, kw]
        } else {
            vec![o, c, kh, kw]
        }
    }
    /// Inputs feeding one output value: what PyTorch's default initialisation calls fan_in.
    pub fn fan_in(&self) -> usize {
        self.kernel_len()
    }
    /// Scratch for the input side (columns, or the padded planes of the direct paths), for
    /// calls of up to `capacity` samples.
    pub fn scratch_len(&self, capacity: usize) -> usize {
        let g = &self.geom;
        let back = direct::transposed(g, self.out_channels).map_or(0, |t| direct::plan(&t).xpad_len(t.c));
        let chunked = if self.chunked_dw() { chunk_dw::x_len(g, capacity) } else { 0 };
        (g.col_rows() * g.col_cols()).max(direct::plan(g).xpad_len(g.c)).max(back).max(chunked)
    }
    /// Scratch for the output side (column gradients, or the extended output grids).
    pub fn scratch_out_len(&self, capacity: usize) -> usize {
        let g = &self.geom;
        let back = direct::transposed(g, self.out_channels).map_or(0, |t| direct::plan(&t).ext_total(g.c));
        let chunked = if self.chunked_dw() { chunk_dw::dy_len(g, self.out_channels, capacity) } else { 0 };
        (g.col_rows() * g.col_cols()).max(direct::plan(g).ext_total(self.out_channels)).max(back).max(chunked)
    }
    /// Weight-sized scratch: the direct path's rearranged weights, and dWᵀ in backward (as
    /// `chunk_dw::LANES` partial sums per weight on the chunked path).
    pub fn weight_scratch_len(&self) -> usize {
        let arranged = if direct::suits(&self.geom) { direct::arranged_len(&self.geom, self.out_channels) } else { 0 };
        let lanes = if self.chunked_dw() { (self.weight_len() + self.out_channels) * chunk_dw::LANES } else { 0 };
        arranged.max(self.weight_len()).max(lanes)
    }
    /// Whether the weight gradient is computed a chunk of samples at a time (`chunk_dw`).
    fn chunked_dw(&self) -> bool {
        chunk_dw::suits(&self.geom, self.out_channels)
    }
    /// The flipped weights of the direct input-gradient path (see `direct::transposed`).
    pub fn flipped_scratch_len(&self) -> usize {
        direct::transposed(&self.geom, self.out_channels).map_or(0, |t| direct::arranged_len(&t, self.geom.c))
    }
    /// Multiply-adds ×2 per sample, forward.
    pub fn flops(&self) -> usize {
        2 * self.weight_len() * self.geom.col_cols()
    }

    /// `y = W ⋆ x + b` for `n` samples. `p` holds the weight then the bias. `first`: the first
    /// chunk of a batch (the direct path arranges the weights then, and reuses them after).
    pub fn forward<T: Float>(&self, p: &[T], x: &[T], y: &mut [T], n: usize, s: &mut Scratch<T>, first: bool) {
        let g = &self.geom;
        let (rows, cols_n) = (g.col_rows(), g.col_cols());
        let (in_len, out_len) = (g.c * g.h * g.w, self.out_channels * cols_n);
        let (w, b) = p.split_at(self.weight_len());
        if direct::suits(g) {
            let plan = direct::plan(g);
            if first {
                direct::arrange(g, self.out_channels, w, self.bias.then_some(b), &mut s.weights);
            }
            for i in 0..n {
                direct::pad_input(g, &plan, &x[i * in_len..(i + 1) * in_len], &mut s.cols);
                let yi = &mut y[i * out_len..(i + 1) * out_len];
                direct::forward(g, &plan, self.out_channels, &s.weights, &s.cols, &mut s.dcols, yi);
            }
            return;
        }
        let cols = &mut s.cols[..rows * cols_n];
        for i in 0..n {
            let yi = &mut y[i * out_len..(i + 1) * out_len];
            if self.bias {
                for (o, row) in yi.chunks_exact_mut(cols_n).enumerate() {
                    row.fill(b[o]);
                }
            }
            im2col(g, &x[i * in_len..(i + 1) * in_len], cols);
            matmul(yi, Mat::rows(w, self.out_channels, rows), Mat::rows(cols, rows, cols_n), self.bias);
        }
    }

    /// Accumulates `dW`, `db` (into `dp`) and, when asked, writes `dx`. A batch may come in
    /// chunks: dWᵀ is summed in scratch from the first chunk's first sample to the last
    /// chunk's last and added to dW once, so the rounding does not depend on the chunking.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(
        &self,
        p: &[T],
        x: &[T],
        dy: &[T],
        mut dx: Option<&mut [T]>,
        dp: &mut [T],
        n: usize,
        s: &mut Scratch<T>,
        chunk: Chunk,
    ) {
        let g = &self.geom;
        let (rows, cols_n) = (g.col_rows(), g.col_cols());
        let (in_len, out_len) = (g.c * g.h * g.w, self.out_channels * cols_n);
        let w = &p[..self.weight_len()];
        let (dw, db) = dp.split_at_mut(self.weight_len());
        let Scratch { cols: cols_buf, dcols, weights: dwt, flipped, .. } = s;
        // The input gradient as a direct convolution of dY, when that suits (see `direct`).
        let transposed = dx.as_ref().and_then(|_| direct::transposed(g, self.out_channels));
        let plan_t = transposed.as_ref().map(direct::plan);
        if let (Some(t), true) = (&transposed, chunk.first) {
            direct::arrange_transposed(g, t, w, flipped);
        }
        // dWᵀ (K×O) summed over the samples, then added to dW once: see `matmul_col_major`.
        // On the chunked path (`chunk_dw`) it holds LANES partial sums per weight instead.
        let chunked = self.chunked_dw();
        let (dwt, bias_lanes) = if chunked {
            let lanes = chunk_dw::LANES;
            dwt[..(self.weight_len() + self.out_channels) * lanes].split_at_mut(self.weight_len() * lanes)
        } else {
            dwt[..self.weight_len()].split_at_mut(self.weight_len())
        };
        if chunk.first {
            dwt.fill(T::ZERO);
            bias_lanes.fill(T::ZERO);
        }
        if chunked {
            let bias = self.bias.then_some(&mut *bias_lanes);
            chunk_dw::accumulate(g, self.out_channels, x, dy, n, cols_buf, dcols, dwt, bias);
        }
        for i in 0..n {
            let dyi = &dy[i * out_len..(i + 1) * out_len];
            if self.bias && !chunked {
                for (o, row) in dyi.chunks_exact(cols_n).enumerate() {
                    db[o] += sum_lanes(row);
                }
            }
            if !chunked {
                // Recomputing the columns keeps the working set small (see engine notes).
                let cols = &mut cols_buf[..rows * cols_n];
                im2col(g, &x[i * in_len..(i + 1) * in_len], cols);
                matmul_col_major(
                    dwt,
                    Mat::rows(dyi, self.out_channels, cols_n),
                    Mat::rows(cols, rows, cols_n).t(),
                    true,
                );
            }
            if let (Some(dx), Some(t), Some(pt)) = (dx.as_deref_mut(), &transposed, &plan_t) {
                direct::pad_input(t, pt, dyi, cols_buf);
                direct::forward(t, pt, g.c, flipped, cols_buf, dcols, &mut dx[i * in_len..(i + 1) * in_len]);
            } else if let Some(dx) = dx.as_deref_mut() {
                let dcols = &mut dcols[..rows * cols_n];
                matmul(
                    dcols,
                    Mat::rows(w, self.out_channels, rows).t(),
                    Mat::rows(dyi, self.out_channels, cols_n),
                    false,
                );
                let dxi = &mut dx[i * in_len..(i + 1) * in_len];
                dxi.fill(T::ZERO);
                col2im(g, dcols, dxi);
            }
        }
        if !chunk.last {
            return;
        }
        for (o, row) in dw.chunks_exact_mut(rows).enumerate() {
            for (k, d) in row.iter_mut().enumerate() {
                let at = k * self.out_channels + o;
                *d += if chunked { sum_lanes(&dwt[at * chunk_dw::LANES..][..chunk_dw::LANES]) } else { dwt[at] };
            }
        }
        if chunked && self.bias {
            for (d, l) in db.iter_mut().zip(bias_lanes.chunks_exact(chunk_dw::LANES)) {
                *d += sum_lanes(l);
            }
        }
    }
}
