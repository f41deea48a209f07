//! The constructor arguments of a recurrent module and its parameters under PyTorch's names
//! (`weight_ih_l0`, `bias_hh_l1_reverse`, …), laid out so one matmul covers both directions.

use crate::Result;
use crate::model::params::ParamLayout;
use crate::plan::{BufId, CellKind, View};

/// The constructor arguments of torch.nn.RNN / GRU / LSTM.
#[derive(Clone, Debug, PartialEq)]
pub struct RnnConfig {
    /// RNN, GRU or LSTM.
    pub cell: CellKind,
    /// `input_size`: the width of x.
    pub input_size: usize,
    /// `hidden_size` (H).
    pub hidden: usize,
    /// `num_layers` (L).
    pub layers: usize,
    /// `bidirectional`: D = 2 directions per layer.
    pub bidirectional: bool,
    /// RNN only: `nonlinearity='relu'` instead of tanh.
    pub relu: bool,
    /// `bias`: b_ih and b_hh in every layer.
    pub bias: bool,
    /// Inputs and outputs are (B, T, ·) instead of (T, B, ·).
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last, in training.
    pub dropout: f32,
}

impl RnnConfig {
    /// One layer, one direction, with biases, time-major, no dropout: PyTorch's defaults.
    pub fn new(cell: CellKind, input_size: usize, hidden: usize) -> Self {
        Self {
            cell,
            input_size,
            hidden,
            layers: 1,
            bidirectional: false,
            relu: false,
            bias: true,
            batch_first: false,
            dropout: 0.0,
        }
    }

    /// D: 2 when bidirectional, else 1.
    pub fn dirs(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Input width of layer k: the input size, then both directions of the layer below.
    pub fn layer_input(&self, k: usize) -> usize {
        if k == 0 {
            self.input_size
        } else {
            self.dirs() * self.hidden
        }
    }

    /// The number of parameters, as a float so that absurd sizes cannot overflow: what a
    /// memory check needs before any layout is built.
    pub fn param_count(&self) -> f64 {
        let (gh, h, d) = (
            (self.cell.gates() * self.hidden) as f64,
            self.hidden as f64,
            self.dirs() as f64,
        );
        let bias = if self.bias { 2.0 * gh } else { 0.0 };
        let first = gh * (self.input_size as f64 + h) + bias;
        let rest = gh * (d * h + h) + bias;
        d * (first + (self.layers as f64 - 1.0).max(0.0) * rest)
    }

    /// `weight_ih_l0`, `bias_hh_l1_reverse`, … under `prefix` (e.g. `gru.`).
    pub fn param_name(prefix: &str, what: &str, k: usize, d: usize) -> String {
        format!(
            "{prefix}{what}_l{k}{}",
            if d == 1 { "_reverse" } else { "" }
        )
    }

    /// Append the parameters to `layout` under `prefix`, each kind's directions side by side
    /// (W_ih, W_ih_reverse, W_hh, W_hh_reverse, b_ih, …) so one matmul covers both directions.
    pub fn push_params(&self, layout: &mut ParamLayout, prefix: &str) {
        let gh = self.cell.gates() * self.hidden;
        for k in 0..self.layers {
            let mut kinds = vec![
                ("weight_ih", vec![gh, self.layer_input(k)]),
                ("weight_hh", vec![gh, self.hidden]),
            ];
            if self.bias {
                kinds.push(("bias_ih", vec![gh]));
                kinds.push(("bias_hh", vec![gh]));
            }
            for (what, shape) in kinds {
                for d in 0..self.dirs() {
                    layout.push(Self::param_name(prefix, what, k, d), &shape);
                }
            }
        }
    }

    /// The view covering `what` for both directions of layer k (they are adjacent).
    pub(crate) fn both_dirs(
        &self,
        layout: &ParamLayout,
        buf: BufId,
        prefix: &str,
        what: &str,
        k: usize,
    ) -> Result<View> {
        let first = layout.view(buf, &Self::param_name(prefix, what, k, 0))?;
        Ok(View {
            len: first.len * self.dirs(),
            ..first
        })
    }
}
