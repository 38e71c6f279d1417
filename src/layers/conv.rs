//! Conv1d and Conv2d. A 1-D convolution is a 2-D one over a 1×L plane with a 1×k kernel.
//!
//! Four algorithms, chosen per layer from its geometry alone (so the choice, and with it the
//! rounding, never depends on the batch or the chunking):
//! - **Winograd F(2×2, 3×3)** (`engine::winograd`), the forward pass of 3×3, stride-1,
//!   padding-1 convolutions with many channels (SimpleCNN's second): 2.25x fewer multiplies,
//!   and with a 2×2 pool after it the pool is taken on each output tile (`forward_pooled`);
//!   also their input gradient, a Winograd convolution of dY with the flipped weights
//!   (`winograd::transposed`), while their weight gradient comes from the same channels-last
//!   input (`engine::hwc_dw`);
//! - **direct convolution** (`engine::direct`), for stride 1 when it `suits` the geometry
//!   (few inputs per output, or an extended output grid at most a quarter larger than the
//!   output): the forward pass where Winograd does not apply, and the input gradient, which
//!   is itself a direct convolution of dY with the flipped weights when `direct::transposed`
//!   suits too;
//! - **im2col + GEMM** (`engine::im2col`, `engine::gemm`), one matrix product per sample:
//!   the forward pass and input gradient (through `col2im`) where the direct path does not
//!   apply, and the weight gradient of every other convolution that is not tiny;
//! - **`chunk_dw`** (`engine::chunk_dw`), the weight gradient of tiny stride-1 convolutions
//!   (the 1-D lab's) for a whole chunk of samples at once, where per-sample im2col and GEMM
//!   calls cost far more than their arithmetic;
//! - **`direct_dw`** (`engine::direct_dw`), the weight gradient of other direct-path
//!   convolutions with few inputs per output (first layers), from the padded input plane and
//!   dY on the extended grid, without im2col's columns; or, behind a ReLU and a 2×2 pool in a
//!   lean plan, from the pool's winners listed per channel (`backward_from_winners`).

use super::maxpool::MaxPoolScratch;
use super::{Chunk, MaxPool};
use crate::engine::gemm::{matmul, matmul_col_major, Mat};
use crate::engine::im2col::{col2im, im2col, Geometry};
use crate::engine::nonzeros::Nonzeros;
use crate::engine::{chunk_dw, direct, direct_dw, direct_pooled, hwc_dw, hwc_dx, simd, winograd};
use crate::engine::{sum_lanes, Float};

#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub geom: Geometry,
    pub out_channels: usize,
    pub bias: bool,
    /// Conv1d: weights are O×C×k rather than O×C×kh×kw.
    pub one_d: bool,
}

