//! Runs plans on the GPU: each op becomes prebuilt dispatches, one per step of a cell run
//! (built the first time its program runs, then reused), and a `run` records all of them into one submission.

use std::collections::HashMap;
use std::sync::Arc;

use super::Runtime;
use super::Variant;
use crate::Result;
use crate::gpu::{Dispatch, GpuContext, GpuTensor, Recorder, Slice};
use crate::ops;
use crate::ops::cell::CellKernel;
use crate::ops::matmul::MatmulKernel;
use crate::plan::{BufId, Buffers, CellBwd, CellFwd, Dtype, Op, Program, View};

/// The plan's buffers as GPU tensors, and the dispatches of every program run so far.
pub struct GpuRuntime {
    ctx: Arc<GpuContext>,
    tensors: Vec<GpuTensor>,
    dtypes: Vec<Dtype>,
    compiled: HashMap<u64, Vec<Dispatch>>,
    last: usize,
}

impl GpuRuntime {
    /// Allocate every declared buffer (zero-filled); fails with the buffer's name if one is
    /// beyond the adapter's limits.
    pub fn new(ctx: Arc<GpuContext>, buffers: &Buffers) -> Result<Self> {
        // Every size first, so a model too big for the adapter allocates nothing.
        for d in &buffers.decls {
            GpuTensor::check_fits(&ctx, &d.name, d.len)?;
        }
        let tensors = buffers
            .decls
            .iter()
            .map(|d| GpuTensor::zeros(&ctx, &d.name, &[d.len]))
            .collect::<Result<_>>()?;
        let dtypes = buffers.decls.iter().map(|d| d.dtype).collect();
        Ok(Self {
            ctx,
            tensors,
            dtypes,
            compiled: HashMap::new(),
            last: 0,
        })
    }

