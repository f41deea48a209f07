//! Strided block copy. WGSL: shaders/copy.wgsl; CPU twin: cpu::copy.

use super::{Dispatch, WG, check_distinct, check_len, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

/// Mirrors `CopyParams` in copy.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CopyParams {
    /// Rows of the block.
    pub rows: u32,
    /// Columns of the block.
    pub cols: u32,
    /// Row stride of `out`.
    pub ldo: u32,
    /// Row stride of `inp`.
    pub ldi: u32,
    /// Offset of the block in `out`'s buffer (elements).
    pub o_off: u32,
    /// Offset of the block in `inp`'s buffer (elements).
    pub i_off: u32,
    /// Padding to 32 bytes (`_pad0`, `_pad1` in the WGSL struct).
    pub _pad: [u32; 2],
}

/// The kernels that take [`CopyParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] =
    &[(shaders::COPY, "CopyParams", size_of::<CopyParams>())];

/// `out (rows, cols; stride ldo) = inp (rows, cols; stride ldi)`.
pub fn copy(
    ctx: &GpuContext,
    out: Slice,
    inp: Slice,
    rows: usize,
    cols: usize,
    ldo: usize,
    ldi: usize,
) -> Result<Dispatch> {
    const OP: &str = "copy";
    if rows == 0 || cols == 0 || ldo < cols || ldi < cols {
        return Err(Error::Shape {
            op: OP,
            expected: "rows, cols ≥ 1 and strides ≥ cols".into(),
            got: format!("rows {rows}, cols {cols}, ldo {ldo}, ldi {ldi}"),
        });
    }
    check_len(OP, "out", &out, (rows - 1) * ldo + cols)?;
    check_len(OP, "inp", &inp, (rows - 1) * ldi + cols)?;
    check_distinct(OP, &out, &[&inp])?;
    let params = CopyParams {
        rows: to_u32(OP, "rows", rows)?,
        cols: to_u32(OP, "cols", cols)?,
        ldo: to_u32(OP, "ldo", ldo)?,
        ldi: to_u32(OP, "ldi", ldi)?,
        o_off: to_u32(OP, "offset", out.offset)?,
        i_off: to_u32(OP, "offset", inp.offset)?,
        _pad: [0; 2],
    };
    let pipeline = ctx.pipeline(shaders::COPY, "copy", &[("WG", WG as f64)])?;
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(1, inp.buffer()), (2, out.buffer())],
        grid_1d(ctx, rows * cols, WG),
    ))
}
