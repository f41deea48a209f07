//! Bias gradients as column sums. GPU: shaders/bias_grad.wgsl.

/// `dbias (N) += Σ_i dy[i, ·]` for `dy (M, N)` with row stride `ld`.
pub fn bias_grad(dbias: &mut [f32], dy: &[f32], m: usize, n: usize, ld: usize) {
    assert!(dbias.len() >= n, "bias_grad: dbias must be (N)");
    assert!(
        m == 0 || dy.len() >= (m - 1) * ld + n,
        "bias_grad: dy too short for ({m}, {n})"
    );
    for (j, db) in dbias[..n].iter_mut().enumerate() {
        let sum: f64 = (0..m).map(|i| dy[i * ld + j] as f64).sum();
        *db += sum as f32;
    }
}
