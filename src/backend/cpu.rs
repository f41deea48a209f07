//! Runs plans on the CPU by calling each op's CPU twin; a layer's consecutive cell steps go to
//! its twin as one call of n steps (see cpu::cell).

use super::Runtime;
use crate::cpu;
use crate::model::plan::{BufId, Buffers, CellBwd, CellFwd, CellKind, Dtype, Op, Program, View};
use crate::ops::Variant;
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
        // `out!(v)` is the mutable slice of an output view taken out as `$buf`.
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
            Op::Matmul {
                c,
                a,
                b,
                bias,
                dims,
            } => {
                let mut o = self.take(c.buf);
                cpu::matmul::matmul(
                    &mut o[range(*c)],
                    self.f(*a),
                    self.f(*b),
                    bias.map(|v| self.f(v)),
                    dims,
                );
                self.put(c.buf, o);
            }
            Op::BiasGrad {
                dbias,
                dy,
                m,
                n,
                ld,
            } => {
                let mut o = self.take(dbias.buf);
                cpu::bias_grad::bias_grad(&mut o[range(*dbias)], self.f(*dy), *m, *n, *ld);
                self.put(dbias.buf, o);
            }
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
                // The twin groups by id itself; rebuild the ids from the token-row grouping.
                let offs = self.u(*offsets);
                let mut ids = vec![0u32; rows.len];
                for v in 0..offs.len() - 1 {
                    for &r in &self.u(*rows)[offs[v] as usize..offs[v + 1] as usize] {
                        ids[r as usize] = v as u32;
                    }
                }
                let mut o = self.take(dweight.buf);
                let n = rows.len;
                cpu::embedding::embedding_bwd(
                    &mut o[range(*dweight)],
                    &self.f(*dout)[..n * e],
                    &ids,
                    *e,
                );
                self.put(dweight.buf, o);
            }
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
                let sched = [sc[0], sc[1]];
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
            Op::CellFwd(c) => self.cell_fwd(c, 1),
            Op::Packed { op, steps } => {
                let rows = steps.rows(self.u(steps.lens));
                match &**op {
                    Op::Matmul {
                        c,
                        a,
                        b,
                        bias,
                        dims,
                    } => {
                        let mut o = self.take(c.buf);
                        cpu::matmul::matmul_padded(
                            &mut o[range(*c)],
                            self.f(*a),
                            self.f(*b),
                            bias.map(|v| self.f(v)),
                            dims,
                            steps.b,
                            &rows,
                        );
                        self.put(c.buf, o);
                    }
                    Op::BiasGrad {
                        dbias, dy, n, ld, ..
                    } => {
                        let mut o = self.take(dbias.buf);
                        cpu::bias_grad::bias_grad_padded(
                            &mut o[range(*dbias)],
                            self.f(*dy),
                            *n,
                            *ld,
                            steps.b,
                            &rows[0],
                        );
                        self.put(dbias.buf, o);
                    }
                    other => self.exec(other),
                }
            }
            Op::CellBwd(c) => self.cell_bwd(c, 1),
        }
    }

    /// Steps `c.dims.s .. c.dims.s + n` of one layer's forward pass.
    fn cell_fwd(&mut self, c: &CellFwd, n: usize) {
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

    /// Steps `c.dims.s` down to `c.dims.s − n + 1` of one layer's backward pass.
    fn cell_bwd(&mut self, c: &CellBwd, n: usize) {
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

    /// Runs `ops[0]`, or, when it is a cell step, it and the steps of the same layer that
    /// follow it as one run (see [`cell_run`]); returns how many ops it ran.
    fn exec_run(&mut self, ops: &[Op]) -> usize {
        let n = cell_run(ops);
        match &ops[0] {
            Op::CellFwd(c) => self.cell_fwd(c, n),
            Op::CellBwd(c) => self.cell_bwd(c, n),
            op => self.exec(op),
        }
        n
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
            let mut i = 0;
            while i < p.ops.len() {
                i += self.exec_run(&p.ops[i..]);
            }
            self.last += p.ops.len();
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

/// How many ops from `ops[0]` on run as one call: a cell step and the steps of the same layer
/// right after it (the same op but for the step: s + 1, s + 2, … forward, s − 1, … backward),
/// else 1.
fn cell_run(ops: &[Op]) -> usize {
    let follows = |i: usize| match (&ops[0], &ops[i]) {
        (Op::CellFwd(c), Op::CellFwd(x)) => {
            *x == CellFwd {
                dims: c.dims.at(c.dims.s + i),
                ..*c
            }
        }
        (Op::CellBwd(c), Op::CellBwd(x)) => {
            i <= c.dims.s
                && *x
                    == CellBwd {
                        dims: c.dims.at(c.dims.s - i),
                        ..*c
                    }
        }
        _ => false,
    };
    1 + (1..ops.len()).take_while(|&i| follows(i)).count()
}

#[cfg(test)]
mod tests {
    use super::cell_run;
    use crate::cpu::cell::CellDims;
    use crate::model::plan::{BufId, CellBwd, CellFwd, CellKind, Op, View};

    fn step(s: usize, layer: usize) -> Op {
        let v = |buf: usize| View {
            buf: BufId(buf + 10 * layer),
            offset: 0,
            len: 1,
        };
        let dims = CellDims {
            b: 1,
            h: 1,
            d: 1,
            t: 4,
            s,
            relu: false,
            has_bias: false,
        };
        Op::CellFwd(CellFwd {
            kind: CellKind::Gru,
            dims,
            xw: v(0),
            ids: None,
            whh: v(1),
            bhh: None,
            lens: v(2),
            hs: v(3),
            cs: None,
            out: v(4),
            gates: Some(v(5)),
        })
    }

    fn back(s: usize) -> Op {
        let Op::CellFwd(f) = step(s, 0) else {
            unreachable!()
        };
        Op::CellBwd(CellBwd {
            kind: f.kind,
            dims: f.dims,
            dout: f.out,
            dhn: f.hs,
            dcn: None,
            whh: f.whh,
            lens: f.lens,
            hs: f.hs,
            cs: None,
            gates: f.gates,
            dxw: f.xw,
            dhh: f.xw,
            carry: f.out,
            dc_carry: None,
        })
    }

    // Backward runs go down to step 0 and no further.
    #[test]
    fn backward_cell_runs_go_down() {
        assert_eq!(cell_run(&[back(3), back(2), back(1), back(0)]), 4);
        assert_eq!(cell_run(&[back(1), back(0), back(3)]), 2);
        assert_eq!(cell_run(&[back(0), back(1)]), 1);
        assert_eq!(cell_run(&[back(2), back(2)]), 1);
    }

    // A run takes the steps that follow in order, of the same layer, and stops at anything else.
    #[test]
    fn cell_runs_stop_at_another_layer_op_or_step() {
        let fill = Op::Fill {
            out: View {
                buf: BufId(0),
                offset: 0,
                len: 1,
            },
            value: 0.0,
        };
        let ops = [step(0, 0), step(1, 0), step(2, 0), step(3, 0), step(0, 1)];
        assert_eq!(cell_run(&ops), 4);
        assert_eq!(cell_run(&ops[1..]), 3);
        assert_eq!(cell_run(&ops[4..]), 1);
        assert_eq!(cell_run(&[step(0, 0), step(2, 0)]), 1);
        assert_eq!(cell_run(&[step(1, 0), step(0, 0)]), 1);
        assert_eq!(cell_run(&[step(0, 0), fill.clone(), step(1, 0)]), 1);
        assert_eq!(cell_run(&[fill, step(0, 0)]), 1);
    }
}
