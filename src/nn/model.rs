//! [`Model`]: a [`Graph`] on a backend. Parameters, activations and (when training)
//! gradients and the optimizer's state live in the backend's buffers between calls; the host
//! writes inputs, runs a program and reads only what it asks for.

use std::collections::HashMap;

use crate::backend::{Backend, Runtime};
use crate::cpu::adam::AdamConfig;
use crate::cpu::sgd::SgdConfig;
use crate::model::embedding_input::EmbeddingInput;
use crate::model::linear::Linear;
use crate::model::module::swap_tb;
use crate::model::optim::{Method, Optimizer};
use crate::model::rnn::RnnBuffers;
use crate::nn::declare::Declare;
use crate::nn::graph::{Graph, Kind, Node, Rows, Var};
use crate::plan::{BufId, Buffers, Program, View};
use crate::{Error, Result};

/// How a [`Model`] trains: torch.optim.Adam, AdamW or SGD over every parameter, with the
/// global gradient norm clipped to `max_norm` first (torch.nn.utils.clip_grad_norm_) unless
/// it is `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optim {
    /// The update and its hyper-parameters.
    pub method: Method,
    /// Clip the global gradient norm to this before each step.
    pub max_norm: Option<f32>,
}

impl Optim {
    /// `torch.optim.Adam(lr=lr)` with PyTorch's other defaults.
    pub fn adam(lr: f64) -> Self {
        Self::new(AdamConfig {
            lr,
            ..AdamConfig::default()
        })
    }

    /// `torch.optim.AdamW(lr=lr)`: decoupled weight decay 0.01.
    pub fn adamw(lr: f64) -> Self {
        Self::new(AdamConfig::adamw(lr))
    }

    /// `torch.optim.SGD(lr=lr, momentum=momentum, nesterov=nesterov)`.
    pub fn sgd(lr: f64, momentum: f64, nesterov: bool) -> Self {
        Self::new(SgdConfig {
            momentum,
            nesterov,
            ..SgdConfig::new(lr)
        })
    }

    /// Any method with every hyper-parameter ([`AdamConfig`], [`SgdConfig`]).
    pub fn new(method: impl Into<Method>) -> Self {
        Self {
            method: method.into(),
            max_norm: None,
        }
    }

    /// Clip the global gradient norm to `max_norm` before each step.
    pub fn clip(mut self, max_norm: f32) -> Self {
        self.max_norm = Some(max_norm);
        self
    }

    /// PyTorch's checks of the hyper-parameters.
    fn check(&self) -> Result<()> {
        let lr_ok = |lr: f64| lr.is_finite() && lr >= 0.0;
        let ok = match self.method {
            Method::Adam(c) => {
                lr_ok(c.lr)
                    && (0.0..1.0).contains(&c.beta1)
                    && (0.0..1.0).contains(&c.beta2)
                    && c.eps >= 0.0
                    && c.weight_decay >= 0.0
            }
            Method::Sgd(c) => {
                lr_ok(c.lr)
                    && c.momentum >= 0.0
                    && c.weight_decay >= 0.0
                    && (!c.nesterov || (c.momentum > 0.0 && c.dampening == 0.0))
            }
        };
        let clip_ok = self.max_norm.is_none_or(|n| n.is_finite() && n > 0.0);
        if ok && clip_ok {
            Ok(())
        } else {
            Err(bad(format!(
                "invalid optimizer {self:?} (Nesterov needs momentum > 0 and dampening 0)"
            )))
        }
    }
}

/// Where a value lives: its buffer, and its gradient's when it has one. A value folded into
/// the layer that reads it (an embedding feeding a recurrent layer) has neither.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bind {
    pub value: Option<BufId>,
    pub grad: Option<BufId>,
}

