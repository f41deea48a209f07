//! Inverted dropout with a counter-based mask. GPU: shaders/dropout.wgsl.

/// Chris Wellons' lowbias32 integer hash.
pub fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// `p` as the u32 threshold the mask compares against: keep when hash ≥ p·2³².
pub fn threshold(p: f32) -> u32 {
    ((p as f64) * 4_294_967_296.0).round().min(u32::MAX as f64) as u32
}

/// Whether element `i` survives for (seed, step, salt).
pub fn keep(seed: u32, step: u32, salt: u32, i: u32, threshold: u32) -> bool {
    lowbias32(lowbias32(lowbias32(lowbias32(seed) ^ step) ^ salt) ^ i) >= threshold
}

/// `out[i] = inp[i] · keep(i) / (1 − p)`; `rng` is `[seed, step]`. Applied to a gradient with
/// the same arguments it is the backward pass.
pub fn dropout(out: &mut [f32], inp: &[f32], rng: [u32; 2], salt: u32, p: f32) {
    let (th, scale) = (threshold(p), 1.0 / (1.0 - p));
    for (i, (o, &x)) in out.iter_mut().zip(inp).enumerate() {
        *o = if keep(rng[0], rng[1], salt, i as u32, th) {
            x * scale
        } else {
            0.0
        };
    }
}
