//! Bias gradients as column sums. GPU: shaders/bias_grad.wgsl.

/// `dbias (N) += Σ_i dy[i, ·]` for `dy (M, N)` with row stride `ld`.
pub fn bias_grad(dbias: &mut [f32], dy: &[f32], m: usize, n: usize, ld: usize) {
    assert!(
        m == 0 || dy.len() >= (m - 1) * ld + n,
        "bias_grad: dy too short for ({m}, {n})"
    );
    bias_grad_padded(dbias, dy, n, ld, m, &[m]);
}

/// [`bias_grad`] over `rows.len()` blocks of `block` rows of which block i has `rows[i]` real
/// rows first and zeros after them, which are skipped.
pub fn bias_grad_padded(
    dbias: &mut [f32],
    dy: &[f32],
    n: usize,
    ld: usize,
    block: usize,
    rows: &[usize],
) {
    assert!(dbias.len() >= n, "bias_grad: dbias must be (N)");
    let mut sum = vec![0f64; n];
    for (i, &r) in rows.iter().enumerate() {
        for row in i * block..i * block + r {
            for (s, &x) in sum.iter_mut().zip(&dy[row * ld..row * ld + n]) {
                *s += x as f64;
            }
        }
    }
    for (db, s) in dbias[..n].iter_mut().zip(sum) {
        *db += s as f32;
    }
}
