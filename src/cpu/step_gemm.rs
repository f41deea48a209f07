//! The per-step products of the recurrent cells on the CPU: `C (M, N) (+)= A (M, K) · W (K, N)
//! (+ bias)` for a few hundred rows, with W copied into rows padded to the kernel's width.
//!
//! Not a kernel of its own (the GPU cells do these products inside their kernels): a helper of
//! `cpu::cell`. matrixmultiply is the right tool for the large products, but for these it
//! packs W again on every call and hands each call to its threads; profiled on the lecture
//! model's inference, that overhead (packing, thread wake-ups and yields) was larger than the
//! arithmetic. Here one thread runs the product, and the cells run their two directions on two
//! threads instead.

use multiversion::multiversion;

/// Columns per register block: two 8-wide (or one 16-wide) vectors.
const NR: usize = 16;
/// Rows per register block: 6 × 16 accumulators are 12 of AVX2's 16 vector registers,
/// leaving room for the two of W and the broadcast (8 rows spilled them).
const MR: usize = 6;

/// W (K, N) padded with zeros to `np` (a multiple of `NR`, 16) columns, in panels of `NR`
/// columns: panel p holds columns `p·NR ..` of every row, (K, NR) contiguous, so a register
/// block's loop over K reads one stream that stays in L1 for every row block of A.
pub struct PackedW {
    data: Vec<f32>,
    k: usize,
    n: usize,
    np: usize,
}

impl PackedW {
    fn zeroed(k: usize, n: usize) -> Self {
        let np = n.div_ceil(NR) * NR;
        Self {
            data: vec![0.0; k * np],
            k,
            n,
            np,
        }
    }

    /// From `w` (N, K) row-major: packs Wᵀ, for `A · wᵀ` (the forward product h · W_hhᵀ).
    pub fn transposed(w: &[f32], n: usize, k: usize) -> Self {
        Self::transposed_ld(w, n, k, k)
    }

    /// [`Self::transposed`] with rows of `w` `ld` apart.
    pub fn transposed_ld(w: &[f32], n: usize, k: usize, ld: usize) -> Self {
        let mut p = Self::zeroed(k, n);
        for j in 0..n {
            for (kk, &x) in w[j * ld..j * ld + k].iter().enumerate() {
                *p.at(kk, j) = x;
            }
        }
        p
    }

    /// Element (k, j).
    fn at(&mut self, kk: usize, j: usize) -> &mut f32 {
        &mut self.data[(j / NR * self.k + kk) * NR + j % NR]
    }

    /// From `w` (K, N) row-major, for `A · w` (the backward product dhh · W_hh).
    pub fn new(w: &[f32], k: usize, n: usize) -> Self {
        Self::new_ld(w, k, n, n)
    }

    /// [`Self::new`] with rows of `w` `ld` apart.
    pub fn new_ld(w: &[f32], k: usize, n: usize, ld: usize) -> Self {
        let mut p = Self::zeroed(k, n);
        for kk in 0..k {
            for (j, &x) in w[kk * ld..kk * ld + n].iter().enumerate() {
                *p.at(kk, j) = x;
            }
        }
        p
    }
}

/// Rows up to which a product reads W where it lies instead of packing it: a product of one
/// or two rows (a stream being sampled or evaluated) reads W once either way, and packing it
/// cost three times the product.
pub const RAW_ROWS: usize = 2;

/// W (K, N) for the step products of batches of `rows`: packed, or for at most [`RAW_ROWS`]
/// rows read where it lies.
pub enum StepW<'a> {
    /// W packed into panels of `NR` columns (batches of more than [`RAW_ROWS`] rows).
    Packed(PackedW),
    /// W given as Wᵀ (N, K), rows `ld` apart.
    Transposed {
        /// Wᵀ (N, K).
        w: &'a [f32],
        /// Rows of W (K).
        k: usize,
        /// Columns of W (N).
        n: usize,
        /// Elements between rows of `w`.
        ld: usize,
    },
    /// W (K, N) itself, rows `ld` apart.
    Plain {
        /// W (K, N).
        w: &'a [f32],
        /// Rows of W (K).
        k: usize,
        /// Columns of W (N).
        n: usize,
        /// Elements between rows of `w`.
        ld: usize,
    },
}

