//! Recurrent layers (torch.nn.RNN, GRU, LSTM): parameters under PyTorch's names, and the
//! forward and backward passes of a (T, B) batch as programs of ops.
//!
//! The GPU recipe (cuDNN's, and PyTorch's own CPU path), per layer:
//! 1. the input projection of all timesteps and both directions is one matmul,
//!    `xw (T·B, D·G·H) = x · [W_ih; W_ih_reverse]ᵀ + [b_ih; b_ih_reverse]`;
//!    or, for token inputs, a (V, D·G·H) table of it per token that the steps read through the
//!    token ids ([`LayerInput::Table`]);
//! 2. each timestep is one fused cell dispatch for both directions (recurrent product, gates,
//!    state update, saves for backward);
//! 3. backward runs the steps in reverse, one fused dispatch each, and then gathers the weight
//!    gradients of all timesteps into a few large products.

pub use crate::model::rnn_config::RnnConfig;

use crate::cpu::cell::CellDims;
use crate::cpu::matmul::MatmulDims;
use crate::model::params::ParamLayout;
use crate::plan::{BufId, Buffers, CellBwd, CellFwd, CellKind, Op, Steps, View};
use crate::{Error, Result};

/// Activation buffers of one layer, sized for (T_max, B_max).
#[derive(Clone, Debug)]
struct LayerBufs {
    /// None for layer 0 when it reads a table (see `RnnBuffers::declare`).
    xw: Option<BufId>,
    hs: BufId,
    cs: Option<BufId>,
    gates: Option<BufId>,
    out: BufId,
    dout: BufId,
    dxw: BufId,
    dhh: BufId,
    carry: BufId,
    dc_carry: Option<BufId>,
    /// With dropout, below the top layer: the output after the mask, and its gradient.
    dropped: Option<(BufId, BufId)>,
}

/// What layer 0 of [`RnnBuffers::forward_ops`] reads.
#[derive(Clone, Copy, Debug)]
pub enum LayerInput {
    /// `x (T, B, I)`: layer 0 projects it, x·W_ihᵀ + b_ih, into its own xw.
    Rows(View),
    /// The projection already made per token: a `(V, D·G·H)` table (the classifier's
    /// embedding·W_ihᵀ + b_ih) and the tokens `ids (T, B)`, every one below V (padding too).
    /// The steps read each token's row of the table; nothing is copied.
    Table { table: View, ids: View },
}

/// A recurrent module inside a plan: its config, where its parameters and gradients live, and
/// its activation and state buffers.
#[derive(Clone, Debug)]
pub struct RnnBuffers {
    pub cfg: RnnConfig,
    prefix: String,
    layout: ParamLayout,
    params: BufId,
    grads: BufId,
    pub t_max: usize,
    pub b_max: usize,
    /// (B) sequence lengths, u32.
    pub lens: BufId,
    /// (L·D, B, H) initial states (zeros unless written), and c0 for LSTM.
    pub h0: BufId,
    pub c0: Option<BufId>,
    /// (L·D, B, H) final states, indexed layer·D + direction.
    pub hn: BufId,
    pub cn: Option<BufId>,
    /// Gradients of the loss with respect to h_n (and c_n): inputs of backward.
    pub dhn: BufId,
    pub dcn: Option<BufId>,
    /// Gradients with respect to h0 (and c0): outputs of backward.
    pub dh0: BufId,
    pub dc0: Option<BufId>,
    /// `[seed, step]` (u32) of the dropout masks; the host writes it once per training step.
    pub rng: BufId,
    layers: Vec<LayerBufs>,
}

