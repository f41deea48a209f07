//! Fused softmax + cross-entropy. WGSL: shaders/cross_entropy.wgsl; CPU twin:
//! cpu::cross_entropy.

use super::{Dispatch, check_distinct, check_len, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

pub use crate::cpu::cross_entropy::Reduction;

/// Mirrors `CrossEntropyParams` in cross_entropy.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CrossEntropyParams {
    /// Rows (N).
    pub n: u32,
    /// Classes (C).
    pub c: u32,
    /// 0 mean, 1 sum ([`Reduction`] as u32).
    pub reduction: u32,
    /// Where the scalar loss goes in `loss`'s buffer (elements).
    pub loss_off: u32,
}

/// The kernels that take [`CrossEntropyParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[(
    shaders::CROSS_ENTROPY,
    "CrossEntropyParams",
    size_of::<CrossEntropyParams>(),
)];

/// One workgroup of this many invocations does the whole loss (a power of two).
const WG: u32 = 256;

/// Loss of `logits (N, C)` against `targets (N)` (i32, −1 = ignore) into `loss[0]`, and
/// `dlogits (N, C)`, in one dispatch.
pub fn cross_entropy(
    ctx: &GpuContext,
    dlogits: Slice,
    loss: Slice,
    logits: Slice,
    targets: Slice,
    c: usize,
    reduction: Reduction,
) -> Result<Dispatch> {
    const OP: &str = "cross_entropy";
    let n = targets.len;
    if c == 0 {
        return Err(Error::Shape {
            op: OP,
            expected: "C ≥ 1".into(),
            got: "0".into(),
        });
    }
    check_len(OP, "logits (N, C)", &logits, n * c)?;
    check_len(OP, "dlogits (N, C)", &dlogits, n * c)?;
    check_len(OP, "loss", &loss, 1)?;
    check_distinct(OP, &dlogits, &[&logits, &targets])?;
    check_distinct(OP, &loss, &[&logits, &targets, &dlogits])?;
    if logits.offset != 0 || dlogits.offset != 0 || targets.offset != 0 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "logits, dlogits and targets must start at offset 0".into(),
        });
    }
    let params = CrossEntropyParams {
        n: to_u32(OP, "N", n)?,
        c: to_u32(OP, "C", c)?,
        reduction: reduction as u32,
        loss_off: to_u32(OP, "offset", loss.offset)?,
    };
    let pipeline = ctx.pipeline(
        shaders::CROSS_ENTROPY,
        "cross_entropy",
        &[("WG", WG as f64)],
    )?;
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[
            (1, logits.buffer()),
            (2, targets.buffer()),
            (3, dlogits.buffer()),
            (4, loss.buffer()),
        ],
        [1, 1, 1],
    ))
}
