//! The matmul family: C = op(A)·op(B) (+ bias) (C += … when accumulating).
//! GPU: shaders/matmul.wgsl. Products by `matrixmultiply::sgemm`, which takes strides, so the
//! transposes cost nothing.

use crate::cpu::step_gemm::{StepW, gemm};

/// Shape and layout of one product, shared by the CPU twin and the GPU op.
///
/// op(A) is (M, K): A stored (M, K) with row stride `lda`, or with `trans_a` A stored (K, M).
/// op(B) is (K, N): B stored (K, N) with row stride `ldb`, or with `trans_b` B stored (N, K).
/// C is (M, N) with row stride `ldc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    /// Rows of op(A) and C (M).
    pub m: usize,
    /// Columns of op(B) and C (N).
    pub n: usize,
    /// The inner dimension (K).
    pub k: usize,
    /// A is stored (K, M) and op(A) = Aᵀ.
    pub trans_a: bool,
    /// B is stored (N, K) and op(B) = Bᵀ.
    pub trans_b: bool,
    /// C += op(A)·op(B) instead of C = op(A)·op(B).
    pub accumulate: bool,
    /// Row stride of A as stored.
    pub lda: usize,
    /// Row stride of B as stored.
    pub ldb: usize,
    /// Row stride of C.
    pub ldc: usize,
    /// A batch of equally shaped products: product z reads A at `z·batch_a`, B at `z·batch_b`
    /// and the bias at `z·batch_bias`, and writes C at `z·batch_c` (elements past each
    /// operand's start). 1 for a single product.
    pub batch: usize,
    /// Elements between the A operands of consecutive products (see `batch`).
    pub batch_a: usize,
    /// Elements between the B operands of consecutive products.
    pub batch_b: usize,
    /// Elements between the C outputs of consecutive products.
    pub batch_c: usize,
    /// Elements between the biases of consecutive products.
    pub batch_bias: usize,
}

impl MatmulDims {
    /// C (M, N) = A (M, K) · B (K, N), dense strides.
    pub fn nn(m: usize, n: usize, k: usize) -> Self {
        Self {
            m,
            n,
            k,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            lda: k,
            ldb: n,
            ldc: n,
            batch: 1,
            batch_a: 0,
            batch_b: 0,
            batch_c: 0,
            batch_bias: 0,
        }
    }

    /// C (M, N) = A (M, K) · B (N, K)ᵀ: the forward of a linear layer, Y = X·Wᵀ.
    pub fn nt(m: usize, n: usize, k: usize) -> Self {
        Self {
            trans_b: true,
            ldb: k,
            ..Self::nn(m, n, k)
        }
    }

    /// C (M, N) = A (K, M)ᵀ · B (K, N): a weight gradient, dW = dYᵀ·X.
    pub fn tn(m: usize, n: usize, k: usize) -> Self {
        Self {
            trans_a: true,
            lda: m,
            ..Self::nn(m, n, k)
        }
    }

    /// C (M, N) = A (K, M)ᵀ · B (N, K)ᵀ.
    pub fn tt(m: usize, n: usize, k: usize) -> Self {
        Self {
            trans_a: true,
            lda: m,
            trans_b: true,
            ldb: k,
            ..Self::nn(m, n, k)
        }
    }

    /// `batch` products whose operands lie the given strides apart: `[a, b, c, bias]`.
    pub fn batched(self, batch: usize, strides: [usize; 4]) -> Self {
        let [batch_a, batch_b, batch_c, batch_bias] = strides;
        Self {
            batch,
            batch_a,
            batch_b,
            batch_c,
            batch_bias,
            ..self
        }
    }

    /// The same product accumulating: C += op(A)·op(B) (a weight gradient's dW += dYᵀ·X).
    pub fn accumulate(self) -> Self {
        Self {
            accumulate: true,
            ..self
        }
    }

    /// Elements of A, B and C the products touch from their offsets (the minimum lengths).
    pub fn extents(&self) -> (usize, usize, usize) {
        let (a, b, c) = self.extents_one();
        let z = self.batch.max(1) - 1;
        (
            z * self.batch_a + a,
            z * self.batch_b + b,
            z * self.batch_c + c,
        )
    }

    /// Elements of one product of the batch.
    fn extents_one(&self) -> (usize, usize, usize) {
        let span = |rows: usize, cols: usize, ld: usize| (rows - 1) * ld + cols;
        let a = if self.trans_a {
            span(self.k, self.m, self.lda)
        } else {
            span(self.m, self.k, self.lda)
        };
        let b = if self.trans_b {
            span(self.n, self.k, self.ldb)
        } else {
            span(self.k, self.n, self.ldb)
        };
        (a, b, span(self.m, self.n, self.ldc))
    }

    /// Floating-point operations: 2·M·N·K per product.
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.m * self.n * self.k) as f64
    }
}

