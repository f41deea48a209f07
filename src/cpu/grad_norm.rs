//! Global gradient norm and the clip coefficient. GPU: shaders/grad_norm.wgsl.

/// `sqrt(Σ g²)` over the flat gradient buffer, accumulated in f64.
pub fn grad_norm(grads: &[f32]) -> f32 {
    grads
        .iter()
        .map(|&g| (g as f64) * (g as f64))
        .sum::<f64>()
        .sqrt() as f32
}

/// torch.nn.utils.clip_grad_norm_'s factor: `min(1, max_norm / (norm + 1e-6))`; 1 when
/// `max_norm ≤ 0` (clipping off).
pub fn clip_coef(norm: f32, max_norm: f32) -> f32 {
    if max_norm > 0.0 {
        (max_norm / (norm + 1e-6)).min(1.0)
    } else {
        1.0
    }
}
