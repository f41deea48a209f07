//! The optimizer tail every training program shares: zero the gradients, optionally clip
//! their global norm, one optimizer step (Adam, AdamW or SGD) over the flat parameter buffer.

use crate::Result;
use crate::backend::Runtime;
use crate::cpu::adam::AdamConfig;
use crate::cpu::grad_norm::parts_for;
use crate::cpu::sgd::SgdConfig;
use crate::plan::{BufId, Buffers, Op, View};

/// Which update a step makes: torch.optim.Adam or AdamW ([`AdamConfig`]), or SGD.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// torch.optim.Adam or AdamW.
    Adam(AdamConfig),
    /// torch.optim.SGD.
    Sgd(SgdConfig),
}

impl From<AdamConfig> for Method {
    fn from(cfg: AdamConfig) -> Self {
        Method::Adam(cfg)
    }
}

impl From<SgdConfig> for Method {
    fn from(cfg: SgdConfig) -> Self {
        Method::Sgd(cfg)
    }
}

impl Method {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Method::Adam(c) => c.lr,
            Method::Sgd(c) => c.lr,
        }
    }

    /// What its kernel reads from `sched` at step `t` (1-based), padded to 3 values.
    fn schedule(&self, t: u64) -> [f32; 3] {
        match self {
            Method::Adam(c) => c.schedule(t),
            Method::Sgd(c) => {
                let [lr, first] = c.schedule(t);
                [lr, first, 0.0]
            }
        }
    }

    /// Whether it keeps a second state vector (Adam's v).
    fn second_moment(&self) -> bool {
        matches!(self, Method::Adam(_))
    }
}

/// Parameters, gradients and the optimizer's state in flat buffers of P elements.
#[derive(Clone, Debug)]
pub struct Optimizer {
    /// The flat parameters (P).
    pub params: BufId,
    /// Their gradients (P), accumulated by backward.
    pub grads: BufId,
    /// Adam's first moment, or SGD's momentum buffer.
    m: BufId,
    /// Adam's second moment.
    v: Option<BufId>,
    /// What the step's kernel reads each step (see [`Method`]).
    sched: BufId,
    partials: BufId,
    clip: BufId,
    /// P: the number of parameters.
    pub len: usize,
    /// The update and its hyper-parameters.
    pub method: Method,
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
    /// Declare the parameters of `len` elements, their gradients and the state of `method`.
    pub fn declare(
        bufs: &mut Buffers,
        len: usize,
        method: impl Into<Method>,
        max_norm: f32,
    ) -> Self {
        let params = bufs.f32("params", len);
        Self::declare_for(bufs, params, len, method, max_norm)
    }

    /// The gradients and the optimizer's state for a parameter buffer `params` of `len`
    /// elements declared already.
    pub fn declare_for(
        bufs: &mut Buffers,
        params: BufId,
        len: usize,
        method: impl Into<Method>,
        max_norm: f32,
    ) -> Self {
        let method = method.into();
        Self {
            params,
            grads: bufs.f32("grads", len),
            m: bufs.f32("optim.m", len),
            v: method.second_moment().then(|| bufs.f32("optim.v", len)),
            sched: bufs.f32("optim.sched", 3),
            partials: bufs.f32("grad_norm.partials", parts_for(len)),
            clip: bufs.f32("grad_norm.out", 2),
            len,
            method,
            max_norm,
            step: 0,
        }
    }

    /// The learning rate from the next step on (a schedule's value for this epoch).
    pub fn set_lr(&mut self, lr: f64) {
        match &mut self.method {
            Method::Adam(c) => c.lr = lr,
            Method::Sgd(c) => c.lr = lr,
        }
    }

    /// `grads = 0`: the first op of every backward pass (parameter gradients accumulate).
    pub fn zero_grads(&self) -> Op {
        Op::Fill {
            out: v(self.grads, self.len),
            value: 0.0,
        }
    }

    /// Clipping (when on) and the update: the last ops of a training step.
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
        let (params, grads) = (v(self.params, self.len), v(self.grads, self.len));
        ops.push(match (self.method, self.v) {
            (Method::Adam(cfg), Some(second)) => Op::Adam {
                params,
                m: v(self.m, self.len),
                v: v(second, self.len),
                grads,
                clip,
                sched: v(self.sched, 3),
                cfg,
            },
            (Method::Sgd(cfg), _) => Op::Sgd {
                params,
                buf: v(self.m, self.len),
                grads,
                clip,
                sched: v(self.sched, 2),
                cfg,
            },
            (Method::Adam(_), None) => unreachable!("Adam declares its second moment"),
        });
    }

    /// Count the next step and write its schedule; returns the step number (from 1).
    pub fn begin_step(&mut self, rt: &mut dyn Runtime) -> Result<u64> {
        self.step += 1;
        rt.write_f32(self.sched, 0, &self.method.schedule(self.step))?;
        Ok(self.step)
    }

    /// Set the parameters and restart the optimizer (zero state, step 0).
    pub fn set_params(&mut self, rt: &mut dyn Runtime, flat: &[f32]) -> Result<()> {
        rt.write_f32(self.params, 0, flat)?;
        let zeros = vec![0f32; self.len];
        rt.write_f32(self.m, 0, &zeros)?;
        if let Some(second) = self.v {
            rt.write_f32(second, 0, &zeros)?;
        }
        self.step = 0;
        Ok(())
    }

    /// The optimizer's state and its step count, what resuming a run restores: Adam's two
    /// moments, or SGD's momentum buffer and an empty second vector.
    pub fn state(&self, rt: &mut dyn Runtime) -> Result<(Vec<f32>, Vec<f32>, u64)> {
        let second = match self.v {
            Some(buf) => rt.read_f32(v(buf, self.len))?,
            None => Vec::new(),
        };
        Ok((rt.read_f32(v(self.m, self.len))?, second, self.step))
    }

    /// Restore what [`Optimizer::state`] returned.
    pub fn set_state(
        &mut self,
        rt: &mut dyn Runtime,
        m: &[f32],
        second: &[f32],
        step: u64,
    ) -> Result<()> {
        let want = if self.v.is_some() { self.len } else { 0 };
        if m.len() != self.len || second.len() != want {
            return Err(crate::Error::Shape {
                op: "optimizer state",
                expected: format!("{} and {want} values", self.len),
                got: format!("{} and {}", m.len(), second.len()),
            });
        }
        rt.write_f32(self.m, 0, m)?;
        if let Some(buf) = self.v {
            rt.write_f32(buf, 0, second)?;
        }
        self.step = step;
        Ok(())
    }

    /// Read the parameters back.
    pub fn params(&self, rt: &mut dyn Runtime) -> Result<Vec<f32>> {
        rt.read_f32(v(self.params, self.len))
    }
}
