//! Adam over the flat parameter buffer. WGSL: shaders/adam.wgsl; CPU twin: cpu::adam.

use super::{Dispatch, WG, check_optimizer, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Result, shaders};

pub use crate::cpu::adam::AdamConfig;

/// Mirrors `AdamParams` in adam.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamParams {
    /// Parameters (P): one invocation each.
    pub n: u32,
    /// β1, the decay of the first moment `m`.
    pub beta1: f32,
    /// β2, the decay of the second moment `v`.
    pub beta2: f32,
    /// Added to sqrt(v) / bc2_sqrt, outside the sqrt.
    pub eps: f32,
    /// Adam's L2 term, added to the gradient; 0 for AdamW, whose decay is `sched[2]`.
    pub weight_decay: f32,
    /// 1: multiply grads by `clip[1]` (written by grad_norm_final).
    pub use_clip: u32,
    /// Padding to 32 bytes (`_pad0`, `_pad1` in the WGSL struct).
    pub _pad: [u32; 2],
}

/// The kernels that take [`AdamParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] =
    &[(shaders::ADAM, "AdamParams", size_of::<AdamParams>())];

/// One Adam update of every parameter in one dispatch. `params`, `grads`, `m`, `v` are (P);
/// `sched` holds `[step_size, bc2_sqrt, decay]` = `cfg.schedule(t)`, written before each step. With
/// `clip`, gradients are first scaled by `clip[1]` (what grad_norm_final writes).
#[allow(clippy::too_many_arguments)]
pub fn adam(
    ctx: &GpuContext,
    params: Slice,
    m: Slice,
    v: Slice,
    grads: Slice,
    clip: Option<Slice>,
    sched: Slice,
    cfg: &AdamConfig,
) -> Result<Dispatch> {
    const OP: &str = "adam";
    let n = params.len;
    let written = [(&params, "params"), (&m, "m"), (&v, "v")];
    check_optimizer(OP, &written, &grads, clip.as_ref(), (&sched, 3))?;
    let uniform = AdamParams {
        n: to_u32(OP, "P", n)?,
        beta1: cfg.beta1 as f32,
        beta2: cfg.beta2 as f32,
        eps: cfg.eps as f32,
        weight_decay: if cfg.decoupled {
            0.0
        } else {
            cfg.weight_decay as f32
        },
        use_clip: clip.is_some() as u32,
        _pad: [0; 2],
    };
    let pipeline = ctx.pipeline(shaders::ADAM, "adam", &[("WG", WG as f64)])?;
    // Without clipping, binding 5 still needs a buffer; grads is read-only already.
    let clip_buf = clip.map_or(grads.buffer(), |c| c.buffer());
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &uniform,
        &[
            (1, params.buffer()),
            (2, grads.buffer()),
            (3, m.buffer()),
            (4, v.buffer()),
            (5, clip_buf),
            (6, sched.buffer()),
        ],
        grid_1d(ctx, n, WG),
    ))
}
