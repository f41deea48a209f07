//! Declaring a [`Model`](crate::nn::Model)'s buffers: each node's activations (and, for a
//! trainer, gradients), bound to the values of the graph.

use crate::Result;
use crate::model::embedding_input::{EmbeddingInput, EmbeddingSpec};
use crate::model::linear::Linear;
use crate::model::params::{ParamEntry, ParamLayout};
use crate::model::rnn::RnnBuffers;
use crate::nn::graph::{CellOut, Graph, Kind, Layer, Node, RnnOut, Var};
use crate::nn::model::{Bind, Built, feeder};
use crate::plan::{BufId, Buffers};

/// Declares the buffers of each node and binds the values to them.
pub(crate) struct Declare<'a> {
    pub g: &'a Graph,
    pub train: bool,
    pub max: (usize, usize),
    pub params: BufId,
    pub grads: BufId,
}

impl Declare<'_> {
    /// A value's own buffers (and its gradient's when training and it is f32).
    fn own(&self, bufs: &mut Buffers, binds: &mut [Bind], v: Var) {
        let info = &self.g.vars[v.0];
        let value = self.value(bufs, v);
        let n = info.rows.count(self.max.0, self.max.1) * info.cols;
        let grad =
            (self.train && info.kind == Kind::F32).then(|| bufs.f32(format!("d{}", info.name), n));
        binds[v.0] = Bind {
            value: Some(value),
            grad,
        };
    }

    /// A value's buffer, sized for the largest batch.
    fn value(&self, bufs: &mut Buffers, v: Var) -> BufId {
        let info = &self.g.vars[v.0];
        let n = info.rows.count(self.max.0, self.max.1) * info.cols;
        match info.kind {
            Kind::F32 => bufs.f32(info.name.clone(), n),
            Kind::Ids => bufs.u32(info.name.clone(), n),
            Kind::Targets => bufs.i32(info.name.clone(), n),
        }
    }

    pub fn node(&self, bufs: &mut Buffers, binds: &mut [Bind], n: usize) -> Result<Built> {
        let g = self.g;
        let (t_max, b_max) = self.max;
        Ok(match &g.nodes[n] {
            Node::Embedding { layer, ids, out } => {
                let Layer::Embedding { num, dim } = g.layers[*layer].layer else {
                    unreachable!("an embedding node uses an embedding layer")
                };
                self.own(bufs, binds, *out);
                let tokens = g.vars[ids.0].rows.count(t_max, b_max);
                let name = &g.layers[*layer].name;
                Built::Embedding {
                    weight: format!("{name}.weight"),
                    vocab: num,
                    dim,
                    offsets: bufs.u32(format!("{name}.token_rows.offsets"), num + 1),
                    rows: bufs.u32(format!("{name}.token_rows.rows"), tokens),
                }
            }
            Node::Linear { layer, y, .. } => {
                self.own(bufs, binds, *y);
                let name = &g.layers[*layer].name;
                Built::Linear(Box::new(Linear::new(
                    &g.layout,
                    self.params,
                    self.grads,
                    name,
                )?))
            }
            Node::Dropout { y, .. } => {
                self.own(bufs, binds, *y);
                Built::Dropout {
                    salt: 0x00d0_0000 + n as u32,
                }
            }
            Node::CrossEntropy {
                logits: pred, loss, ..
            }
            | Node::Mse { pred, loss, .. } => {
                self.own(bufs, binds, *loss);
                // The kernels write the prediction's gradient even when nothing trains.
                if binds[pred.0].grad.is_none() {
                    let info = &g.vars[pred.0];
                    let len = info.rows.count(t_max, b_max) * info.cols;
                    binds[pred.0].grad = Some(bufs.f32(format!("d{}", info.name), len));
                }
                Built::Loss
            }
            Node::Rnn { layer, x, out } => self.rnn(bufs, binds, (n, *layer), *x, *out)?,
            Node::Carry { .. } => Built::Copies,
            Node::CatStates { y, .. } => {
                self.own(bufs, binds, *y);
                Built::Copies
            }
            Node::Cell { layer, out, .. } => self.cell(bufs, binds, *layer, *out),
        })
    }

    /// A cell's step: a recurrent module of one step and one layer, its parameters found
    /// under the layer-0 names of [`cell_alias`]; h' and c' are its h_n and c_n.
    fn cell(&self, bufs: &mut Buffers, binds: &mut [Bind], layer: usize, out: CellOut) -> Built {
        let g = self.g;
        let cfg = g.rnn_config(layer).expect("a cell node uses a cell layer");
        let name = &g.layers[layer].name;
        let layout = cell_alias(&g.layout, name);
        let rnn = RnnBuffers::declare(
            bufs,
            cfg,
            &format!("{name}."),
            &layout,
            self.params,
            self.grads,
            1,
            self.max.1,
            false,
        );
        let grad = |g: Option<BufId>| g.filter(|_| self.train);
        binds[out.h.0] = Bind {
            value: Some(rnn.hn),
            grad: grad(Some(rnn.dhn)),
        };
        if let (Some(c), Some(cn)) = (out.c, rnn.cn) {
            binds[c.0] = Bind {
                value: Some(cn),
                grad: grad(rnn.dcn),
            };
        }
        Built::Cell(Box::new(rnn))
    }

    fn rnn(
        &self,
        bufs: &mut Buffers,
        binds: &mut [Bind],
        (n, layer): (usize, usize),
        x: Var,
        out: RnnOut,
    ) -> Result<Built> {
        let g = self.g;
        let (t_max, b_max) = self.max;
        let cfg = g
            .rnn_config(layer)
            .expect("a recurrent node uses a recurrent layer");
        let name = &g.layers[layer].name;
        let input = feeder(g, n, x).map(|(e, drop)| {
            let Node::Embedding { layer: el, ids, .. } = g.nodes[e] else {
                unreachable!("feeder returns an embedding node")
            };
            let Layer::Embedding { num, dim } = g.layers[el].layer else {
                unreachable!("an embedding node uses an embedding layer")
            };
            let weight = format!("{}.weight", g.layers[el].name);
            let spec = EmbeddingSpec {
                vocab: num,
                embed: dim,
                dropout: drop.map_or(0.0, |d| d.1),
                weight: &weight,
                rnn: cfg,
            };
            let input =
                EmbeddingInput::declare_for(bufs, &spec, t_max * b_max, &format!("{name}."));
            binds[ids.0].value = Some(input.ids);
            Box::new(input)
        });
        let table = input.as_ref().is_some_and(|i| i.is_table());
        let rnn = RnnBuffers::declare(
            bufs,
            cfg,
            &format!("{name}."),
            &g.layout,
            self.params,
            self.grads,
            t_max,
            b_max,
            table,
        );
        let pair = |value: BufId, grad: Option<BufId>| Bind {
            value: Some(value),
            grad: grad.filter(|_| self.train),
        };
        binds[out.output.0] = pair(rnn.output(1, 1).buf, Some(rnn.doutput(1, 1).buf));
        binds[out.h_n.0] = pair(rnn.hn, Some(rnn.dhn));
        let wants = |v: Var| g.vars[v.0].requires_grad;
        binds[out.h0.0] = pair(rnn.h0, Some(rnn.dh0).filter(|_| wants(out.h0)));
        if let (Some(c_n), Some(cn)) = (out.c_n, rnn.cn) {
            binds[c_n.0] = pair(cn, rnn.dcn);
        }
        if let (Some(c0), Some(buf)) = (out.c0, rnn.c0) {
            binds[c0.0] = pair(buf, rnn.dc0.filter(|_| wants(c0)));
        }
        Ok(Built::Rnn {
            rnn: Box::new(rnn),
            input,
        })
    }

    /// Buffers for the inputs nothing bound: ids and targets the host writes, f32 inputs
    /// (with their gradients when they require one; a loss may also have given its
    /// prediction a gradient buffer for its kernel to write).
    pub fn rest(&self, bufs: &mut Buffers, binds: &mut [Bind]) {
        for (i, info) in self.g.vars.iter().enumerate() {
            if info.producer.is_none() && binds[i].value.is_none() {
                binds[i].value = Some(self.value(bufs, Var(i)));
            }
            if info.producer.is_none() && info.requires_grad && self.train {
                let n = info.rows.count(self.max.0, self.max.1) * info.cols;
                binds[i]
                    .grad
                    .get_or_insert_with(|| bufs.f32(format!("d{}", info.name), n));
            }
        }
    }
}

/// `layout` with cell `name`'s parameters also under the names of layer 0 of a recurrent
/// module (`{name}.weight_ih_l0` for `{name}.weight_ih`, …), where a step's buffers,
/// declared under the prefix `{name}.`, find them.
fn cell_alias(layout: &ParamLayout, name: &str) -> ParamLayout {
    let mut alias = layout.clone();
    let prefix = format!("{name}.");
    for e in &layout.entries {
        if let Some(what) = e.name.strip_prefix(&prefix) {
            alias.entries.push(ParamEntry {
                name: format!("{prefix}{what}_l0"),
                ..e.clone()
            });
        }
    }
    alias
}
