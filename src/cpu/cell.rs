//! What the three recurrent cells (rnn_cell, gru_cell, lstm_cell) share: the dimensions of one
//! time step and the buffer layouts, the same in the CPU twins and in the WGSL kernels.
//!
//! With G gates per unit (RNN 1, GRU 3, LSTM 4), D directions, T steps, batch B, hidden H:
//! - `xw (T, B, D·G·H)`, time order: x·W_ihᵀ + b_ih for every step, both directions side by side.
//!   Or a (V, D·G·H) table of it per token, read through token ids (T, B): [`Xw`].
//! - `hs (D, T+1, B, H)` (and `cs` for LSTM), each direction in its own step order:
//!   slot 0 holds h0, slot s+1 the state after step s.
//! - `out (T, B, D·H)`, time order: zero where a row is past its length.
//! - `dxw (T, B, D·G·H)`, time order, and `dhh (D, T, B, G·H)`, step order: gradients of the
//!   input projection and of the recurrent pre-activations.
//! - `carry (D, B, H)`: the gradient flowing to the previous state outside W_hh.
//! - `gates (D, T, B, 4H)` (GRU, LSTM): step order, what the backward pass needs; rows past
//!   their length are not written, and the backward pass does not read them.
//!
//! Direction 0's step s is time s; direction 1's step s is time T − 1 − s.
//!
//! Each cell's twin runs n consecutive steps of one layer: its kernel is one step (n = 1),
//! and the CPU runtime hands it a layer's whole run (one op of the plan), so each share of
//! the work (`parts`: a direction, or half of a unidirectional layer's rows) keeps one
//! thread and one packed W_hh for the whole layer instead of meeting the others at every step.

use crate::cpu::step_gemm::{StepW, gemm};

/// Dimensions of one step of a recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellDims {
    /// Batch rows (B).
    pub b: usize,
    /// Hidden size (H).
    pub h: usize,
    /// Directions: 1, or 2 for bidirectional.
    pub d: usize,
    /// Steps in this batch (T).
    pub t: usize,
    /// This step, 0-based, in each direction's own order.
    pub s: usize,
    /// RNN only: relu instead of tanh.
    pub relu: bool,
    /// Add b_hh.
    pub has_bias: bool,
}

impl CellDims {
    /// The time index direction `d` processes at this step.
    pub fn time(&self, d: usize) -> usize {
        if d == 0 { self.s } else { self.t - 1 - self.s }
    }

    /// Start of row b of state slot `slot` of direction d in `hs`/`cs`.
    pub fn state(&self, d: usize, slot: usize, b: usize) -> usize {
        ((d * (self.t + 1) + slot) * self.b + b) * self.h
    }

    /// Start of row b of this step in a step-ordered (D, T, B, width) buffer.
    pub fn step_row(&self, d: usize, s: usize, b: usize, width: usize) -> usize {
        ((d * self.t + s) * self.b + b) * width
    }

    /// Start of direction d's part of row (t, b) in a time-ordered (T, B, D·width) buffer.
    pub fn time_row(&self, d: usize, t: usize, b: usize, width: usize) -> usize {
        (t * self.b + b) * self.d * width + d * width
    }

    /// The same layer at step `s`.
    pub fn at(&self, s: usize) -> Self {
        Self { s, ..*self }
    }

    /// Steps `s, s+1, …, s+n−1`: a forward run of `n` steps from this one (at most to T).
    pub fn run_fwd(&self, n: usize) -> impl Iterator<Item = CellDims> {
        assert!(
            self.s + n <= self.t,
            "run of {n} steps from {} past T = {}",
            self.s,
            self.t
        );
        (self.s..self.s + n).map(|s| self.at(s))
    }

    /// Steps `s, s−1, …, s−n+1`: a backward run of `n` steps from this one (at most to 0).
    pub fn run_bwd(&self, n: usize) -> impl Iterator<Item = CellDims> {
        assert!(
            n <= self.s + 1,
            "backward run of {n} steps from step {}",
            self.s
        );
        (self.s + 1 - n..=self.s).rev().map(|s| self.at(s))
    }
}

/// W_hh[d]ᵀ for [`recurrent_product`] on batches of `rows`; `whh` is (D, G·H, H).
pub(crate) fn packed_whh_t(whh: &[f32], g: usize, h: usize, d: usize, rows: usize) -> StepW<'_> {
    StepW::transposed(&whh[d * g * h * h..(d + 1) * g * h * h], g * h, h, h, rows)
}

/// W_hh[d] for [`state_grad`] on batches of `rows`; `whh` is (D, G·H, H).
pub(crate) fn packed_whh(whh: &[f32], g: usize, h: usize, d: usize, rows: usize) -> StepW<'_> {
    StepW::new(&whh[d * g * h * h..(d + 1) * g * h * h], g * h, h, h, rows)
}

