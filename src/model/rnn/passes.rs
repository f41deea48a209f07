//! [`RnnBuffers`]' forward and backward passes. Each layer's forward projects its input,
//! loads the initial states, runs the steps, stores the final states and drops out to the
//! layer above. Its backward is the same stages reversed, each named after its forward:
//! `steps_backward`, then `state_grads` (of `load_states`), then `project_backward` (the
//! weight gradients and the input's, through the dropout below). The final states' copy has
//! no backward of its own: the steps' backward reads dh_n where it is.

use super::{LayerBufs, LayerInput, RnnBuffers};
use crate::cpu::matmul::MatmulDims;
use crate::plan::{BufId, CellBwd, CellFwd, CellKind, Op, View};
use crate::{Error, Result};

/// The (T, B) of a pass and a layer's index.
#[derive(Clone, Copy)]
struct At {
    t: usize,
    b: usize,
    k: usize,
}

impl RnnBuffers {
    /// Layer k's `what` (`weight_ih`, …) of both directions in `buf` (parameters or grads).
    fn both(&self, buf: BufId, what: &str, k: usize) -> Result<View> {
        (self.cfg).both_dirs(&self.layout, buf, &self.prefix, what, k)
    }

    /// Layer k's bias `what` of both directions, when the module has biases.
    fn bias(&self, buf: BufId, what: &str, k: usize) -> Result<Option<View>> {
        self.cfg.bias.then(|| self.both(buf, what, k)).transpose()
    }

    /// Layer k's slice of a (L·D, B, H) state buffer.
    fn state_at(&self, buf: BufId, a: At) -> View {
        let bh = a.b * self.cfg.hidden;
        let d = self.cfg.dirs();
        View {
            buf,
            offset: a.k * d * bh,
            len: d * bh,
        }
    }

    /// The input rows of layer 0 (`None` for a table), checked against (T, B).
    fn input_rows(&self, input: LayerInput, t: usize, b: usize) -> Result<Option<View>> {
        let c = &self.cfg;
        let dgh = c.dirs() * c.cell.gates() * c.hidden;
        let bad = |expected: String, got: usize| Error::Shape {
            op: "rnn",
            expected,
            got: format!("{got} elements"),
        };
        match input {
            LayerInput::Rows(x) if x.len != t * b * c.input_size => {
                let what = format!("input (T={t}, B={b}, I={})", c.input_size);
                Err(bad(what, x.len))
            }
            LayerInput::Rows(x) => Ok(Some(x)),
            LayerInput::Table { ids, .. } if ids.len != t * b => {
                Err(bad(format!("ids (T={t}, B={b})"), ids.len))
            }
            LayerInput::Table { table, .. } if table.len == 0 || table.len % dgh != 0 => {
                Err(bad(format!("a table of rows of D·G·H = {dgh}"), table.len))
            }
            LayerInput::Table { .. } => Ok(None),
        }
    }

    /// Append the forward pass of a (T, B) batch: every layer's projection, T fused steps, and
    /// h_n (c_n). `lens` and `h0` (`c0`) must be written, and `rng` too when training with
    /// dropout.
    pub fn forward_ops(
        &self,
        ops: &mut Vec<Op>,
        input: LayerInput,
        t: usize,
        b: usize,
        train: bool,
    ) -> Result<()> {
        self.check(t, b)?;
        let rows = self.input_rows(input, t, b)?;
        let dgh = self.cfg.dirs() * self.cfg.cell.gates() * self.cfg.hidden;
        for (k, l) in self.layers.iter().enumerate() {
            let a = At { t, b, k };
            let (xw, ids) = match (input, l.xw) {
                (LayerInput::Table { table, ids }, _) if k == 0 => (table, Some(ids)),
                (_, Some(xw)) => (Self::v(xw, t * b * dgh), None),
                (_, None) => {
                    return Err(Error::InvalidArgument {
                        op: "rnn",
                        message: "declared for a table input, given rows".into(),
                    });
                }
            };
            if let Some(x) = self.layer_input(k, rows, t, b, train) {
                self.project(ops, a, x, xw)?;
            }
            self.load_states(ops, l, a);
            self.steps(ops, l, a, (xw, ids))?;
            self.store_states(ops, l, a);
            if let (Some((dropped, _)), true) = (l.dropped, train) {
                let len = t * b * self.cfg.dirs() * self.cfg.hidden;
                ops.push(Op::Dropout {
                    out: Self::v(dropped, len),
                    inp: Self::v(l.out, len),
                    rng: Self::v(self.rng, 2),
                    salt: k as u32,
                    p: self.cfg.dropout,
                });
            }
        }
        Ok(())
    }

