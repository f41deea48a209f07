//! A sequence tagger: a class for every step, as lecture 12's 'hello' → 'ohlol' examples.
//! Inputs are one-hot (or any dense) vectors, or token ids through an Embedding; an RNN/GRU/LSTM;
//! optionally a Linear layer per step (without it the hidden state itself is the logits, as
//! with lecture 12's `RNNCell(4, 4)`); cross-entropy over every step, summed or averaged.
//! A training step is one program, as for the classifier.

use std::collections::HashMap;

use crate::backend::{Backend, Runtime};
use crate::cpu::adam::AdamConfig;
use crate::cpu::cross_entropy::Reduction;
use crate::cpu::embedding::TokenRows;
use crate::model::linear::Linear;
use crate::model::optim::Optimizer;
use crate::model::params::{ParamLayout, init_uniform};
use crate::model::rnn::{LayerInput, RnnBuffers, RnnConfig};
use crate::plan::{BufId, Buffers, Op, Program, View};
use crate::{Error, Result};

/// What feeds the recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaggerInput {
    /// Dense vectors of the recurrent layer's input size (one-hot in lecture 12).
    Dense,
    /// Token ids through `Embedding(vocab, rnn.input_size)`.
    Embedding { vocab: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaggerConfig {
    pub input: TaggerInput,
    pub rnn: RnnConfig,
    /// `Some(C)`: Linear(D·H, C) per step; `None`: the output (D·H wide) is the logits.
    pub fc: Option<usize>,
    /// Sum of the per-step losses (lecture 12's RNNCell loop) or their mean.
    pub reduction: Reduction,
}

impl TaggerConfig {
    pub fn classes(&self) -> usize {
        self.fc.unwrap_or(self.rnn.dirs() * self.rnn.hidden)
    }

    pub fn layout(&self) -> ParamLayout {
        let mut l = ParamLayout::default();
        if let TaggerInput::Embedding { vocab } = self.input {
            l.push("emb.weight", &[vocab, self.rnn.input_size]);
        }
        self.rnn.push_params(&mut l, "rnn.");
        if let Some(c) = self.fc {
            l.push("fc.weight", &[c, self.rnn.dirs() * self.rnn.hidden]);
            l.push("fc.bias", &[c]);
        }
        l
    }
}

/// The input of one step: dense (T, B, I) vectors or (T, B) token ids, time-major.
pub enum TaggerBatch<'a> {
    Dense(&'a [f32]),
    Tokens(&'a [u32]),
}

struct Bufs {
    x: BufId,
    ids: BufId,
    offsets: BufId,
    rows: BufId,
    dx: BufId,
    targets: BufId,
    logits: BufId,
    dlogits: BufId,
    loss: BufId,
}

pub struct Tagger {
    pub cfg: TaggerConfig,
    pub layout: ParamLayout,
    pub opt: Optimizer,
    rt: Box<dyn Runtime>,
    b: Bufs,
    rnn: RnnBuffers,
    programs: HashMap<(usize, usize), Program>,
}

fn v(buf: BufId, len: usize) -> View {
    View {
        buf,
        offset: 0,
        len,
    }
}

impl Tagger {
    pub fn new(
        cfg: TaggerConfig,
        backend: &Backend,
        t_max: usize,
        b_max: usize,
        adam: AdamConfig,
    ) -> Result<Self> {
        let layout = cfg.layout();
        let (tb, i, c) = (t_max * b_max, cfg.rnn.input_size, cfg.classes());
        let mut bufs = Buffers::default();
        let opt = Optimizer::declare(&mut bufs, layout.len, adam, 0.0);
        let vocab = match cfg.input {
            TaggerInput::Embedding { vocab } => vocab,
            TaggerInput::Dense => 0,
        };
        let b = Bufs {
            x: bufs.f32("x", tb * i),
            ids: bufs.u32("ids", tb),
            offsets: bufs.u32("token_rows.offsets", vocab + 1),
            rows: bufs.u32("token_rows.rows", tb),
            dx: bufs.f32("dx", tb * i),
            targets: bufs.i32("targets", tb),
            logits: bufs.f32("logits", tb * c),
            dlogits: bufs.f32("dlogits", tb * c),
            loss: bufs.f32("loss", 1),
        };
        let rnn = RnnBuffers::declare(
            &mut bufs, &cfg.rnn, "rnn.", &layout, opt.params, opt.grads, t_max, b_max, false,
        );
        let rt = backend.runtime(&bufs)?;
        Ok(Self {
            cfg,
            layout,
            opt,
            rt,
            b,
            rnn,
            programs: HashMap::new(),
        })
    }

    /// PyTorch's initialisation (Embedding N(0, 1) via Box–Muller, recurrent U(±1/√H),
    /// Linear U(±1/√fan_in)); returns the parameters.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        let mut flat = vec![0f32; self.layout.len];
        let h = self.cfg.rnn.hidden as f32;
        for e in &self.layout.entries {
            let s = &mut flat[e.offset..e.offset + e.len()];
            let salt = seed ^ (e.offset as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            if e.name == "emb.weight" {
                init_uniform(s, 1.0, salt);
                // Box–Muller on pairs of uniforms in (−1, 1): a standard normal sample each.
                for pair in s.chunks_mut(2) {
                    let u1 = (pair[0].abs() as f64).max(f64::EPSILON);
                    let u2 = pair.get(1).copied().unwrap_or(0.25) as f64;
                    let r = (-2.0 * u1.ln()).sqrt();
                    pair[0] = (r * (std::f64::consts::PI * u2).cos()) as f32;
                    if pair.len() > 1 {
                        pair[1] = (r * (std::f64::consts::PI * u2).sin()) as f32;
                    }
                }
            } else if e.name.starts_with("fc.") {
                init_uniform(s, 1.0 / ((self.cfg.rnn.dirs() as f32) * h).sqrt(), salt);
            } else {
                init_uniform(s, 1.0 / h.sqrt(), salt);
            }
        }
        self.opt.set_params(self.rt.as_mut(), &flat)?;
        Ok(flat)
    }

    fn program(&mut self, t: usize, b: usize) -> Result<()> {
        if self.programs.contains_key(&(t, b)) {
            return Ok(());
        }
        let c = &self.cfg;
        let (i, k, tb) = (c.rnn.input_size, c.classes(), t * b);
        let mut ops = Vec::new();
        let x = v(self.b.x, tb * i);
        if let TaggerInput::Embedding { .. } = c.input {
            ops.push(Op::EmbeddingFwd {
                out: x,
                ids: v(self.b.ids, tb),
                weight: self.layout.view(self.opt.params, "emb.weight")?,
                e: i,
            });
        }
        self.rnn
            .forward_ops(&mut ops, LayerInput::Rows(x), t, b, true)?;
        let out = self.rnn.output(t, b);
        // Without a Linear layer the recurrent output is the logits, and its gradient is dlogits.
        let (logits, dlogits) = match c.fc {
            Some(_) => (v(self.b.logits, tb * k), v(self.b.dlogits, tb * k)),
            None => (out, self.rnn.doutput(t, b)),
        };
        let fc = match c.fc {
            Some(_) => Some(Linear::new(
                &self.layout,
                self.opt.params,
                self.opt.grads,
                "fc",
            )?),
            None => None,
        };
        if let Some(fc) = &fc {
            fc.forward(&mut ops, logits, out, tb);
        }
        ops.push(Op::CrossEntropy {
            dlogits,
            loss: v(self.b.loss, 1),
            logits,
            targets: v(self.b.targets, tb),
            c: k,
            reduction: c.reduction,
        });
        ops.push(self.opt.zero_grads());
        if let Some(fc) = &fc {
            fc.backward(&mut ops, Some(self.rnn.doutput(t, b)), dlogits, out, tb);
        }
        ops.push(Op::Fill {
            out: self.rnn.state(self.rnn.dhn, b),
            value: 0.0,
        });
        if let Some(dcn) = self.rnn.dcn {
            ops.push(Op::Fill {
                out: self.rnn.state(dcn, b),
                value: 0.0,
            });
        }
        let embedded = matches!(c.input, TaggerInput::Embedding { .. });
        let dx = v(self.b.dx, tb * i);
        self.rnn
            .backward_ops(&mut ops, Some(x), embedded.then_some(dx), t, b, false)?;
        if let TaggerInput::Embedding { vocab } = c.input {
            ops.push(Op::EmbeddingBwd {
                dweight: self.layout.view(self.opt.grads, "emb.weight")?,
                dout: dx,
                offsets: v(self.b.offsets, vocab + 1),
                rows: v(self.b.rows, tb),
                e: i,
            });
        }
        self.opt.step_ops(&mut ops);
        self.programs.insert((t, b), Program::new(ops));
        Ok(())
    }

    /// One optimizer step on a (T, B) batch with `targets` (T·B, time-major). Returns the loss
    /// and the logits (T·B, C) of the forward pass before the update.
    pub fn train_step(
        &mut self,
        input: TaggerBatch,
        targets: &[i32],
        t: usize,
        b: usize,
    ) -> Result<(f32, Vec<f32>)> {
        let tb = t * b;
        if targets.len() != tb {
            return Err(Error::Shape {
                op: "tagger",
                expected: format!("{tb} targets (T·B)"),
                got: targets.len().to_string(),
            });
        }
        match (input, self.cfg.input) {
            (TaggerBatch::Dense(x), TaggerInput::Dense) => self.rt.write_f32(self.b.x, 0, x)?,
            (TaggerBatch::Tokens(ids), TaggerInput::Embedding { vocab }) => {
                self.rt.write_u32(self.b.ids, 0, ids)?;
                let rows = TokenRows::new(ids, vocab)?;
                self.rt.write_u32(self.b.offsets, 0, &rows.offsets)?;
                self.rt.write_u32(self.b.rows, 0, &rows.rows)?;
            }
            _ => {
                return Err(Error::InvalidArgument {
                    op: "tagger",
                    message: "input kind does not match the model's".into(),
                });
            }
        }
        self.rt.write_i32(self.b.targets, 0, targets)?;
        self.rt.write_u32(self.rnn.lens, 0, &vec![t as u32; b])?;
        self.rt.write_f32(
            self.rnn.h0,
            0,
            &vec![0.0; self.rnn.state(self.rnn.h0, b).len],
        )?;
        if let Some(c0) = self.rnn.c0 {
            self.rt
                .write_f32(c0, 0, &vec![0.0; self.rnn.state(c0, b).len])?;
        }
        self.program(t, b)?;
        self.opt.begin_step(self.rt.as_mut())?;
        let program = &self.programs[&(t, b)];
        self.rt.run(&[program])?;
        let loss = self.rt.read_f32(v(self.b.loss, 1))?[0];
        let logits = match self.cfg.fc {
            Some(_) => self
                .rt
                .read_f32(v(self.b.logits, tb * self.cfg.classes()))?,
            None => self.rt.read_f32(self.rnn.output(t, b))?,
        };
        Ok((loss, logits))
    }
}
