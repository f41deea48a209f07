//! [`Graph`]: layers and the values ([`Var`]s) that flow between them, declared once for
//! every batch shape. A [`Var`] has a row count that follows the batch ([`Rows`]) and a
//! fixed width; layers are added under PyTorch's module names, which prefix their
//! parameters' state_dict keys.

use crate::cpu::cross_entropy::Reduction;
use crate::model::params::ParamLayout;
use crate::model::rnn::RnnConfig;
use crate::plan::CellKind;
use crate::{Error, Result};

/// A value in a [`Graph`]: an input the host writes, or a layer's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(pub(crate) usize);

/// How many rows a [`Var`] holds for a batch of `b` sequences of `t` steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// One row per step of every sequence, T·B rows in time order: PyTorch's (T, B, ·). In
    /// a graph whose recurrent layers are `batch_first`, the host writes and reads (B, T, ·).
    Steps,
    /// One row per sequence: (B, ·).
    Batch,
    /// `k` rows per sequence as PyTorch's recurrent states are laid out, (k, B, ·): h_n of
    /// an L-layer module of D directions is `States(L·D)`.
    States(usize),
    /// A fixed number of rows whatever the batch (a loss is `Fixed(1)`).
    Fixed(usize),
}

impl Rows {
    /// Whether `self` and `other` hold the same rows for every batch: `States(1)` (h_n of
    /// one layer and direction) is (B, ·), as `Batch` is.
    pub fn matches(self, other: Rows) -> bool {
        let norm = |r: Rows| if r == Rows::States(1) { Rows::Batch } else { r };
        norm(self) == norm(other)
    }

    /// The row count for `b` sequences of `t` steps.
    pub fn count(self, t: usize, b: usize) -> usize {
        match self {
            Rows::Steps => t * b,
            Rows::Batch => b,
            Rows::States(k) => k * b,
            Rows::Fixed(n) => n,
        }
    }
}

/// What a [`Var`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// f32 values.
    F32,
    /// Token ids (u32) below a vocabulary size, one per row.
    Ids,
    /// Class indices (i32, or the loss's ignore index), one per row.
    Targets,
}

#[derive(Clone, Debug)]
pub(crate) struct VarInfo {
    pub name: String,
    pub rows: Rows,
    /// Elements per row (1 for ids and targets).
    pub cols: usize,
    pub kind: Kind,
    /// The node that writes it; `None` for an input.
    pub producer: Option<usize>,
    /// The nodes that read it.
    pub consumers: Vec<usize>,
    /// An input whose gradient backward computes ([`Graph::requires_grad`]).
    pub requires_grad: bool,
}

/// A layer's constructor arguments, as PyTorch's modules take them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Layer {
    Embedding {
        num: usize,
        dim: usize,
    },
    Linear {
        inputs: usize,
        outputs: usize,
    },
    Rnn(RnnConfig),
    /// One step of a one-layer, one-direction `RnnConfig`, under the cells' names.
    Cell(RnnConfig),
}

/// A layer added to a graph under `name`, the prefix of its parameters.
#[derive(Clone, Debug)]
pub(crate) struct LayerInfo {
    pub name: String,
    pub layer: Layer,
}

/// One use of a layer (or a parameter-free function) in the graph.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Embedding {
        layer: usize,
        ids: Var,
        out: Var,
    },
    Linear {
        layer: usize,
        x: Var,
        y: Var,
    },
    Rnn {
        layer: usize,
        x: Var,
        out: RnnOut,
    },
    Cell {
        layer: usize,
        x: Var,
        h: Var,
        c: Option<Var>,
        out: CellOut,
    },
    Dropout {
        p: f32,
        x: Var,
        y: Var,
    },
    CrossEntropy {
        logits: Var,
        targets: Var,
        loss: Var,
        reduction: Reduction,
        ignore_index: Option<i32>,
    },
    Mse {
        pred: Var,
        target: Var,
        loss: Var,
        reduction: Reduction,
    },
    /// Rows `idx` of a (k, B, H) state, side by side: (B, len·H).
    CatStates {
        x: Var,
        idx: Vec<usize>,
        y: Var,
    },
    /// After the forward pass, `from` becomes `to` for the next batch, without gradient.
    Carry {
        from: Var,
        to: Var,
    },
}