impl RnnBuffers {
    /// Declare the buffers for batches of up to `b_max` sequences of up to `t_max` steps.
    /// `table_input`: layer 0 will read a [`LayerInput::Table`], so it needs no xw of its own.
    /// `layout` must hold this module's parameters under `prefix` (see
    /// [`RnnConfig::push_params`]); `params` and `grads` are buffers with that layout.
    #[allow(clippy::too_many_arguments)]
    pub fn declare(
        bufs: &mut Buffers,
        cfg: &RnnConfig,
        prefix: &str,
        layout: &ParamLayout,
        params: BufId,
        grads: BufId,
        t_max: usize,
        b_max: usize,
        table_input: bool,
    ) -> Self {
        let (h, d, gh) = (cfg.hidden, cfg.dirs(), cfg.cell.gates() * cfg.hidden);
        let (tb, lstm) = (t_max * b_max, cfg.cell == CellKind::Lstm);
        let state = cfg.layers * d * b_max * h;
        let name = |s: &str| format!("{prefix}{s}");
        let layers = (0..cfg.layers)
            .map(|k| {
                let n = |s: &str| format!("{prefix}l{k}.{s}");
                LayerBufs {
                    xw: (k > 0 || !table_input).then(|| bufs.f32(n("xw"), tb * d * gh)),
                    hs: bufs.f32(n("hs"), d * (t_max + 1) * b_max * h),
                    cs: lstm.then(|| bufs.f32(n("cs"), d * (t_max + 1) * b_max * h)),
                    gates: (cfg.cell.saved() > 0)
                        .then(|| bufs.f32(n("gates"), d * tb * cfg.cell.saved() * h)),
                    out: bufs.f32(n("out"), tb * d * h),
                    dout: bufs.f32(n("dout"), tb * d * h),
                    dxw: bufs.f32(n("dxw"), tb * d * gh),
                    dhh: bufs.f32(n("dhh"), d * tb * gh),
                    carry: bufs.f32(n("carry"), d * b_max * h),
                    dc_carry: lstm.then(|| bufs.f32(n("dc_carry"), d * b_max * h)),
                    dropped: (cfg.dropout > 0.0 && k + 1 < cfg.layers).then(|| {
                        (
                            bufs.f32(n("dropped"), tb * d * h),
                            bufs.f32(n("ddropped"), tb * d * h),
                        )
                    }),
                }
            })
            .collect();
        Self {
            cfg: cfg.clone(),
            prefix: prefix.to_string(),
            layout: layout.clone(),
            params,
            grads,
            t_max,
            b_max,
            lens: bufs.u32(name("lens"), b_max),
            h0: bufs.f32(name("h0"), state),
            c0: lstm.then(|| bufs.f32(name("c0"), state)),
            hn: bufs.f32(name("h_n"), state),
            cn: lstm.then(|| bufs.f32(name("c_n"), state)),
            dhn: bufs.f32(name("dh_n"), state),
            dcn: lstm.then(|| bufs.f32(name("dc_n"), state)),
            dh0: bufs.f32(name("dh0"), state),
            dc0: lstm.then(|| bufs.f32(name("dc0"), state)),
            rng: bufs.u32(name("rng"), 2),
            layers,
        }
    }

    fn v(buf: BufId, len: usize) -> View {
        View {
            buf,
            offset: 0,
            len,
        }
    }

    fn check(&self, t: usize, b: usize) -> Result<()> {
        if t == 0 || b == 0 || t > self.t_max || b > self.b_max {
            return Err(Error::Shape {
                op: "rnn",
                expected: format!("1 ≤ T ≤ {} and 1 ≤ B ≤ {}", self.t_max, self.b_max),
                got: format!("T = {t}, B = {b}"),
            });
        }
        Ok(())
    }

    /// The output (T, B, D·H) of the top layer for a (T, B) batch.
    pub fn output(&self, t: usize, b: usize) -> View {
        let d = self.cfg.dirs();
        Self::v(
            self.layers[self.cfg.layers - 1].out,
            t * b * d * self.cfg.hidden,
        )
    }

    /// Where the gradient of the output goes before backward: (T, B, D·H).
    pub fn doutput(&self, t: usize, b: usize) -> View {
        let d = self.cfg.dirs();
        Self::v(
            self.layers[self.cfg.layers - 1].dout,
            t * b * d * self.cfg.hidden,
        )
    }

    /// The dropout masks' `[seed, step]`, written before each training step.
    pub fn rng_view(&self) -> View {
        Self::v(self.rng, 2)
    }

    /// A (L·D, B, H) state buffer's view for batch size `b`.
    pub fn state(&self, buf: BufId, b: usize) -> View {
        Self::v(buf, self.cfg.layers * self.cfg.dirs() * b * self.cfg.hidden)
    }

    fn dims(&self, t: usize, b: usize, s: usize) -> CellDims {
        let c = &self.cfg;
        CellDims {
            b,
            h: c.hidden,
            d: c.dirs(),
            t,
            s,
            relu: c.relu,
            has_bias: c.bias,
        }
    }

    /// The steps of this (T, B) batch, for an op's `padded` (`reversed`: see [`Steps`]).
    fn padded(&self, t: usize, b: usize, reversed: [bool; 2]) -> Option<Steps> {
        Some(Steps {
            lens: Self::v(self.lens, b),
            t,
            b,
            reversed,
        })
    }