/// What a node became on the backend.
#[derive(Clone, Debug)]
pub(crate) enum Built {
    Embedding {
        weight: String,
        vocab: usize,
        dim: usize,
        offsets: BufId,
        rows: BufId,
    },
    /// Folded into the recurrent layer after it.
    Fused,
    Linear(Box<Linear>),
    Rnn {
        rnn: Box<RnnBuffers>,
        /// The embedding (and its dropout) that feeds layer 0, folded in.
        input: Option<Box<EmbeddingInput>>,
    },
    /// A cell's step: a recurrent module of one step under an alias of the cell's names.
    Cell(Box<RnnBuffers>),
    Dropout {
        salt: u32,
    },
    Loss,
    /// Copies between values (a carry, a concatenation of states): no buffers of its own.
    Copies,
}

/// Which program of a batch shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Phase {
    Eval,
    /// The forward pass in evaluation mode without the losses.
    Predict,
    Train,
    Backward,
    /// Backward from the gradients the host wrote into the outputs nothing reads.
    BackwardFrom,
}

/// A [`Graph`] built on a backend for batches of up to `b_max` sequences of up to `t_max`
/// steps.
pub struct Model {
    pub(crate) g: Graph,
    pub(crate) rt: Box<dyn Runtime>,
    pub(crate) params: BufId,
    pub(crate) grads: BufId,
    pub(crate) opt: Option<Optimizer>,
    pub(crate) binds: Vec<Bind>,
    pub(crate) built: Vec<Built>,
    /// `[seed, step]` of the dropout masks outside the recurrent layers.
    pub(crate) rng: BufId,
    pub(crate) max: (usize, usize),
    pub(crate) programs: HashMap<(usize, usize, Phase), Program>,
    pub(crate) step_program: Option<Program>,
    /// The embedding tables' products, run before inference when the weights changed.
    pub(crate) tables: Option<Program>,
    pub(crate) tables_fresh: bool,
    /// The shape of the last forward, and whether it trained.
    pub(crate) last: Option<(usize, usize, bool)>,
    pub(crate) lengths: Option<Vec<u32>>,
    /// The batch shape each input was last written (or carried) for.
    pub(crate) written: Vec<Option<(usize, usize)>>,
    pub(crate) seed: u32,
    pub(crate) masks: u32,
    /// Bytes of every buffer, allocated together when the model was built.
    pub(crate) buffer_bytes: usize,
}

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "model",
        message,
    }
}

/// The embedding (and dropout) node chain that feeds recurrent node `n` and nothing else, to
/// fold into it: `(embedding node, dropout node and p)`.
pub(crate) fn feeder(g: &Graph, n: usize, x: Var) -> Option<(usize, Option<(usize, f32)>)> {
    let only_me = |v: Var, me: usize| g.vars[v.0].consumers == [me];
    let (mut x, mut reader, mut drop) = (x, n, None);
    loop {
        let p = g.vars[x.0].producer?;
        if !only_me(x, reader) {
            return None;
        }
        match g.nodes[p] {
            Node::Dropout {
                p: prob, x: inner, ..
            } if drop.is_none() => {
                drop = Some((p, prob));
                (x, reader) = (inner, p);
            }
            Node::Embedding { ids, .. } => {
                let ids_alone = g.vars[ids.0].producer.is_none() && only_me(ids, p);
                return ids_alone.then_some((p, drop));
            }
            _ => return None,
        }
    }
}

impl Model {
    /// The graph for inference only: no gradients and no optimizer state are allocated.
    pub fn new(g: Graph, backend: &Backend, (t_max, b_max): (usize, usize)) -> Result<Self> {
        Self::build(g, backend, (t_max, b_max), false, None)
    }

    /// The graph with gradients but no optimizer, as torch.autograd without torch.optim:
    /// [`Model::forward_train`], then [`Model::backward`] (of the losses) or
    /// [`Model::backward_from`] (of given output gradients), and [`Model::grads`] and
    /// [`Model::grad_of`] read them. It needs no loss; each value may be read once, as a
    /// trainer's.
    pub fn with_grads(g: Graph, backend: &Backend, (t_max, b_max): (usize, usize)) -> Result<Self> {
        Self::build(g, backend, (t_max, b_max), true, None)
    }

