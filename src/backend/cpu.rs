//! Runs plans on the CPU by calling each op's CPU twin; a layer's run of cell steps is one call
//! of its twin (see cpu::cell).

use super::Runtime;
use crate::backend::Variant;
use crate::cpu;
use crate::plan::{BufId, Buffers, CellBwd, CellFwd, CellKind, Dtype, Op, Program, View};
use crate::{Error, Result};

enum HostBuf {
    F32(Vec<f32>),
    U32(Vec<u32>),
    I32(Vec<i32>),
}

/// The plan's buffers in host memory (zero-initialised).
pub struct CpuRuntime {
    bufs: Vec<HostBuf>,
    names: Vec<String>,
    last: usize,
}

impl CpuRuntime {
    /// Host storage for every buffer the plan declares, zero-filled, in its dtype and length.
    pub fn new(buffers: &Buffers) -> Self {
        let bufs = buffers
            .decls
            .iter()
            .map(|d| match d.dtype {
                Dtype::F32 => HostBuf::F32(vec![0.0; d.len]),
                Dtype::U32 => HostBuf::U32(vec![0; d.len]),
                Dtype::I32 => HostBuf::I32(vec![0; d.len]),
            })
            .collect();
        Self {
            bufs,
            names: buffers.decls.iter().map(|d| d.name.clone()).collect(),
            last: 0,
        }
    }

    fn f(&self, v: View) -> &[f32] {
        match &self.bufs[v.buf.0] {
            HostBuf::F32(x) => &x[v.offset..v.offset + v.len],
            _ => panic!("buffer {} is not f32", self.names[v.buf.0]),
        }
    }

    fn u(&self, v: View) -> &[u32] {
        match &self.bufs[v.buf.0] {
            HostBuf::U32(x) => &x[v.offset..v.offset + v.len],
            _ => panic!("buffer {} is not u32", self.names[v.buf.0]),
        }
    }

    fn i(&self, v: View) -> &[i32] {
        match &self.bufs[v.buf.0] {
            HostBuf::I32(x) => &x[v.offset..v.offset + v.len],
            _ => panic!("buffer {} is not i32", self.names[v.buf.0]),
        }
    }

    /// Take an output buffer out (so inputs can be borrowed alongside); put it back with
    /// [`CpuRuntime::put`]. An op never reads a buffer it writes through another view.
    fn take(&mut self, b: BufId) -> Vec<f32> {
        match &mut self.bufs[b.0] {
            HostBuf::F32(x) => std::mem::take(x),
            _ => panic!("buffer {} is not f32", self.names[b.0]),
        }
    }

    fn put(&mut self, b: BufId, x: Vec<f32>) {
        self.bufs[b.0] = HostBuf::F32(x);
    }

    fn exec(&mut self, op: &Op) {
        match op {
            Op::Fill { .. } | Op::Copy { .. } | Op::Dropout { .. } => self.exec_memory(op),
            Op::Matmul { .. } | Op::BiasGrad { .. } => self.exec_product(op),
            Op::EmbeddingFwd { .. } | Op::EmbeddingBwd { .. } => self.exec_embedding(op),
            Op::CrossEntropy { .. } | Op::Mse { .. } => self.exec_loss(op),
            Op::GradNormPartial { .. }
            | Op::GradNormFinal { .. }
            | Op::Adam { .. }
            | Op::Sgd { .. } => self.exec_optimizer(op),
            Op::CellFwd(c) => self.cell_fwd(c),
            Op::CellBwd(c) => self.cell_bwd(c),
        }
    }

    /// Fill, copy and dropout: element-wise ops.
    fn exec_memory(&mut self, op: &Op) {
        let range = |v: View| v.offset..v.offset + v.len;
        match op {
            Op::Fill { out, value } => {
                let mut o = self.take(out.buf);
                cpu::fill::fill(&mut o[range(*out)], *value);
                self.put(out.buf, o);
            }
            Op::Copy {
                out,
                inp,
                rows,
                cols,
                ldo,
                ldi,
            } => {
                let mut o = self.take(out.buf);
                cpu::copy::copy(&mut o[range(*out)], self.f(*inp), *rows, *cols, *ldo, *ldi);
                self.put(out.buf, o);
            }
            Op::Dropout {
                out,
                inp,
                rng,
                salt,
                p,
            } => {
                let r = self.u(*rng);
                let rng = [r[0], r[1]];
                let mut o = self.take(out.buf);
                cpu::dropout::dropout(
                    &mut o[out.offset..out.offset + inp.len],
                    self.f(*inp),
                    rng,
                    *salt,
                    *p,
                );
                self.put(out.buf, o);
            }
            _ => unreachable!("exec_memory runs only its own ops"),
        }
    }

