//! Embedding lookup and its backward. GPU: shaders/embedding_fwd.wgsl, shaders/embedding_bwd.wgsl.

use crate::{Error, Result};

/// `out (N, E) = weight (V, E)[ids (N)]`. Every id must be < V (the data layer checks this).
pub fn embedding_fwd(out: &mut [f32], ids: &[u32], weight: &[f32], e: usize) {
    let v = weight.len() / e;
    assert_eq!(
        out.len(),
        ids.len() * e,
        "embedding_fwd: out must be (N, E)"
    );
    for (row, &id) in out.chunks_exact_mut(e).zip(ids) {
        let id = id as usize;
        assert!(id < v, "embedding_fwd: id {id} outside a vocabulary of {v}");
        row.copy_from_slice(&weight[id * e..(id + 1) * e]);
    }
}

/// `dweight (V, E) += Σ_{n: ids[n] = v} dout[n]`, with the positions of each id from
/// [`TokenRows`] (`offsets (V + 1)`, `rows (N)`), the layout the GPU kernel reads.
///
/// Per token id the rows are summed in increasing n first, then added to `dweight`: the same
/// order as the GPU kernel, so the two agree to the bit.
pub fn embedding_bwd(dweight: &mut [f32], dout: &[f32], offsets: &[u32], rows: &[u32], e: usize) {
    assert_eq!(
        dweight.len() + e,
        offsets.len() * e,
        "embedding_bwd: dweight must be (V, E) with V + 1 offsets"
    );
    let mut sum = vec![0f32; e];
    for (v, w) in dweight.chunks_exact_mut(e).enumerate() {
        let own = &rows[offsets[v] as usize..offsets[v + 1] as usize];
        if own.is_empty() {
            continue;
        }
        sum.fill(0.0);
        for &n in own {
            let n = n as usize;
            for (s, &g) in sum.iter_mut().zip(&dout[n * e..(n + 1) * e]) {
                *s += g;
            }
        }
        for (x, s) in w.iter_mut().zip(&sum) {
            *x += s;
        }
    }
}

/// Token positions grouped by id (a counting sort): row v of the table owns
/// `rows[offsets[v] .. offsets[v + 1]]`, in increasing position. This is what makes
/// embedding_bwd deterministic without atomics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRows {
    /// Where each id's run starts in `rows`: id v owns `rows[offsets[v] .. offsets[v + 1]]`.
    pub offsets: Vec<u32>, // (V + 1)
    /// Token positions n grouped by id, increasing within each id.
    pub rows: Vec<u32>, // (N)
}

impl TokenRows {
    /// Group the positions of `ids` (N) by id over a vocabulary of `v`; fails on an id ≥ `v`.
    pub fn new(ids: &[u32], v: usize) -> Result<Self> {
        let mut offsets = vec![0u32; v + 1];
        for (n, &id) in ids.iter().enumerate() {
            if id as usize >= v {
                return Err(Error::InvalidArgument {
                    op: "embedding_bwd",
                    message: format!("token {n} has id {id}, outside a vocabulary of {v}"),
                });
            }
            offsets[id as usize + 1] += 1;
        }
        for i in 0..v {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0u32; ids.len()];
        for (n, &id) in ids.iter().enumerate() {
            rows[next[id as usize] as usize] = n as u32;
            next[id as usize] += 1;
        }
        Ok(Self { offsets, rows })
    }
}