    /// `xw = x · W_ihᵀ + b_ih`, both directions in one product.
    fn project(&self, ops: &mut Vec<Op>, a: At, x: View, xw: View) -> Result<()> {
        let c = &self.cfg;
        let dgh = c.dirs() * c.cell.gates() * c.hidden;
        ops.push(Op::Matmul {
            c: xw,
            a: x,
            b: self.both(self.params, "weight_ih", a.k)?,
            bias: self.bias(self.params, "bias_ih", a.k)?,
            dims: MatmulDims::nt(a.t * a.b, dgh, c.layer_input(a.k)),
            padded: self.padded(a.t, a.b, [false; 2]),
        });
        Ok(())
    }

    /// Initial states into slot 0 of each direction's sequence of states.
    fn load_states(&self, ops: &mut Vec<Op>, l: &LayerBufs, a: At) {
        let (d, bh) = (self.cfg.dirs(), a.b * self.cfg.hidden);
        let seq = |buf: BufId| Self::v(buf, d * (a.t + 1) * bh);
        let load = |out: View, inp: View| Op::Copy {
            out,
            inp,
            rows: d,
            cols: bh,
            ldo: (a.t + 1) * bh,
            ldi: bh,
        };
        ops.push(load(seq(l.hs), self.state_at(self.h0, a)));
        if let (Some(cs), Some(c0)) = (l.cs, self.c0) {
            ops.push(load(seq(cs), self.state_at(c0, a)));
        }
    }

    /// The layer's T steps, one run: one dispatch per step on the GPU, one call of the twin
    /// on the CPU.
    fn steps(
        &self,
        ops: &mut Vec<Op>,
        l: &LayerBufs,
        a: At,
        xw: (View, Option<View>),
    ) -> Result<()> {
        let c = &self.cfg;
        let (h, d) = (c.hidden, c.dirs());
        let (tb, bh) = (a.t * a.b, a.b * h);
        ops.push(Op::CellFwd(CellFwd {
            kind: c.cell,
            dims: self.dims(a.t, a.b, 0),
            steps: a.t,
            xw: xw.0,
            ids: xw.1,
            whh: self.both(self.params, "weight_hh", a.k)?,
            bhh: self.bias(self.params, "bias_hh", a.k)?,
            lens: Self::v(self.lens, a.b),
            hs: Self::v(l.hs, d * (a.t + 1) * bh),
            cs: l.cs.map(|cs| Self::v(cs, d * (a.t + 1) * bh)),
            out: Self::v(l.out, tb * d * h),
            gates: l.gates.map(|g| Self::v(g, d * tb * c.cell.saved() * h)),
        }));
        Ok(())
    }

    /// Final states (slot T of each direction) out to h_n[k·D + d] (and c_n).
    fn store_states(&self, ops: &mut Vec<Op>, l: &LayerBufs, a: At) {
        let (d, bh) = (self.cfg.dirs(), a.b * self.cfg.hidden);
        let last = |buf: BufId| View {
            buf,
            offset: a.t * bh,
            len: (d - 1) * (a.t + 1) * bh + bh,
        };
        let store = |out: View, inp: View| Op::Copy {
            out,
            inp,
            rows: d,
            cols: bh,
            ldo: bh,
            ldi: (a.t + 1) * bh,
        };
        ops.push(store(self.state_at(self.hn, a), last(l.hs)));
        if let (Some(cs), Some(cn)) = (l.cs, self.cn) {
            ops.push(store(self.state_at(cn, a), last(cs)));
        }
    }