/// Products of at least this many FLOPs run in bands of C's rows on all cores (rayon's pool,
/// which the recurrent cells' directions share); smaller ones on the calling thread.
/// matrixmultiply's own thread pool is not used: its threads spin and yield between calls,
/// and beside a second pool that cost more than the work.
const SPLIT_FLOPS: f64 = 2e6;

/// Threads for a product of `flops`.
fn threads_for(flops: f64) -> usize {
    if flops < SPLIT_FLOPS {
        return 1;
    }
    rayon::current_num_threads()
}

/// Runs `f(c_band, first_row, rows)` on bands of C's `m` rows (`ldc` apart), each a multiple
/// of `align` rows but the last, one band per thread of rayon's pool.
fn by_row_bands(
    c: &mut [f32],
    ldc: usize,
    m: usize,
    align: usize,
    threads: usize,
    f: impl Fn(&mut [f32], usize, usize) + Sync,
) {
    if m == 0 {
        return;
    }
    let units = m.div_ceil(align);
    let parts = threads.min(units).max(1);
    let band = units.div_ceil(parts) * align;
    let starts: Vec<usize> = (0..m).step_by(band).collect();
    by_bands(c, ldc, m, &starts, f);
}

/// Runs `f(c_band, first_row, rows)` on the bands of C's `m` rows that begin at `starts`
/// (ascending, the first 0), each on a thread of rayon's pool.
fn by_bands(
    c: &mut [f32],
    ldc: usize,
    m: usize,
    starts: &[usize],
    f: impl Fn(&mut [f32], usize, usize) + Sync,
) {
    if starts.len() <= 1 {
        return f(c, 0, m);
    }
    rayon::scope(|scope| {
        let f = &f;
        let mut rest = c;
        for (i, &r0) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(m);
            if end == m {
                f(rest, r0, m - r0);
                break;
            }
            let (mine, tail) = rest.split_at_mut((end - r0) * ldc);
            scope.spawn(move |_| f(mine, r0, end - r0));
            rest = tail;
        }
    });
}

/// `c = op(a)·op(b) (+ bias[n])`, or `c += …` with `dims.accumulate`. Slices start at the
/// operands' first element; `bias` is (N).
pub fn matmul(c: &mut [f32], a: &[f32], b: &[f32], bias: Option<&[f32]>, dims: &MatmulDims) {
    let (ea, eb, ec) = dims.extents();
    assert!(
        a.len() >= ea && b.len() >= eb && c.len() >= ec,
        "matmul: operands too short for {dims:?}"
    );
    let one = MatmulDims { batch: 1, ..*dims };
    let threads = threads_for(one.flops());
    for z in 0..dims.batch {
        let bias = bias.map(|v| &v[z * dims.batch_bias..]);
        let (a, b) = (&a[z * dims.batch_a..], &b[z * dims.batch_b..]);
        by_row_bands(
            &mut c[z * dims.batch_c..],
            dims.ldc,
            dims.m,
            1,
            threads,
            |c, r0, rows| {
                let band = MatmulDims { m: rows, ..one };
                matmul_one(c, &a[a_row(dims, r0)..], b, bias, &band);
            },
        );
    }
}

/// Where row r of op(A) starts in A.
fn a_row(dims: &MatmulDims, r: usize) -> usize {
    if dims.trans_a { r } else { r * dims.lda }
}

/// [`matmul`] over a padded dimension of `rows[z].len()` blocks of `block` rows each: M, or K
/// when A is transposed. Block i of product z has `rows[z][i]` real rows first and zeros in A
/// after them, which are skipped; C's rows there get just the bias (or 0), exactly as the
/// whole product would leave them.
pub fn matmul_padded(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    dims: &MatmulDims,
    block: usize,
    rows: &[Vec<usize>],
) {
    let (ea, eb, ec) = dims.extents();
    assert!(
        a.len() >= ea && b.len() >= eb && c.len() >= ec && rows.len() >= dims.batch,
        "matmul_padded: operands too short for {dims:?}"
    );
    let one = MatmulDims { batch: 1, ..*dims };
    for z in 0..dims.batch {
        let (a, b) = (&a[z * dims.batch_a..], &b[z * dims.batch_b..]);
        let c = &mut c[z * dims.batch_c..];
        let bias = bias.map(|v| &v[z * dims.batch_bias..z * dims.batch_bias + dims.n]);
        let padded = Padded {
            block,
            rows: &rows[z],
        };
        if dims.trans_a {
            padded_k(c, (a, b), bias, &one, padded);
        } else {
            padded_m(c, (a, b), bias, &one, padded);
        }
    }
}

/// The padded dimension of one product: blocks of `block` rows, the first `rows[i]` of
/// block i real.
#[derive(Clone, Copy)]
struct Padded<'a> {
    block: usize,
    rows: &'a [usize],
}

