//! Fill a buffer with one value (zeroing gradients). GPU: shaders/fill.wgsl.

/// `out[i] = value` for every i.
pub fn fill(out: &mut [f32], value: f32) {
    out.fill(value);
}