    /// The graph for training with `optim`: it needs a loss, and every value that flows
    /// into it may be read by one layer only (gradients are not summed across uses).
    pub fn trainer(
        g: Graph,
        backend: &Backend,
        (t_max, b_max): (usize, usize),
        optim: Optim,
    ) -> Result<Self> {
        Self::build(g, backend, (t_max, b_max), true, Some(optim))
    }

    fn check_graph(
        g: &Graph,
        (grads, optim): (bool, bool),
        (t_max, b_max): (usize, usize),
    ) -> Result<()> {
        if t_max == 0 || b_max == 0 || t_max.checked_mul(b_max).is_none() {
            return Err(bad(format!("{t_max} steps × {b_max} sequences")));
        }
        if !grads {
            return Ok(());
        }
        if optim && !(0..g.nodes.len()).any(|n| g.is_loss(n)) {
            return Err(bad("a model to train needs a loss".into()));
        }
        // A loss's kernel takes d(loss)/d(loss) = 1: nothing may read it.
        if let Some(v) = g
            .vars
            .iter()
            .find(|v| v.producer.is_some_and(|p| g.is_loss(p)) && !v.consumers.is_empty())
        {
            return Err(bad(format!(
                "{} is a loss; a trained graph may not read it",
                v.name
            )));
        }
        // A carry writes its target during the forward pass; only a cell's state input (read
        // before the copy, never by backward) may be one that a node reads.
        for node in &g.nodes {
            let Node::Carry { to, .. } = node else {
                continue;
            };
            let read_later = g.vars[to.0].consumers.iter().any(|&c| match &g.nodes[c] {
                Node::Cell { x, .. } => x == to,
                _ => true,
            });
            if read_later {
                return Err(bad(format!(
                    "{} is carried into and read by a layer whose backward needs its old value",
                    g.vars[to.0].name
                )));
            }
        }
        // An MSE's target gets no gradient; a gradient would be written, not summed, by
        // each of several readers.
        let target_of_mse = |i: usize| {
            g.vars[i].consumers.iter().any(|&c| match g.nodes[c] {
                Node::Mse { target, .. } => target.0 == i,
                _ => false,
            })
        };
        if let Some((_, v)) =
            (g.vars.iter().enumerate()).find(|(i, v)| v.requires_grad && target_of_mse(*i))
        {
            return Err(bad(format!(
                "{} requires a gradient but is an MSE target, which has none",
                v.name
            )));
        }
        let differentiated =
            |v: &&crate::nn::graph::VarInfo| v.producer.is_some() || v.requires_grad;
        if let Some(v) = g
            .vars
            .iter()
            .find(|v| v.kind == Kind::F32 && differentiated(v) && v.consumers.len() > 1)
        {
            return Err(bad(format!(
                "{} is read by {} layers; a trained graph may read each value once",
                v.name,
                v.consumers.len()
            )));
        }
        let params = g.layout.len as f64;
        crate::memory::check(
            &format!("a model of {params:.0} parameters"),
            16.0 * params,
            "; a smaller model fits",
        )
    }