    /// Append the backward pass of the last forward on (T, B): reads `doutput` and `dh_n`
    /// (`dc_n`), accumulates every parameter gradient into the gradient buffer, writes the
    /// input gradient to `dinput` when given, and dh0 (dc0) when `state_grads`.
    pub fn backward_ops(
        &self,
        ops: &mut Vec<Op>,
        input: Option<View>,
        dinput: Option<View>,
        t: usize,
        b: usize,
        state_grads: bool,
    ) -> Result<()> {
        self.check(t, b)?;
        for (k, l) in self.layers.iter().enumerate().rev() {
            let a = At { t, b, k };
            // (The dropout to the layer above was undone by that layer's input gradient.)
            self.steps_backward(ops, l, a)?;
            if state_grads {
                self.state_grads(ops, l, a)?;
            }
            let x = self.layer_input(k, input, t, b, true);
            self.project_backward(ops, l, a, x, dinput)?;
        }
        Ok(())
    }

    /// dhh as the weight gradient and dh0 read it. An LSTM with one direction may take
    /// lstm_cell_bwd_vec4, which binds neither dhh nor dh_n: dhh (1, T, B, 4H) holds what
    /// dxw (T, B, 4H) holds there (a GRU's differ in the n gate), so read dxw.
    fn dhh_read(&self, l: &LayerBufs) -> BufId {
        let lstm1 = self.cfg.dirs() == 1 && self.cfg.cell == CellKind::Lstm;
        if lstm1 { l.dxw } else { l.dhh }
    }

    /// The T steps again, from the last down: one run, as forward.
    fn steps_backward(&self, ops: &mut Vec<Op>, l: &LayerBufs, a: At) -> Result<()> {
        let c = &self.cfg;
        let (h, d, gh) = (c.hidden, c.dirs(), c.cell.gates() * c.hidden);
        let (bh, tb) = (a.b * h, a.t * a.b);
        let carry = Self::v(l.carry, d * bh);
        // lstm_cell_bwd_vec4 (see `dhh_read`) starts its last step from the carries, so copy
        // dh_n (dc_n) into them (the other kernels read dh_n and overwrite the carries).
        if d == 1 && c.cell == CellKind::Lstm {
            ops.push(Op::copy_flat(carry, self.state_at(self.dhn, a)));
            if let (Some(dcc), Some(dcn)) = (l.dc_carry, self.dcn) {
                ops.push(Op::copy_flat(Self::v(dcc, d * bh), self.state_at(dcn, a)));
            }
        }
        ops.push(Op::CellBwd(CellBwd {
            kind: c.cell,
            dims: self.dims(a.t, a.b, a.t - 1),
            steps: a.t,
            dout: Self::v(l.dout, tb * d * h),
            dhn: self.state_at(self.dhn, a),
            dcn: self.dcn.map(|dcn| self.state_at(dcn, a)),
            whh: self.both(self.params, "weight_hh", a.k)?,
            lens: Self::v(self.lens, a.b),
            hs: Self::v(l.hs, d * (a.t + 1) * bh),
            cs: l.cs.map(|cs| Self::v(cs, d * (a.t + 1) * bh)),
            gates: l.gates.map(|g| Self::v(g, d * tb * c.cell.saved() * h)),
            dxw: Self::v(l.dxw, tb * d * gh),
            dhh: Self::v(l.dhh, d * tb * gh),
            carry,
            dc_carry: l.dc_carry.map(|v| Self::v(v, d * bh)),
        }));
        Ok(())
    }

    /// The backward of `load_states`: dh0 = carry + dhh[d, 0]·W_hh[d], both directions in one
    /// batched product; dc0 = dc_carry.
    fn state_grads(&self, ops: &mut Vec<Op>, l: &LayerBufs, a: At) -> Result<()> {
        let c = &self.cfg;
        let (h, d, gh) = (c.hidden, c.dirs(), c.cell.gates() * c.hidden);
        let (bh, tb) = (a.b * h, a.t * a.b);
        let carry = Self::v(l.carry, d * bh);
        let dims = MatmulDims::nn(a.b, h, gh)
            .accumulate()
            .batched(d, [tb * gh, gh * h, bh, 0]);
        let first = View {
            buf: self.dhh_read(l),
            offset: 0,
            len: (d - 1) * tb * gh + a.b * gh,
        };
        ops.push(Op::Matmul {
            c: carry,
            a: first,
            b: self.both(self.params, "weight_hh", a.k)?,
            bias: None,
            dims,
            padded: None,
        });
        ops.push(Op::copy_flat(self.state_at(self.dh0, a), carry));
        if let (Some(dcc), Some(dc0)) = (l.dc_carry, self.dc0) {
            ops.push(Op::copy_flat(self.state_at(dc0, a), Self::v(dcc, d * bh)));
        }
        Ok(())
    }