    fn name(&self, what: &str, k: usize, d: usize) -> String {
        RnnConfig::param_name(&self.prefix, what, k, d)
    }

    /// What layer k reads: the module's input, or the output of layer k − 1 (after dropout
    /// when training).
    fn layer_input(
        &self,
        k: usize,
        input: Option<View>,
        t: usize,
        b: usize,
        train: bool,
    ) -> Option<View> {
        if k == 0 {
            return input;
        }
        let below = &self.layers[k - 1];
        let len = t * b * self.cfg.dirs() * self.cfg.hidden;
        Some(match below.dropped {
            Some((dropped, _)) if train => Self::v(dropped, len),
            _ => Self::v(below.out, len),
        })
    }

    /// Layer 0's W_ih (D·G·H, I) and b_ih (D·G·H), both directions, as views of `buf` (the
    /// parameter or the gradient buffer).
    pub fn input_weights(&self, buf: BufId) -> Result<(View, Option<View>)> {
        let w = self
            .cfg
            .both_dirs(&self.layout, buf, &self.prefix, "weight_ih", 0)?;
        let b = if self.cfg.bias {
            Some(
                self.cfg
                    .both_dirs(&self.layout, buf, &self.prefix, "bias_ih", 0)?,
            )
        } else {
            None
        };
        Ok((w, b))
    }

