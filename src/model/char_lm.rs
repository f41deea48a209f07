//! The character-level language model of karpathy/char-rnn, written with the public API
//! ([`crate::nn`]): characters → Embedding(V, E) → L-layer unidirectional RNN/GRU/LSTM (H) →
//! Linear(H, V) at every step → mean cross-entropy over all B·S positions
//! ([`Head::Steps`]).
//!
//! Its architecture is a [`ClassifierConfig`] whose classes are the V characters: the same
//! tensors under the same PyTorch names (`embedding.weight`, `lstm.weight_ih_l0`, …,
//! `fc.weight`, `fc.bias`); only the head differs, reading every step's output instead of
//! h_n.
//!
//! Truncated BPTT: the final state of each batch (h, and c for an LSTM) becomes the initial
//! state of the next ([`crate::nn::Graph::carry`]), copied on the device at the end of every
//! forward pass, without gradient. [`CharLm::reset_state`] zeroes it, as a new epoch or
//! stream does.

use crate::backend::Backend;
use crate::model::classifier_config::ClassifierConfig;
use crate::model::optim::Method;
use crate::model::task_graph::{Head, TaskModel, TaskVars};
use crate::{Error, Result};

/// The carried recurrent state of a model: h (L, B, H), and c for an LSTM.
#[derive(Clone, Debug, PartialEq)]
pub struct CarriedState {
    /// Streams (B) the state holds.
    pub b: usize,
    /// h (L, B, H).
    pub h: Vec<f32>,
    /// c (L, B, H), for an LSTM.
    pub c: Option<Vec<f32>>,
}

/// A language model with its optimizer state on a backend, for batches of up to `b_max`
/// streams of up to `t_max` steps. The shared parts (parameters, optimizer state, seed) are
/// [`TaskModel`]'s, reached through `Deref`.
pub struct CharLm {
    task: TaskModel,
    net: TaskVars,
    /// B of the state that h0 (c0) holds; `None`: to be zeroed before the next batch.
    carried: Option<usize>,
}

impl std::ops::Deref for CharLm {
    type Target = TaskModel;
    fn deref(&self) -> &TaskModel {
        &self.task
    }
}

