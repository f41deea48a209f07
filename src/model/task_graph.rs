//! The task models' graph, written with the public layers ([`crate::nn`]) as a user would
//! write it: Embedding(V, E) → (Dropout) → RNN/GRU/LSTM → Linear → cross-entropy, under the
//! lecture's module names (`embedding`, `gru`/`lstm`/`rnn`, `fc`). The classifier reads the
//! top layer's final states; the language model reads every step and carries its state.

use crate::backend::Backend;
use crate::cpu::cross_entropy::Reduction;
use crate::model::classifier_config::ClassifierConfig;
use crate::model::optim::Method;
use crate::model::params::ParamLayout;
use crate::nn::{
    EmbeddingConfig, Graph, LinearConfig, Model, Optim, OptimState, RnnOut, Rows, Var,
};
use crate::{Error, Result};

/// What the Linear head reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// `cat(h_n[-1], h_n[-2])` (the top layer's backward direction first; `h_n[-1]` alone
    /// when unidirectional): one class per sequence. Ids and lengths are time-major (T, B).
    States,
    /// Every step's output: one class per step, ids and targets batch-first (B, S), and the
    /// final state carried into the next batch's initial state (truncated BPTT).
    Steps,
}

/// The values of a task's graph that its model writes and reads.
pub struct TaskVars {
    /// Token ids.
    pub x: Var,
    /// Class indices: one per sequence (`Head::States`) or per step (`Head::Steps`).
    pub y: Var,
    /// The Linear head's output.
    pub logits: Var,
    /// Mean cross-entropy over the batch (or over every position).
    pub loss: Var,
    /// The recurrent layer's values (its output, states and initial states).
    pub rnn: RnnOut,
}

impl ClassifierConfig {
    /// This architecture as a graph with `head`; its parameters are exactly
    /// [`ClassifierConfig::layout`]'s, in that order.
    pub fn graph(&self, head: Head) -> Result<(Graph, TaskVars)> {
        self.check()?;
        let steps = head == Head::Steps;
        let mut g = Graph::new();
        let x = g.ids("x", Rows::Steps);
        let y = g.targets("y", if steps { Rows::Steps } else { Rows::Batch });
        let embedding = EmbeddingConfig::new(self.vocab, self.embed).init(&mut g, "embedding")?;
        let rnn_cfg = self.rnn.clone().with_batch_first(steps);
        let rnn = rnn_cfg.init(&mut g, self.rnn.cell.torch_name())?;
        let fc = LinearConfig::new(self.fc_in(), self.classes).init(&mut g, "fc")?;
        let mut e = embedding.forward(&mut g, x)?;
        if self.embed_dropout > 0.0 {
            e = g.dropout(e, self.embed_dropout)?;
        }
        let out = rnn.forward(&mut g, e)?;
        let features = if steps {
            out.output
        } else {
            // h_n is (L·D, B, H); the top layer's directions, the last one first.
            let (l, d) = (self.rnn.layers, self.rnn.dirs());
            let top: Vec<usize> = (0..d).rev().map(|dir| (l - 1) * d + dir).collect();
            g.cat_states(out.h_n, &top)?
        };
        let logits = fc.forward(&mut g, features)?;
        let loss = g.cross_entropy(logits, y, Reduction::Mean, None)?;
        if steps {
            g.carry(out.h_n, out.h0)?;
            if let (Some(c_n), Some(c0)) = (out.c_n, out.c0) {
                g.carry(c_n, c0)?;
            }
        }
        let layout = self.layout();
        let same = g.parameters().count() == layout.entries.len()
            && g.parameters()
                .zip(&layout.entries)
                .all(|((name, shape), e)| name == e.name && shape == e.shape);
        if !same {
            return Err(Error::InvalidArgument {
                op: "classifier",
                message: format!("the graph's parameters differ from {:?}'s layout", self),
            });
        }
        let vars = TaskVars {
            x,
            y,
            logits,
            loss,
            rnn: out,
        };
        Ok((g, vars))
    }
}

/// What the task models ([`crate::model::classifier::Classifier`],
/// [`crate::model::char_lm::CharLm`]) share, and reach through `Deref`: the architecture,
/// its parameter layout, and the graph's model with its optimizer.
pub struct TaskModel {
    /// The architecture.
    pub cfg: ClassifierConfig,
    pub(crate) m: Model,
}

impl TaskModel {
    /// The parameters' names and offsets in the flat vector, PyTorch's order (the graph's,
    /// which [`ClassifierConfig::graph`] checks against [`ClassifierConfig::layout`]).
    pub fn layout(&self) -> &ParamLayout {
        &self.m.g.layout
    }

    /// `cfg`'s graph with `head` as a trainer with `method`, clipping the gradient norm to
    /// `max_norm` unless it is 0; or, without an optimizer, for inference only (no gradients
    /// or optimizer state are allocated).
    pub(crate) fn new(
        cfg: ClassifierConfig,
        head: Head,
        backend: &Backend,
        max: (usize, usize),
        optim: Option<(Method, f32)>,
    ) -> Result<(Self, TaskVars)> {
        let (g, vars) = cfg.graph(head)?;
        let m = match optim {
            Some((method, max_norm)) => {
                let o = Optim::new(method);
                let o = if max_norm > 0.0 { o.clip(max_norm) } else { o };
                Model::trainer(g, backend, max, o)?
            }
            None => Model::new(g, backend, max)?,
        };
        Ok((Self { cfg, m }, vars))
    }

    /// PyTorch's default initialisation (see [`ClassifierConfig::initial_params`]); also
    /// restarts the optimizer. Returns the parameters.
    pub(crate) fn init(&mut self, seed: u64) -> Result<Vec<f32>> {
        let flat = self.cfg.initial_params(self.layout(), seed)?;
        self.m.set_params(&flat)?;
        Ok(flat)
    }

    /// Every parameter, flat in [`TaskModel::layout`] order.
    pub fn params(&mut self) -> Result<Vec<f32>> {
        self.m.params()
    }

    /// The optimizer's state (see [`Model::optimizer_state`]).
    pub fn optimizer_state(&mut self) -> Result<OptimState> {
        self.m.optimizer_state()
    }

    /// Restore the optimizer's state, after setting the parameters.
    pub fn set_optimizer_state(&mut self, s: &OptimState) -> Result<()> {
        self.m.set_optimizer_state(s)
    }

    /// The learning rate from the next step on.
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        self.m.set_lr(lr)
    }

    /// Seed of the dropout masks.
    pub fn set_seed(&mut self, seed: u32) {
        self.m.set_seed(seed);
    }

    /// "cpu", or the GPU adapter's description.
    pub fn describe(&self) -> String {
        self.m.describe()
    }

    /// Bytes of all the model's buffers (see [`Model::buffer_bytes`]).
    pub fn buffer_bytes(&self) -> usize {
        self.m.buffer_bytes()
    }

    /// Kernel launches of the last call.
    pub fn last_dispatches(&self) -> usize {
        self.m.last_dispatches()
    }
}