    fn slice(&self, v: View) -> Slice<'_> {
        Slice {
            tensor: &self.tensors[v.buf.0],
            offset: v.offset,
            len: v.len,
        }
    }

    fn build(&self, op: &Op) -> Result<Vec<Dispatch>> {
        self.build_with(op, Variant::Auto)
    }

    /// `op`'s dispatches (one per step of a cell run), with a forced kernel variant for
    /// matmuls and cell steps.
    fn build_with(&self, op: &Op, variant: Variant) -> Result<Vec<Dispatch>> {
        let ctx = &self.ctx;
        let s = |v: View| self.slice(v);
        let (mm, cell) = match variant {
            Variant::Auto => (None, None),
            Variant::Scalar => (Some(MatmulKernel::Scalar), Some(CellKernel::Scalar)),
            Variant::Vec4 => (Some(MatmulKernel::Vec4), Some(CellKernel::Vec4)),
            Variant::Tiled => (Some(MatmulKernel::Tiled), None),
            Variant::Subgroup => (Some(MatmulKernel::Subgroup), Some(CellKernel::Subgroup)),
        };
        let fwd = |c: &CellFwd| match cell {
            Some(kernel) => ops::cell::cell_fwd_with(ctx, kernel, &c.map(s)),
            None => ops::cell::cell_fwd(ctx, &c.map(s)),
        };
        let bwd = |c: &CellBwd| match cell {
            Some(kernel) => ops::cell::cell_bwd_with(ctx, kernel, &c.map(s)),
            None => ops::cell::cell_bwd(ctx, &c.map(s)),
        };
        match op {
            Op::CellFwd(c) => (0..c.steps).map(|i| fwd(&c.step(i))).collect(),
            Op::CellBwd(c) => (0..c.steps).map(|i| bwd(&c.step(i))).collect(),
            op => Ok(vec![self.build_one(op, mm)?]),
        }
    }

    /// The one dispatch of an op that is not a cell run, by family as the CPU runtime's
    /// `exec` dispatches them.
    fn build_one(&self, op: &Op, mm: Option<MatmulKernel>) -> Result<Dispatch> {
        match op {
            Op::Fill { .. } | Op::Copy { .. } | Op::Dropout { .. } => self.build_memory(op),
            Op::Matmul { .. } | Op::BiasGrad { .. } => self.build_product(op, mm),
            Op::EmbeddingFwd { .. } | Op::EmbeddingBwd { .. } => self.build_embedding(op),
            Op::CrossEntropy { .. } | Op::Mse { .. } => self.build_loss(op),
            Op::GradNormPartial { .. }
            | Op::GradNormFinal { .. }
            | Op::Adam { .. }
            | Op::Sgd { .. } => self.build_optimizer(op),
            Op::CellFwd(_) | Op::CellBwd(_) => unreachable!("cell runs are built step by step"),
        }
    }

    fn build_memory(&self, op: &Op) -> Result<Dispatch> {
        let (ctx, s) = (&self.ctx, |v: View| self.slice(v));
        match op {
            Op::Fill { out, value } => ops::fill::fill(ctx, s(*out), *value),
            Op::Copy {
                out,
                inp,
                rows,
                cols,
                ldo,
                ldi,
            } => ops::copy::copy(ctx, s(*out), s(*inp), *rows, *cols, *ldo, *ldi),
            Op::Dropout {
                out,
                inp,
                rng,
                salt,
                p,
            } => ops::dropout::dropout(ctx, s(*out), s(*inp), s(*rng), *salt, *p),
            _ => unreachable!("a memory op"),
        }
    }

    fn build_product(&self, op: &Op, mm: Option<MatmulKernel>) -> Result<Dispatch> {
        let (ctx, s) = (&self.ctx, |v: View| self.slice(v));
        match op {
            Op::Matmul {
                c,
                a,
                b,
                bias,
                dims,
                ..
            } if mm.is_some() => {
                let kernel = mm.expect("checked");
                ops::matmul::matmul_with(ctx, kernel, s(*c), s(*a), s(*b), bias.map(s), dims)
            }
            // matmul_subgroup skips the padding; other kernels run the whole product, whose
            // padding rows add zeros (or land in rows nobody reads).
            Op::Matmul {
                c,
                a,
                b,
                bias,
                dims,
                padded: Some(steps),
            } => {
                let rows = ops::matmul::PaddedRows {
                    lens: s(steps.lens),
                    steps_b: steps.b,
                    reversed: steps.reversed,
                };
                ops::matmul::matmul_padded(ctx, s(*c), s(*a), s(*b), bias.map(s), dims, rows)
            }
            Op::Matmul {
                c,
                a,
                b,
                bias,
                dims,
                padded: None,
            } => ops::matmul::matmul(ctx, s(*c), s(*a), s(*b), bias.map(s), dims),
            // bias_grad sums the padding rows too: zeros.
            Op::BiasGrad {
                dbias,
                dy,
                m,
                n,
                ld,
                ..
            } => ops::bias_grad::bias_grad(ctx, s(*dbias), s(*dy), *m, *n, *ld),
            _ => unreachable!("a product"),
        }
    }

    fn build_embedding(&self, op: &Op) -> Result<Dispatch> {
        let (ctx, s) = (&self.ctx, |v: View| self.slice(v));
        match op {
            Op::EmbeddingFwd {
                out,
                ids,
                weight,
                e,
            } => ops::embedding::embedding_fwd(ctx, s(*out), s(*ids), s(*weight), *e),
            Op::EmbeddingBwd {
                dweight,
                dout,
                offsets,
                rows,
                e,
            } => {
                ops::embedding::embedding_bwd(ctx, s(*dweight), s(*dout), s(*offsets), s(*rows), *e)
            }
            _ => unreachable!("an embedding op"),
        }
    }

    fn build_loss(&self, op: &Op) -> Result<Dispatch> {
        let (ctx, s) = (&self.ctx, |v: View| self.slice(v));
        match op {
            Op::CrossEntropy {
                dlogits,
                loss,
                logits,
                targets,
                c,
                reduction,
            } => ops::cross_entropy::cross_entropy(
                ctx,
                s(*dlogits),
                s(*loss),
                s(*logits),
                s(*targets),
                *c,
                *reduction,
            ),
            Op::Mse {
                dpred,
                loss,
                pred,
                target,
                reduction,
            } => ops::mse::mse(ctx, s(*dpred), s(*loss), s(*pred), s(*target), *reduction),
            _ => unreachable!("a loss"),
        }
    }

    fn build_optimizer(&self, op: &Op) -> Result<Dispatch> {
        let (ctx, s) = (&self.ctx, |v: View| self.slice(v));
        match op {
            Op::GradNormPartial { partials, grads } => {
                ops::grad_norm::grad_norm_partial(ctx, s(*partials), s(*grads))
            }
            Op::GradNormFinal {
                out,
                partials,
                max_norm,
            } => ops::grad_norm::grad_norm_final(ctx, s(*out), s(*partials), *max_norm),
            Op::Adam {
                params,
                m,
                v,
                grads,
                clip,
                sched,
                cfg,
            } => ops::adam::adam(
                ctx,
                s(*params),
                s(*m),
                s(*v),
                s(*grads),
                clip.map(s),
                s(*sched),
                cfg,
            ),
            Op::Sgd {
                params,
                buf,
                grads,
                clip,
                sched,
                cfg,
            } => ops::sgd::sgd(
                ctx,
                (s(*params), s(*buf)),
                s(*grads),
                clip.map(s),
                s(*sched),
                cfg,
            ),
            _ => unreachable!("an optimizer op"),
        }
    }

    /// Build the dispatches of `program` if this runtime has not seen it yet.
    pub fn prepare(&mut self, program: &Program) -> Result<()> {
        if !self.compiled.contains_key(&program.id) {
            let mut dispatches = Vec::new();
            for op in &program.ops {
                dispatches.extend(self.build(op)?);
            }
            self.compiled.insert(program.id, dispatches);
        }
        Ok(())
    }

    /// Record `programs` (prepared) into `rec`.
    pub fn record(&self, rec: &mut Recorder, programs: &[&Program]) {
        for p in programs {
            for d in &self.compiled[&p.id] {
                d.record(rec);
            }
        }
    }
}