    /// The products: matmul and bias_grad.
    fn exec_product(&mut self, op: &Op) {
        let range = |v: View| v.offset..v.offset + v.len;
        match op {
            Op::Matmul {
                c,
                a,
                b,
                bias,
                dims,
                padded,
            } => {
                let mut o = self.take(c.buf);
                let (out, a, b, bias) = (
                    &mut o[range(*c)],
                    self.f(*a),
                    self.f(*b),
                    bias.map(|v| self.f(v)),
                );
                match padded {
                    None => cpu::matmul::matmul(out, a, b, bias, dims),
                    Some(steps) => {
                        let rows = steps.rows(self.u(steps.lens));
                        cpu::matmul::matmul_padded(out, a, b, bias, dims, steps.b, &rows);
                    }
                }
                self.put(c.buf, o);
            }
            Op::BiasGrad {
                dbias,
                dy,
                m,
                n,
                ld,
                padded,
            } => {
                let mut o = self.take(dbias.buf);
                let (out, dy) = (&mut o[range(*dbias)], self.f(*dy));
                match padded {
                    None => cpu::bias_grad::bias_grad(out, dy, *m, *n, *ld),
                    Some(steps) => {
                        let rows = steps.rows(self.u(steps.lens));
                        cpu::bias_grad::bias_grad_padded(out, dy, *n, *ld, steps.b, &rows[0]);
                    }
                }
                self.put(dbias.buf, o);
            }
            _ => unreachable!("exec_product runs only its own ops"),
        }
    }

    /// The embedding lookup and its backward.
    fn exec_embedding(&mut self, op: &Op) {
        let range = |v: View| v.offset..v.offset + v.len;
        match op {
            Op::EmbeddingFwd {
                out,
                ids,
                weight,
                e,
            } => {
                let mut o = self.take(out.buf);
                let n = ids.len;
                cpu::embedding::embedding_fwd(
                    &mut o[out.offset..out.offset + n * e],
                    self.u(*ids),
                    self.f(*weight),
                    *e,
                );
                self.put(out.buf, o);
            }
            Op::EmbeddingBwd {
                dweight,
                dout,
                offsets,
                rows,
                e,
            } => {
                let mut o = self.take(dweight.buf);
                let n = rows.len;
                cpu::embedding::embedding_bwd(
                    &mut o[range(*dweight)],
                    &self.f(*dout)[..n * e],
                    self.u(*offsets),
                    self.u(*rows),
                    *e,
                );
                self.put(dweight.buf, o);
            }
            _ => unreachable!("exec_embedding runs only its own ops"),
        }
    }

    /// The losses: cross-entropy and MSE.
    fn exec_loss(&mut self, op: &Op) {
        let range = |v: View| v.offset..v.offset + v.len;
        match op {
            Op::CrossEntropy {
                dlogits,
                loss,
                logits,
                targets,
                c,
                reduction,
            } => {
                let n = targets.len;
                let mut dl = self.take(dlogits.buf);
                let value = cpu::cross_entropy::cross_entropy(
                    &mut dl[dlogits.offset..dlogits.offset + n * c],
                    &self.f(*logits)[..n * c],
                    self.i(*targets),
                    *c,
                    *reduction,
                );
                self.put(dlogits.buf, dl);
                let mut l = self.take(loss.buf);
                l[loss.offset] = value;
                self.put(loss.buf, l);
            }
            Op::Mse {
                dpred,
                loss,
                pred,
                target,
                reduction,
            } => {
                let mut d = self.take(dpred.buf);
                let value = cpu::mse::mse(
                    &mut d[range(*dpred)],
                    self.f(*pred),
                    self.f(*target),
                    *reduction,
                );
                self.put(dpred.buf, d);
                let mut l = self.take(loss.buf);
                l[loss.offset] = value;
                self.put(loss.buf, l);
            }
            _ => unreachable!("exec_loss runs only its own ops"),
        }
    }

