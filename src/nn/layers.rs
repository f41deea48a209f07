//! The layers, each a config with PyTorch's constructor arguments and a handle that adds a
//! use of the layer to a [`Graph`]: Burn's `Config → init → forward`, with PyTorch's names.

use crate::model::rnn::RnnConfig;
use crate::nn::graph::{CellOut, Graph, Kind, Layer, Node, RnnOut, Rows, Var, cell_class};
use crate::plan::CellKind;
use crate::{Error, Result};

fn bad(op: &'static str, message: String) -> Error {
    Error::InvalidArgument { op, message }
}

/// `torch.nn.Embedding(num_embeddings, embedding_dim)`: parameter `{name}.weight` (N, D),
/// initialised from N(0, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddingConfig {
    /// Rows of the table: the vocabulary size.
    pub num_embeddings: usize,
    /// Width of each row.
    pub embedding_dim: usize,
}

impl EmbeddingConfig {
    /// `nn.Embedding(num_embeddings, embedding_dim)`.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Self {
        Self {
            num_embeddings,
            embedding_dim,
        }
    }

    /// Add the layer's parameters to `g` under `name`.
    pub fn init(self, g: &mut Graph, name: &str) -> Result<Embedding> {
        if self.num_embeddings == 0 || self.embedding_dim == 0 {
            return Err(bad("embedding", format!("sizes must be ≥ 1: {self:?}")));
        }
        let layer = Layer::Embedding {
            num: self.num_embeddings,
            dim: self.embedding_dim,
        };
        Ok(Embedding {
            layer: g.add_layer(name, layer)?,
            cfg: self,
        })
    }
}

/// An Embedding in a graph (see [`EmbeddingConfig`]).
#[derive(Clone, Copy, Debug)]
pub struct Embedding {
    layer: usize,
    /// Its arguments.
    pub cfg: EmbeddingConfig,
}

impl Embedding {
    /// `weight[ids]`: one row of `embedding_dim` per id.
    pub fn forward(&self, g: &mut Graph, ids: Var) -> Result<Var> {
        let is = |l: &Layer| matches!(l, Layer::Embedding { .. });
        g.expect_layer(self.layer, is, "embedding")?;
        g.expect(ids, Kind::Ids, None, "embedding input")?;
        let (rows, _) = g.shape(ids);
        let name = format!("{}.out", g.layers[self.layer].name);
        let out = g.var(&name, rows, self.cfg.embedding_dim, Kind::F32);
        let node = Node::Embedding {
            layer: self.layer,
            ids,
            out,
        };
        g.push(node, &[ids], &[out]);
        Ok(out)
    }
}

/// `torch.nn.Linear(in_features, out_features)`: parameters `{name}.weight` (out, in) and
/// `{name}.bias` (out), both from U(±1/√in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearConfig {
    /// Width of each input row.
    pub in_features: usize,
    /// Width of each output row.
    pub out_features: usize,
}

impl LinearConfig {
    /// `nn.Linear(in_features, out_features)` (with its bias).
    pub fn new(in_features: usize, out_features: usize) -> Self {
        Self {
            in_features,
            out_features,
        }
    }

    /// Add the layer's parameters to `g` under `name`.
    pub fn init(self, g: &mut Graph, name: &str) -> Result<Linear> {
        if self.in_features == 0 || self.out_features == 0 {
            return Err(bad("linear", format!("sizes must be ≥ 1: {self:?}")));
        }
        let layer = Layer::Linear {
            inputs: self.in_features,
            outputs: self.out_features,
        };
        Ok(Linear {
            layer: g.add_layer(name, layer)?,
            cfg: self,
        })
    }
}

/// A Linear in a graph (see [`LinearConfig`]).
#[derive(Clone, Copy, Debug)]
pub struct Linear {
    layer: usize,
    /// Its arguments.
    pub cfg: LinearConfig,
}

impl Linear {
    /// `x·Wᵀ + b` on every row of `x` (`in_features` wide).
    pub fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        let is = |l: &Layer| matches!(l, Layer::Linear { .. });
        g.expect_layer(self.layer, is, "linear")?;
        g.expect(x, Kind::F32, Some(self.cfg.in_features), "linear input")?;
        let (rows, _) = g.shape(x);
        let name = format!("{}.out", g.layers[self.layer].name);
        let y = g.var(&name, rows, self.cfg.out_features, Kind::F32);
        g.push(
            Node::Linear {
                layer: self.layer,
                x,
                y,
            },
            &[x],
            &[y],
        );
        Ok(y)
    }
}

/// `nonlinearity=` of torch.nn.RNN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nonlinearity {
    /// `'tanh'`, the default.
    Tanh,
    /// `'relu'`.
    Relu,
}

