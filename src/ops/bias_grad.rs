//! Bias gradients as column sums. WGSL: shaders/bias_grad.wgsl; CPU twin: cpu::bias_grad.

use super::{Dispatch, WG, check_distinct, check_len, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

/// Mirrors `BiasGradParams` in bias_grad.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BiasGradParams {
    /// Rows of dy (M), summed by each invocation in order.
    pub m: u32,
    /// Columns (N): one invocation each.
    pub n: u32,
    /// Row stride of dy.
    pub ld: u32,
    /// Offset of dy in its buffer (elements).
    pub dy_off: u32,
    /// Offset of dbias in its buffer (elements).
    pub db_off: u32,
    /// Padding to 32 bytes (`_pad0` .. `_pad2` in the WGSL struct).
    pub _pad: [u32; 3],
}

/// The kernels that take [`BiasGradParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[(
    shaders::BIAS_GRAD,
    "BiasGradParams",
    size_of::<BiasGradParams>(),
)];

/// `dbias (N) += Σ_i dy[i, ·]` for `dy (M, N)` with row stride `ld`.
pub fn bias_grad(
    ctx: &GpuContext,
    dbias: Slice,
    dy: Slice,
    m: usize,
    n: usize,
    ld: usize,
) -> Result<Dispatch> {
    const OP: &str = "bias_grad";
    if m == 0 || n == 0 || ld < n {
        return Err(Error::Shape {
            op: OP,
            expected: "M, N ≥ 1 and ld ≥ N".into(),
            got: format!("M = {m}, N = {n}, ld = {ld}"),
        });
    }
    check_len(OP, "dy (M, N)", &dy, (m - 1) * ld + n)?;
    check_len(OP, "dbias (N)", &dbias, n)?;
    check_distinct(OP, &dbias, &[&dy])?;
    let params = BiasGradParams {
        m: to_u32(OP, "M", m)?,
        n: to_u32(OP, "N", n)?,
        ld: to_u32(OP, "ld", ld)?,
        dy_off: to_u32(OP, "offset", dy.offset)?,
        db_off: to_u32(OP, "offset", dbias.offset)?,
        _pad: [0; 3],
    };
    let pipeline = ctx.pipeline(shaders::BIAS_GRAD, "bias_grad", &[("WG", WG as f64)])?;
    let groups = [to_u32(OP, "grid", n.div_ceil(WG as usize))?, 1, 1];
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(1, dy.buffer()), (2, dbias.buffer())],
        groups,
    ))
}