/// Where a forward step reads x·W_ihᵀ + b_ih: `data (T, B, D·G·H)` in time order, or with
/// `ids (T, B)` a `(V, D·G·H)` table of it per token (see `plan::CellFwd::ids`).
#[derive(Clone, Copy, Debug)]
pub struct Xw<'a> {
    /// x·W_ihᵀ + b_ih: (T, B, D·G·H) in time order, or with `ids` a (V, D·G·H) table.
    pub data: &'a [f32],
    /// Token ids (T, B) that pick each row's table row; `None` reads `data` in time order.
    pub ids: Option<&'a [u32]>,
}

impl<'a> Xw<'a> {
    /// Direction d's part (`width` = G·H) of step row (t, b). Every id, padding included, must
    /// name a row of the table (the data layer checks them; padding is id 0).
    pub fn row(&self, dims: &CellDims, d: usize, t: usize, b: usize, width: usize) -> &'a [f32] {
        let x = match self.ids {
            None => dims.time_row(d, t, b, width),
            Some(ids) => {
                let id = ids[t * dims.b + b] as usize;
                let rows = self.data.len() / (dims.d * width);
                assert!(
                    id < rows,
                    "xw: token id {id} outside a table of {rows} rows"
                );
                (id * dims.d + d) * width
            }
        };
        &self.data[x..x + width]
    }
}

/// `hh (B, G·H) = h_prev (B, H) · W_hh[d]ᵀ (+ b_hh[d])`: the recurrent product of one step at
/// time `t` for one direction, with `w` from [`packed_whh_t`] and `bias` = b_hh[d]; `h_prev`
/// is the state before the step. Rows past [`active_rows`] are left unwritten.
pub(crate) fn recurrent_product(
    hh: &mut [f32],
    h_prev: &[f32],
    w: &StepW,
    bias: Option<&[f32]>,
    lens: &[u32],
    t: usize,
) {
    let h = w.k();
    // Rows past the last one still running at this step only carry their state: skip them.
    let rows = active_rows(lens, t);
    if rows > 0 {
        gemm(hh, w.n(), &h_prev[..rows * h], h, rows, w, bias, false);
    }
}

/// Asks the CPU to bring direction d's part of the running rows (of `rows`) of `xw` at time
/// `t` into its L2 cache, before the step's product: those rows are strewn over a buffer
/// larger than the caches, and the gate loop after the product otherwise waits on them (+2%
/// on the lecture model's inference).
pub(crate) fn prefetch_rows(
    xw: Xw,
    lens: &[u32],
    dims: &CellDims,
    (d, t): (usize, usize),
    width: usize,
    rows: std::ops::Range<usize>,
) {
    for b in rows.filter(|&b| lens[b] as usize > t) {
        prefetch(xw.row(dims, d, t, b, width));
    }
}

/// A hint to load `xs` into the L2 cache; nothing where it is not implemented.
#[inline]
fn prefetch(xs: &[f32]) {
    // Every 16th element, and the last: each 64-byte line `xs` touches, wherever it starts.
    #[cfg(target_arch = "x86_64")]
    for x in xs.iter().step_by(16).chain(xs.last()) {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        // SAFETY: a prefetch reads nothing into the program and cannot fault; the address is
        // inside `xs` anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(std::ptr::from_ref(x).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = xs;
}

/// One thread's share of a layer's run of steps: direction `d`, batch rows `rows`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub d: usize,
    pub rows: std::ops::Range<usize>,
}

/// Rows per share below which a direction's rows are not split.
const MIN_PART_ROWS: usize = 8;

/// The shares of a run: one per direction, and a unidirectional layer's rows halved over two
/// threads when each half holds `MIN_PART_ROWS` or more. Rows are independent through the
/// recurrence (each reads only its own state), so the halves never meet between steps.
pub(crate) fn parts(dims: &CellDims) -> Vec<Part> {
    if dims.d == 1 && dims.b >= 2 * MIN_PART_ROWS && rayon::current_num_threads() > 1 {
        let mid = dims.b / 2;
        return vec![
            Part { d: 0, rows: 0..mid },
            Part {
                d: 0,
                rows: mid..dims.b,
            },
        ];
    }
    (0..dims.d).map(|d| Part { d, rows: 0..dims.b }).collect()
}

