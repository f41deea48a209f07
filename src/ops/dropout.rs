//! Inverted dropout with a counter-based mask. WGSL: shaders/dropout.wgsl; CPU twin:
//! cpu::dropout.

use super::{Dispatch, WG, check_distinct, check_len, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

/// Mirrors `DropoutParams` in dropout.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DropoutParams {
    /// Elements (N): one invocation each.
    pub n: u32,
    /// p·2³², rounded: an element is kept when its hash is at least this.
    pub threshold: u32,
    /// The op's salt (which layer), hashed with the seed, the step and the index.
    pub salt: u32,
    /// Padding (`_pad0` in the WGSL struct).
    pub _pad0: u32,
    /// 1 / (1 − p), applied to the elements kept.
    pub scale: f32,
    /// Padding to 32 bytes (`_pad1` .. `_pad3` in the WGSL struct).
    pub _pad1: [u32; 3],
}

/// The kernels that take [`DropoutParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[(
    shaders::DROPOUT,
    "DropoutParams",
    size_of::<DropoutParams>(),
)];

/// `out = inp · mask / (1 − p)` over `inp.len` elements; `rng` holds `[seed, step]` (u32).
pub fn dropout(
    ctx: &GpuContext,
    out: Slice,
    inp: Slice,
    rng: Slice,
    salt: u32,
    p: f32,
) -> Result<Dispatch> {
    const OP: &str = "dropout";
    if !(0.0..1.0).contains(&p) {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!("p must be in [0, 1), got {p}"),
        });
    }
    check_len(OP, "out", &out, inp.len)?;
    check_len(OP, "rng [seed, step]", &rng, 2)?;
    check_distinct(OP, &out, &[&inp, &rng])?;
    if out.offset != 0 || inp.offset != 0 || rng.offset != 0 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "views must start at offset 0".into(),
        });
    }
    let params = DropoutParams {
        n: to_u32(OP, "N", inp.len)?,
        threshold: crate::cpu::dropout::threshold(p),
        salt,
        _pad0: 0,
        scale: 1.0 / (1.0 - p),
        _pad1: [0; 3],
    };
    let pipeline = ctx.pipeline(shaders::DROPOUT, "dropout", &[("WG", WG as f64)])?;
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(1, rng.buffer()), (2, inp.buffer()), (3, out.buffer())],
        grid_1d(ctx, inp.len, WG),
    ))
}
