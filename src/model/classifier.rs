//! The lecture-13 sequence classifier, written with the public API ([`crate::nn`]):
//! tokens → Embedding(V, E) → RNN/GRU/LSTM over the packed sequences → Linear(D·H, C) on
//! cat(h_n[-1], h_n[-2]) (the top layer's backward direction first, as the lecture writes it;
//! h_n[-1] alone when unidirectional) → cross-entropy (see [`Head::States`]). A training step
//! (forward, loss, backward, optional clipping, the optimizer) is one submission; only the
//! loss is read back.

use crate::backend::Backend;
use crate::model::optim::Method;
use crate::model::task_graph::{Head, TaskModel, TaskVars};
use crate::{Error, Result};

pub use crate::model::classifier_config::ClassifierConfig;

/// Labelled sequences of token ids (each in 0..V, each non-empty), any lengths and order.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Each sequence's token ids.
    pub tokens: Vec<Vec<u32>>,
    /// Each sequence's class in 0..C (empty for inference).
    pub targets: Vec<i32>,
}

impl Batch {
    /// The longest sequence: T of this batch.
    pub fn steps(&self) -> usize {
        self.tokens.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// A classifier with its optimizer state on a backend, for batches of up to `b_max`
/// sequences of up to `t_max` tokens. The shared parts (parameters, optimizer state, seed)
/// are [`TaskModel`]'s, reached through `Deref`.
pub struct Classifier {
    task: TaskModel,
    net: TaskVars,
    /// The batch's sequence at each row of the loaded (length-sorted) batch.
    order: Vec<usize>,
}

impl std::ops::Deref for Classifier {
    type Target = TaskModel;
    fn deref(&self) -> &TaskModel {
        &self.task
    }
}

impl std::ops::DerefMut for Classifier {
    fn deref_mut(&mut self) -> &mut TaskModel {
        &mut self.task
    }
}

impl Classifier {
    /// A trainer for `cfg` with `method`, clipping the gradient norm to `max_norm` unless it
    /// is 0. Parameters start at zero: call [`Classifier::init_params`] or
    /// [`Classifier::set_params`].
    pub fn new(
        cfg: ClassifierConfig,
        backend: &Backend,
        t_max: usize,
        b_max: usize,
        method: impl Into<Method>,
        max_norm: f32,
    ) -> Result<Self> {
        let optim = Some((method.into(), max_norm));
        Self::build(cfg, backend, (t_max, b_max), optim)
    }

    /// For inference only ([`Classifier::logits`]): no gradients or optimizer state are
    /// allocated.
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
        max: (usize, usize),
        optim: Option<(Method, f32)>,
    ) -> Result<Self> {
        let (task, net) = TaskModel::new(cfg, Head::States, backend, max, optim)?;
        Ok(Self {
            task,
            net,
            order: Vec::new(),
        })
    }

    /// PyTorch's default initialisation: Embedding from N(0, 1), the recurrent layer from
    /// U(±1/√H), Linear weight and bias from U(±1/√fan_in). Also restarts the optimizer.
    /// Returns the parameters.
    pub fn init_params(&mut self, seed: u64) -> Result<Vec<f32>> {
        self.task.init(seed)
    }

    /// Set every parameter (flat, in [`TaskModel::layout`] order) and restart the optimizer.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        self.task.m.set_params(flat)
    }

    /// Check the batch and write its tokens (time-major, padded with id 0, longest sequence
    /// first), lengths and targets. Returns (T, B).
    fn load(&mut self, batch: &Batch, train: bool) -> Result<(usize, usize)> {
        let (t, b) = (batch.steps(), batch.tokens.len());
        let (t_max, b_max) = self.task.m.max;
        if b == 0 || b > b_max || t > t_max || (train && batch.targets.len() != b) {
            return Err(Error::Shape {
                op: "classifier",
                expected: format!("1..={b_max} sequences of 1..={t_max} tokens, one target each"),
                got: format!(
                    "{b} sequences, longest {t}, {} targets",
                    batch.targets.len()
                ),
            });
        }
        let bad = |message: String| Error::InvalidArgument {
            op: "classifier",
            message,
        };
        // Longest first, as pack_padded_sequence sorts them: then the rows still running at
        // any step are a prefix, and the CPU runtime's products skip the rest.
        let mut order: Vec<usize> = (0..b).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(batch.tokens[j].len()));
        let mut ids = vec![0u32; t * b];
        let mut lens = vec![0usize; b];
        for (row, &j) in order.iter().enumerate() {
            let seq = &batch.tokens[j];
            if seq.is_empty() {
                return Err(bad(format!("sequence {j} is empty")));
            }
            if let Some(&id) = seq.iter().find(|&&x| x as usize >= self.cfg.vocab) {
                return Err(bad(format!(
                    "sequence {j} has token id {id}, outside the vocabulary of {}",
                    self.cfg.vocab
                )));
            }
            for (s, &tok) in seq.iter().enumerate() {
                ids[s * b + row] = tok;
            }
            lens[row] = seq.len();
        }
        self.task.m.write_ids(self.net.x, &ids, (t, b))?;
        self.task.m.set_lengths(Some(&lens));
        if train {
            let classes = self.cfg.classes;
            if let Some(&c) = (batch.targets.iter()).find(|&&c| c < 0 || c as usize >= classes) {
                return Err(bad(format!("target {c} outside 0..{classes}")));
            }
            let targets: Vec<i64> = order.iter().map(|&j| batch.targets[j].into()).collect();
            self.task.m.write_targets(self.net.y, &targets, (t, b))?;
        }
        self.order = order;
        Ok((t, b))
    }

    /// One optimizer step on `batch`; returns the mean loss before the step.
    pub fn train_step(&mut self, batch: &Batch) -> Result<f32> {
        let shape = self.load(batch, true)?;
        self.task.m.train_step(shape)?;
        self.task.m.scalar(self.net.loss)
    }

    /// Time each op of the training step (`train`) or of inference on `batch` by itself (see
    /// [`Model::profile`](crate::nn::Model::profile)). Training ops change the parameters:
    /// profile a model whose weights no longer matter.
    pub fn profile_step(
        &mut self,
        batch: &Batch,
        runs: usize,
        train: bool,
    ) -> Result<Vec<(String, usize, f64)>> {
        let shape = self.load(batch, train)?;
        self.task.m.profile(shape, runs, train)
    }

    /// Logits (B, C) of `batch` in eval mode (targets are not needed).
    pub fn logits(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        let shape = self.load(batch, false)?;
        self.task.m.predict(shape)?;
        let sorted = self.task.m.read(self.net.logits)?;
        let c = self.cfg.classes;
        let mut logits = vec![0f32; sorted.len()];
        for (row, &j) in self.order.iter().enumerate() {
            logits[j * c..(j + 1) * c].copy_from_slice(&sorted[row * c..(row + 1) * c]);
        }
        Ok(logits)
    }
}