/// Each part's rows of every slot of a (D, slots, B, width) buffer, such as `hs` (T + 1
/// slots) or a step-ordered `dhh` (T slots): entry s of part p is slot s's rows of p.
/// A direction's parts are in row order.
pub(crate) fn slot_parts<'a>(
    buf: &'a mut [f32],
    parts: &[Part],
    (slots, b): (usize, usize),
    width: usize,
) -> Vec<Vec<&'a mut [f32]>> {
    let mut out: Vec<Vec<&mut [f32]>> = parts.iter().map(|_| Vec::with_capacity(slots)).collect();
    let dirs = parts.iter().map(|p| p.d + 1).max().unwrap_or(0);
    for (i, slot) in buf.chunks_mut(b * width).take(dirs * slots).enumerate() {
        let (mut rest, mut at) = (slot, 0);
        for (p, part) in parts.iter().enumerate().filter(|(_, p)| p.d == i / slots) {
            let tail = std::mem::take(&mut rest)
                .split_at_mut((part.rows.start - at) * width)
                .1;
            let (mine, tail) = tail.split_at_mut(part.rows.len() * width);
            out[p].push(mine);
            (rest, at) = (tail, part.rows.end);
        }
    }
    out
}

/// Each part's rows of a time-ordered (T, B, D·width) buffer, such as `out` or `dxw`: entry
/// t·R + i of a part of R rows is its direction's piece of row (t, rows.start + i).
pub(crate) fn row_parts<'a>(
    buf: &'a mut [f32],
    parts: &[Part],
    dims: &CellDims,
    width: usize,
) -> Vec<Vec<&'a mut [f32]>> {
    let mut out: Vec<Vec<&mut [f32]>> = parts
        .iter()
        .map(|p| Vec::with_capacity(dims.t * p.rows.len()))
        .collect();
    let pieces = dims.t * dims.b * dims.d;
    for (i, piece) in buf.chunks_mut(width).take(pieces).enumerate() {
        let (b, d) = ((i / dims.d) % dims.b, i % dims.d);
        if let Some(p) = parts.iter().position(|p| p.d == d && p.rows.contains(&b)) {
            out[p].push(piece);
        }
    }
    out
}

/// Runs `f` on each share of a run of steps ([`parts`], or one per direction): two shares on
/// two threads (rayon's pool), since they are independent until the layer ends and each
/// step's work is too small to split further.
pub(crate) fn for_each_part<T: Send>(mut work: Vec<T>, f: impl Fn(T) + Sync) {
    if work.len() == 2 {
        let second = work.pop().expect("two parts");
        let first = work.pop().expect("two parts");
        rayon::join(|| f(first), || f(second));
    } else {
        work.into_iter().for_each(f);
    }
}

/// Rows `0..n` hold every row still running at time `t` (`lens[b] > t`): one past the last
/// such row. Rows sorted by length, as the classifier sorts them, make that exactly the rows
/// still running, so the products of a step skip the finished ones (PyTorch's packed batch).
pub fn active_rows(lens: &[u32], t: usize) -> usize {
    lens.iter()
        .rposition(|&l| l as usize > t)
        .map_or(0, |b| b + 1)
}

/// `dh (B, H)`: the gradient of the state after step s for one direction: `dhn` (its h_n
/// gradient) at the last step, else `carry + dhh[d, s+1] · W_hh[d]` with `w` from
/// [`packed_whh`] and `dhh_next` the rows of dhh[d, s+1] (unused at the last step).
#[allow(clippy::too_many_arguments)] // the buffers of the kernel's bindings
pub(crate) fn state_grad(
    dh: &mut [f32],
    carry: &[f32],
    dhn: &[f32],
    dhh_next: &[f32],
    w: &StepW,
    lens: &[u32],
    dims: &CellDims,
    d: usize,
) {
    if dims.s + 1 == dims.t {
        dh.copy_from_slice(dhn);
    } else {
        dh.copy_from_slice(carry);
        // dhh[d, s+1] is zero past the rows running at step s + 1.
        let rows = active_rows(lens, dims.at(dims.s + 1).time(d));
        if rows > 0 {
            let gh = w.k();
            gemm(dh, w.n(), &dhh_next[..rows * gh], gh, rows, w, None, true);
        }
    }
}

/// e^x from plain float arithmetic (Cephes' expf: e^x = 2^n·e^r with |r| ≤ ln2/2 and a degree-6
/// polynomial, within 2 ulp), so that a loop over a row of gates compiles to SIMD instead of one
/// libm call per element. Saturates below −87 (to about 1e-38) and above 88.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without SSE4.1's roundps.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // t's low mantissa bits hold n: 2^n's exponent field without a float-to-int conversion.
    let two_n = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23);
    er * two_n
}

#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh from one [`exp`]: libm's `tanhf` goes through `expm1f` and was a sixth of the CPU
/// backend's training step. Near 0, where 1 − e^(−2|x|) would cancel, a Taylor polynomial
/// (error below 1e-12 relative); elsewhere within a few ulp of 1.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let x2 = x * x;
    let small = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 - x2 * (17.0 / 315.0))));
    let e = exp(-2.0 * a);
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    // Both branches, then a select: no branch in the loops that call it.
    if a < 0.0625 { small } else { large }
}