impl Runtime for GpuRuntime {
    fn describe(&self) -> String {
        self.ctx.adapter.to_string()
    }

    fn time_op(&mut self, op: &Op, variant: Variant, runs: usize) -> Result<Vec<f64>> {
        let dispatches = self.build_with(op, variant)?;
        // Warm-up: the first run builds the pipeline (LLVM on lavapipe) and touches the buffers.
        crate::gpu::time_dispatches(&self.ctx, &dispatches, 2)?;
        crate::gpu::time_dispatches(&self.ctx, &dispatches, runs)
    }

    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()> {
        self.tensors[buf.0].write_at(&self.ctx, offset, data)
    }

    fn write_u32(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()> {
        self.tensors[buf.0].write_at(&self.ctx, offset, data)
    }

    fn write_i32(&mut self, buf: BufId, offset: usize, data: &[i32]) -> Result<()> {
        self.tensors[buf.0].write_at(&self.ctx, offset, data)
    }

    fn read_f32(&mut self, view: View) -> Result<Vec<f32>> {
        self.tensors[view.buf.0].read_range(&self.ctx, view.offset, view.len)
    }

    fn run(&mut self, programs: &[&Program]) -> Result<()> {
        for p in programs {
            self.prepare(p)?;
        }
        let ctx = self.ctx.clone();
        let mut rec = Recorder::new(&ctx, "gpu-rnn program");
        self.record(&mut rec, programs);
        self.last = rec.dispatches();
        rec.submit();
        Ok(())
    }

    fn poison(&mut self) -> Result<()> {
        for (t, d) in self.tensors.iter().zip(&self.dtypes) {
            if *d == Dtype::F32 {
                t.write(&self.ctx, &vec![f32::NAN; t.len()])?;
            }
        }
        Ok(())
    }

    fn last_dispatches(&self) -> usize {
        self.last
    }
}
