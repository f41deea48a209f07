//! The lecture-13 sequence classifier as one plan:
//! tokens → Embedding(V, E) → RNN/GRU/LSTM over the packed sequences → Linear(D·H, C) on
//! cat(h_n[-1], h_n[-2]) (the top layer's backward direction first, as the lecture writes it;
//! h_n[-1] alone when unidirectional) → cross-entropy. A training step (forward, loss,
//! backward, optional clipping, Adam) is one program, run as one submission; only the loss is
//! read back.

use std::collections::HashMap;

use crate::backend::{Backend, Runtime};
use crate::cpu::cross_entropy::Reduction;
use crate::cpu::embedding::TokenRows;
use crate::model::embedding_input::EmbeddingInput;
use crate::model::linear::Linear;
use crate::model::optim::{Method, Optimizer};
use crate::model::params::ParamLayout;
use crate::model::rnn::RnnBuffers;
use crate::plan::{BufId, Buffers, Op, Program, View};
use crate::{Error, Result};

pub use crate::model::classifier_config::ClassifierConfig;

/// Labelled sequences of token ids (each in 0..V, each non-empty), any lengths and order.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub tokens: Vec<Vec<u32>>,
    pub targets: Vec<i32>,
}

impl Batch {
    /// The longest sequence: T of this batch.
    pub fn steps(&self) -> usize {
        self.tokens.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// The plan's buffers besides the embedding's and the recurrent module's.
struct Bufs {
    targets: BufId,
    fc_in: BufId,
    dfc_in: BufId,
    logits: BufId,
    dlogits: BufId,
    loss: BufId,
}

/// A classifier with its optimizer state on a backend, for batches of up to `b_max`
/// sequences of up to `t_max` tokens.
pub struct Classifier {
    pub cfg: ClassifierConfig,
    pub layout: ParamLayout,
    pub opt: Optimizer,
    rt: Box<dyn Runtime>,
    b: Bufs,
    input: EmbeddingInput,
    rnn: RnnBuffers,
    t_max: usize,
    b_max: usize,
    programs: HashMap<(usize, usize, bool), Program>,
    seed: u32,
    /// The batch's sequence at each row of the loaded (length-sorted) batch.
    order: Vec<usize>,
    buffer_bytes: usize,
}

fn v(buf: BufId, len: usize) -> View {
    View {
        buf,
        offset: 0,
        len,
    }
}

impl Classifier {
    pub fn new(
        cfg: ClassifierConfig,
        backend: &Backend,
        t_max: usize,
        b_max: usize,
        method: impl Into<Method>,
        max_norm: f32,
    ) -> Result<Self> {
        cfg.check()?;
        let layout = cfg.layout();
        let tb = t_max
            .checked_mul(b_max)
            .ok_or_else(|| Error::InvalidArgument {
                op: "classifier",
                message: format!("{t_max} steps × {b_max} sequences overflow"),
            })?;
        let p = layout.len;
        let mut bufs = Buffers::default();
        let opt = Optimizer::declare(&mut bufs, p, method, max_norm);
        let input = EmbeddingInput::declare(&mut bufs, &cfg, tb);
        let b = Bufs {
            targets: bufs.i32("targets", b_max),
            fc_in: bufs.f32("fc.in", b_max * cfg.fc_in()),
            dfc_in: bufs.f32("fc.din", b_max * cfg.fc_in()),
            logits: bufs.f32("logits", b_max * cfg.classes),
            dlogits: bufs.f32("dlogits", b_max * cfg.classes),
            loss: bufs.f32("loss", 1),
        };
        let rnn = RnnBuffers::declare(
            &mut bufs,
            &cfg.rnn,
            &cfg.rnn_prefix(),
            &layout,
            opt.params,
            opt.grads,
            t_max,
            b_max,
            input.is_table(),
        );
        let rt = backend.runtime(&bufs)?;
        let buffer_bytes = bufs.decls.iter().map(|d| 4 * d.len).sum();
        Ok(Self {
            cfg,
            layout,
            opt,
            rt,
            b,
            input,
            rnn,
            t_max,
            b_max,
            programs: HashMap::new(),
            seed: 0,
            order: Vec::new(),
            buffer_bytes,
        })
    }

    /// PyTorch's default initialisation: Embedding from N(0, 1), the recurrent layer from
    /// U(±1/√H), Linear weight and bias from U(±1/√fan_in). Also resets Adam. Returns the
    /// parameters.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        let flat = self.cfg.initial_params(&self.layout, seed)?;
        self.set_params(&flat)?;
        Ok(flat)
    }

    /// Set every parameter (flat, in [`Classifier::layout`] order) and reset Adam's state.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.layout.len {
            return Err(Error::Shape {
                op: "classifier",
                expected: format!("{} parameters", self.layout.len),
                got: flat.len().to_string(),
            });
        }
        self.opt.set_params(self.rt.as_mut(), flat)
    }

    pub fn params(&mut self) -> Result<Vec<f32>> {
        self.opt.params(self.rt.as_mut())
    }

    /// Adam's moments and step count (see [`Optimizer::state`]).
    pub fn optimizer_state(&mut self) -> Result<(Vec<f32>, Vec<f32>, u64)> {
        self.opt.state(self.rt.as_mut())
    }

    /// Restore Adam's moments and step count, after [`Classifier::set_params`].
    pub fn set_optimizer_state(&mut self, m: &[f32], v: &[f32], step: u64) -> Result<()> {
        self.opt.set_state(self.rt.as_mut(), m, v, step)
    }

    /// Seed of the dropout masks.
    pub fn set_seed(&mut self, seed: u32) {
        self.seed = seed;
    }

    pub fn describe(&self) -> String {
        self.rt.describe()
    }

    /// Bytes of all the model's buffers: parameters, gradients, Adam's moments and the
    /// activations for `t_max × b_max`. They are allocated together, so this is the peak.
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }

    /// Kernel launches of the last step or inference (one per op).
    pub fn last_dispatches(&self) -> usize {
        self.rt.last_dispatches()
    }

    /// Forward to logits for a (T, B) batch (`train`: dropout on).
    fn forward_ops(&self, ops: &mut Vec<Op>, t: usize, b: usize, train: bool) -> Result<()> {
        let c = &self.cfg;
        let (h, d, l) = (c.rnn.hidden, c.rnn.dirs(), c.rnn.layers);
        if let Some(op) = self
            .input
            .table_op(&self.rnn, &self.layout, self.opt.params)?
        {
            ops.push(op);
        }
        let params = self.opt.params;
        (self.input).forward_ops(ops, &self.rnn, &self.layout, params, (t, b), train)?;
        // cat(h_n[-1], h_n[-2]): the top layer's last direction first.
        let hn = self.rnn.state(self.rnn.hn, b);
        let bh = b * h;
        for (slot, dir) in (0..d).rev().enumerate() {
            let src = hn.sub(((l - 1) * d + dir) * bh, bh);
            ops.push(Op::Copy {
                out: v(self.b.fc_in, b * d * h).sub(slot * h, (b - 1) * d * h + h),
                inp: src,
                rows: b,
                cols: h,
                ldo: d * h,
                ldi: h,
            });
        }
        let fc = Linear::new(&self.layout, self.opt.params, self.opt.grads, "fc")?;
        fc.forward(
            ops,
            v(self.b.logits, b * c.classes),
            v(self.b.fc_in, b * d * h),
            b,
        );
        Ok(())
    }

    /// Loss, backward, clipping and Adam after `forward_ops(.., train = true)`.
    fn train_ops(&self, ops: &mut Vec<Op>, t: usize, b: usize) -> Result<()> {
        let c = &self.cfg;
        let (h, d, l, k) = (c.rnn.hidden, c.rnn.dirs(), c.rnn.layers, c.classes);
        let dh = d * h;
        let dlogits = v(self.b.dlogits, b * k);
        ops.push(Op::CrossEntropy {
            dlogits,
            loss: v(self.b.loss, 1),
            logits: v(self.b.logits, b * k),
            targets: v(self.b.targets, b),
            c: k,
            reduction: Reduction::Mean,
        });
        ops.push(self.opt.zero_grads());
        let fc = Linear::new(&self.layout, self.opt.params, self.opt.grads, "fc")?;
        let dfc = v(self.b.dfc_in, b * dh);
        fc.backward(ops, Some(dfc), dlogits, v(self.b.fc_in, b * dh), b);
        // Back through the concatenation into dh_n; every other state and the output get 0.
        let dhn = self.rnn.state(self.rnn.dhn, b);
        ops.push(Op::Fill {
            out: dhn,
            value: 0.0,
        });
        let bh = b * h;
        for (slot, dir) in (0..d).rev().enumerate() {
            let dst = dhn.sub(((l - 1) * d + dir) * bh, bh);
            ops.push(Op::Copy {
                out: dst,
                inp: dfc.sub(slot * h, (b - 1) * dh + h),
                rows: b,
                cols: h,
                ldo: h,
                ldi: dh,
            });
        }
        ops.push(Op::Fill {
            out: self.rnn.doutput(t, b),
            value: 0.0,
        });
        let pg = (self.opt.params, self.opt.grads);
        (self.input).backward_ops(ops, &self.rnn, &self.layout, pg, (t, b))?;
        self.opt.step_ops(ops);
        Ok(())
    }

    fn program(&mut self, t: usize, b: usize, train: bool) -> Result<()> {
        if !self.programs.contains_key(&(t, b, train)) {
            let mut ops = Vec::new();
            self.forward_ops(&mut ops, t, b, train)?;
            if train {
                self.train_ops(&mut ops, t, b)?;
            }
            self.programs.insert((t, b, train), Program::new(ops));
        }
        Ok(())
    }

    /// Check the batch and write its tokens (time-major, padded with id 0, longest sequence
    /// first), lengths and targets. Returns (T, B).
    fn load(&mut self, batch: &Batch, train: bool) -> Result<(usize, usize)> {
        let (t, b) = (batch.steps(), batch.tokens.len());
        if b == 0 || b > self.b_max || t > self.t_max || (train && batch.targets.len() != b) {
            return Err(Error::Shape {
                op: "classifier",
                expected: format!(
                    "1..={} sequences of 1..={} tokens, one target each",
                    self.b_max, self.t_max
                ),
                got: format!(
                    "{b} sequences, longest {t}, {} targets",
                    batch.targets.len()
                ),
            });
        }
        // Longest first, as pack_padded_sequence sorts them: then the rows still running at
        // any step are a prefix, and the CPU runtime's products skip the rest.
        let mut order: Vec<usize> = (0..b).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(batch.tokens[j].len()));
        let mut ids = vec![0u32; t * b];
        let mut lens = vec![0u32; b];
        for (row, &j) in order.iter().enumerate() {
            let seq = &batch.tokens[j];
            if seq.is_empty() {
                return Err(Error::InvalidArgument {
                    op: "classifier",
                    message: format!("sequence {j} is empty"),
                });
            }
            if let Some(&bad) = seq.iter().find(|&&x| x as usize >= self.cfg.vocab) {
                return Err(Error::InvalidArgument {
                    op: "classifier",
                    message: format!(
                        "sequence {j} has token id {bad}, outside the vocabulary of {}",
                        self.cfg.vocab
                    ),
                });
            }
            for (s, &tok) in seq.iter().enumerate() {
                ids[s * b + row] = tok;
            }
            lens[row] = seq.len() as u32;
        }
        self.rt.write_u32(self.input.ids, 0, &ids)?;
        self.rt.write_u32(self.rnn.lens, 0, &lens)?;
        if train {
            if let Some(&bad) = batch
                .targets
                .iter()
                .find(|&&x| x < 0 || x as usize >= self.cfg.classes)
            {
                return Err(Error::InvalidArgument {
                    op: "classifier",
                    message: format!("target {bad} outside 0..{}", self.cfg.classes),
                });
            }
            let targets: Vec<i32> = order.iter().map(|&j| batch.targets[j]).collect();
            self.rt.write_i32(self.b.targets, 0, &targets)?;
            let rows = TokenRows::new(&ids, self.cfg.vocab)?;
            self.rt.write_u32(self.input.offsets, 0, &rows.offsets)?;
            self.rt.write_u32(self.input.rows, 0, &rows.rows)?;
        }
        self.order = order;
        Ok((t, b))
    }

    /// One optimizer step on `batch`; returns the mean loss before the step.
    pub fn train_step(&mut self, batch: &Batch) -> Result<f32> {
        let (t, b) = self.load(batch, true)?;
        self.program(t, b, true)?;
        let step = self.opt.begin_step(self.rt.as_mut())?;
        self.rt
            .write_u32(self.rnn.rng, 0, &[self.seed, step as u32])?;
        let program = &self.programs[&(t, b, true)];
        self.rt.run(&[program])?;
        Ok(self.rt.read_f32(v(self.b.loss, 1))?[0])
    }

    /// Time each op of the training step (`train`) or of inference on `batch` by itself,
    /// `runs` times after a warm-up (`Runtime::time_op`): the op's label and its median
    /// seconds, in program order. The ops run on the model's own buffers, so training ops
    /// change the parameters: profile a model whose weights no longer matter.
    pub fn profile_step(
        &mut self,
        batch: &Batch,
        runs: usize,
        train: bool,
    ) -> Result<Vec<(String, usize, f64)>> {
        let (t, b) = self.load(batch, train)?;
        self.program(t, b, train)?;
        if train {
            self.opt.begin_step(self.rt.as_mut())?;
        }
        let ops = self.programs[&(t, b, train)].ops.clone();
        self.rt.profile(&ops, runs)
    }

    /// Logits (B, C) of `batch` in eval mode (targets are not needed).
    pub fn logits(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        let (t, b) = self.load(batch, false)?;
        self.program(t, b, false)?;
        let program = &self.programs[&(t, b, false)];
        self.rt.run(&[program])?;
        let sorted = self.rt.read_f32(v(self.b.logits, b * self.cfg.classes))?;
        let c = self.cfg.classes;
        let mut logits = vec![0f32; b * c];
        for (row, &j) in self.order.iter().enumerate() {
            logits[j * c..(j + 1) * c].copy_from_slice(&sorted[row * c..(row + 1) * c]);
        }
        Ok(logits)
    }
}