    /// The gradient norm and the optimizers.
    fn exec_optimizer(&mut self, op: &Op) {
        let range = |v: View| v.offset..v.offset + v.len;
        match op {
            Op::GradNormPartial { partials, grads } => {
                let mut o = self.take(partials.buf);
                cpu::grad_norm::grad_norm_partial(&mut o[range(*partials)], self.f(*grads));
                self.put(partials.buf, o);
            }
            Op::GradNormFinal {
                out,
                partials,
                max_norm,
            } => {
                let mut o = self.take(out.buf);
                cpu::grad_norm::grad_norm_final(&mut o[range(*out)], self.f(*partials), *max_norm);
                self.put(out.buf, o);
            }
            Op::Adam {
                params,
                m,
                v,
                grads,
                clip,
                sched,
                cfg,
            } => {
                let scale = clip.map_or(1.0, |c| self.f(c)[1]);
                let sc = self.f(*sched);
                let sched = [sc[0], sc[1], sc[2]];
                let (mut pb, mut mb, mut vb) =
                    (self.take(params.buf), self.take(m.buf), self.take(v.buf));
                cpu::adam::adam(
                    &mut pb[range(*params)],
                    &mut mb[range(*m)],
                    &mut vb[range(*v)],
                    self.f(*grads),
                    scale,
                    sched,
                    cfg,
                );
                self.put(params.buf, pb);
                self.put(m.buf, mb);
                self.put(v.buf, vb);
            }
            Op::Sgd {
                params,
                buf,
                grads,
                clip,
                sched,
                cfg,
            } => {
                let scale = clip.map_or(1.0, |c| self.f(c)[1]);
                let sc = self.f(*sched);
                let sched = [sc[0], sc[1]];
                let (mut pb, mut bb) = (self.take(params.buf), self.take(buf.buf));
                cpu::sgd::sgd(
                    &mut pb[range(*params)],
                    &mut bb[range(*buf)],
                    self.f(*grads),
                    scale,
                    sched,
                    cfg,
                );
                self.put(params.buf, pb);
                self.put(buf.buf, bb);
            }
            _ => unreachable!("exec_optimizer runs only its own ops"),
        }
    }

    /// A run of one layer's forward steps: one call of the twin (see cpu::cell).
    fn cell_fwd(&mut self, c: &CellFwd) {
        let n = c.steps;
        let range = |v: View| v.offset..v.offset + v.len;
        let (mut hs, mut out) = (self.take(c.hs.buf), self.take(c.out.buf));
        let mut gates = c.gates.map(|g| self.take(g.buf));
        let mut cs = c.cs.map(|v| self.take(v.buf));
        let (whh, lens) = (self.f(c.whh), self.u(c.lens));
        let xw = cpu::cell::Xw {
            data: self.f(c.xw),
            ids: c.ids.map(|v| self.u(v)),
        };
        let bhh = c.bhh.map(|v| self.f(v));
        let (hsv, outv) = (&mut hs[range(c.hs)], &mut out[range(c.out)]);
        match c.kind {
            CellKind::Rnn => cpu::rnn_cell::rnn_cell_fwd(hsv, outv, xw, whh, bhh, lens, &c.dims, n),
            CellKind::Gru => {
                let g = gates.as_mut().expect("gru_cell_fwd needs gates");
                cpu::gru_cell::gru_cell_fwd(
                    hsv,
                    outv,
                    &mut g[range(c.gates.unwrap())],
                    xw,
                    whh,
                    bhh,
                    lens,
                    &c.dims,
                    n,
                )
            }
            CellKind::Lstm => {
                let g = gates.as_mut().expect("lstm_cell_fwd needs gates");
                let csb = cs.as_mut().expect("lstm_cell_fwd needs cs");
                cpu::lstm_cell::lstm_cell_fwd(
                    hsv,
                    &mut csb[range(c.cs.unwrap())],
                    outv,
                    &mut g[range(c.gates.unwrap())],
                    xw,
                    whh,
                    bhh,
                    lens,
                    &c.dims,
                    n,
                )
            }
        }
        self.put(c.hs.buf, hs);
        self.put(c.out.buf, out);
        if let (Some(v), Some(g)) = (c.gates, gates) {
            self.put(v.buf, g);
        }
        if let (Some(v), Some(x)) = (c.cs, cs) {
            self.put(v.buf, x);
        }
    }

