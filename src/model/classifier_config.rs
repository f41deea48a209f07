//! The classifier's architecture ([`ClassifierConfig`]): sizes, PyTorch's parameter names
//! and the checks a model passes before anything is allocated.

use crate::model::params::{ParamLayout, init_normal, init_uniform};
use crate::model::rnn::RnnConfig;
use crate::plan::CellKind;
use crate::{Error, Result};

/// The architecture; its parameter names are PyTorch's for the lecture's module
/// (`embedding.weight`, `gru.weight_ih_l0`, …, `fc.weight`, `fc.bias`).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Token ids are in 0..vocab (the Embedding's rows).
    pub vocab: usize,
    /// The Embedding's width.
    pub embed: usize,
    /// `input_size` must equal `embed`.
    pub rnn: RnnConfig,
    /// The Linear head's outputs.
    pub classes: usize,
    /// Dropout on the embedding's output while training (`nn.Dropout` after the
    /// `nn.Embedding`). Not saved in checkpoints, like `rnn.dropout`.
    pub embed_dropout: f32,
}

impl ClassifierConfig {
    /// Lecture 13: Embedding(128, 100) → GRU(100, 100, num_layers=2, bidirectional) →
    /// Linear(200, 18).
    pub fn lecture() -> Self {
        let mut rnn = RnnConfig::new(CellKind::Gru, 100, 100);
        rnn.layers = 2;
        rnn.bidirectional = true;
        Self {
            vocab: 128,
            embed: 100,
            rnn,
            classes: 18,
            embed_dropout: 0.0,
        }
    }

    /// `gpu-rnn train --task charlm`'s default for V characters: char-rnn's 2-layer LSTM at a
    /// size that trains in minutes on two cores, Embedding(V, 64) → LSTM(64, 256, 2 layers)
    /// → Linear(256, V).
    pub fn charlm(vocab: usize) -> Self {
        let mut rnn = RnnConfig::new(CellKind::Lstm, 64, 256);
        rnn.layers = 2;
        Self {
            vocab,
            embed: 64,
            rnn,
            classes: vocab,
            embed_dropout: 0.0,
        }
    }

    /// Width of the linear layer's input: D·H.
    pub fn fc_in(&self) -> usize {
        self.rnn.dirs() * self.rnn.hidden
    }

    /// `gru.`, `rnn.` or `lstm.`.
    pub fn rnn_prefix(&self) -> String {
        format!("{}.", self.rnn.cell.torch_name())
    }

    /// Every parameter under its PyTorch name, in the module's order.
    pub fn layout(&self) -> ParamLayout {
        let mut l = ParamLayout::default();
        l.push("embedding.weight", &[self.vocab, self.embed]);
        self.rnn.push_params(&mut l, &self.rnn_prefix());
        l.push("fc.weight", &[self.classes, self.fc_in()]);
        l.push("fc.bias", &[self.classes]);
        l
    }

    /// Consistent sizes, and parameters (with gradients and Adam's moments) within the memory
    /// budget: checked before anything is laid out or allocated.
    pub fn check(&self) -> Result<()> {
        let ok = self.vocab > 0
            && self.embed > 0
            && self.classes > 0
            && self.rnn.input_size == self.embed
            && self.rnn.layers > 0
            && self.rnn.hidden > 0
            && (0.0..1.0).contains(&self.embed_dropout);
        if !ok {
            return Err(Error::InvalidArgument {
                op: "classifier",
                message: format!("inconsistent architecture: {self:?}"),
            });
        }
        // Parameters, gradients and Adam's two moments, before any of them is laid out.
        let params = self.param_count();
        crate::memory::check(
            &format!("a model of {params:.0} parameters"),
            16.0 * params,
            "; a smaller --hidden, --layers or --embed fits",
        )
    }

    /// The parameter count (a float: see [`RnnConfig::param_count`]).
    pub fn param_count(&self) -> f64 {
        self.rnn.param_count()
            + (self.vocab * self.embed) as f64
            + (self.classes * (self.fc_in() + 1)) as f64
    }

    /// PyTorch's default initialisation, flat in `layout` (this config's) order: Embedding
    /// from N(0, 1), the recurrent layers from U(±1/√H), Linear weight and bias from
    /// U(±1/√fan_in).
    pub fn initial_params(&self, layout: &ParamLayout, seed: u64) -> Result<Vec<f32>> {
        let mut flat = vec![0f32; layout.len];
        init_normal(layout.slice_mut(&mut flat, "embedding.weight")?, seed);
        let prefix = self.rnn_prefix();
        // The recurrent module's tensors are contiguous.
        let (first, last) = layout
            .entries
            .iter()
            .filter(|e| e.name.starts_with(&prefix))
            .fold((usize::MAX, 0), |(a, b), e| {
                (a.min(e.offset), b.max(e.offset + e.len()))
            });
        init_uniform(
            &mut flat[first..last],
            1.0 / (self.rnn.hidden as f32).sqrt(),
            seed ^ 0x5eed,
        );
        let fc = layout.get("fc.weight")?.offset;
        let fc_len = self.classes * (self.fc_in() + 1);
        init_uniform(
            &mut flat[fc..fc + fc_len],
            1.0 / (self.fc_in() as f32).sqrt(),
            seed ^ 0xfc,
        );
        Ok(flat)
    }
}
