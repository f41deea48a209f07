//! The character-level language model of karpathy/char-rnn as one plan:
//! characters → Embedding(V, E) → L-layer unidirectional RNN/GRU/LSTM (H) → Linear(H, V) at
//! every step → mean cross-entropy over all B·S positions.
//!
//! Its architecture is a [`ClassifierConfig`] whose classes are the V characters: the same
//! tensors under the same PyTorch names (`embedding.weight`, `lstm.weight_ih_l0`, …,
//! `fc.weight`, `fc.bias`); only the head differs, reading every step's output instead of
//! h_n. The head's products run once over all T·B rows after the recurrent loop, not per step.
//!
//! Truncated BPTT: the final state of each batch (h, and c for an LSTM) becomes the initial
//! state of the next, copied on the device at the end of every program, without gradient
//! (dh0 is never formed). [`CharLm::reset_state`] zeroes it, as a new epoch or stream does.

use std::collections::HashMap;

use crate::backend::{Backend, Runtime};
use crate::cpu::cross_entropy::Reduction;
use crate::cpu::embedding::TokenRows;
use crate::model::classifier_config::ClassifierConfig;
use crate::model::embedding_input::EmbeddingInput;
use crate::model::linear::Linear;
use crate::model::module::swap_tb;
use crate::model::optim::{Method, Optimizer};
use crate::model::params::ParamLayout;
use crate::model::rnn::RnnBuffers;
use crate::plan::{BufId, Buffers, Op, Program, View};
use crate::{Error, Result};

/// What a program computes after the forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    /// Loss, backward, clipping and Adam.
    Train,
    /// The loss alone (dropout off).
    Loss,
    /// The logits alone (dropout off).
    Logits,
}

/// The carried recurrent state of a model: h (L, B, H), and c for an LSTM.
#[derive(Clone, Debug, PartialEq)]
pub struct CarriedState {
    pub b: usize,
    pub h: Vec<f32>,
    pub c: Option<Vec<f32>>,
}

/// A language model with its optimizer state on a backend, for batches of up to `b_max`
/// streams of up to `t_max` steps.
pub struct CharLm {
    pub cfg: ClassifierConfig,
    pub layout: ParamLayout,
    pub opt: Optimizer,
    rt: Box<dyn Runtime>,
    input: EmbeddingInput,
    rnn: RnnBuffers,
    targets: BufId,
    logits: BufId,
    dlogits: BufId,
    loss: BufId,
    t_max: usize,
    b_max: usize,
    programs: HashMap<(usize, usize, Mode), Program>,
    /// The embedding table's product alone, run before inference when the weights changed.
    table: Option<Program>,
    table_fresh: bool,
    seed: u32,
    /// B of the state that h0 (c0) holds; `None`: to be zeroed before the next batch.
    carried: Option<usize>,
}

fn v(buf: BufId, len: usize) -> View {
    View {
        buf,
        offset: 0,
        len,
    }
}

