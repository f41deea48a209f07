//! Strided block copy. GPU: shaders/copy.wgsl.

/// `out[r·ldo + c] = inp[r·ldi + c]` for r < rows, c < cols (slices start at the blocks).
pub fn copy(out: &mut [f32], inp: &[f32], rows: usize, cols: usize, ldo: usize, ldi: usize) {
    for r in 0..rows {
        out[r * ldo..r * ldo + cols].copy_from_slice(&inp[r * ldi..r * ldi + cols]);
    }
}