impl<'a> StepW<'a> {
    /// From `w` (N, K) rows `ld` apart, for `A · wᵀ`.
    pub fn transposed(w: &'a [f32], n: usize, k: usize, ld: usize, rows: usize) -> Self {
        if rows <= RAW_ROWS {
            Self::Transposed { w, k, n, ld }
        } else {
            Self::Packed(PackedW::transposed_ld(w, n, k, ld))
        }
    }

    /// From `w` (K, N) rows `ld` apart, for `A · w`.
    pub fn new(w: &'a [f32], k: usize, n: usize, ld: usize, rows: usize) -> Self {
        if rows <= RAW_ROWS {
            Self::Plain { w, k, n, ld }
        } else {
            Self::Packed(PackedW::new_ld(w, k, n, ld))
        }
    }

    /// (K, N).
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Self::Packed(p) => (p.k, p.n),
            Self::Transposed { k, n, .. } | Self::Plain { k, n, .. } => (*k, *n),
        }
    }

    /// Rows of W (K): the inner dimension of the product.
    pub fn k(&self) -> usize {
        self.shape().0
    }

    /// Columns of W (N), and of C.
    pub fn n(&self) -> usize {
        self.shape().1
    }
}

/// `c (M, N) = a (M, K) · w (+ bias)`, or `c += …` with `accumulate`. Rows of `a` are `lda`
/// apart and rows of `c` are `ldc` apart.
#[allow(clippy::too_many_arguments)] // a GEMM's operands, strides and options
pub fn gemm(
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    m: usize,
    w: &StepW,
    bias: Option<&[f32]>,
    accumulate: bool,
) {
    let (k, n) = w.shape();
    assert!(m == 0 || (a.len() >= (m - 1) * lda + k && c.len() >= (m - 1) * ldc + n));
    assert!(bias.is_none_or(|b| b.len() >= n));
    let mut row = vec![0f32; n];
    let store = |c: &mut [f32], r: usize, row: &[f32]| {
        let cr = &mut c[r * ldc..r * ldc + n];
        for (j, (o, &v)) in cr.iter_mut().zip(row).enumerate() {
            let v = v + bias.map_or(0.0, |b| b[j]);
            *o = if accumulate { *o + v } else { v };
        }
    };
    match *w {
        StepW::Packed(ref p) => gemm_blocks(c, ldc, a, lda, m, p, bias, accumulate),
        StepW::Transposed { w, ld, .. } => {
            assert!(n == 0 || w.len() >= (n - 1) * ld + k);
            for r in 0..m {
                gemv_t(&mut row, &a[r * lda..r * lda + k], w, ld);
                store(c, r, &row);
            }
        }
        StepW::Plain { w, ld, .. } => {
            assert!(k == 0 || w.len() >= (k - 1) * ld + n);
            for r in 0..m {
                row.fill(0.0);
                for (kk, &x) in a[r * lda..r * lda + k].iter().enumerate() {
                    axpy(&mut row, x, &w[kk * ld..kk * ld + n]);
                }
                store(c, r, &row);
            }
        }
    }
}

/// `y (N) = W (N, K) · x (K)`, W's rows `ld` apart: a dot product per row.
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn gemv_t(y: &mut [f32], x: &[f32], w: &[f32], ld: usize) {
    let k = x.len();
    for (j, o) in y.iter_mut().enumerate() {
        *o = dot(x, &w[j * ld..j * ld + k]);
    }
}

