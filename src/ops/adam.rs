//! Adam over the flat parameter buffer. WGSL: shaders/adam.wgsl; CPU twin: cpu::adam.

use super::{Dispatch, WG, check_distinct, grid_1d, to_u32};
use crate::gpu::{GpuContext, GpuTensor, Recorder};
use crate::{Error, Result, shaders};

pub use crate::cpu::adam::AdamConfig;

/// Mirrors `AdamParams` in adam.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamParams {
    pub n: u32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub step_size: f32,
    pub bc2_sqrt: f32,
    pub use_clip: u32,
}

/// One Adam update of every parameter in one dispatch. The step number lives in the uniform:
/// call [`Adam::set_step`] before each submit (one optimizer step per submission).
pub struct Adam {
    dispatch: Dispatch,
    params: AdamParams,
    cfg: AdamConfig,
}

impl Adam {
    /// `params`, `grads`, `m`, `v` are (P). With `clip`, gradients are scaled by `clip[1]`
    /// (the coefficient grad_norm_final writes) before the update.
    pub fn new(
        ctx: &GpuContext,
        params: &GpuTensor,
        grads: &GpuTensor,
        m: &GpuTensor,
        v: &GpuTensor,
        clip: Option<&GpuTensor>,
        cfg: AdamConfig,
    ) -> Result<Self> {
        const OP: &str = "adam";
        let n = params.len();
        for t in [grads, m, v] {
            if t.len() != n {
                return Err(Error::Shape {
                    op: OP,
                    expected: format!("{n} elements like {}", params.label),
                    got: format!("{} in {}", t.len(), t.label),
                });
            }
        }
        let (p, g, mm, vv) = (params.all(), grads.all(), m.all(), v.all());
        check_distinct(OP, &p, &[&g, &mm, &vv])?;
        check_distinct(OP, &mm, &[&g, &vv])?;
        check_distinct(OP, &vv, &[&g])?;
        let (step_size, bc2_sqrt) = cfg.bias_correction(1);
        let uniform = AdamParams {
            n: to_u32(OP, "P", n)?,
            beta1: cfg.beta1 as f32,
            beta2: cfg.beta2 as f32,
            eps: cfg.eps as f32,
            weight_decay: cfg.weight_decay as f32,
            step_size,
            bc2_sqrt,
            use_clip: clip.is_some() as u32,
        };
        let pipeline = ctx.pipeline(shaders::ADAM, "adam", &[("WG", WG as f64)])?;
        // Without clipping, binding 5 still needs a buffer; grads is read-only already.
        let clip_buf = clip.map_or(&grads.buffer, |c| &c.buffer);
        let dispatch = Dispatch::new(
            ctx,
            OP,
            pipeline,
            &uniform,
            &[
                (1, &params.buffer),
                (2, &grads.buffer),
                (3, &m.buffer),
                (4, &v.buffer),
                (5, clip_buf),
            ],
            grid_1d(ctx, n, WG),
        );
        Ok(Self {
            dispatch,
            params: uniform,
            cfg,
        })
    }

    /// Set the 1-based step number used for bias correction by the next submit.
    pub fn set_step(&mut self, ctx: &GpuContext, t: u64) {
        let (step_size, bc2_sqrt) = self.cfg.bias_correction(t);
        self.params.step_size = step_size;
        self.params.bc2_sqrt = bc2_sqrt;
        self.dispatch.write_params(ctx, &self.params);
    }

    pub fn record(&self, rec: &mut Recorder) {
        self.dispatch.record(rec);
    }
}