impl std::ops::DerefMut for CharLm {
    fn deref_mut(&mut self) -> &mut TaskModel {
        &mut self.task
    }
}

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "char_lm",
        message,
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
        Self::build(
            cfg,
            backend,
            (t_max, b_max),
            Some((method.into(), max_norm)),
        )
    }

    /// For inference only ([`CharLm::loss`], [`CharLm::logits`]): no gradients or optimizer
    /// state are allocated.
    pub fn inference(
        cfg: ClassifierConfig,
        backend: &Backend,
        t_max: usize,
        b_max: usize,
    ) -> Result<Self> {
        Self::build(cfg, backend, (t_max, b_max), None)
    }

    fn build(
        cfg: ClassifierConfig,
        backend: &Backend,
        (t_max, b_max): (usize, usize),
        optim: Option<(Method, f32)>,
    ) -> Result<Self> {
        if cfg.classes != cfg.vocab || cfg.rnn.bidirectional {
            let both = if cfg.rnn.bidirectional {
                ", bidirectional"
            } else {
                ""
            };
            return Err(bad(format!(
                "a language model predicts one of its V = {} characters with one direction; \
                 got {} classes{both}",
                cfg.vocab, cfg.classes
            )));
        }
        if t_max == 0 || b_max == 0 {
            return Err(bad(format!("{t_max} steps × {b_max} streams")));
        }
        let (task, net) = TaskModel::new(cfg, Head::Steps, backend, (t_max, b_max), optim)?;
        Ok(Self {
            task,
            net,
            carried: None,
        })
    }

    /// PyTorch's default initialisation (see [`ClassifierConfig::initial_params`]); also
    /// restarts the optimizer and zeroes the carried state. Returns the parameters.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        self.carried = None;
        self.task.init(seed)
    }

    /// Set every parameter (flat, in [`TaskModel::layout`] order), restart the optimizer and
    /// zero the carried state.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        self.task.m.set_params(flat)?;
        self.carried = None;
        Ok(())
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
        let h = self.task.m.read_state(self.net.rnn.h0, b)?;
        let c = match self.net.rnn.c0 {
            Some(c0) => Some(self.task.m.read_state(c0, b)?),
            None => None,
        };
        Ok(Some(CarriedState { b, h, c }))
    }

    /// Continue from a state [`CharLm::state`] returned (`None`: zeros).
    pub fn set_state(&mut self, state: Option<&CarriedState>) -> Result<()> {
        self.carried = None;
        let Some(s) = state else { return Ok(()) };
        let (b_max, per_stream) = (self.task.m.max.1, self.cfg.rnn.layers * self.cfg.rnn.hidden);
        let c_ok = s.c.as_ref().map(Vec::len) == self.net.rnn.c0.map(|_| s.h.len());
        if s.b == 0 || s.b > b_max || s.h.len() != s.b * per_stream || !c_ok {
            return Err(Error::Shape {
                op: "char_lm",
                expected: format!("a state of 1..={b_max} streams"),
                got: format!("{} values for {} streams", s.h.len(), s.b),
            });
        }
        self.task.m.write(self.net.rnn.h0, &s.h, (1, s.b))?;
        if let (Some(c0), Some(c)) = (self.net.rnn.c0, &s.c) {
            self.task.m.write(c0, c, (1, s.b))?;
        }
        self.carried = Some(s.b);
        Ok(())
    }

    /// Check a batch of `b` streams of `s` steps, `x` (and `y`) (B, S) row-major, and write
    /// it, with a zero state when none of this B is carried.
    fn load(&mut self, x: &[u32], y: Option<&[u32]>, b: usize, s: usize) -> Result<()> {
        let n = b * s;
        let (t_max, b_max) = self.task.m.max;
        let shape_ok = b > 0 && s > 0 && b <= b_max && s <= t_max;
        if !shape_ok || x.len() != n || y.is_some_and(|y| y.len() != n) {
            return Err(Error::Shape {
                op: "char_lm",
                expected: format!("1..={b_max} streams of 1..={t_max} steps, B·S ids each"),
                got: format!("B = {b}, S = {s}, {} ids", x.len()),
            });
        }
        let vocab = self.cfg.vocab;
        let outside = x
            .iter()
            .chain(y.unwrap_or(&[]))
            .find(|&&i| i as usize >= vocab);
        if let Some(&id) = outside {
            return Err(bad(format!(
                "character id {id} is outside the vocabulary of {vocab}"
            )));
        }
        self.task.m.write_ids(self.net.x, x, (s, b))?;
        if let Some(y) = y {
            let targets: Vec<i64> = y.iter().map(|&c| c.into()).collect();
            self.task.m.write_targets(self.net.y, &targets, (s, b))?;
        }
        self.task.m.set_lengths(None);
        if self.carried != Some(b) {
            let zeros = vec![0f32; b * self.cfg.rnn.layers * self.cfg.rnn.hidden];
            self.task.m.write(self.net.rnn.h0, &zeros, (s, b))?;
            if let Some(c0) = self.net.rnn.c0 {
                self.task.m.write(c0, &zeros, (s, b))?;
            }
        }
        Ok(())
    }

    /// One optimizer step on `b` streams of `s` steps: inputs `x` and targets `y` (B, S)
    /// row-major, stream j continuing where it ended in the last batch. Returns the mean
    /// loss per character before the step.
    pub fn train_step(&mut self, x: &[u32], y: &[u32], b: usize, s: usize) -> Result<f32> {
        self.load(x, Some(y), b, s)?;
        self.task.m.train_step((s, b))?;
        self.carried = Some(b);
        self.task.m.scalar(self.net.loss)
    }

    /// Time each op of a training step on a batch by itself (see
    /// [`Model::profile`](crate::nn::Model::profile)). The ops run on the model's own
    /// buffers, so they change its weights and state.
    pub fn profile_step(
        &mut self,
        x: &[u32],
        y: &[u32],
        (b, s): (usize, usize),
        runs: usize,
    ) -> Result<Vec<(String, usize, f64)>> {
        self.load(x, Some(y), b, s)?;
        self.task.m.profile((s, b), runs, true)
    }

    /// The mean loss per character of a batch in eval mode, carrying the state.
    pub fn loss(&mut self, x: &[u32], y: &[u32], b: usize, s: usize) -> Result<f32> {
        self.load(x, Some(y), b, s)?;
        self.task.m.forward((s, b))?;
        self.carried = Some(b);
        self.task.m.scalar(self.net.loss)
    }

    /// The logits (B, S, V) of a batch in eval mode, carrying the state: row (j, i) predicts
    /// the character after `x[j][i]`.
    pub fn logits(&mut self, x: &[u32], b: usize, s: usize) -> Result<Vec<f32>> {
        self.load(x, None, b, s)?;
        self.task.m.predict((s, b))?;
        self.carried = Some(b);
        self.task.m.read(self.net.logits)
    }
}