/// A convolution's working memory in one workspace, one buffer per meaning. Buffers of the
/// algorithms a layer does not use are empty (see the module doc for which one runs when).
#[derive(Clone, Debug, Default)]
pub struct ConvScratch<T> {
    /// im2col + GEMM: one sample's columns (C·kh·kw × out_h·out_w), for the forward product
    /// and, recomputed per sample in backward, for the weight gradient.
    cols: Vec<T>,
    /// im2col + GEMM input gradient: one sample's column gradients, folded by `col2im`.
    dcols: Vec<T>,
    /// Direct forward: the weights arranged tap-major with the bias (`direct::arrange`), on
    /// the first chunk of a batch and reused by the later chunks.
    arranged: Vec<T>,
    /// Direct forward and `direct_dw`: one sample's zero-padded input planes (the zeros from
    /// allocation: `direct::pad_input` writes only the interiors).
    x_pad: Vec<T>,
    /// Direct forward followed by ReLU and a 2×2 pool (`direct_pooled`): one sample's padded
    /// input planes split by column parity (the zeros from allocation, as `x_pad`).
    x_split: Vec<T>,
    /// Direct forward of signals: `stack_rows` samples' padded planes, stacked by rows
    /// (`direct::forward_stacked`) or, for a pool that reads the grid, interleaved
    /// (`direct::convolve_interleaved`): one layout per workspace plan, and both write the
    /// padding too. (The same length: C·(w + padding)·rows plus a tile.)
    x_stacked: Vec<T>,
    /// Samples per `direct::forward_stacked` call.
    stack_rows: usize,
    /// Direct and Winograd forward: one sample's outputs on the extended grid, before
    /// compaction; for signals, `stack_rows` samples'.
    y_ext: Vec<T>,
    /// Winograd forward: the transformed weights U (`winograd::transform_weights`), on the
    /// first chunk of a batch and reused by the later chunks.
    transformed: Vec<T>,
    /// Winograd forward: one sample's input channels-last and zero-padded (the zeros from
    /// allocation: `winograd::to_hwc` writes only the interior).
    x_hwc: Vec<T>,
    /// Winograd forward: one tile row's transformed inputs, products and outputs.
    tile_row: Vec<T>,
    /// Direct input gradient: the flipped, channel-swapped weights (`direct::arrange_transposed`),
    /// arranged on the first chunk of a batch.
    flipped: Vec<T>,
    /// Direct input gradient: one sample's zero-padded dY planes (as `x_pad`).
    dy_pad: Vec<T>,
    /// Direct input gradient: one sample's dX on the extended grid, before compaction.
    dx_ext: Vec<T>,
    /// Winograd input gradient: the flipped, channel-swapped weights transformed
    /// (`winograd::transform_weights_transposed`), for the first sample of a batch whose dX
    /// is not scattered (`hwc_dx`); `flipped_transformed_ready` says whether it is done.
    flipped_transformed: Vec<T>,
    flipped_transformed_ready: bool,
    /// Winograd input gradient: one sample's dY channels-last and zero-padded (as `x_hwc`).
    dy_hwc: Vec<T>,
    /// Winograd input gradient: two tile rows' transformed dY, products and outputs.
    dy_tile_row: Vec<T>,
    /// Weight gradient, summed over the whole batch (every chunk) before it is added to dW:
    /// dWᵀ (K×O) on the GEMM path; `[tap][o][c]` on the Winograd layers' channels-last path
    /// (`hwc_dw`); on the `chunk_dw` path `chunk_dw::LANES` partial sums per weight, then as
    /// many per output channel for the bias; on the `direct_dw` path `direct_dw::LANES`
    /// partial sums per weight.
    dw_acc: Vec<T>,
    /// Weight gradient from a 2×2 pool's winners (`backward_from_winners`, `direct_dw`'s
    /// listed sums): each weight's sum over the batch (laid out as dW), and each bias's.
    dw_listed: Vec<T>,
    db_listed: Vec<T>,
    /// Winograd weight gradient, and the listed one from a pool's winners: one output
    /// channel's nonzero dY entries (`engine::nonzeros`), where each one's window starts in
    /// the input and its value.
    dy_nonzero_at: Vec<u32>,
    dy_nonzero: Vec<T>,
    /// Winograd weight and input gradients: how many entries each output channel's list holds.
    dy_nonzero_counts: Vec<usize>,
    /// Winograd input gradient from the listed entries (`hwc_dx`): the weights `[o][tap][c]`,
    /// arranged on the first chunk of a batch, and one sample's dX channels-last and padded.
    tap_major: Vec<T>,
    dx_hwc: Vec<T>,
    /// `direct_dw`: one sample's dY on the extended grid (zero in the junk columns, from
    /// allocation: only the outputs are written).
    dy_ext: Vec<T>,
    /// `chunk_dw`: a chunk's inputs laid side by side in zero-padded slots.
    chunk_x: Vec<T>,
    /// `chunk_dw`: a chunk's dY on the extended grid.
    chunk_dy: Vec<T>,
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
    /// Working memory for calls of up to `capacity` samples, for the algorithms this layer uses.
    pub fn scratch<T: Float>(&self, capacity: usize) -> ConvScratch<T> {
        let (g, o) = (&self.geom, self.out_channels);
        let zeros = |len: usize| vec![T::ZERO; len];
        let columns = g.col_rows() * g.col_cols();
        let mut s = ConvScratch::default();
        // The weight-gradient buffers first, in the order they were allocated before they had
        // names: with another heap placement the 1-D lab's step (bench pattern1d) ran 5 % slower.
        if self.chunked_dw() {
            s.chunk_x = zeros(chunk_dw::x_len(g, capacity));
            s.chunk_dy = zeros(chunk_dw::dy_len(g, o, capacity));
            s.dw_acc = zeros((self.weight_len() + o) * chunk_dw::LANES);
        } else if self.winograd() {
            s.dw_acc = zeros(hwc_dw::acc_len(g, o));
            s.dy_nonzero_at = vec![0; hwc_dw::list_len(g, o)];
            s.dy_nonzero = zeros(hwc_dw::list_len(g, o));
            s.dy_nonzero_counts = vec![0; o];
        } else if self.direct_dw::<T>() {
            s.dw_acc = zeros(direct_dw::acc_len(g, o));
            s.dy_ext = zeros(direct_dw::dy_ext_len(&direct::plan(g), o));
        } else {
            s.cols = zeros(columns);
            s.dw_acc = zeros(self.weight_len());
        }
        if self.winograd() {
            s.transformed = zeros(winograd::transformed_len(g, o));
            s.x_hwc = zeros(winograd::hwc_len(g));
            s.tile_row = zeros(winograd::row_scratch_len(g, o));
            s.y_ext = zeros(direct::plan(g).ext_total(o));
        } else if direct::suits(g) && direct::stacks_signals(g) {
            s.stack_rows = direct::stack_rows(g, o, capacity);
            let plan = direct::plan(&direct::stacked(g, s.stack_rows));
            s.arranged = zeros(direct::arranged_len(g, o));
            s.x_stacked = zeros(plan.xpad_len(g.c));
            s.y_ext = zeros(plan.ext_total(o));
        } else if direct::suits(g) {
            let plan = direct::plan(g);
            s.arranged = zeros(direct::arranged_len(g, o));
            s.x_pad = zeros(plan.xpad_len(g.c));
            s.y_ext = zeros(plan.ext_total(o));
            if direct_pooled::suits(g) {
                s.x_split = zeros(direct_pooled::split_len(g)); // used only when a pool follows
            }
        } else if s.cols.is_empty() {
            s.cols = zeros(columns);
        }
        if self.learns_listed() {
            // For a plan that takes dW from a 2×2 pool's winners (it decides, not the conv).
            s.dw_listed = zeros(direct_dw::listed_len(g, o));
            s.db_listed = zeros(o);
            s.dy_nonzero_at = vec![0; direct_dw::list_len(g)];
            s.dy_nonzero = zeros(direct_dw::list_len(g));
        }
        if (self.direct_dw::<T>() || self.learns_listed()) && s.x_pad.is_empty() {
            s.x_pad = zeros(direct::plan(g).xpad_len(g.c)); // direct_dw's, for stacked signals
        }
        if let Some(t) = winograd::transposed(g, o) {
            s.tap_major = zeros(hwc_dx::arranged_len(g, o));
            s.dx_hwc = zeros(winograd::hwc_len(g));
            s.flipped_transformed = zeros(winograd::transformed_len(&t, g.c));
            s.dy_hwc = zeros(winograd::hwc_len(&t));
            s.dy_tile_row = zeros(winograd::row_scratch_len(&t, g.c));
            return s;
        }
        match direct::transposed(g, o) {
            Some(t) => {
                let plan = direct::plan(&t);
                s.flipped = zeros(direct::arranged_len(&t, g.c));
                s.dy_pad = zeros(plan.xpad_len(t.c));
                s.dx_ext = zeros(plan.ext_total(g.c));
            }
            None => s.dcols = zeros(columns),
        }
        s
    }
    /// Whether the forward pass is Winograd's (`winograd::suits`), rather than direct.
    fn winograd(&self) -> bool {
        winograd::suits(&self.geom, self.out_channels)
    }
    /// Whether the weight gradient comes from the padded input and dY's extended grid
    /// (`direct_dw`): a direct-path conv with few taps that is neither Winograd's nor tiny, in
    /// f32 (the AVX-512 kernel's type; f64 keeps im2col + GEMM, faster than the generic loop).
    fn direct_dw<T: Float>(&self) -> bool {
        let f32 = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        f32 && direct_dw::suits(&self.geom) && !self.winograd() && !self.chunked_dw()
    }
    /// Whether the weight gradient is computed a chunk of samples at a time (`chunk_dw`).
    /// (Winograd layers take theirs from the channels-last input instead, `hwc_dw`.)
    fn chunked_dw(&self) -> bool {
        chunk_dw::suits(&self.geom, self.out_channels) && !self.winograd()
    }
    /// Multiply-adds ×2 per sample, forward.
    pub fn flops(&self) -> usize {
        2 * self.weight_len() * self.geom.col_cols()
    }