/// `Σ a·b` in 32 lanes (four vectors, so that the FMAs do not wait on each other).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 32;
    let mut acc = [0f32; L];
    let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..L {
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y += x · w`.
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn axpy(y: &mut [f32], x: f32, w: &[f32]) {
    for (o, &v) in y.iter_mut().zip(w) {
        *o = x.mul_add(v, *o);
    }
}

// Compiled for each listed target and picked at run time by the CPU's features; the loops
// over fixed-size blocks become vector FMAs with the accumulators in registers.
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
#[allow(clippy::too_many_arguments)] // as gemm
fn gemm_blocks(
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    m: usize,
    w: &PackedW,
    bias: Option<&[f32]>,
    accumulate: bool,
) {
    let (k, n, np) = (w.k, w.n, w.np);
    // Each block of MR rows of A interleaved, (K, MR): one pointer for all the rows'
    // broadcasts. Rows past m repeat the last row and are not stored.
    let blocks = m.div_ceil(MR);
    let mut ap = vec![0f32; blocks * k * MR];
    for (blk, dst) in ap.chunks_exact_mut(k * MR).enumerate() {
        let r0 = blk * MR;
        for r in 0..MR {
            let start = (r0 + r).min(m - 1) * lda;
            for (d, &x) in dst.iter_mut().skip(r).step_by(MR).zip(&a[start..start + k]) {
                *d = x;
            }
        }
    }
    // Column panels outside, row blocks inside: each panel of W is read from memory once.
    for (j0, panel) in (0..np).step_by(NR).zip(w.data.chunks_exact(k * NR)) {
        let cols = NR.min(n - j0);
        let add: [f32; NR] = match bias {
            Some(b) => std::array::from_fn(|j| if j < cols { b[j0 + j] } else { 0.0 }),
            None => [0.0; NR],
        };
        for (blk, apb) in ap.chunks_exact(k * MR).enumerate() {
            let (r0, mr) = (blk * MR, MR.min(m - blk * MR));
            let (mut c0, mut c1, mut c2) = ([0f32; NR], [0f32; NR], [0f32; NR]);
            let (mut c3, mut c4, mut c5) = ([0f32; NR], [0f32; NR], [0f32; NR]);
            for (wk, ak) in panel.chunks_exact(NR).zip(apb.chunks_exact(MR)) {
                let wk: &[f32; NR] = wk.try_into().unwrap();
                let ak: &[f32; MR] = ak.try_into().unwrap();
                fma_row(&mut c0, ak[0], wk);
                fma_row(&mut c1, ak[1], wk);
                fma_row(&mut c2, ak[2], wk);
                fma_row(&mut c3, ak[3], wk);
                fma_row(&mut c4, ak[4], wk);
                fma_row(&mut c5, ak[5], wk);
            }
            for (r, acc_r) in [c0, c1, c2, c3, c4, c5].iter().enumerate().take(mr) {
                let out = &mut c[(r0 + r) * ldc + j0..][..cols];
                for ((o, &v), &b) in out.iter_mut().zip(acc_r).zip(&add) {
                    *o = if accumulate { *o + (v + b) } else { v + b };
                }
            }
        }
    }
}

/// `acc += x · w`, element-wise: one or two vector FMAs once inlined into a target's copy.
#[inline(always)]
fn fma_row(acc: &mut [f32; NR], x: f32, w: &[f32; NR]) {
    for (s, &wv) in acc.iter_mut().zip(w) {
        *s = x.mul_add(wv, *s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                for kk in 0..k {
                    c[i * n + j] += f64::from(a[i * k + kk]) * f64::from(w[kk * n + j]);
                }
            }
        }
        c
    }

    // Shapes around the block sizes, both packings and both raw forms, bias and accumulate.
    #[test]
    fn gemm_matches_a_naive_product() {
        let mut seed = 0x9e37_79b9u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 17),
            (4, 16, 16),
            (7, 100, 300),
            (9, 33, 100),
            (2, 70, 33),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let w: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            let bias: Vec<f32> = (0..n).map(|_| next()).collect();
            let want = naive(&a, &w, m, k, n);
            let forms = [
                StepW::Packed(PackedW::new(&w, k, n)),
                StepW::Packed(PackedW::transposed(&wt, n, k)),
                StepW::Plain { w: &w, k, n, ld: n },
                StepW::Transposed {
                    w: &wt,
                    k,
                    n,
                    ld: k,
                },
            ];
            for packed in forms {
                let mut c = vec![0.5f32; m * n];
                gemm(&mut c, n, &a, k, m, &packed, Some(&bias), true);
                for (i, (&got, &want)) in c.iter().zip(&want).enumerate() {
                    let want = want + f64::from(bias[i % n]) + 0.5;
                    assert!((f64::from(got) - want).abs() < 1e-4, "{m}x{k}x{n} [{i}]");
                }
                let mut c = vec![9.0f32; m * n];
                gemm(&mut c, n, &a, k, m, &packed, None, false);
                for (i, (&got, &want)) in c.iter().zip(&want).enumerate() {
                    assert!((f64::from(got) - want).abs() < 1e-4, "{m}x{k}x{n} [{i}]");
                }
            }
        }
    }
}
