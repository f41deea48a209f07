//! Embedding lookup and its backward. GPU: shaders/embedding_fwd.wgsl, shaders/embedding_bwd.wgsl.

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

/// `dweight (V, E) += Σ_{n: ids[n] = v} dout[n]`.
///
/// Per token id the rows are summed in increasing n first, then added to `dweight`: the same
/// order as the GPU kernel, so the two agree to the bit.
pub fn embedding_bwd(dweight: &mut [f32], dout: &[f32], ids: &[u32], e: usize) {
    assert_eq!(
        dout.len(),
        ids.len() * e,
        "embedding_bwd: dout must be (N, E)"
    );
    let mut sums = vec![0f32; dweight.len()];
    for (row, &id) in dout.chunks_exact(e).zip(ids) {
        let id = id as usize;
        for (s, &g) in sums[id * e..(id + 1) * e].iter_mut().zip(row) {
            *s += g;
        }
    }
    for (w, s) in dweight.iter_mut().zip(&sums) {
        *w += s;
    }
}