    /// A run of one layer's backward steps, from the last down: one call of the twin.
    fn cell_bwd(&mut self, c: &CellBwd) {
        let n = c.steps;
        let range = |v: View| v.offset..v.offset + v.len;
        let (mut dxw, mut dhh, mut carry) = (
            self.take(c.dxw.buf),
            self.take(c.dhh.buf),
            self.take(c.carry.buf),
        );
        let mut dcc = c.dc_carry.map(|v| self.take(v.buf));
        let (dout, dhn, whh, lens, hs) = (
            self.f(c.dout),
            self.f(c.dhn),
            self.f(c.whh),
            self.u(c.lens),
            self.f(c.hs),
        );
        let (dxv, dhv, cv) = (
            &mut dxw[range(c.dxw)],
            &mut dhh[range(c.dhh)],
            &mut carry[range(c.carry)],
        );
        match c.kind {
            CellKind::Rnn => {
                cpu::rnn_cell::rnn_cell_bwd(dxv, dhv, cv, dout, dhn, whh, lens, hs, &c.dims, n)
            }
            CellKind::Gru => {
                let gates = self.f(c.gates.expect("gru_cell_bwd needs gates"));
                cpu::gru_cell::gru_cell_bwd(
                    dxv, dhv, cv, dout, dhn, whh, lens, hs, gates, &c.dims, n,
                )
            }
            CellKind::Lstm => {
                let gates = self.f(c.gates.expect("lstm_cell_bwd needs gates"));
                let cs = self.f(c.cs.expect("lstm_cell_bwd needs cs"));
                let dcn = self.f(c.dcn.expect("lstm_cell_bwd needs dc_n"));
                let d = dcc.as_mut().expect("lstm_cell_bwd needs dc_carry");
                let dcv = &mut d[range(c.dc_carry.unwrap())];
                cpu::lstm_cell::lstm_cell_bwd(
                    dxv, dhv, cv, dcv, dout, dhn, dcn, whh, lens, cs, gates, &c.dims, n,
                )
            }
        }
        self.put(c.dxw.buf, dxw);
        self.put(c.dhh.buf, dhh);
        self.put(c.carry.buf, carry);
        if let (Some(v), Some(x)) = (c.dc_carry, dcc) {
            self.put(v.buf, x);
        }
    }

    fn check(&self, buf: BufId, offset: usize, len: usize, dtype: &str) -> Result<()> {
        let have = match &self.bufs[buf.0] {
            HostBuf::F32(x) if dtype == "f32" => x.len(),
            HostBuf::U32(x) if dtype == "u32" => x.len(),
            HostBuf::I32(x) if dtype == "i32" => x.len(),
            _ => {
                return Err(Error::InvalidArgument {
                    op: "write",
                    message: format!("{} does not hold {dtype}", self.names[buf.0]),
                });
            }
        };
        if offset + len > have {
            return Err(Error::Shape {
                op: "write",
                expected: format!("at most {have} elements in {}", self.names[buf.0]),
                got: format!("{offset}..{}", offset + len),
            });
        }
        Ok(())
    }
}

impl Runtime for CpuRuntime {
    fn describe(&self) -> String {
        "cpu".into()
    }

    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()> {
        self.check(buf, offset, data.len(), "f32")?;
        if let HostBuf::F32(x) = &mut self.bufs[buf.0] {
            x[offset..offset + data.len()].copy_from_slice(data);
        }
        Ok(())
    }

    fn write_u32(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()> {
        self.check(buf, offset, data.len(), "u32")?;
        if let HostBuf::U32(x) = &mut self.bufs[buf.0] {
            x[offset..offset + data.len()].copy_from_slice(data);
        }
        Ok(())
    }

    fn write_i32(&mut self, buf: BufId, offset: usize, data: &[i32]) -> Result<()> {
        self.check(buf, offset, data.len(), "i32")?;
        if let HostBuf::I32(x) = &mut self.bufs[buf.0] {
            x[offset..offset + data.len()].copy_from_slice(data);
        }
        Ok(())
    }

    fn read_f32(&mut self, view: View) -> Result<Vec<f32>> {
        self.check(view.buf, view.offset, view.len, "f32")?;
        Ok(self.f(view).to_vec())
    }

    fn time_op(&mut self, op: &Op, _variant: Variant, runs: usize) -> Result<Vec<f64>> {
        self.exec(op);
        Ok((0..runs)
            .map(|_| {
                let t0 = std::time::Instant::now();
                self.exec(op);
                t0.elapsed().as_secs_f64()
            })
            .collect())
    }

    fn run(&mut self, programs: &[&Program]) -> Result<()> {
        self.last = 0;
        for p in programs {
            for op in &p.ops {
                self.exec(op);
                self.last += op.dispatches();
            }
        }
        Ok(())
    }

    fn poison(&mut self) -> Result<()> {
        for b in &mut self.bufs {
            if let HostBuf::F32(x) = b {
                x.fill(f32::NAN);
            }
        }
        Ok(())
    }

    fn last_dispatches(&self) -> usize {
        self.last
    }
}
