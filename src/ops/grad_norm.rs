//! Global gradient norm and clip coefficient in two passes. WGSL: shaders/grad_norm.wgsl; CPU
//! twins: cpu::grad_norm::{grad_norm_partial, grad_norm_final}.

use super::{Dispatch, WG, check_distinct, check_len, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

/// Mirrors `GradNormParams` in grad_norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GradNormParams {
    /// Gradient elements (P), read by grad_norm_partial; 0 for grad_norm_final.
    pub n: u32,
    /// Partial sums (S): grad_norm_partial's invocations, what grad_norm_final adds.
    pub parts: u32,
    /// clip_grad_norm_'s max_norm, read by grad_norm_final; ≤ 0: coef 1, no clipping.
    pub max_norm: f32,
    /// Padding to 16 bytes (`_pad0` in the WGSL struct).
    pub _pad: u32,
}

/// The kernels that take [`GradNormParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[(
    shaders::GRAD_NORM,
    "GradNormParams",
    size_of::<GradNormParams>(),
)];

fn check(op: &'static str, s: &Slice) -> Result<()> {
    if s.offset != 0 {
        return Err(Error::InvalidArgument {
            op,
            message: format!("{} must start at offset 0", s.tensor.label),
        });
    }
    Ok(())
}

/// First pass: `partials[s] = Σ_{i ≡ s (mod S)} grads[i]²`, S = `partials.len`.
pub fn grad_norm_partial(ctx: &GpuContext, partials: Slice, grads: Slice) -> Result<Dispatch> {
    const OP: &str = "grad_norm_partial";
    check(OP, &partials)?;
    check(OP, &grads)?;
    check_distinct(OP, &partials, &[&grads])?;
    let params = GradNormParams {
        n: to_u32(OP, "P", grads.len)?,
        parts: to_u32(OP, "S", partials.len)?,
        max_norm: 0.0,
        _pad: 0,
    };
    let pipeline = ctx.pipeline(
        shaders::GRAD_NORM,
        "grad_norm_partial",
        &[("WG", WG as f64)],
    )?;
    let groups = [partials.len.div_ceil(WG as usize) as u32, 1, 1];
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(1, grads.buffer()), (2, partials.buffer())],
        groups,
    ))
}

/// Second pass: `out = [norm, min(1, max_norm / (norm + 1e-6))]` (coef 1 when max_norm ≤ 0).
pub fn grad_norm_final(
    ctx: &GpuContext,
    out: Slice,
    partials: Slice,
    max_norm: f32,
) -> Result<Dispatch> {
    const OP: &str = "grad_norm_final";
    check(OP, &out)?;
    check(OP, &partials)?;
    check_len(OP, "out [norm, coef]", &out, 2)?;
    check_distinct(OP, &out, &[&partials])?;
    let params = GradNormParams {
        n: 0,
        parts: to_u32(OP, "S", partials.len)?,
        max_norm,
        _pad: 0,
    };
    let pipeline = ctx.pipeline(shaders::GRAD_NORM, "grad_norm_final", &[("WG", WG as f64)])?;
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(2, partials.buffer()), (3, out.buffer())],
        [1, 1, 1],
    ))
}