    /// `y = W ⋆ x + b` for `n` samples. `p` holds the weight then the bias. `first`: the first
    /// chunk of a batch (the direct path arranges the weights then, and reuses them after).
    pub fn forward<T: Float>(&self, p: &[T], x: &[T], y: &mut [T], n: usize, s: &mut ConvScratch<T>, first: bool) {
        let g = &self.geom;
        let (rows, cols_n) = (g.col_rows(), g.col_cols());
        let (in_len, out_len) = (g.c * g.h * g.w, self.out_channels * cols_n);
        let (w, b) = p.split_at(self.weight_len());
        if self.winograd() {
            if first {
                winograd::transform_weights(g, self.out_channels, w, &mut s.transformed);
            }
            for i in 0..n {
                self.winograd_sample(&x[i * in_len..(i + 1) * in_len], b, s, &mut y[i * out_len..(i + 1) * out_len]);
            }
            return;
        }
        if direct::suits(g) {
            if first {
                direct::arrange(g, self.out_channels, w, self.bias.then_some(b), &mut s.arranged);
            }
            if direct::stacks_signals(g) {
                // Signals: `stack_rows` samples per call, their rows stacked into one plane.
                let per_call = s.stack_rows;
                for (a, xs) in x[..n * in_len].chunks(per_call * in_len).enumerate() {
                    let rows = xs.len() / in_len;
                    let stacked = direct::plan(&direct::stacked(g, rows));
                    let ys = &mut y[a * per_call * out_len..][..rows * out_len];
                    let buffers = (&mut s.x_stacked[..], &mut s.y_ext[..]);
                    direct::forward_stacked(g, &stacked, rows, self.out_channels, &s.arranged, xs, buffers, ys);
                }
                return;
            }
            let plan = direct::plan(g);
            for i in 0..n {
                direct::pad_input(g, &plan, &x[i * in_len..(i + 1) * in_len], &mut s.x_pad);
                let yi = &mut y[i * out_len..(i + 1) * out_len];
                direct::forward(g, &plan, self.out_channels, &s.arranged, &s.x_pad, &mut s.y_ext, yi);
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

    /// One sample's Winograd convolution into `y` (O × out_h × out_w).
    fn winograd_sample<T: Float>(&self, x: &[T], b: &[T], s: &mut ConvScratch<T>, y: &mut [T]) {
        let g = &self.geom;
        winograd::to_hwc(g, x, &mut s.x_hwc);
        let (bias, dense) = (self.bias.then_some(b), (g.out_w, g.out_h * g.out_w));
        winograd::convolve(g, dense, self.out_channels, &s.transformed, bias, &s.x_hwc, &mut s.tile_row, y);
    }

    /// Whether `forward_pooled` applies: the direct or Winograd path, whose extended grid a
    /// 2×2 pool can read in place.
    pub fn pools_on_its_grid(&self) -> bool {
        direct::suits(&self.geom) || self.winograd()
    }

    /// Whether `forward_pooled` applies to this convolution followed by a ReLU and `pool`: a
    /// 2×2 pool on the direct or Winograd path's extended grid, or a pool over signals on
    /// their interleaved grid.
    pub fn pools_on_its_grid_with(&self, pool: &MaxPool) -> bool {
        let signals = direct::suits(&self.geom) && direct::stacks_signals(&self.geom) && pool.pools_signals();
        (self.pools_on_its_grid() && pool.is_2x2()) || signals
    }

    /// This convolution, then ReLU and the 2×2 `pool` (`MaxPool::fused_forward`), for `n`
    /// samples: the pool reads each sample's extended grid while it is in L1, so the
    /// convolution's own output is never written. `y` receives the pool's output; the pool's
    /// winners, when `winners` is given (a backward pass will follow), go into its scratch for
    /// the samples from its `first` on. Needs `pools_on_its_grid`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_pooled<T: Float>(
        &self,
        p: &[T],
        x: &[T],
        n: usize,
        s: &mut ConvScratch<T>,
        first_chunk: bool,
        pool: &MaxPool,
        y: &mut [T],
        mut winners: Option<(&mut MaxPoolScratch, usize)>,
    ) {
        let g = &self.geom;
        assert!(self.pools_on_its_grid_with(pool), "forward_pooled needs an extended grid and a pool that reads it");
        if !pool.is_2x2() {
            return self.forward_pooled_signals(p, x, n, s, first_chunk, pool, y, winners);
        }
        let (w, b) = p.split_at(self.weight_len());
        let winograd = self.winograd();
        if first_chunk && winograd {
            winograd::transform_weights(g, self.out_channels, w, &mut s.transformed);
        } else if first_chunk {
            direct::arrange(g, self.out_channels, w, self.bias.then_some(b), &mut s.arranged);
        }
        let (in_len, out_len) = (g.c * g.h * g.w, self.out_channels * pool.out_plane());
        if let (false, Some(xf), Some(yf), Some(wf), Some(split)) = (
            s.x_split.is_empty(),
            simd::f32s(x),
            simd::f32s_mut(y),
            simd::f32s(&s.arranged),
            simd::f32s_mut(&mut s.x_split),
        ) {
            // The pool in registers (`direct_pooled`): no extended grid, no plan.
            for (i, (xi, yi)) in xf.chunks_exact(in_len).zip(yf.chunks_exact_mut(out_len)).take(n).enumerate() {
                direct_pooled::split_input(g, xi, split);
                let codes = winners.as_mut().map(|(ps, first)| pool.codes_of(ps, *first + i));
                direct_pooled::convolve_pooled(g, self.out_channels, wf, split, yi, codes);
            }
            return;
        }
        let plan = direct::plan(g);
        for i in 0..n {
            let xi = &x[i * in_len..(i + 1) * in_len];
            let yi = &mut y[i * out_len..(i + 1) * out_len];
            if winograd {
                winograd::to_hwc(g, xi, &mut s.x_hwc);
                let codes = winners.as_mut().map(|(ps, first)| pool.codes_of(ps, *first + i));
                let (u, bias) = (&s.transformed, self.bias.then_some(b));
                if winograd::convolve_pooled(g, self.out_channels, u, bias, &s.x_hwc, &mut s.tile_row, yi, codes) {
                    continue;
                }
                let grid = (plan.wp, plan.ext_stride);
                winograd::convolve(g, grid, self.out_channels, u, bias, &s.x_hwc, &mut s.tile_row, &mut s.y_ext);
            } else {
                direct::pad_input(g, &plan, xi, &mut s.x_pad);
                direct::convolve(g, &plan, self.out_channels, &s.arranged, &s.x_pad, &mut s.y_ext);
            }
            let sample_winners = winners.as_mut().map(|(ps, first)| (&mut **ps, *first + i));
            pool.fused_forward_2x2_strided(&s.y_ext, (plan.wp, plan.ext_stride), yi, 1, sample_winners);
        }
    }

    /// `forward_pooled` for signals: `stack_rows` samples at a time convolved on their
    /// interleaved planes (`direct::convolve_interleaved`) and pooled from that grid.
    #[allow(clippy::too_many_arguments)]
    fn forward_pooled_signals<T: Float>(
        &self,
        p: &[T],
        x: &[T],
        n: usize,
        s: &mut ConvScratch<T>,
        first_chunk: bool,
        pool: &MaxPool,
        y: &mut [T],
        mut winners: Option<(&mut MaxPoolScratch, usize)>,
    ) {
        let g = &self.geom;
        let (w, b) = p.split_at(self.weight_len());
        if first_chunk {
            direct::arrange(g, self.out_channels, w, self.bias.then_some(b), &mut s.arranged);
        }
        let (in_len, out_len, per_call) = (g.c * g.w, self.out_channels * pool.out_plane(), s.stack_rows);
        for (a, xs) in x[..n * in_len].chunks(per_call * in_len).enumerate() {
            let rows = xs.len() / in_len;
            let plan = direct::plan(&direct::interleaved(g, rows));
            let o = self.out_channels;
            direct::convolve_interleaved(g, &plan, rows, o, &s.arranged, xs, &mut s.x_stacked, &mut s.y_ext);
            let ys = &mut y[a * per_call * out_len..][..rows * out_len];
            let group_winners = winners.as_mut().map(|(ps, first)| (&mut **ps, *first + a * per_call));
            pool.fused_forward_interleaved(&s.y_ext, (rows, plan.ext_stride), ys, group_winners);
        }
    }

    /// Accumulates `dW`, `db` (into `dp`) and, when asked, writes `dx`. A batch may come in
    /// chunks: dWᵀ is summed in scratch from the first chunk's first sample to the last
    /// chunk's last and added to dW once, so the rounding does not depend on the chunking.
    #[allow(clippy::too_many_arguments)]
    // Out of line, as it was before the typed scratch: inlined into `Layer::backward` it ran
    // the 1-D lab's step 20 % slower (bench pattern1d).
    #[inline(never)]
    pub fn backward<T: Float>(
        &self,
        p: &[T],
        x: &[T],
        dy: &[T],
        mut dx: Option<&mut [T]>,
        dp: &mut [T],
        n: usize,
        s: &mut ConvScratch<T>,
        chunk: Chunk,
    ) {
        let g = &self.geom;
        let (rows, cols_n) = (g.col_rows(), g.col_cols());
        let (in_len, out_len) = (g.c * g.h * g.w, self.out_channels * cols_n);
        let w = &p[..self.weight_len()];
        let (dw, db) = dp.split_at_mut(self.weight_len());
        let ConvScratch {
            cols: cols_buf,
            dcols,
            flipped,
            dy_pad,
            dx_ext,
            flipped_transformed,
            dy_hwc,
            dy_tile_row,
            dw_acc: dwt,
            chunk_x,
            chunk_dy,
            x_hwc,
            x_pad,
            dy_ext,
            dy_nonzero_at,
            dy_nonzero,
            dy_nonzero_counts,
            tap_major,
            dx_hwc,
            flipped_transformed_ready,
            ..
        } = s;
        // The input gradient as a convolution of dY, Winograd's or direct, when one suits.
        let winograd_t = dx.as_ref().and_then(|_| winograd::transposed(g, self.out_channels));
        let transposed = winograd_t.or_else(|| dx.as_ref().and_then(|_| direct::transposed(g, self.out_channels)));
        // (A direct plan holds a 4 KiB tap table: only the direct input gradient builds one.)
        let plan_t = transposed.as_ref().filter(|_| winograd_t.is_none()).map(direct::plan);
        match (&winograd_t, &transposed, chunk.first) {
            (Some(_), _, true) => {
                *flipped_transformed_ready = false;
                hwc_dx::arrange(g, self.out_channels, w, tap_major);
            }
            (None, Some(t), true) => direct::arrange_transposed(g, t, w, flipped),
            _ => {}
        }
        // dWᵀ (K×O) summed over the samples, then added to dW once: see `matmul_col_major`.
        // On the chunked path (`chunk_dw`) it holds LANES partial sums per weight instead.
        let (chunked, winograd, direct_dw) = (self.chunked_dw(), self.winograd(), self.direct_dw::<T>());
        let plan = direct_dw.then(|| direct::plan(g));
        let (dwt, bias_lanes) = if chunked {
            let lanes = chunk_dw::LANES;
            dwt[..(self.weight_len() + self.out_channels) * lanes].split_at_mut(self.weight_len() * lanes)
        } else if direct_dw {
            dwt[..direct_dw::acc_len(g, self.out_channels)].split_at_mut(direct_dw::acc_len(g, self.out_channels))
        } else {
            dwt[..self.weight_len()].split_at_mut(self.weight_len())
        };
        if chunk.first {
            dwt.fill(T::ZERO);
            bias_lanes.fill(T::ZERO);
        }
        if chunked {
            let bias = self.bias.then_some(&mut *bias_lanes);
            chunk_dw::accumulate(g, self.out_channels, x, dy, n, chunk_x, chunk_dy, dwt, bias);
        }
        for i in 0..n {
            let dyi = &dy[i * out_len..(i + 1) * out_len];
            if self.bias && !chunked {
                for (o, row) in dyi.chunks_exact(cols_n).enumerate() {
                    db[o] += sum_lanes(row);
                }
            }
            // A Winograd layer's dY entries, listed per channel, for dW and perhaps for dX.
            let mut scattered = false;
            if winograd {
                let mut list = Nonzeros { at: &mut dy_nonzero_at[..], value: &mut dy_nonzero[..] };
                let nonzero = hwc_dw::list_nonzeros(g, self.out_channels, dyi, &mut list, dy_nonzero_counts);
                let listed = (&list, &dy_nonzero_counts[..]);
                // From the channels-last input, rebuilt per sample as the forward pass built it.
                winograd::to_hwc(g, &x[i * in_len..(i + 1) * in_len], x_hwc);
                hwc_dw::accumulate(g, self.out_channels, x_hwc, listed, dwt);
                let scatter = winograd_t.is_some() && hwc_dx::prefers_scatter(g, self.out_channels, nonzero);
                if let (Some(dx), true) = (dx.as_deref_mut(), scatter) {
                    dx_hwc.fill(T::ZERO);
                    hwc_dx::scatter(g, self.out_channels, tap_major, listed, dx_hwc);
                    winograd::from_hwc(g, dx_hwc, &mut dx[i * in_len..(i + 1) * in_len]);
                    scattered = true;
                }
            } else if let Some(plan) = &plan {
                // From the padded input, rebuilt per sample as the forward pass built it.
                direct::pad_input(g, plan, &x[i * in_len..(i + 1) * in_len], x_pad);
                direct_dw::lay_out_dy(g, plan, self.out_channels, dyi, dy_ext);
                direct_dw::accumulate(g, plan, self.out_channels, x_pad, dy_ext, dwt);
            } else if !chunked {
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
            if scattered {
                // dX came from the listed entries.
            } else if let (Some(dx), Some(t)) = (dx.as_deref_mut(), &transposed) {
                let dxi = &mut dx[i * in_len..(i + 1) * in_len];
                if let Some(pt) = &plan_t {
                    direct::pad_input(t, pt, dyi, dy_pad);
                    direct::forward(t, pt, g.c, flipped, dy_pad, dx_ext, dxi);
                } else {
                    if !*flipped_transformed_ready {
                        winograd::transform_weights_transposed(g, self.out_channels, w, flipped_transformed);
                        *flipped_transformed_ready = true;
                    }
                    winograd::to_hwc(t, dyi, dy_hwc);
                    let dense = (t.out_w, t.out_h * t.out_w);
                    winograd::convolve(t, dense, g.c, flipped_transformed, None, dy_hwc, dy_tile_row, dxi);
                }
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
        if winograd {
            return hwc_dw::add_to_weights(g, self.out_channels, dwt, dw);
        }
        if direct_dw {
            return direct_dw::sum_into_weights(g, self.out_channels, dwt, dw);
        }
        if chunked {
            return self.add_lanes_to(dwt, bias_lanes, dp);
        }
        for (o, row) in dw.chunks_exact_mut(rows).enumerate() {
            for (k, d) in row.iter_mut().enumerate() {
                *d += dwt[k * self.out_channels + o];
            }
        }
    }
}

impl Conv {
    /// Whether the weight gradient may come from the winners of a max-pool after this conv
    /// (`backward_from_winners`): a tiny conv on the `chunk_dw` path, whose partial sums the
    /// winners reproduce exactly, with a pool that `routes_to_few`; or a direct-path conv with
    /// few taps (`learns_listed`) with the fused 2×2 pool, whose winners it lists.
    pub fn learns_from_winners(&self, pool: &MaxPool) -> bool {
        (self.chunked_dw() && pool.routes_to_few()) || (self.learns_listed() && pool.is_2x2())
    }

    /// Whether a 2×2 pool's winners can give the weight gradient as listed sums
    /// (`direct_dw::add_listed`): a geometry its vector kernel takes, neither Winograd's nor tiny.
    fn learns_listed(&self) -> bool {
        direct_dw::lists_by_rows(&self.geom) && !self.winograd() && !self.chunked_dw()
    }

    /// `backward` without the input gradient, when this conv's output gradient comes only
    /// through the fused ReLU + `pool` after it (`learns_from_winners`): dW and db from the
    /// pool's winners of these `n` samples, the samples `first..` of the pool's batch (`y`,
    /// `dy`: the pool's output and its gradient for them). On the `chunk_dw` path the same
    /// sums, bit for bit, as `backward` on the dense gradient the pool's backward would have
    /// written; through a 2×2 pool, listed sums (`backward_from_listed_winners`).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_from_winners<T: Float>(
        &self,
        x: &[T],
        pool: &MaxPool,
        ps: &MaxPoolScratch,
        (y, dy): (&[T], &[T]),
        dp: &mut [T],
        n: usize,
        s: &mut ConvScratch<T>,
        (chunk, first): (Chunk, usize),
    ) {
        assert!(self.learns_from_winners(pool), "backward_from_winners needs a conv and a pool whose winners it reads");
        if pool.is_2x2() {
            return self.backward_from_listed_winners(x, pool, ps, (y, dy), dp, n, s, (chunk, first));
        }
        let (g, lanes, o) = (&self.geom, chunk_dw::LANES, self.out_channels);
        let (dwt, bias_lanes) = s.dw_acc[..(self.weight_len() + o) * lanes].split_at_mut(self.weight_len() * lanes);
        if chunk.first {
            dwt.fill(T::ZERO);
            bias_lanes.fill(T::ZERO);
        }
        let winners = chunk_dw::Winners { pool: &pool.geom, at: pool.winners(ps, first, n), y, dy, relu: true };
        let bias = self.bias.then_some(&mut *bias_lanes);
        chunk_dw::accumulate_winners(g, o, x, n, &winners, dwt, bias);
        if chunk.last {
            let (dw, db) = dp.split_at_mut(self.weight_len());
            chunk_dw::add_winner_sums(g, o, dwt, dw);
            self.add_bias_lanes_to(bias_lanes, db);
        }
    }

    /// `backward_from_winners` through a fused ReLU + 2×2 pool: each sample's winners with a
    /// gradient, listed per output channel (`MaxPool::list_winners`, at their places on the
    /// direct path's extended grid), times the sample's padded input (`direct_dw::add_listed`).
    /// The bias sums each channel's listed gradients (`sum_lanes`, per sample).
    #[allow(clippy::too_many_arguments)]
    fn backward_from_listed_winners<T: Float>(
        &self,
        x: &[T],
        pool: &MaxPool,
        ps: &MaxPoolScratch,
        (y, dy): (&[T], &[T]),
        dp: &mut [T],
        n: usize,
        s: &mut ConvScratch<T>,
        (chunk, first): (Chunk, usize),
    ) {
        let (g, o) = (&self.geom, self.out_channels);
        let (plan, in_len, out_len) = (direct::plan(g), g.c * g.h * g.w, o * pool.out_plane());
        let per_o = g.col_rows();
        if chunk.first {
            s.dw_listed.fill(T::ZERO);
            s.db_listed.fill(T::ZERO);
        }
        for i in 0..n {
            direct::pad_input(g, &plan, &x[i * in_len..(i + 1) * in_len], &mut s.x_pad);
            let sample = (&y[i * out_len..(i + 1) * out_len], &dy[i * out_len..(i + 1) * out_len]);
            for c in 0..o {
                let mut list = Nonzeros { at: &mut s.dy_nonzero_at, value: &mut s.dy_nonzero };
                let k = pool.list_winners(ps, first + i, sample, c, plan.wp, &mut list);
                let entries = (&s.dy_nonzero_at[..k], &s.dy_nonzero[..k]);
                direct_dw::add_listed(g, &plan, &s.x_pad, entries, &mut s.dw_listed[c * per_o..][..per_o]);
                if self.bias {
                    s.db_listed[c] += sum_lanes(entries.1);
                }
            }
        }
        if chunk.last {
            let (dw, db) = dp.split_at_mut(self.weight_len());
            direct_dw::sum_listed_into_weights(g, o, &s.dw_listed, dw);
            if self.bias {
                db.iter_mut().zip(&s.db_listed).for_each(|(d, l)| *d += *l);
            }
        }
    }

    /// Adds the `chunk_dw` path's partial sums (dWᵀ and the bias's, `LANES` each) to dW and db.
    fn add_lanes_to<T: Float>(&self, dwt: &[T], bias_lanes: &[T], dp: &mut [T]) {
        let (rows, lanes) = (self.geom.col_rows(), chunk_dw::LANES);
        let (dw, db) = dp.split_at_mut(self.weight_len());
        for (o, row) in dw.chunks_exact_mut(rows).enumerate() {
            for (k, d) in row.iter_mut().enumerate() {
                *d += sum_lanes(&dwt[(k * self.out_channels + o) * lanes..][..lanes]);
            }
        }
        self.add_bias_lanes_to(bias_lanes, db);
    }

    /// Adds the bias's partial sums (`chunk_dw::LANES` per output channel) to db.
    fn add_bias_lanes_to<T: Float>(&self, bias_lanes: &[T], db: &mut [T]) {
        if self.bias {
            for (d, l) in db.iter_mut().zip(bias_lanes.chunks_exact(chunk_dw::LANES)) {
                *d += sum_lanes(l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Window;
    use crate::layers::maxpool::tests::pool;

    /// The Winograd convolution with its pool fused (`winograd::convolve_pooled`) against the
    /// convolution's output pooled by `MaxPool::fused_forward`: the same values and winners to
    /// the bit, on a random sample, one whose outputs all tie (zero input) and one with a NaN.
    #[test]
    fn winograd_pooled_forward_equals_convolution_then_pool() {
        // SimpleCNN's conv2; one too wide for the fused kernel (it falls back to conv then
        // pool); 16 outputs (one vector per tile).
        for (c, h, w, o) in [(16, 14, 14, 32), (16, 6, 40, 32), (32, 4, 6, 16)] {
            pooled_case(c, h, w, o);
        }
    }

    fn pooled_case(c: usize, h: usize, w: usize, o: usize) {
        let n = 3;
        let win = Window::simple(3, 1, 1);
        let conv = Conv { geom: Geometry::new(c, h, w, win, win).unwrap(), out_channels: o, bias: true, one_d: false };
        assert!(conv.winograd() && conv.pools_on_its_grid());
        let mp = pool(o, h, w);
        let p: Vec<f32> = (0..conv.weight_len() + o).map(|i| (i as f32 * 0.61).sin() * 0.2).collect();
        let mut x: Vec<f32> = (0..n * c * h * w).map(|i| (i as f32 * 0.37).cos()).collect();
        x[c * h * w..2 * c * h * w].fill(0.0);
        x[2 * c * h * w + c * h * w / 2] = f32::NAN;
        let out_len = o * mp.out_plane();
        let mut s = conv.scratch::<f32>(n);
        let mut full = vec![0.0; n * o * h * w];
        conv.forward(&p, &x, &mut full, n, &mut s, true);
        let (mut want, mut ps_want) = (vec![0.0; n * out_len], mp.scratch(n));
        mp.fused_forward(&full, &mut want, n, &mut ps_want, Some(0));
        let (mut got, mut ps_got) = (vec![1.0; n * out_len], mp.scratch(n));
        conv.forward_pooled(&p, &x, n, &mut s, true, &mp, &mut got, Some((&mut ps_got, 0)));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{c}x{h}x{w}→{o}");
        assert_eq!(ps_got.codes, ps_want.codes, "{c}x{h}x{w}→{o}");
        assert!(want[2 * out_len..].iter().any(|v| v.is_nan()), "the NaN reaches the pooled output");
        // Without winners (an evaluation forward): the same outputs.
        let mut lean = vec![1.0; n * out_len];
        conv.forward_pooled(&p, &x, n, &mut s, true, &mp, &mut lean, None);
        assert_eq!(bits(&lean), bits(&want), "{c}x{h}x{w}→{o} without winners");
    }

    /// The Winograd layers' backward (input gradient by Winograd over the transposed geometry,
    /// weight gradient from the channels-last input) against `Wᵀ·dY` then col2im and dY·colsᵀ,
    /// over two samples.
    #[test]
    fn winograd_layers_backward_matches_im2col_and_gemm() {
        let (c, h, w, o, n) = (16, 6, 8, 32, 2);
        let win = Window::simple(3, 1, 1);
        let g = Geometry::new(c, h, w, win, win).unwrap();
        let conv = Conv { geom: g, out_channels: o, bias: true, one_d: false };
        assert!(winograd::transposed(&g, o).is_some());
        let p: Vec<f64> = (0..conv.weight_len() + o).map(|i| (i as f64 * 0.61).sin() * 0.2).collect();
        let x: Vec<f64> = (0..n * c * h * w).map(|i| (i as f64 * 0.37).cos()).collect();
        // Dense dY (the Winograd input gradient), zero but at one entry in five (the entries
        // scattered, `hwc_dx`), and a batch of one of each (sparse first: the Winograd weights
        // are transformed for the second sample only).
        for sparse_samples in [0, n, 1] {
            let per_sample = o * h * w;
            let dy: Vec<f64> = (0..n * per_sample)
                .map(|i| {
                    let sparse = i / per_sample < sparse_samples && (i * 7 + i / 5) % 5 != 0;
                    if sparse {
                        0.0
                    } else {
                        (i as f64 * 0.23).sin()
                    }
                })
                .collect();
            backward_case(&conv, &p, &x, &dy, n);
        }
    }

    fn backward_case(conv: &Conv, p: &[f64], x: &[f64], dy: &[f64], n: usize) {
        let (g, o) = (conv.geom, conv.out_channels);
        let (c, h, w) = (g.c, g.h, g.w);
        let mut s = conv.scratch::<f64>(n);
        let (mut dx, mut dp) = (vec![0.0; x.len()], vec![0.0; p.len()]);
        conv.backward(p, x, dy, Some(&mut dx), &mut dp, n, &mut s, Chunk::WHOLE);
        let (rows, cols_n) = (g.col_rows(), g.col_cols());
        let mut dw_want = vec![0.0; o * rows];
        for i in 0..n {
            let (xi, dyi) = (&x[i * c * h * w..][..c * h * w], &dy[i * o * h * w..][..o * h * w]);
            let mut dcols = vec![0.0; rows * cols_n];
            matmul(&mut dcols, Mat::rows(&p[..conv.weight_len()], o, rows).t(), Mat::rows(dyi, o, cols_n), false);
            let mut want = vec![0.0; c * h * w];
            col2im(&g, &mut dcols, &mut want);
            for (a, e) in dx[i * c * h * w..][..c * h * w].iter().zip(&want) {
                assert!((a - e).abs() < 1e-12, "dx {a} vs {e}");
            }
            let mut cols = vec![0.0; rows * cols_n];
            im2col(&g, xi, &mut cols);
            matmul(&mut dw_want, Mat::rows(dyi, o, cols_n), Mat::rows(&cols, rows, cols_n).t(), true);
        }
        for (a, e) in dp[..conv.weight_len()].iter().zip(&dw_want) {
            assert!((a - e).abs() < 1e-11, "dw {a} vs {e}");
        }
    }
}
