//! [`Rnn`]: a standalone recurrent module on a backend, with host-side inputs and outputs, as
//! torch.nn.RNN / GRU / LSTM are used: `forward(x, lengths, h0)` → (output, h_n, c_n), then
//! `backward` for the gradients of every parameter, of x and of h0 (c0). [`Rnn::step`] is
//! the one-step API of RNNCell (`h = cell(x_t, h)`).

use std::collections::HashMap;

use crate::backend::{Backend, Runtime};
use crate::model::params::{ParamLayout, init_uniform};
use crate::model::rnn::{LayerInput, RnnBuffers, RnnConfig};
use crate::plan::{BufId, Buffers, CellKind, Op, Program, View};
use crate::{Error, Result};

/// What `forward` returns, in PyTorch's shapes: output (T, B, D·H) or (B, T, D·H) with
/// batch_first; h_n and c_n (L·D, B, H).
#[derive(Clone, Debug)]
pub struct RnnOutput {
    pub output: Vec<f32>,
    pub h_n: Vec<f32>,
    pub c_n: Option<Vec<f32>>,
}

/// What `backward` returns: the gradients of x (its layout), h0, c0, and every parameter in
/// the flat layout of [`Rnn::layout`].
#[derive(Clone, Debug)]
pub struct RnnGrads {
    pub dx: Vec<f32>,
    pub dh0: Vec<f32>,
    pub dc0: Option<Vec<f32>>,
    pub params: Vec<f32>,
}

pub struct Rnn {
    pub cfg: RnnConfig,
    /// Parameter names (PyTorch's, without a module prefix) and offsets.
    pub layout: ParamLayout,
    rt: Box<dyn Runtime>,
    bufs: RnnBuffers,
    x: BufId,
    dx: BufId,
    params: BufId,
    grads: BufId,
    programs: HashMap<(usize, usize, bool), (Program, Program)>,
    last: Option<(usize, usize)>,
    /// Training mode (dropout on), as a fresh torch module; see [`Rnn::set_training`].
    training: bool,
    seed: u32,
    step: u32,
}

/// (B, T, F) ↔ (T, B, F) of `x`, `t` steps of `b` rows of `f` values.
pub(crate) fn swap_tb<T: Copy + Default>(
    x: &[T],
    t: usize,
    b: usize,
    f: usize,
    batch_first_in: bool,
) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    for ti in 0..t {
        for bi in 0..b {
            let (bt, tb) = ((bi * t + ti) * f, (ti * b + bi) * f);
            let (src, dst) = if batch_first_in { (bt, tb) } else { (tb, bt) };
            out[dst..dst + f].copy_from_slice(&x[src..src + f]);
        }
    }
    out
}

impl Rnn {
    /// A module for batches of up to `b_max` sequences of up to `t_max` steps. Parameters
    /// start at zero: call [`Rnn::init_params`] or [`Rnn::set_params`].
    pub fn new(cfg: RnnConfig, backend: &Backend, t_max: usize, b_max: usize) -> Result<Self> {
        if cfg.layers == 0 || cfg.hidden == 0 || cfg.input_size == 0 {
            return Err(Error::InvalidArgument {
                op: "rnn",
                message: format!("layers, hidden and input size must be ≥ 1: {cfg:?}"),
            });
        }
        let mut layout = ParamLayout::default();
        cfg.push_params(&mut layout, "");
        let mut bufs = Buffers::default();
        let params = bufs.f32("params", layout.len);
        let grads = bufs.f32("grads", layout.len);
        let x = bufs.f32("x", t_max * b_max * cfg.input_size);
        let dx = bufs.f32("dx", t_max * b_max * cfg.input_size);
        let rnn = RnnBuffers::declare(
            &mut bufs, &cfg, "", &layout, params, grads, t_max, b_max, false,
        );
        let rt = backend.runtime(&bufs)?;
        Ok(Self {
            cfg,
            layout,
            rt,
            bufs: rnn,
            x,
            dx,
            params,
            grads,
            programs: HashMap::new(),
            last: None,
            training: true,
            seed: 0,
            step: 0,
        })
    }

