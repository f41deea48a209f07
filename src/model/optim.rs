//! The optimizer tail every training program shares: zero the gradients, optionally clip
//! their global norm, one Adam step over the flat parameter buffer.

use crate::Result;
use crate::backend::Runtime;
use crate::cpu::adam::AdamConfig;
use crate::cpu::grad_norm::parts_for;
use crate::plan::{BufId, Buffers, Op, View};

/// Parameters, gradients and Adam's state in flat buffers of P elements.
#[derive(Clone, Debug)]
pub struct Optimizer {
    pub params: BufId,
    pub grads: BufId,
    m: BufId,
    v: BufId,
    /// Adam's `[step_size, bc2_sqrt]`, written before every step.
    sched: BufId,
    partials: BufId,
    clip: BufId,
    pub len: usize,
    pub adam: AdamConfig,
    /// Clip the global gradient norm to this (torch.nn.utils.clip_grad_norm_); 0 = off.
    pub max_norm: f32,
    step: u64,
}

fn v(buf: BufId, len: usize) -> View {
    View {
        buf,
        offset: 0,
        len,
    }
}

impl Optimizer {
    pub fn declare(bufs: &mut Buffers, len: usize, adam: AdamConfig, max_norm: f32) -> Self {
        let params = bufs.f32("params", len);
        Self::declare_for(bufs, params, len, adam, max_norm)
    }

    /// The gradients and Adam's state for a parameter buffer `params` of `len` elements
    /// declared already.
    pub fn declare_for(
        bufs: &mut Buffers,
        params: BufId,
        len: usize,
        adam: AdamConfig,
        max_norm: f32,
    ) -> Self {
        Self {
            params,
            grads: bufs.f32("grads", len),
            m: bufs.f32("adam.m", len),
            v: bufs.f32("adam.v", len),
            sched: bufs.f32("adam.sched", 2),
            partials: bufs.f32("grad_norm.partials", parts_for(len)),
            clip: bufs.f32("grad_norm.out", 2),
            len,
            adam,
            max_norm,
            step: 0,
        }
    }

    /// `grads = 0`: the first op of every backward pass (parameter gradients accumulate).
    pub fn zero_grads(&self) -> Op {
        Op::Fill {
            out: v(self.grads, self.len),
            value: 0.0,
        }
    }

    /// Clipping (when on) and the Adam update: the last ops of a training step.
    pub fn step_ops(&self, ops: &mut Vec<Op>) {
        let clip = (self.max_norm > 0.0).then(|| {
            let partials = v(self.partials, parts_for(self.len));
            ops.push(Op::GradNormPartial {
                partials,
                grads: v(self.grads, self.len),
            });
            ops.push(Op::GradNormFinal {
                out: v(self.clip, 2),
                partials,
                max_norm: self.max_norm,
            });
            v(self.clip, 2)
        });
        ops.push(Op::Adam {
            params: v(self.params, self.len),
            m: v(self.m, self.len),
            v: v(self.v, self.len),
            grads: v(self.grads, self.len),
            clip,
            sched: v(self.sched, 2),
            cfg: self.adam,
        });
    }

    /// Count the next step and write its Adam schedule; returns the step number (from 1).
    pub fn begin_step(&mut self, rt: &mut dyn Runtime) -> Result<u64> {
        self.step += 1;
        rt.write_f32(self.sched, 0, &self.adam.schedule(self.step))?;
        Ok(self.step)
    }

    /// Set the parameters and restart Adam (zero moments, step 0).
    pub fn set_params(&mut self, rt: &mut dyn Runtime, flat: &[f32]) -> Result<()> {
        rt.write_f32(self.params, 0, flat)?;
        let zeros = vec![0f32; self.len];
        rt.write_f32(self.m, 0, &zeros)?;
        rt.write_f32(self.v, 0, &zeros)?;
        self.step = 0;
        Ok(())
    }

    /// Adam's first and second moments and its step count: what resuming a run restores.
    pub fn state(&self, rt: &mut dyn Runtime) -> Result<(Vec<f32>, Vec<f32>, u64)> {
        Ok((
            rt.read_f32(v(self.m, self.len))?,
            rt.read_f32(v(self.v, self.len))?,
            self.step,
        ))
    }

    /// Restore what [`Optimizer::state`] returned.
    pub fn set_state(
        &mut self,
        rt: &mut dyn Runtime,
        m: &[f32],
        v: &[f32],
        step: u64,
    ) -> Result<()> {
        if m.len() != self.len || v.len() != self.len {
            return Err(crate::Error::Shape {
                op: "optimizer state",
                expected: format!("2 × {} moments", self.len),
                got: format!("{} and {}", m.len(), v.len()),
            });
        }
        rt.write_f32(self.m, 0, m)?;
        rt.write_f32(self.v, 0, v)?;
        self.step = step;
        Ok(())
    }

    pub fn params(&self, rt: &mut dyn Runtime) -> Result<Vec<f32>> {
        rt.read_f32(v(self.params, self.len))
    }
}