/// Builders with PyTorch's argument names: `RnnConfig::lstm(64, 256).num_layers(2)` is
/// `nn.LSTM(64, 256, num_layers=2)`.
impl RnnConfig {
    /// `torch.nn.RNN(input_size, hidden_size)` (tanh).
    pub fn rnn(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Rnn, input_size, hidden_size)
    }

    /// `torch.nn.GRU(input_size, hidden_size)`.
    pub fn gru(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Gru, input_size, hidden_size)
    }

    /// `torch.nn.LSTM(input_size, hidden_size)`.
    pub fn lstm(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Lstm, input_size, hidden_size)
    }

    /// `num_layers=n`: stacked layers, each reading the one below.
    pub fn num_layers(mut self, n: usize) -> Self {
        self.layers = n;
        self
    }

    /// RNN only.
    pub fn nonlinearity(mut self, f: Nonlinearity) -> Self {
        self.relu = f == Nonlinearity::Relu;
        self
    }

    /// `bias=`: b_ih and b_hh (on by default).
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// `batch_first=`: sequences are (B, T, ·) on the host.
    pub fn with_batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// `dropout=p`: on the outputs of every layer but the last, in training.
    pub fn with_dropout(mut self, p: f32) -> Self {
        self.dropout = p;
        self
    }

    /// `bidirectional=`: a second direction reading each sequence backwards.
    pub fn with_bidirectional(mut self, bidirectional: bool) -> Self {
        self.bidirectional = bidirectional;
        self
    }

    /// Add the layer's parameters to `g` under `name` (PyTorch's keys: `{name}.weight_ih_l0`,
    /// …), initialised from U(±1/√hidden_size).
    pub fn init(self, g: &mut Graph, name: &str) -> Result<Rnn> {
        let class = cell_class(self.cell);
        let ok = self.input_size > 0
            && self.hidden > 0
            && self.layers > 0
            && (0.0..1.0).contains(&self.dropout)
            && (!self.relu || self.cell == CellKind::Rnn);
        if !ok {
            return Err(bad("rnn", format!("inconsistent nn.{class}: {self:?}")));
        }
        if g.batch_first.is_some_and(|b| b != self.batch_first) {
            return Err(bad(
                "rnn",
                format!("{name}: batch_first differs from the graph's other recurrent layers"),
            ));
        }
        g.batch_first = Some(self.batch_first);
        Ok(Rnn {
            layer: g.add_layer(name, Layer::Rnn(self.clone()))?,
            cfg: self,
        })
    }
}

/// An RNN, GRU or LSTM in a graph (see [`RnnConfig`]).
#[derive(Clone, Debug)]
pub struct Rnn {
    layer: usize,
    /// Its arguments.
    pub cfg: RnnConfig,
}

impl Rnn {
    /// The layer over the sequences `x` ([`Rows::Steps`], `input_size` wide), from the initial
    /// states it returns (zero unless the host writes them). Lengths are the model's
    /// ([`Model::set_lengths`](crate::nn::Model::set_lengths)), as a packed sequence.
    pub fn forward(&self, g: &mut Graph, x: Var) -> Result<RnnOut> {
        g.expect_layer(self.layer, |l| matches!(l, Layer::Rnn(_)), "rnn")?;
        let c = &self.cfg;
        g.expect(x, Kind::F32, Some(c.input_size), "rnn input")?;
        if g.shape(x).0 != Rows::Steps {
            return Err(bad("rnn", "the input must have a row per step".into()));
        }
        let name = g.layers[self.layer].name.clone();
        let (dh, states) = (c.dirs() * c.hidden, Rows::States(c.layers * c.dirs()));
        let lstm = c.cell == CellKind::Lstm;
        let state = |g: &mut Graph, what: &str| {
            g.var(&format!("{name}.{what}"), states, c.hidden, Kind::F32)
        };
        let out = RnnOut {
            output: g.var(&format!("{name}.output"), Rows::Steps, dh, Kind::F32),
            h_n: state(g, "h_n"),
            c_n: lstm.then(|| state(g, "c_n")),
            h0: state(g, "h0"),
            c0: lstm.then(|| state(g, "c0")),
        };
        let outputs: Vec<Var> = [Some(out.output), Some(out.h_n), out.c_n]
            .into_iter()
            .flatten()
            .collect();
        let node = Node::Rnn {
            layer: self.layer,
            x,
            out,
        };
        g.push(node, &[x], &outputs);
        Ok(out)
    }
}

