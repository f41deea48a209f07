//! The task models' graph, written with the public layers ([`crate::nn`]) as a user would
//! write it: Embedding(V, E) → (Dropout) → RNN/GRU/LSTM → Linear → cross-entropy, under the
//! lecture's module names (`embedding`, `gru`/`lstm`/`rnn`, `fc`). The classifier reads the
//! top layer's final states; the language model reads every step and carries its state.

use crate::cpu::cross_entropy::Reduction;
use crate::model::classifier_config::ClassifierConfig;
use crate::nn::{EmbeddingConfig, Graph, LinearConfig, RnnOut, Rows, Var};
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

/// A task's graph and the values its model writes and reads.
pub struct TaskGraph {
    /// The graph.
    pub g: Graph,
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
    pub fn graph(&self, head: Head) -> Result<TaskGraph> {
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
        Ok(TaskGraph {
            g,
            x,
            y,
            logits,
            loss,
            rnn: out,
        })
    }
}
