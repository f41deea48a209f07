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

mod passes;

use crate::cpu::cell::CellDims;
use crate::model::params::ParamLayout;
use crate::plan::{BufId, Buffers, CellKind, Steps, View};
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
    Table {
        /// The (V, D·G·H) projections, one row per token.
        table: View,
        /// The (T, B) token ids.
        ids: View,
    },
}

/// A recurrent module inside a plan: its config, where its parameters and gradients live, and
/// its activation and state buffers.
#[derive(Clone, Debug)]
pub struct RnnBuffers {
    /// The module's constructor arguments.
    pub cfg: RnnConfig,
    prefix: String,
    layout: ParamLayout,
    params: BufId,
    grads: BufId,
    /// The longest sequence the buffers hold.
    pub t_max: usize,
    /// The largest batch the buffers hold.
    pub b_max: usize,
    /// (B) sequence lengths, u32.
    pub lens: BufId,
    /// (L·D, B, H) initial states (zeros unless written), and c0 for LSTM.
    pub h0: BufId,
    /// c0, for an LSTM.
    pub c0: Option<BufId>,
    /// (L·D, B, H) final states, indexed layer·D + direction.
    pub hn: BufId,
    /// c_n, for an LSTM.
    pub cn: Option<BufId>,
    /// Gradients of the loss with respect to h_n (and c_n): inputs of backward.
    pub dhn: BufId,
    /// dc_n, for an LSTM.
    pub dcn: Option<BufId>,
    /// Gradients with respect to h0 (and c0): outputs of backward.
    pub dh0: BufId,
    /// dc0, for an LSTM.
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
}