    /// `module.train()` / `module.eval()`: dropout applies only in training, and backward
    /// needs a training forward.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// Seed of the dropout masks (mask = hash of seed, forward count, layer, element); also
    /// restarts the forward count, so the next training forward draws the same masks again.
    pub fn set_seed(&mut self, seed: u32) {
        self.seed = seed;
        self.step = 0;
    }

    /// PyTorch's initialisation: every parameter from U(−1/√H, 1/√H). Returns the values.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        let mut flat = vec![0f32; self.layout.len];
        init_uniform(&mut flat, 1.0 / (self.cfg.hidden as f32).sqrt(), seed);
        self.set_params(&flat)?;
        Ok(flat)
    }

    /// Set every parameter from a flat vector in [`Rnn::layout`]'s order.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.layout.len {
            return Err(Error::Shape {
                op: "rnn",
                expected: format!("{} parameters", self.layout.len),
                got: flat.len().to_string(),
            });
        }
        self.rt.write_f32(self.params, 0, flat)
    }

    pub fn params(&mut self) -> Result<Vec<f32>> {
        self.rt.read_f32(View {
            buf: self.params,
            offset: 0,
            len: self.layout.len,
        })
    }

    /// Fill every buffer (parameters included) with NaN; see [`Runtime::poison`].
    pub fn poison(&mut self) -> Result<()> {
        self.rt.poison()
    }

    pub fn backend(&self) -> String {
        self.rt.describe()
    }

    /// Kernel launches of the last forward or backward (one per op).
    pub fn last_dispatches(&self) -> usize {
        self.rt.last_dispatches()
    }

    fn programs(&mut self, t: usize, b: usize) -> Result<&(Program, Program)> {
        let key = (t, b, self.training);
        if !self.programs.contains_key(&key) {
            let x = View {
                buf: self.x,
                offset: 0,
                len: t * b * self.cfg.input_size,
            };
            let mut fwd = Vec::new();
            self.bufs
                .forward_ops(&mut fwd, LayerInput::Rows(x), t, b, self.training)?;
            let mut bwd = vec![Op::Fill {
                out: View {
                    buf: self.grads,
                    offset: 0,
                    len: self.layout.len,
                },
                value: 0.0,
            }];
            let dx = View { buf: self.dx, ..x };
            self.bufs
                .backward_ops(&mut bwd, Some(x), Some(dx), t, b, true)?;
            self.programs
                .insert(key, (Program::new(fwd), Program::new(bwd)));
        }
        Ok(&self.programs[&key])
    }

    fn write_state(
        &mut self,
        buf: Option<BufId>,
        value: Option<&[f32]>,
        b: usize,
        what: &str,
    ) -> Result<()> {
        let Some(buf) = buf else {
            return match value {
                Some(_) => Err(Error::InvalidArgument {
                    op: "rnn",
                    message: format!("{what} is only for LSTM"),
                }),
                None => Ok(()),
            };
        };
        let n = self.bufs.state(buf, b).len;
        match value {
            Some(v) if v.len() != n => Err(Error::Shape {
                op: "rnn",
                expected: format!("{what} (L·D, B, H) = {n} elements"),
                got: v.len().to_string(),
            }),
            Some(v) => self.rt.write_f32(buf, 0, v),
            None => self.rt.write_f32(buf, 0, &vec![0.0; n]),
        }
    }

    /// Run the module over `x` of `t` steps and `b` sequences ((T, B, I), or (B, T, I) with
    /// batch_first). `lengths` gives each sequence's real length (pack_padded_sequence; any
    /// order; each in 1..=T); `None` means all T. h0 and c0 default to zeros.
    pub fn forward(
        &mut self,
        x: &[f32],
        t: usize,
        b: usize,
        lengths: Option<&[usize]>,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
    ) -> Result<RnnOutput> {
        let i = self.cfg.input_size;
        if x.len() != t * b * i {
            return Err(Error::Shape {
                op: "rnn",
                expected: format!("x with T·B·I = {t}·{b}·{i} elements"),
                got: x.len().to_string(),
            });
        }
        let lens: Vec<u32> = match lengths {
            None => vec![t as u32; b],
            Some(l) => {
                if l.len() != b || l.iter().any(|&n| n == 0 || n > t) {
                    return Err(Error::InvalidArgument {
                        op: "rnn",
                        message: format!("lengths must be {b} values in 1..={t}, got {l:?}"),
                    });
                }
                l.iter().map(|&n| n as u32).collect()
            }
        };
        self.programs(t, b)?;
        let xt = if self.cfg.batch_first {
            swap_tb(x, t, b, i, true)
        } else {
            x.to_vec()
        };
        self.rt.write_f32(self.x, 0, &xt)?;
        self.rt.write_u32(self.bufs.lens, 0, &lens)?;
        self.write_state(Some(self.bufs.h0), h0, b, "h0")?;
        self.write_state(self.bufs.c0, c0, b, "c0")?;
        if self.training {
            self.step = self.step.wrapping_add(1);
            self.rt
                .write_u32(self.bufs.rng, 0, &[self.seed, self.step])?;
        }
        let fwd = &self.programs[&(t, b, self.training)].0;
        self.rt.run(&[fwd])?;
        self.last = self.training.then_some((t, b));
        let out = self.rt.read_f32(self.bufs.output(t, b))?;
        let dh = self.cfg.dirs() * self.cfg.hidden;
        Ok(RnnOutput {
            output: if self.cfg.batch_first {
                swap_tb(&out, t, b, dh, false)
            } else {
                out
            },
            h_n: self.rt.read_f32(self.bufs.state(self.bufs.hn, b))?,
            c_n: match self.bufs.cn {
                Some(cn) => Some(self.rt.read_f32(self.bufs.state(cn, b))?),
                None => None,
            },
        })
    }

    /// Gradients of a loss whose gradients with respect to the last forward's output, h_n
    /// and c_n are `doutput`, `dh_n` and `dc_n` (missing ones are zero).
    pub fn backward(
        &mut self,
        doutput: &[f32],
        dh_n: Option<&[f32]>,
        dc_n: Option<&[f32]>,
    ) -> Result<RnnGrads> {
        let (t, b) = self.last.ok_or_else(|| Error::InvalidArgument {
            op: "rnn",
            message: "backward needs a forward in training mode first".into(),
        })?;
        let dh = self.cfg.dirs() * self.cfg.hidden;
        if doutput.len() != t * b * dh {
            return Err(Error::Shape {
                op: "rnn",
                expected: format!("doutput with {} elements", t * b * dh),
                got: doutput.len().to_string(),
            });
        }
        let dy = if self.cfg.batch_first {
            swap_tb(doutput, t, b, dh, true)
        } else {
            doutput.to_vec()
        };
        let dout = self.bufs.doutput(t, b);
        self.rt.write_f32(dout.buf, 0, &dy)?;
        self.write_state(Some(self.bufs.dhn), dh_n, b, "dh_n")?;
        self.write_state(self.bufs.dcn, dc_n, b, "dc_n")?;
        let bwd = &self.programs[&(t, b, true)].1;
        self.rt.run(&[bwd])?;
        let i = self.cfg.input_size;
        let dx = self.rt.read_f32(View {
            buf: self.dx,
            offset: 0,
            len: t * b * i,
        })?;
        Ok(RnnGrads {
            dx: if self.cfg.batch_first {
                swap_tb(&dx, t, b, i, false)
            } else {
                dx
            },
            dh0: self.rt.read_f32(self.bufs.state(self.bufs.dh0, b))?,
            dc0: match self.bufs.dc0 {
                Some(v) => Some(self.rt.read_f32(self.bufs.state(v, b))?),
                None => None,
            },
            params: self.rt.read_f32(View {
                buf: self.grads,
                offset: 0,
                len: self.layout.len,
            })?,
        })
    }

    /// One step, as `h = cell(x_t, h)` in lecture 12 (for an LSTM, `(h, c) = cell(x_t, (h, c))`):
    /// `x_t` is (B, I), `h` and `c` are (L·D, B, H). Returns the new h (and c).
    pub fn step(
        &mut self,
        x_t: &[f32],
        b: usize,
        h: &[f32],
        c: Option<&[f32]>,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        if self.cfg.cell == CellKind::Lstm && c.is_none() {
            return Err(Error::InvalidArgument {
                op: "rnn",
                message: "an LSTM step needs c as well as h".into(),
            });
        }
        let out = self.forward(x_t, 1, b, None, Some(h), c)?;
        Ok((out.h_n, out.c_n))
    }
}
