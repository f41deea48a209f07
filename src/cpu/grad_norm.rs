//! Global gradient norm and the clip coefficient. GPU: shaders/grad_norm.wgsl.

/// How many partial sums the first pass makes for `n` gradients: enough to fill a GPU, few
/// enough for one invocation to add up.
pub fn parts_for(n: usize) -> usize {
    n.clamp(1, 1024)
}

/// `sqrt(Σ g²)` over the flat gradient buffer, accumulated in f64: the reference for the two
/// passes below together.
pub fn grad_norm(grads: &[f32]) -> f32 {
    grads
        .iter()
        .map(|&g| (g as f64) * (g as f64))
        .sum::<f64>()
        .sqrt() as f32
}

/// First pass: `partials[s] = Σ_{i ≡ s (mod S)} g_i²` with S = `partials.len()`.
pub fn grad_norm_partial(partials: &mut [f32], grads: &[f32]) {
    let parts = partials.len();
    for (s, out) in partials.iter_mut().enumerate() {
        *out = grads
            .iter()
            .skip(s)
            .step_by(parts)
            .map(|&g| (g as f64) * (g as f64))
            .sum::<f64>() as f32;
    }
}

/// Second pass: `out = [norm, clip_coef(norm, max_norm)]` from the partial sums.
pub fn grad_norm_final(out: &mut [f32], partials: &[f32], max_norm: f32) {
    let norm = partials.iter().map(|&x| x as f64).sum::<f64>().sqrt() as f32;
    out[0] = norm;
    out[1] = clip_coef(norm, max_norm);
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