impl CharLm {
    /// `cfg.classes` must equal `cfg.vocab`, and the recurrent layers must be unidirectional.
    pub fn new(
        cfg: ClassifierConfig,
        backend: &Backend,
        t_max: usize,
        b_max: usize,
        method: impl Into<Method>,
        max_norm: f32,
    ) -> Result<Self> {
        cfg.check()?;
        if cfg.classes != cfg.vocab || cfg.rnn.bidirectional {
            return Err(Error::InvalidArgument {
                op: "char_lm",
                message: format!(
                    "a language model predicts one of its V = {} characters with one direction; \
                     got {} classes{}",
                    cfg.vocab,
                    cfg.classes,
                    if cfg.rnn.bidirectional {
                        ", bidirectional"
                    } else {
                        ""
                    }
                ),
            });
        }
        let tb =
            t_max
                .checked_mul(b_max)
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::InvalidArgument {
                    op: "char_lm",
                    message: format!("{t_max} steps × {b_max} streams"),
                })?;
        let layout = cfg.layout();
        let mut bufs = Buffers::default();
        let opt = Optimizer::declare(&mut bufs, layout.len, method, max_norm);
        let input = EmbeddingInput::declare(&mut bufs, &cfg, tb);
        let k = cfg.vocab;
        let (targets, logits) = (bufs.i32("targets", tb), bufs.f32("logits", tb * k));
        let (dlogits, loss) = (bufs.f32("dlogits", tb * k), bufs.f32("loss", 1));
        let (params, grads) = (opt.params, opt.grads);
        let prefix = cfg.rnn_prefix();
        let rnn = RnnBuffers::declare(
            &mut bufs,
            &cfg.rnn,
            &prefix,
            &layout,
            params,
            grads,
            t_max,
            b_max,
            input.is_table(),
        );
        let rt = backend.runtime(&bufs)?;
        let table = input
            .table_op(&rnn, &layout, params)?
            .map(|op| Program::new(vec![op]));
        Ok(Self {
            cfg,
            layout,
            opt,
            rt,
            input,
            rnn,
            targets,
            logits,
            dlogits,
            loss,
            t_max,
            b_max,
            programs: HashMap::new(),
            table,
            table_fresh: false,
            seed: 0,
            carried: None,
        })
    }

    /// PyTorch's default initialisation (see [`ClassifierConfig::initial_params`]); also
    /// resets Adam. Returns the parameters.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        let flat = self.cfg.initial_params(&self.layout, seed)?;
        self.set_params(&flat)?;
        Ok(flat)
    }

    /// Set every parameter (flat, in [`CharLm::layout`] order) and reset Adam's state.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.layout.len {
            return Err(Error::Shape {
                op: "char_lm",
                expected: format!("{} parameters", self.layout.len),
                got: flat.len().to_string(),
            });
        }
        self.table_fresh = false;
        self.opt.set_params(self.rt.as_mut(), flat)
    }

    pub fn params(&mut self) -> Result<Vec<f32>> {
        self.opt.params(self.rt.as_mut())
    }

    /// Adam's moments and step count (see [`Optimizer::state`]).
    pub fn optimizer_state(&mut self) -> Result<(Vec<f32>, Vec<f32>, u64)> {
        self.opt.state(self.rt.as_mut())
    }

    /// Restore Adam's moments and step count, after [`CharLm::set_params`].
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

    /// Kernel launches of the last call.
    pub fn last_dispatches(&self) -> usize {
        self.rt.last_dispatches()
    }

    /// Start the next batch from zeros (a new epoch, a new stream).
    pub fn reset_state(&mut self) {
        self.carried = None;
    }

    /// The state the next batch starts from (`None`: zeros).
    pub fn state(&mut self) -> Result<Option<CarriedState>> {
        let Some(b) = self.carried else {
            return Ok(None);
        };
        let h = self.rt.read_f32(self.rnn.state(self.rnn.h0, b))?;
        let c = match self.rnn.c0 {
            Some(c0) => Some(self.rt.read_f32(self.rnn.state(c0, b))?),
            None => None,
        };
        Ok(Some(CarriedState { b, h, c }))
    }

    /// Continue from a state [`CharLm::state`] returned (`None`: zeros).
    pub fn set_state(&mut self, state: Option<&CarriedState>) -> Result<()> {
        self.carried = None;
        let Some(s) = state else { return Ok(()) };
        let want = self.rnn.state(self.rnn.h0, s.b).len;
        if s.b == 0 || s.b > self.b_max || s.h.len() != want {
            return Err(Error::Shape {
                op: "char_lm",
                expected: format!("a state of 1..={} streams", self.b_max),
                got: format!("{} values for {} streams", s.h.len(), s.b),
            });
        }
        self.rt.write_f32(self.rnn.h0, 0, &s.h)?;
        if let (Some(c0), Some(c)) = (self.rnn.c0, &s.c) {
            self.rt.write_f32(c0, 0, c)?;
        }
        self.carried = Some(s.b);
        Ok(())
    }

    /// The forward pass of a (T, B) batch to the logits (T·B, V), then the carry: h_n (c_n)
    /// into h0 (c0) for the next batch.
    fn forward_ops(&self, ops: &mut Vec<Op>, t: usize, b: usize, train: bool) -> Result<()> {
        let (params, k) = (self.opt.params, self.cfg.vocab);
        (self.input).forward_ops(ops, &self.rnn, &self.layout, params, (t, b), train)?;
        let fc = Linear::new(&self.layout, params, self.opt.grads, "fc")?;
        let tb = t * b;
        fc.forward(ops, v(self.logits, tb * k), self.rnn.output(t, b), tb);
        let mut carry = |from: BufId, to: BufId| {
            let (inp, out) = (self.rnn.state(from, b), self.rnn.state(to, b));
            ops.push(Op::copy_flat(out, inp));
        };
        carry(self.rnn.hn, self.rnn.h0);
        if let (Some(cn), Some(c0)) = (self.rnn.cn, self.rnn.c0) {
            carry(cn, c0);
        }
        Ok(())
    }

    /// The mean loss over the T·B positions and, for training, backward and Adam.
    fn loss_ops(&self, ops: &mut Vec<Op>, t: usize, b: usize, train: bool) -> Result<()> {
        let (tb, k) = (t * b, self.cfg.vocab);
        let dlogits = v(self.dlogits, tb * k);
        ops.push(Op::CrossEntropy {
            dlogits,
            loss: v(self.loss, 1),
            logits: v(self.logits, tb * k),
            targets: v(self.targets, tb),
            c: k,
            reduction: Reduction::Mean,
        });
        if !train {
            return Ok(());
        }
        ops.push(self.opt.zero_grads());
        let (params, grads) = (self.opt.params, self.opt.grads);
        let fc = Linear::new(&self.layout, params, grads, "fc")?;
        fc.backward(
            ops,
            Some(self.rnn.doutput(t, b)),
            dlogits,
            self.rnn.output(t, b),
            tb,
        );
        // Truncated BPTT: nothing flows back from the next batch into h_n (c_n).
        for state in [Some(self.rnn.dhn), self.rnn.dcn].into_iter().flatten() {
            ops.push(Op::Fill {
                out: self.rnn.state(state, b),
                value: 0.0,
            });
        }
        (self.input).backward_ops(ops, &self.rnn, &self.layout, (params, grads), (t, b))?;
        self.opt.step_ops(ops);
        Ok(())
    }

    fn program(&mut self, t: usize, b: usize, mode: Mode) -> Result<()> {
        if !self.programs.contains_key(&(t, b, mode)) {
            let mut ops = Vec::new();
            let train = mode == Mode::Train;
            if train && let Some(table) = &self.table {
                ops.extend(table.ops.iter().cloned());
            }
            self.forward_ops(&mut ops, t, b, train)?;
            if mode != Mode::Logits {
                self.loss_ops(&mut ops, t, b, train)?;
            }
            self.programs.insert((t, b, mode), Program::new(ops));
        }
        Ok(())
    }

    /// Check a batch of `b` streams of `s` steps, `x` (and `y`) (B, S) row-major, and write
    /// it time-major, with the token grouping for training and a zero state when none of
    /// this B is carried.
    fn load(
        &mut self,
        x: &[u32],
        y: Option<&[u32]>,
        b: usize,
        s: usize,
        train: bool,
    ) -> Result<()> {
        let n = b * s;
        let shape_ok = b > 0 && s > 0 && b <= self.b_max && s <= self.t_max;
        if !shape_ok || x.len() != n || y.is_some_and(|y| y.len() != n) {
            return Err(Error::Shape {
                op: "char_lm",
                expected: format!(
                    "1..={} streams of 1..={} steps, B·S ids each",
                    self.b_max, self.t_max
                ),
                got: format!("B = {b}, S = {s}, {} ids", x.len()),
            });
        }
        let vocab = self.cfg.vocab;
        if let Some(&bad) = x
            .iter()
            .chain(y.unwrap_or(&[]))
            .find(|&&i| i as usize >= vocab)
        {
            return Err(Error::InvalidArgument {
                op: "char_lm",
                message: format!("character id {bad} is outside the vocabulary of {vocab}"),
            });
        }
        let time_major = |z: &[u32]| swap_tb(z, s, b, 1, true);
        let ids = time_major(x);
        self.rt.write_u32(self.input.ids, 0, &ids)?;
        if let Some(y) = y {
            let targets: Vec<i32> = time_major(y).into_iter().map(|t| t as i32).collect();
            self.rt.write_i32(self.targets, 0, &targets)?;
        }
        if train {
            let rows = TokenRows::new(&ids, vocab)?;
            self.rt.write_u32(self.input.offsets, 0, &rows.offsets)?;
            self.rt.write_u32(self.input.rows, 0, &rows.rows)?;
        }
        self.rt.write_u32(self.rnn.lens, 0, &vec![s as u32; b])?;
        if self.carried != Some(b) {
            let zeros = vec![0f32; self.rnn.state(self.rnn.h0, b).len];
            self.rt.write_f32(self.rnn.h0, 0, &zeros)?;
            if let Some(c0) = self.rnn.c0 {
                self.rt.write_f32(c0, 0, &zeros)?;
            }
        }
        Ok(())
    }

    /// Run the program of `mode` on the loaded batch; the state is carried after it.
    fn run(&mut self, b: usize, s: usize, mode: Mode) -> Result<()> {
        self.program(s, b, mode)?;
        if mode == Mode::Train {
            let step = self.opt.begin_step(self.rt.as_mut())?;
            self.rt
                .write_u32(self.rnn.rng, 0, &[self.seed, step as u32])?;
            self.table_fresh = false;
        } else if !self.table_fresh {
            if let Some(table) = &self.table {
                self.rt.run(&[table])?;
            }
            self.table_fresh = true;
        }
        let program = &self.programs[&(s, b, mode)];
        self.rt.run(&[program])?;
        self.carried = Some(b);
        Ok(())
    }

    /// One optimizer step on `b` streams of `s` steps: inputs `x` and targets `y` (B, S)
    /// row-major, stream j continuing where it ended in the last batch. Returns the mean
    /// loss per character before the step.
    pub fn train_step(&mut self, x: &[u32], y: &[u32], b: usize, s: usize) -> Result<f32> {
        self.load(x, Some(y), b, s, true)?;
        self.run(b, s, Mode::Train)?;
        Ok(self.rt.read_f32(v(self.loss, 1))?[0])
    }

    /// Time each op of a training step on a batch by itself, `runs` times after a warm-up
    /// (`Runtime::time_op`): the op's label and its median seconds, in program order. The ops
    /// run on the model's own buffers, so they change its weights and state.
    pub fn profile_step(
        &mut self,
        x: &[u32],
        y: &[u32],
        (b, s): (usize, usize),
        runs: usize,
    ) -> Result<Vec<(String, usize, f64)>> {
        self.load(x, Some(y), b, s, true)?;
        self.program(s, b, Mode::Train)?;
        self.opt.begin_step(self.rt.as_mut())?;
        let ops = self.programs[&(s, b, Mode::Train)].ops.clone();
        self.rt.profile(&ops, runs)
    }

    /// The mean loss per character of a batch in eval mode, carrying the state.
    pub fn loss(&mut self, x: &[u32], y: &[u32], b: usize, s: usize) -> Result<f32> {
        self.load(x, Some(y), b, s, false)?;
        self.run(b, s, Mode::Loss)?;
        Ok(self.rt.read_f32(v(self.loss, 1))?[0])
    }

    /// The logits (B, S, V) of a batch in eval mode, carrying the state: row (j, i) predicts
    /// the character after `x[j][i]`.
    pub fn logits(&mut self, x: &[u32], b: usize, s: usize) -> Result<Vec<f32>> {
        self.load(x, None, b, s, false)?;
        self.run(b, s, Mode::Logits)?;
        let k = self.cfg.vocab;
        let tm = self.rt.read_f32(v(self.logits, s * b * k))?;
        if b == 1 {
            return Ok(tm);
        }
        Ok(swap_tb(&tm, s, b, k, false))
    }
}