/// What a recurrent layer's forward gives, as torch.nn.RNN / GRU / LSTM return it:
/// `output (T, B, D·H)` and `h_n (L·D, B, H)` (and `c_n` for an LSTM), plus the initial
/// states `h0` (and `c0`), inputs that start at zero and that the host may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RnnOut {
    /// (T, B, D·H): the top layer's output at every step.
    pub output: Var,
    /// (L·D, B, H): every layer's and direction's last state.
    pub h_n: Var,
    /// (L·D, B, H), LSTM only.
    pub c_n: Option<Var>,
    /// (L·D, B, H): the initial state, an input (zeros unless written).
    pub h0: Var,
    /// (L·D, B, H), LSTM only.
    pub c0: Option<Var>,
}

/// What a cell's step gives: `h'` (B, H), and `c'` for an LSTM cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellOut {
    /// (B, H): the state after the step.
    pub h: Var,
    /// (B, H), LSTM cells only.
    pub c: Option<Var>,
}

/// Layers and the values between them. Build one, then turn it into a
/// [`Model`](crate::nn::Model) on a backend.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub(crate) vars: Vec<VarInfo>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) layers: Vec<LayerInfo>,
    pub(crate) layout: ParamLayout,
    /// Set by the recurrent layers: every [`Rows::Steps`] value is (B, T, ·) on the host.
    pub(crate) batch_first: Option<bool>,
}

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "graph",
        message,
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn var(&mut self, name: &str, rows: Rows, cols: usize, kind: Kind) -> Var {
        self.vars.push(VarInfo {
            name: name.to_string(),
            rows,
            cols,
            kind,
            producer: None,
            consumers: Vec::new(),
            requires_grad: false,
        });
        Var(self.vars.len() - 1)
    }

    /// An f32 input of `cols` values per row, written by the host.
    pub fn input(&mut self, name: &str, rows: Rows, cols: usize) -> Var {
        self.var(name, rows, cols, Kind::F32)
    }

    /// `x.requires_grad_()`: backward also computes the gradient of the f32 input `v` (an
    /// `x`, or a recurrent layer's `h0` or `c0`), which [`Model::grad_of`] reads.
    ///
    /// [`Model::grad_of`]: crate::nn::Model::grad_of
    pub fn requires_grad(&mut self, v: Var) -> Result<()> {
        self.expect(v, Kind::F32, None, "requires_grad")?;
        let info = &mut self.vars[v.0];
        if info.producer.is_some() {
            return Err(bad(format!(
                "requires_grad: {} is a layer's output, which has a gradient already",
                info.name
            )));
        }
        info.requires_grad = true;
        Ok(())
    }

    /// A token-id input (one u32 per row), for an [`Embedding`](crate::nn::Embedding).
    pub fn ids(&mut self, name: &str, rows: Rows) -> Var {
        self.var(name, rows, 1, Kind::Ids)
    }

    /// A class-index input (one per row), for [`Graph::cross_entropy`].
    pub fn targets(&mut self, name: &str, rows: Rows) -> Var {
        self.var(name, rows, 1, Kind::Targets)
    }

    /// The rows and width of `v`; `None` for a value of another graph.
    pub fn shape_of(&self, v: Var) -> Option<(Rows, usize)> {
        self.vars.get(v.0).map(|info| (info.rows, info.cols))
    }

    /// [`Graph::shape_of`] of a value already checked to be in this graph.
    pub(crate) fn shape(&self, v: Var) -> (Rows, usize) {
        let info = &self.vars[v.0];
        (info.rows, info.cols)
    }

    /// Fails unless layer `layer` exists and `kind_ok` holds for it: a handle from another
    /// graph is an error, not a wrong layer.
    pub(crate) fn expect_layer(
        &self,
        layer: usize,
        kind_ok: impl Fn(&Layer) -> bool,
        what: &str,
    ) -> Result<()> {
        match self.layers.get(layer) {
            Some(l) if kind_ok(&l.layer) => Ok(()),
            _ => Err(bad(format!("{what}: the layer is not one of this graph's"))),
        }
    }

    /// Fails unless `v` is a value of this graph of `kind` and, when given, `cols` wide.
    pub(crate) fn expect(&self, v: Var, kind: Kind, cols: Option<usize>, what: &str) -> Result<()> {
        let Some(info) = self.vars.get(v.0) else {
            return Err(bad(format!("{what}: value {} is not in this graph", v.0)));
        };
        if info.kind != kind || cols.is_some_and(|c| c != info.cols) {
            return Err(bad(format!(
                "{what}: expected {kind:?}{}, got {} ({:?}, {} wide)",
                cols.map_or(String::new(), |c| format!(" values {c} wide")),
                info.name,
                info.kind,
                info.cols
            )));
        }
        Ok(())
    }

    /// Add a layer's parameters under `name`; returns its index.
    pub(crate) fn add_layer(&mut self, name: &str, layer: Layer) -> Result<usize> {
        let taken = |n: &str| self.layers.iter().any(|l| l.name == n);
        let odd = |c: char| c.is_whitespace() || c == '.';
        if name.is_empty() || name.contains(odd) || taken(name) {
            return Err(bad(format!(
                "layer name {name:?} is empty, has spaces or dots (PyTorch's module names \
                 have none), or is taken"
            )));
        }
        match &layer {
            Layer::Embedding { num, dim } => {
                self.layout.push(format!("{name}.weight"), &[*num, *dim]);
            }
            Layer::Linear { inputs, outputs } => {
                self.layout
                    .push(format!("{name}.weight"), &[*outputs, *inputs]);
                self.layout.push(format!("{name}.bias"), &[*outputs]);
            }
            Layer::Rnn(cfg) => cfg.push_params(&mut self.layout, &format!("{name}.")),
            Layer::Cell(cfg) => {
                let gh = cfg.cell.gates() * cfg.hidden;
                let mut kinds = vec![
                    ("weight_ih", vec![gh, cfg.input_size]),
                    ("weight_hh", vec![gh, cfg.hidden]),
                ];
                if cfg.bias {
                    kinds.extend([("bias_ih", vec![gh]), ("bias_hh", vec![gh])]);
                }
                for (what, shape) in kinds {
                    self.layout.push(format!("{name}.{what}"), &shape);
                }
            }
        }
        self.layers.push(LayerInfo {
            name: name.to_string(),
            layer,
        });
        Ok(self.layers.len() - 1)
    }

    /// Record `node`, reading `inputs` and writing `outputs`.
    pub(crate) fn push(&mut self, node: Node, inputs: &[Var], outputs: &[Var]) {
        let id = self.nodes.len();
        for v in inputs {
            self.vars[v.0].consumers.push(id);
        }
        for v in outputs {
            self.vars[v.0].producer = Some(id);
        }
        self.nodes.push(node);
    }

    /// `torch.nn.functional.dropout(x, p)` in training, `x` in evaluation.
    pub fn dropout(&mut self, x: Var, p: f32) -> Result<Var> {
        self.expect(x, Kind::F32, None, "dropout")?;
        if !(0.0..1.0).contains(&p) {
            return Err(bad(format!("dropout probability {p} is outside [0, 1)")));
        }
        let (rows, cols) = self.shape(x);
        let name = format!("dropout{}", self.nodes.len());
        let y = self.var(&name, rows, cols, Kind::F32);
        self.push(Node::Dropout { p, x, y }, &[x], &[y]);
        Ok(y)
    }

    /// `torch.nn.functional.cross_entropy(logits, targets, reduction, ignore_index)`: a
    /// one-element loss. Rows whose target is `ignore_index` count neither in the sum nor in
    /// the mean's divisor.
    pub fn cross_entropy(
        &mut self,
        logits: Var,
        targets: Var,
        reduction: Reduction,
        ignore_index: Option<i32>,
    ) -> Result<Var> {
        self.expect(logits, Kind::F32, None, "cross_entropy logits")?;
        self.expect(targets, Kind::Targets, None, "cross_entropy targets")?;
        if !self.vars[logits.0].rows.matches(self.vars[targets.0].rows) {
            return Err(bad(
                "cross_entropy: logits and targets have different rows".into()
            ));
        }
        let name = format!("loss{}", self.nodes.len());
        let loss = self.var(&name, Rows::Fixed(1), 1, Kind::F32);
        let node = Node::CrossEntropy {
            logits,
            targets,
            loss,
            reduction,
            ignore_index,
        };
        self.push(node, &[logits, targets], &[loss]);
        Ok(loss)
    }

    /// `torch.cat([x[i] for i in idx], dim=1)` of a state `x` (k, B, H) such as h_n: (B,
    /// len(idx)·H). The lecture's classifier reads `cat(h_n[-1], h_n[-2])`, the top layer's
    /// backward direction first: `idx = [2L − 1, 2L − 2]`.
    pub fn cat_states(&mut self, x: Var, idx: &[usize]) -> Result<Var> {
        self.expect(x, Kind::F32, None, "cat_states")?;
        let (rows, h) = self.shape(x);
        let k = match rows {
            Rows::States(k) => k,
            Rows::Batch => 1,
            _ => return Err(bad("cat_states: expected a (k, B, H) state".into())),
        };
        let repeated = idx.iter().enumerate().any(|(j, i)| idx[..j].contains(i));
        if idx.is_empty() || repeated || idx.iter().any(|&i| i >= k) {
            return Err(bad(format!(
                "cat_states: indices {idx:?} must be distinct and in 0..{k}"
            )));
        }
        let name = format!("cat{}", self.nodes.len());
        let y = self.var(&name, Rows::Batch, idx.len() * h, Kind::F32);
        let node = Node::CatStates {
            x,
            idx: idx.to_vec(),
            y,
        };
        self.push(node, &[x], &[y]);
        Ok(y)
    }

    /// `torch.nn.functional.mse_loss(pred, target, reduction)`: a one-element loss over
    /// every element of `pred` (the mean divides by all of them). `target` is an f32 input
    /// of `pred`'s shape.
    pub fn mse(&mut self, pred: Var, target: Var, reduction: Reduction) -> Result<Var> {
        self.expect(pred, Kind::F32, None, "mse prediction")?;
        self.expect(target, Kind::F32, None, "mse target")?;
        let ((pr, pc), (tr, tc)) = (self.shape(pred), self.shape(target));
        if !pr.matches(tr) || pc != tc || self.vars[target.0].producer.is_some() {
            return Err(bad(format!(
                "mse: the target {} must be an input of the prediction's shape",
                self.vars[target.0].name
            )));
        }
        let name = format!("loss{}", self.nodes.len());
        let loss = self.var(&name, Rows::Fixed(1), 1, Kind::F32);
        let node = Node::Mse {
            pred,
            target,
            loss,
            reduction,
        };
        self.push(node, &[pred, target], &[loss]);
        Ok(loss)
    }

    /// Whether node `n` is a loss.
    pub(crate) fn is_loss(&self, n: usize) -> bool {
        matches!(self.nodes[n], Node::CrossEntropy { .. } | Node::Mse { .. })
    }

    /// Truncated BPTT: at the end of every forward pass, copy `from` (a recurrent layer's
    /// `h_n` or `c_n`) into `to` (its `h0` or `c0`), so the next batch starts where this one
    /// ended. No gradient flows back through the copy. Writing `to` from the host (zeros at
    /// a new epoch) restarts the state.
    pub fn carry(&mut self, from: Var, to: Var) -> Result<()> {
        self.expect(from, Kind::F32, None, "carry")?;
        self.expect(to, Kind::F32, None, "carry")?;
        if self.shape(from) != self.shape(to) || self.vars[to.0].producer.is_some() {
            return Err(bad(format!(
                "carry: {} must be an input of {}'s shape",
                self.vars[to.0].name, self.vars[from.0].name
            )));
        }
        self.push(Node::Carry { from, to }, &[], &[]);
        Ok(())
    }

    /// Every parameter's state_dict key and shape, in the flat buffer's order.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.layout
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.shape.as_slice()))
    }

    /// The recurrent configuration of layer `layer` (a cell's is one layer, one direction).
    pub(crate) fn rnn_config(&self, layer: usize) -> Option<&RnnConfig> {
        match &self.layers[layer].layer {
            Layer::Rnn(cfg) | Layer::Cell(cfg) => Some(cfg),
            _ => None,
        }
    }
}

/// A cell kind's name as PyTorch's module class spells it, for messages.
pub(crate) fn cell_class(kind: CellKind) -> &'static str {
    match kind {
        CellKind::Rnn => "RNN",
        CellKind::Gru => "GRU",
        CellKind::Lstm => "LSTM",
    }
}
