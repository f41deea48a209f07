//! Fill a view with one value. WGSL: shaders/fill.wgsl; CPU twin: cpu::fill.

use super::{Dispatch, WG, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Result, shaders};

/// Mirrors `FillParams` in fill.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FillParams {
    /// Elements to write (N).
    pub n: u32,
    /// Offset of the view in `out`'s buffer (elements).
    pub off: u32,
    /// The value written.
    pub value: f32,
    /// Padding to 16 bytes (`_pad0` in the WGSL struct).
    pub _pad: u32,
}

/// The kernels that take [`FillParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] =
    &[(shaders::FILL, "FillParams", size_of::<FillParams>())];

/// `out[i] = value` over the whole view.
pub fn fill(ctx: &GpuContext, out: Slice, value: f32) -> Result<Dispatch> {
    const OP: &str = "fill";
    let params = FillParams {
        n: to_u32(OP, "N", out.len)?,
        off: to_u32(OP, "offset", out.offset)?,
        value,
        _pad: 0,
    };
    let pipeline = ctx.pipeline(shaders::FILL, "fill", &[("WG", WG as f64)])?;
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(1, out.buffer())],
        grid_1d(ctx, out.len, WG),
    ))
}
