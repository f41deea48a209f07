//! Global gradient norm and clip coefficient. WGSL: shaders/grad_norm.wgsl; CPU twin:
//! cpu::grad_norm.

use super::{Dispatch, WG, to_u32};
use crate::gpu::{GpuContext, GpuTensor, Recorder};
use crate::{Result, shaders};

/// Mirrors `GradNormParams` in grad_norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GradNormParams {
    pub n: u32,
    pub parts: u32,
    pub max_norm: f32,
    pub _pad: u32,
}

/// Partial sums in the first pass: enough to fill a GPU, few enough to add up serially.
const PARTS: usize = 1024;

/// The two dispatches and their buffers; after they run, `out` holds `[norm, coef]`.
pub struct GradNorm {
    partial: Dispatch,
    last: Dispatch,
    /// (2): the L2 norm of the gradients, then min(1, max_norm / (norm + 1e-6)).
    pub out: GpuTensor,
    _partials: GpuTensor,
}

impl GradNorm {
    /// Norm of `grads (P)`; `max_norm ≤ 0` turns clipping off (coef = 1).
    pub fn new(ctx: &GpuContext, grads: &GpuTensor, max_norm: f32) -> Result<Self> {
        const OP: &str = "grad_norm";
        let n = grads.len();
        let parts = PARTS.min(n.max(1));
        let partials = GpuTensor::empty(ctx, "grad_norm.partials", &[parts])?;
        let out = GpuTensor::zeros(ctx, "grad_norm.out", &[2])?;
        let params = GradNormParams {
            n: to_u32(OP, "P", n)?,
            parts: parts as u32,
            max_norm,
            _pad: 0,
        };
        let p1 = ctx.pipeline(
            shaders::GRAD_NORM,
            "grad_norm_partial",
            &[("WG", WG as f64)],
        )?;
        let p2 = ctx.pipeline(shaders::GRAD_NORM, "grad_norm_final", &[("WG", WG as f64)])?;
        let groups = [parts.div_ceil(WG as usize) as u32, 1, 1];
        let partial = Dispatch::new(
            ctx,
            "grad_norm_partial",
            p1,
            &params,
            &[(1, &grads.buffer), (2, &partials.buffer)],
            groups,
        );
        let last = Dispatch::new(
            ctx,
            "grad_norm_final",
            p2,
            &params,
            &[(2, &partials.buffer), (3, &out.buffer)],
            [1, 1, 1],
        );
        Ok(Self {
            partial,
            last,
            out,
            _partials: partials,
        })
    }

    pub fn record(&self, rec: &mut Recorder) {
        self.partial.record(rec);
        self.last.record(rec);
    }
}
