//! [`Rnn`]: a standalone recurrent module with host-side inputs and outputs, as
//! torch.nn.RNN / GRU / LSTM are used: `forward(x, lengths, h0)` → (output, h_n, c_n), then
//! `backward` for the gradients of every parameter, of x and of h0 (c0). [`Rnn::step`] is
//! the one-step API of RNNCell (`h = cell(x_t, h)`). It is a user of the public API: a
//! [`Graph`] of one recurrent layer, run as a [`Model::with_grads`], that uploads its inputs
//! and reads its outputs on every call; a model that keeps its tensors on the device is built
//! with [`crate::nn`] directly.

use crate::backend::Backend;
use crate::model::params::{ParamLayout, init_uniform};
use crate::model::rnn::RnnConfig;
use crate::nn::{Graph, Model, RnnOut, Rows, Var};
use crate::plan::CellKind;
use crate::{Error, Result};

/// What `forward` returns, in PyTorch's shapes: output (T, B, D·H) or (B, T, D·H) with
/// batch_first; h_n and c_n (L·D, B, H).
#[derive(Clone, Debug)]
pub struct RnnOutput {
    /// The top layer's output at every step.
    pub output: Vec<f32>,
    /// Every layer's and direction's final hidden state.
    pub h_n: Vec<f32>,
    /// The LSTM's final cell states.
    pub c_n: Option<Vec<f32>>,
}

/// What `backward` returns: the gradients of x (its layout), h0, c0, and every parameter in
/// the flat layout of [`Rnn::layout`].
#[derive(Clone, Debug)]
pub struct RnnGrads {
    /// d(loss)/dx, in x's layout.
    pub dx: Vec<f32>,
    /// d(loss)/dh0 (L·D, B, H).
    pub dh0: Vec<f32>,
    /// d(loss)/dc0, for an LSTM.
    pub dc0: Option<Vec<f32>>,
    /// Every parameter's gradient, flat in [`Rnn::layout`]'s order.
    pub params: Vec<f32>,
}

/// A recurrent module on a backend, for batches of up to `b_max` sequences of up to `t_max`
/// steps.
pub struct Rnn {
    /// The module's constructor arguments.
    pub cfg: RnnConfig,
    /// Parameter names (PyTorch's, without a module prefix) and offsets.
    pub layout: ParamLayout,
    m: Model,
    x: Var,
    out: RnnOut,
    /// Training mode (dropout on), as a fresh torch module; see [`Rnn::set_training`].
    training: bool,
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
        let mut g = Graph::new();
        let x = g.input("x", Rows::Steps, cfg.input_size);
        g.requires_grad(x)?;
        let out = cfg.clone().init(&mut g, "rnn")?.forward(&mut g, x)?;
        g.requires_grad(out.h0)?;
        if let Some(c0) = out.c0 {
            g.requires_grad(c0)?;
        }
        let mut m = Model::with_grads(g, backend, (t_max, b_max))?;
        m.set_params(&vec![0.0; layout.len])?;
        Ok(Self {
            cfg,
            layout,
            m,
            x,
            out,
            training: true,
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
        self.m.set_seed(seed);
        self.m.masks = 0;
    }

    /// PyTorch's initialisation: every parameter from U(−1/√H, 1/√H). Returns the values.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        let mut flat = vec![0f32; self.layout.len];
        init_uniform(&mut flat, 1.0 / (self.cfg.hidden as f32).sqrt(), seed);
        self.set_params(&flat)?;
        Ok(flat)
    }

    /// Set every parameter from a flat vector in [`Rnn::layout`]'s order (the dropout masks'
    /// forward count restarts too).
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.layout.len {
            return Err(Error::Shape {
                op: "rnn",
                expected: format!("{} parameters", self.layout.len),
                got: flat.len().to_string(),
            });
        }
        self.m.set_params(flat)
    }

    /// Every parameter, flat in [`Rnn::layout`]'s order.
    pub fn params(&mut self) -> Result<Vec<f32>> {
        self.m.params()
    }

    /// Fill every buffer (parameters included) with NaN; see [`crate::backend::Runtime::poison`].
    pub fn poison(&mut self) -> Result<()> {
        self.m.rt.poison()
    }

    /// "cpu", or the GPU adapter's description.
    pub fn backend(&self) -> String {
        self.m.describe()
    }

    /// Kernel launches of the last forward or backward.
    pub fn last_dispatches(&self) -> usize {
        self.m.last_dispatches()
    }

    /// A (L·D, B, H) state, or zeros.
    fn write_state(
        &mut self,
        v: Option<Var>,
        value: Option<&[f32]>,
        shape: (usize, usize),
        what: &str,
    ) -> Result<()> {
        let n = self.cfg.layers * self.cfg.dirs() * shape.1 * self.cfg.hidden;
        let Some(v) = v else {
            return match value {
                Some(_) => Err(Error::InvalidArgument {
                    op: "rnn",
                    message: format!("{what} is only for LSTM"),
                }),
                None => Ok(()),
            };
        };
        match value {
            Some(x) if x.len() != n => Err(Error::Shape {
                op: "rnn",
                expected: format!("{what} (L·D, B, H) = {n} elements"),
                got: x.len().to_string(),
            }),
            Some(x) => self.m.write(v, x, shape),
            None => self.m.write(v, &vec![0.0; n], shape),
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
        self.m.write(self.x, x, (t, b))?;
        self.write_state(Some(self.out.h0), h0, (t, b), "h0")?;
        self.write_state(self.out.c0, c0, (t, b), "c0")?;
        self.m.set_lengths(lengths);
        if self.training {
            self.m.forward_train((t, b))?;
        } else {
            self.m.forward((t, b))?;
        }
        Ok(RnnOutput {
            output: self.m.read(self.out.output)?,
            h_n: self.m.read(self.out.h_n)?,
            c_n: self.out.c_n.map(|c| self.m.read(c)).transpose()?,
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
        if dc_n.is_some() && self.out.c_n.is_none() {
            return Err(Error::InvalidArgument {
                op: "rnn",
                message: "dc_n is only for LSTM".into(),
            });
        }
        let mut seeds = vec![(self.out.output, doutput)];
        seeds.extend(dh_n.map(|d| (self.out.h_n, d)));
        if let (Some(c_n), Some(d)) = (self.out.c_n, dc_n) {
            seeds.push((c_n, d));
        }
        self.m.backward_from(&seeds)?;
        Ok(RnnGrads {
            dx: self.m.grad_of(self.x)?,
            dh0: self.m.grad_of(self.out.h0)?,
            dc0: self.out.c0.map(|c| self.m.grad_of(c)).transpose()?,
            params: self.m.grads()?,
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
