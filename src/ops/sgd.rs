//! SGD over the flat parameter buffer. WGSL: shaders/sgd.wgsl; CPU twin: cpu::sgd.

use super::{Dispatch, WG, check_optimizer, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Result, shaders};

pub use crate::cpu::sgd::SgdConfig;

/// Mirrors `SgdParams` in sgd.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdParams {
    /// Parameters (P): one invocation each.
    pub n: u32,
    /// Momentum factor; 0: no momentum buffer.
    pub momentum: f32,
    /// Dampening of the momentum: buf = momentum·buf + (1 − dampening)·g.
    pub dampening: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// 1: Nesterov momentum.
    pub nesterov: u32,
    /// 1: multiply grads by `clip[1]` (written by grad_norm_final).
    pub use_clip: u32,
    /// Padding to 32 bytes (`_pad0`, `_pad1` in the WGSL struct).
    pub _pad: [u32; 2],
}

/// The kernels that take [`SgdParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] =
    &[(shaders::SGD, "SgdParams", size_of::<SgdParams>())];

/// One SGD update of every parameter in one dispatch. `params`, `grads` and `buf` (the
/// momentum buffer) are (P); `sched` holds `[lr, first]` = `cfg.schedule(t)`, written before
/// each step. With `clip`, gradients are first scaled by `clip[1]`.
pub fn sgd(
    ctx: &GpuContext,
    (params, buf): (Slice, Slice),
    grads: Slice,
    clip: Option<Slice>,
    sched: Slice,
    cfg: &SgdConfig,
) -> Result<Dispatch> {
    const OP: &str = "sgd";
    let n = params.len;
    let written = [(&params, "params"), (&buf, "buf")];
    check_optimizer(OP, &written, &grads, clip.as_ref(), (&sched, 2))?;
    let uniform = SgdParams {
        n: to_u32(OP, "P", n)?,
        momentum: cfg.momentum as f32,
        dampening: cfg.dampening as f32,
        weight_decay: cfg.weight_decay as f32,
        nesterov: cfg.nesterov as u32,
        use_clip: clip.is_some() as u32,
        _pad: [0; 2],
    };
    let pipeline = ctx.pipeline(shaders::SGD, "sgd", &[("WG", WG as f64)])?;
    // Without clipping, binding 4 still needs a buffer; grads is read-only already.
    let clip_buf = clip.map_or(grads.buffer(), |c| c.buffer());
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &uniform,
        &[
            (1, params.buffer()),
            (2, grads.buffer()),
            (3, buf.buffer()),
            (4, clip_buf),
            (5, sched.buffer()),
        ],
        grid_1d(ctx, n, WG),
    ))
}