impl Padded<'_> {
    fn real(&self) -> usize {
        self.rows.iter().sum()
    }

    /// The threads for this product's real share of `dims`' work.
    fn threads(&self, dims: &MatmulDims) -> usize {
        let whole = (self.rows.len() * self.block).max(1) as f64;
        threads_for(dims.flops() * self.real() as f64 / whole)
    }
}

/// One product padded along K (A transposed): each band of C's rows sums the real rows of
/// each block, then adds the bias once.
fn padded_k(
    c: &mut [f32],
    (a, b): (&[f32], &[f32]),
    bias: Option<&[f32]>,
    one: &MatmulDims,
    p: Padded,
) {
    assert_eq!(
        one.k,
        p.rows.len() * p.block,
        "matmul_padded: K is not the blocks"
    );
    let threads = p.threads(one);
    by_row_bands(c, one.ldc, one.m, 1, threads, |c, r0, m| {
        let band = MatmulDims { m, ..*one };
        if !one.accumulate {
            for r in 0..m {
                c[r * one.ldc..r * one.ldc + one.n].fill(0.0);
            }
        }
        for (i, &n) in p.rows.iter().enumerate().filter(|(_, n)| **n > 0) {
            let k0 = i * p.block;
            let b_at = if one.trans_b { k0 } else { k0 * one.ldb };
            let part = MatmulDims {
                k: n,
                accumulate: true,
                ..band
            };
            matmul_one(c, &a[k0 * one.lda + r0..], &b[b_at..], None, &part);
        }
        if let Some(bias) = bias {
            for r in 0..m {
                let row = &mut c[r * one.ldc..r * one.ldc + one.n];
                row.iter_mut().zip(bias).for_each(|(x, v)| *x += v);
            }
        }
    });
}

/// One product padded along M: bands of whole blocks with about the same number of real
/// rows each (the early steps hold the most). B is packed once for all the blocks'
/// products, which matrixmultiply would repack for each. C's padding rows get just the bias
/// (or 0).
fn padded_m(
    c: &mut [f32],
    (a, b): (&[f32], &[f32]),
    bias: Option<&[f32]>,
    one: &MatmulDims,
    p: Padded,
) {
    assert_eq!(
        one.m,
        p.rows.len() * p.block,
        "matmul_padded: M is not the blocks"
    );
    let (threads, real, block) = (p.threads(one), p.real(), p.block);
    let w = if one.trans_b {
        StepW::transposed(b, one.n, one.k, one.ldb, one.m)
    } else {
        StepW::new(b, one.k, one.n, one.ldb, one.m)
    };
    let mut starts = vec![0];
    let mut sum = 0;
    for (i, &n) in p.rows.iter().enumerate() {
        if sum * threads >= real * starts.len() && i > 0 && starts.len() < threads {
            starts.push(i * block);
        }
        sum += n;
    }
    by_bands(c, one.ldc, one.m, &starts, |c, r0, m| {
        for (j, &n) in p.rows[r0 / block..(r0 + m) / block].iter().enumerate() {
            let m0 = j * block;
            if n > 0 {
                let a = &a[(r0 + m0) * one.lda..];
                let c = &mut c[m0 * one.ldc..];
                gemm(c, one.ldc, a, one.lda, n, &w, bias, one.accumulate);
            }
            for r in m0 + n..m0 + block {
                let row = &mut c[r * one.ldc..r * one.ldc + one.n];
                match (bias, one.accumulate) {
                    (Some(bias), false) => row.copy_from_slice(bias),
                    (None, false) => row.fill(0.0),
                    (Some(bias), true) => row.iter_mut().zip(bias).for_each(|(x, v)| *x += v),
                    (None, true) => {}
                }
            }
        }
    });
}

/// One product of the batch, on the calling thread.
fn matmul_one(c: &mut [f32], a: &[f32], b: &[f32], bias: Option<&[f32]>, dims: &MatmulDims) {
    let (ea, eb, ec) = dims.extents_one();
    assert!(
        a.len() >= ea && b.len() >= eb && c.len() >= ec,
        "matmul: operands too short for {dims:?}"
    );
    let d = dims;
    let (rsa, csa) = if d.trans_a { (1, d.lda) } else { (d.lda, 1) };
    let (rsb, csb) = if d.trans_b { (1, d.ldb) } else { (d.ldb, 1) };
    let beta = if d.accumulate { 1.0 } else { 0.0 };
    // SAFETY: the extents checked above keep every index sgemm forms inside the slices, and
    // `c` (the only output) is an exclusive borrow distinct from `a` and `b`.
    unsafe {
        matrixmultiply::sgemm(
            d.m,
            d.k,
            d.n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            d.ldc as isize,
            1,
        );
    }
    if let Some(bias) = bias {
        assert!(bias.len() >= d.n, "matmul: bias must be (N)");
        for row in 0..d.m {
            let r = &mut c[row * d.ldc..row * d.ldc + d.n];
            for (x, b) in r.iter_mut().zip(bias) {
                *x += b;
            }
        }
    }
}
