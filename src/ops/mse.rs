//! Mean squared error. WGSL: shaders/mse.wgsl; CPU twin: cpu::mse.

use super::{Dispatch, check_distinct, check_len, to_u32};
use crate::cpu::cross_entropy::Reduction;
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

/// Mirrors `MseParams` in mse.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MseParams {
    /// Elements (N) of pred and target.
    pub n: u32,
    /// 0 mean, 1 sum ([`Reduction`] as u32).
    pub reduction: u32,
    /// Where the scalar loss goes in `loss`'s buffer (elements).
    pub loss_off: u32,
    /// Padding to 16 bytes.
    pub _pad: u32,
}

/// The kernels that take [`MseParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] =
    &[(shaders::MSE, "MseParams", size_of::<MseParams>())];

/// One workgroup of this many invocations does the whole loss (a power of two).
const WG: u32 = 256;

/// Loss of `pred (N)` against `target (N)` into `loss[0]`, and `dpred (N)`, in one dispatch.
pub fn mse(
    ctx: &GpuContext,
    dpred: Slice,
    loss: Slice,
    pred: Slice,
    target: Slice,
    reduction: Reduction,
) -> Result<Dispatch> {
    const OP: &str = "mse";
    let n = pred.len;
    check_len(OP, "target (N)", &target, n)?;
    check_len(OP, "dpred (N)", &dpred, n)?;
    check_len(OP, "loss", &loss, 1)?;
    check_distinct(OP, &dpred, &[&pred, &target])?;
    check_distinct(OP, &loss, &[&pred, &target, &dpred])?;
    if pred.offset != 0 || dpred.offset != 0 || target.offset != 0 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "pred, dpred and target must start at offset 0".into(),
        });
    }
    let params = MseParams {
        n: to_u32(OP, "N", n)?,
        reduction: reduction as u32,
        loss_off: to_u32(OP, "offset", loss.offset)?,
        _pad: 0,
    };
    let pipeline = ctx.pipeline(shaders::MSE, "mse", &[("WG", WG as f64)])?;
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[
            (1, pred.buffer()),
            (2, target.buffer()),
            (3, dpred.buffer()),
            (4, loss.buffer()),
        ],
        [1, 1, 1],
    ))
}