    /// The backward of `project` and of the recurrent product: the weight gradients of all
    /// timesteps at once (for a projected input, the caller takes layer 0's from dxw), then
    /// the input gradient: the layer below's output gradient (through its dropout mask), or
    /// the caller's `dinput`.
    fn project_backward(
        &self,
        ops: &mut Vec<Op>,
        l: &LayerBufs,
        a: At,
        x: Option<View>,
        dinput: Option<View>,
    ) -> Result<()> {
        let c = &self.cfg;
        let (h, d, gh) = (c.hidden, c.dirs(), c.cell.gates() * c.hidden);
        let tb = a.t * a.b;
        let dxw = Self::v(l.dxw, tb * d * gh);
        if let Some(x) = x {
            ops.push(Op::Matmul {
                c: self.both(self.grads, "weight_ih", a.k)?,
                a: dxw,
                b: x,
                bias: None,
                dims: MatmulDims::tn(d * gh, c.layer_input(a.k), tb).accumulate(),
                padded: self.padded(a.t, a.b, [false; 2]),
            });
            if let Some(dbias) = self.bias(self.grads, "bias_ih", a.k)? {
                ops.push(Op::BiasGrad {
                    dbias,
                    dy: dxw,
                    m: tb,
                    n: d * gh,
                    ld: d * gh,
                    padded: self.padded(a.t, a.b, [false; 2]),
                });
            }
        }
        self.recurrent_weight_grads(ops, l, a)?;
        let len = tb * d * h;
        let below = a.k.checked_sub(1).map(|j| &self.layers[j]);
        let dx = match below {
            Some(l) => Some(
                l.dropped
                    .map_or(Self::v(l.dout, len), |(_, dd)| Self::v(dd, len)),
            ),
            None => dinput.filter(|_| x.is_some()),
        };
        if let Some(dx) = dx {
            ops.push(Op::Matmul {
                c: dx,
                a: dxw,
                b: self.both(self.params, "weight_ih", a.k)?,
                bias: None,
                dims: MatmulDims::nn(tb, c.layer_input(a.k), d * gh),
                padded: self.padded(a.t, a.b, [false; 2]),
            });
        }
        if let Some(l) = below
            && let Some((_, dd)) = l.dropped
        {
            ops.push(Op::Dropout {
                out: Self::v(l.dout, len),
                inp: Self::v(dd, len),
                rng: Self::v(self.rng, 2),
                salt: (a.k - 1) as u32,
                p: c.dropout,
            });
        }
        Ok(())
    }

    /// dW_hh[d] += dhh[d]ᵀ · hs[d, 0..T], both directions in one batched product (dhh is in
    /// each direction's step order), and db_hh per direction.
    fn recurrent_weight_grads(&self, ops: &mut Vec<Op>, l: &LayerBufs, a: At) -> Result<()> {
        let c = &self.cfg;
        let (h, d, gh) = (c.hidden, c.dirs(), c.cell.gates() * c.hidden);
        let (bh, tb) = (a.b * h, a.t * a.b);
        let dhh = Self::v(self.dhh_read(l), d * tb * gh);
        ops.push(Op::Matmul {
            c: self.both(self.grads, "weight_hh", a.k)?,
            a: dhh,
            b: Self::v(l.hs, d * (a.t + 1) * bh),
            bias: None,
            dims: MatmulDims::tn(gh, h, tb)
                .accumulate()
                .batched(d, [tb * gh, (a.t + 1) * bh, gh * h, 0]),
            padded: self.padded(a.t, a.b, [false, true]),
        });
        if c.bias {
            for dir in 0..d {
                ops.push(Op::BiasGrad {
                    dbias: (self.layout).view(self.grads, &self.name("bias_hh", a.k, dir))?,
                    dy: dhh.sub(dir * tb * gh, tb * gh),
                    m: tb,
                    n: gh,
                    ld: gh,
                    padded: self.padded(a.t, a.b, [dir == 1; 2]),
                });
            }
        }
        Ok(())
    }
}