    /// The gradient of layer 0's input projection, dxw (T, B, D·G·H), after backward: for a
    /// caller whose layer 0 reads a [`LayerInput::Table`], to scatter into the table's rows.
    pub fn dxw0(&self, t: usize, b: usize) -> View {
        let n = t * b * self.cfg.dirs() * self.cfg.cell.gates() * self.cfg.hidden;
        Self::v(self.layers[0].dxw, n)
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
        let c = &self.cfg;
        let (h, d, gh) = (c.hidden, c.dirs(), c.cell.gates() * c.hidden);
        let bad = |expected: String, got: usize| Error::Shape {
            op: "rnn",
            expected,
            got: format!("{got} elements"),
        };
        let rows = match input {
            LayerInput::Rows(x) if x.len != t * b * c.input_size => {
                let what = format!("input (T={t}, B={b}, I={})", c.input_size);
                return Err(bad(what, x.len));
            }
            LayerInput::Rows(x) => Some(x),
            LayerInput::Table { ids, .. } if ids.len != t * b => {
                return Err(bad(format!("ids (T={t}, B={b})"), ids.len));
            }
            LayerInput::Table { table, .. } if table.len == 0 || table.len % (d * gh) != 0 => {
                let what = format!("a table of rows of D·G·H = {}", d * gh);
                return Err(bad(what, table.len));
            }
            LayerInput::Table { .. } => None,
        };
        let bh = b * h;
        for (k, l) in self.layers.iter().enumerate() {
            let (xw, ids) = match (input, l.xw) {
                (LayerInput::Table { table, ids }, _) if k == 0 => (table, Some(ids)),
                (_, Some(xw)) => (Self::v(xw, t * b * d * gh), None),
                (_, None) => {
                    return Err(Error::InvalidArgument {
                        op: "rnn",
                        message: "declared for a table input, given rows".into(),
                    });
                }
            };
            if let Some(x) = self.layer_input(k, rows, t, b, train) {
                let w =
                    self.cfg
                        .both_dirs(&self.layout, self.params, &self.prefix, "weight_ih", k)?;
                let bias = if c.bias {
                    Some(self.cfg.both_dirs(
                        &self.layout,
                        self.params,
                        &self.prefix,
                        "bias_ih",
                        k,
                    )?)
                } else {
                    None
                };
                ops.push(Op::Matmul {
                    c: xw,
                    a: x,
                    b: w,
                    bias,
                    dims: MatmulDims::nt(t * b, d * gh, c.layer_input(k)),
                    padded: self.padded(t, b, [false; 2]),
                });
            }
            // Initial states into slot 0 of each direction's sequence.
            let hs = Self::v(l.hs, d * (t + 1) * bh);
            let cs = l.cs.map(|cs| Self::v(cs, d * (t + 1) * bh));
            let at = |buf: BufId| View {
                buf,
                offset: k * d * bh,
                len: d * bh,
            };
            ops.push(Op::Copy {
                out: hs,
                inp: at(self.h0),
                rows: d,
                cols: bh,
                ldo: (t + 1) * bh,
                ldi: bh,
            });
            if let (Some(cs), Some(c0)) = (cs, self.c0) {
                ops.push(Op::Copy {
                    out: cs,
                    inp: at(c0),
                    rows: d,
                    cols: bh,
                    ldo: (t + 1) * bh,
                    ldi: bh,
                });
            }
            let whh =
                self.cfg
                    .both_dirs(&self.layout, self.params, &self.prefix, "weight_hh", k)?;
            let bhh = if c.bias {
                Some(
                    self.cfg
                        .both_dirs(&self.layout, self.params, &self.prefix, "bias_hh", k)?,
                )
            } else {
                None
            };
            // The layer's T steps, one run: one dispatch per step on the GPU, one call of
            // the twin on the CPU.
            ops.push(Op::CellFwd(CellFwd {
                kind: c.cell,
                dims: self.dims(t, b, 0),
                steps: t,
                xw,
                ids,
                whh,
                bhh,
                lens: Self::v(self.lens, b),
                hs,
                cs,
                out: Self::v(l.out, t * b * d * h),
                gates: l.gates.map(|g| Self::v(g, d * t * b * c.cell.saved() * h)),
            }));
            // Final states (slot T) out to h_n[k·D + d].
            let last = |buf: BufId| View {
                buf,
                offset: t * bh,
                len: (d - 1) * (t + 1) * bh + bh,
            };
            ops.push(Op::Copy {
                out: at(self.hn),
                inp: last(l.hs),
                rows: d,
                cols: bh,
                ldo: bh,
                ldi: (t + 1) * bh,
            });
            if let (Some(cs), Some(cn)) = (l.cs, self.cn) {
                ops.push(Op::Copy {
                    out: at(cn),
                    inp: last(cs),
                    rows: d,
                    cols: bh,
                    ldo: bh,
                    ldi: (t + 1) * bh,
                });
            }
            if let (Some((dropped, _)), true) = (l.dropped, train) {
                let len = t * b * d * h;
                ops.push(Op::Dropout {
                    out: Self::v(dropped, len),
                    inp: Self::v(l.out, len),
                    rng: Self::v(self.rng, 2),
                    salt: k as u32,
                    p: c.dropout,
                });
            }
        }
        Ok(())
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
        let c = &self.cfg;
        let (h, d, gh) = (c.hidden, c.dirs(), c.cell.gates() * c.hidden);
        let (bh, tb) = (b * h, t * b);
        for (k, l) in self.layers.iter().enumerate().rev() {
            let at = |buf: BufId| View {
                buf,
                offset: k * d * bh,
                len: d * bh,
            };
            let whh =
                self.cfg
                    .both_dirs(&self.layout, self.params, &self.prefix, "weight_hh", k)?;
            let hs = Self::v(l.hs, d * (t + 1) * bh);
            let dxw = Self::v(l.dxw, tb * d * gh);
            // An LSTM with one direction may take lstm_cell_bwd_vec4, which binds neither dhh
            // nor dh_n: dhh (1, T, B, 4H) holds what dxw (T, B, 4H) holds there (a GRU's differ
            // in the n gate), so read dxw; and its last step starts from the carries, so copy
            // dh_n (dc_n) into them (the other kernels read dh_n and overwrite the carries).
            let lstm1 = d == 1 && c.cell == CellKind::Lstm;
            let dhh_read = if lstm1 { l.dxw } else { l.dhh };
            let dhh = Self::v(l.dhh, d * tb * gh);
            let carry = Self::v(l.carry, d * bh);
            if lstm1 {
                ops.push(Op::copy_flat(carry, at(self.dhn)));
                if let (Some(dcc), Some(dcn)) = (l.dc_carry, self.dcn) {
                    ops.push(Op::copy_flat(Self::v(dcc, d * bh), at(dcn)));
                }
            }
            // The T steps again, from the last down: one run, as forward.
            ops.push(Op::CellBwd(CellBwd {
                kind: c.cell,
                dims: self.dims(t, b, t - 1),
                steps: t,
                dout: Self::v(l.dout, tb * d * h),
                dhn: at(self.dhn),
                dcn: self.dcn.map(at),
                whh,
                lens: Self::v(self.lens, b),
                hs,
                cs: l.cs.map(|cs| Self::v(cs, d * (t + 1) * bh)),
                gates: l.gates.map(|g| Self::v(g, d * tb * c.cell.saved() * h)),
                dxw,
                dhh,
                carry,
                dc_carry: l.dc_carry.map(|v| Self::v(v, d * bh)),
            }));
            if state_grads {
                // dh0 = carry + dhh[d, 0]·W_hh[d], both directions in one batched product;
                // dc0 = dc_carry.
                let dims = MatmulDims::nn(b, h, gh)
                    .accumulate()
                    .batched(d, [tb * gh, gh * h, bh, 0]);
                let first = View {
                    buf: dhh_read,
                    offset: 0,
                    len: (d - 1) * tb * gh + b * gh,
                };
                ops.push(Op::Matmul {
                    c: carry,
                    a: first,
                    b: whh,
                    bias: None,
                    dims,
                    padded: None,
                });
                ops.push(Op::copy_flat(at(self.dh0), carry));
                if let (Some(dcc), Some(dc0)) = (l.dc_carry, self.dc0) {
                    ops.push(Op::copy_flat(at(dc0), Self::v(dcc, d * bh)));
                }
            }
            // Weight gradients of all timesteps at once (for a projected input, the caller
            // takes layer 0's from dxw).
            let gw = |what: &str| {
                self.cfg
                    .both_dirs(&self.layout, self.grads, &self.prefix, what, k)
            };
            if let Some(x) = self.layer_input(k, input, t, b, true) {
                let dims = MatmulDims::tn(d * gh, c.layer_input(k), tb).accumulate();
                ops.push(Op::Matmul {
                    c: gw("weight_ih")?,
                    a: dxw,
                    b: x,
                    bias: None,
                    dims,
                    padded: self.padded(t, b, [false; 2]),
                });
                if c.bias {
                    ops.push(Op::BiasGrad {
                        dbias: gw("bias_ih")?,
                        dy: dxw,
                        m: tb,
                        n: d * gh,
                        ld: d * gh,
                        padded: self.padded(t, b, [false; 2]),
                    });
                }
            }
            // dW_hh[d] += dhh[d]ᵀ · hs[d, 0..T], both directions in one batched product.
            let dwhh =
                self.cfg
                    .both_dirs(&self.layout, self.grads, &self.prefix, "weight_hh", k)?;
            let dims = MatmulDims::tn(gh, h, tb)
                .accumulate()
                .batched(d, [tb * gh, (t + 1) * bh, gh * h, 0]);
            // dhh is in each direction's step order.
            ops.push(Op::Matmul {
                c: dwhh,
                a: Self::v(dhh_read, d * tb * gh),
                b: hs,
                bias: None,
                dims,
                padded: self.padded(t, b, [false, true]),
            });
            if c.bias {
                for dir in 0..d {
                    let dbhh = self
                        .layout
                        .view(self.grads, &self.name("bias_hh", k, dir))?;
                    ops.push(Op::BiasGrad {
                        dbias: dbhh,
                        dy: Self::v(dhh_read, d * tb * gh).sub(dir * tb * gh, tb * gh),
                        m: tb,
                        n: gh,
                        ld: gh,
                        padded: self.padded(t, b, [dir == 1; 2]),
                    });
                }
            }
            // The input gradient: the layer below's output gradient (through its dropout mask),
            // or the caller's.
            let len = tb * d * h;
            let below = k.checked_sub(1).map(|j| &self.layers[j]);
            let dx = match below {
                Some(l) => Some(
                    l.dropped
                        .map_or(Self::v(l.dout, len), |(_, dd)| Self::v(dd, len)),
                ),
                None => dinput.filter(|_| input.is_some()),
            };
            if let Some(dx) = dx {
                let w_ih =
                    self.cfg
                        .both_dirs(&self.layout, self.params, &self.prefix, "weight_ih", k)?;
                ops.push(Op::Matmul {
                    c: dx,
                    a: dxw,
                    b: w_ih,
                    bias: None,
                    dims: MatmulDims::nn(tb, c.layer_input(k), d * gh),
                    padded: self.padded(t, b, [false; 2]),
                });
            }
            if let Some(l) = below
                && let Some((_, dd)) = l.dropped
            {
                let salt = (k - 1) as u32;
                ops.push(Op::Dropout {
                    out: Self::v(l.dout, len),
                    inp: Self::v(dd, len),
                    rng: Self::v(self.rng, 2),
                    salt,
                    p: c.dropout,
                });
            }
        }
        Ok(())
    }
}