/// `torch.nn.RNNCell`, `GRUCell` or `LSTMCell(input_size, hidden_size)`: one step at a time,
/// with parameters `{name}.weight_ih` (G·H, I), `{name}.weight_hh` (G·H, H) and, with a
/// bias, `{name}.bias_ih` and `{name}.bias_hh` (G·H), from U(±1/√hidden_size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellConfig {
    /// RNN, GRU or LSTM.
    pub cell: CellKind,
    /// Width of x.
    pub input_size: usize,
    /// Width of h (and c).
    pub hidden_size: usize,
    /// b_ih and b_hh.
    pub bias: bool,
    /// RNNCell only: `nonlinearity='relu'`.
    pub relu: bool,
}

impl CellConfig {
    /// A cell of `cell`'s kind, with a bias (and tanh for an RNN cell).
    pub fn new(cell: CellKind, input_size: usize, hidden_size: usize) -> Self {
        Self {
            cell,
            input_size,
            hidden_size,
            bias: true,
            relu: false,
        }
    }

    /// `torch.nn.RNNCell(input_size, hidden_size)` (tanh).
    pub fn rnn_cell(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Rnn, input_size, hidden_size)
    }

    /// `torch.nn.GRUCell(input_size, hidden_size)`.
    pub fn gru_cell(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Gru, input_size, hidden_size)
    }

    /// `torch.nn.LSTMCell(input_size, hidden_size)`.
    pub fn lstm_cell(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Lstm, input_size, hidden_size)
    }

    /// `bias=`.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// RNNCell only.
    pub fn nonlinearity(mut self, f: Nonlinearity) -> Self {
        self.relu = f == Nonlinearity::Relu;
        self
    }

    /// The same step as a one-layer, one-direction recurrent module.
    fn as_rnn(&self) -> RnnConfig {
        RnnConfig::new(self.cell, self.input_size, self.hidden_size)
            .with_bias(self.bias)
            .nonlinearity(if self.relu {
                Nonlinearity::Relu
            } else {
                Nonlinearity::Tanh
            })
    }

    /// Add the cell's parameters to `g` under `name`.
    pub fn init(self, g: &mut Graph, name: &str) -> Result<Cell> {
        let ok = self.input_size > 0
            && self.hidden_size > 0
            && (!self.relu || self.cell == CellKind::Rnn);
        if !ok {
            let class = cell_class(self.cell);
            return Err(bad(
                "cell",
                format!("inconsistent nn.{class}Cell: {self:?}"),
            ));
        }
        Ok(Cell {
            layer: g.add_layer(name, Layer::Cell(self.as_rnn()))?,
            cfg: self,
        })
    }
}

/// A cell in a graph (see [`CellConfig`]); each [`Cell::forward`] is one more step that
/// shares its parameters.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    layer: usize,
    /// Its arguments.
    pub cfg: CellConfig,
}

impl Cell {
    /// One step, `h' = cell(x, h)`, or `(h', c') = cell(x, (h, c))` for an LSTM cell: `x`
    /// is (B, input_size) and `h`, `c` are (B, hidden_size) ([`Rows::Batch`]), inputs the
    /// host writes (zeros, say) or the outputs of the step before.
    pub fn forward(&self, g: &mut Graph, x: Var, h: Var, c: Option<Var>) -> Result<CellOut> {
        g.expect_layer(self.layer, |l| matches!(l, Layer::Cell(_)), "cell")?;
        let (i, hs) = (self.cfg.input_size, self.cfg.hidden_size);
        g.expect(x, Kind::F32, Some(i), "cell input")?;
        g.expect(h, Kind::F32, Some(hs), "cell h")?;
        let lstm = self.cfg.cell == CellKind::Lstm;
        match c {
            Some(c) if lstm => g.expect(c, Kind::F32, Some(hs), "cell c")?,
            None if !lstm => {}
            _ => {
                let need = if lstm { "needs" } else { "takes no" };
                return Err(bad("cell", format!("an {:?} cell {need} c", self.cfg.cell)));
            }
        }
        let rows = [x, h].into_iter().chain(c).map(|v| g.shape(v).0);
        if rows.into_iter().any(|r| !r.matches(Rows::Batch)) {
            return Err(bad(
                "cell",
                "x, h and c must have a row per sequence".into(),
            ));
        }
        let n = g.nodes.len();
        let name = g.layers[self.layer].name.clone();
        let out = CellOut {
            h: g.var(&format!("{name}.h{n}"), Rows::Batch, hs, Kind::F32),
            c: lstm.then(|| g.var(&format!("{name}.c{n}"), Rows::Batch, hs, Kind::F32)),
        };
        let inputs: Vec<Var> = [x, h].into_iter().chain(c).collect();
        let outputs: Vec<Var> = [out.h].into_iter().chain(out.c).collect();
        let node = Node::Cell {
            layer: self.layer,
            x,
            h,
            c,
            out,
        };
        g.push(node, &inputs, &outputs);
        Ok(out)
    }
}