    fn build(
        g: Graph,
        backend: &Backend,
        max: (usize, usize),
        train: bool,
        optim: Option<Optim>,
    ) -> Result<Self> {
        Self::check_graph(&g, (train, optim.is_some()), max)?;
        let mut bufs = Buffers::default();
        let len = g.layout.len.max(1);
        let params = bufs.f32("params", len);
        if let Some(o) = &optim {
            o.check()?;
        }
        let opt = optim.map(|o| {
            let clip = o.max_norm.unwrap_or(0.0);
            Optimizer::declare_for(&mut bufs, params, len, o.method, clip)
        });
        let grads = match &opt {
            Some(o) => o.grads,
            None if train => bufs.f32("grads", len),
            None => params,
        };
        let rng = bufs.u32("dropout.rng", 2);
        let mut binds = vec![Bind::default(); g.vars.len()];
        // Placeholders, but for the embeddings (and dropouts) folded into the recurrent layer
        // they feed, known before any node declares its buffers.
        let mut built = vec![Built::Copies; g.nodes.len()];
        for (n, node) in g.nodes.iter().enumerate() {
            if let Node::Rnn { x, .. } = node
                && let Some((e, drop)) = feeder(&g, n, *x)
            {
                built[e] = Built::Fused;
                if let Some((d, _)) = drop {
                    built[d] = Built::Fused;
                }
            }
        }
        let declare = Declare {
            g: &g,
            train,
            max,
            params,
            grads,
        };
        for (n, slot) in built.iter_mut().enumerate() {
            if !matches!(slot, Built::Fused) {
                *slot = declare.node(&mut bufs, &mut binds, n)?;
            }
        }
        declare.rest(&mut bufs, &mut binds);
        let rt = backend.runtime(&bufs)?;
        let buffer_bytes = bufs.decls.iter().map(|d| 4 * d.len).sum();
        let tables = Self::table_ops(&g, &built, params)?;
        let n_vars = g.vars.len();
        Ok(Self {
            g,
            rt,
            params,
            grads,
            opt,
            binds,
            built,
            rng,
            max,
            programs: HashMap::new(),
            step_program: None,
            tables,
            tables_fresh: false,
            last: None,
            lengths: None,
            written: vec![None; n_vars],
            seed: 0,
            masks: 0,
            buffer_bytes,
        })
    }

    /// Every folded embedding's table product, as one program.
    fn table_ops(g: &Graph, built: &[Built], params: BufId) -> Result<Option<Program>> {
        let mut ops = Vec::new();
        for b in built {
            if let Built::Rnn {
                rnn,
                input: Some(input),
            } = b
                && let Some(op) = input.table_op(rnn, &g.layout, params)?
            {
                ops.push(op);
            }
        }
        Ok((!ops.is_empty()).then(|| Program::new(ops)))
    }

    /// The view of `v`'s value for a batch of `b` sequences of `t` steps.
    pub(crate) fn value(&self, v: Var, (t, b): (usize, usize)) -> Result<View> {
        let info = &self.g.vars[v.0];
        let buf = self.binds[v.0].value.ok_or_else(|| {
            bad(format!(
                "{} is folded into the layer that reads it and has no buffer",
                info.name
            ))
        })?;
        Ok(View {
            buf,
            offset: 0,
            len: info.rows.count(t, b) * info.cols,
        })
    }

    /// The view of `v`'s gradient, if it has one.
    pub(crate) fn grad(&self, v: Var, (t, b): (usize, usize)) -> Option<View> {
        let info = &self.g.vars[v.0];
        self.binds[v.0].grad.map(|buf| View {
            buf,
            offset: 0,
            len: info.rows.count(t, b) * info.cols,
        })
    }

    /// "cpu", or the GPU adapter's description.
    pub fn describe(&self) -> String {
        self.rt.describe()
    }

    /// Kernel launches of the last call.
    pub fn last_dispatches(&self) -> usize {
        self.rt.last_dispatches()
    }

    /// The graph this model runs.
    pub fn graph(&self) -> &Graph {
        &self.g
    }
}

impl Model {
    /// Host data in the graph's layout: (B, T, ·) ↔ (T, B, ·) for a sequence value of a
    /// batch_first graph, else as given.
    pub(crate) fn to_device<T: Copy + Default>(
        &self,
        v: Var,
        data: &[T],
        (t, b): (usize, usize),
    ) -> Vec<T> {
        let info = &self.g.vars[v.0];
        if self.g.batch_first == Some(true) && info.rows == Rows::Steps {
            swap_tb(data, t, b, info.cols, true)
        } else {
            data.to_vec()
        }
    }

    pub(crate) fn to_host(&self, v: Var, data: Vec<f32>, (t, b): (usize, usize)) -> Vec<f32> {
        let info = &self.g.vars[v.0];
        if self.g.batch_first == Some(true) && info.rows == Rows::Steps {
            swap_tb(&data, t, b, info.cols, false)
        } else {
            data
        }
    }
}
