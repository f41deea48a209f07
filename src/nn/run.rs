//! The programs of a [`Model`]: every node's forward ops in graph order, then its backward
//! ops in reverse, then the optimizer's step. Each kind of node has one function holding its
//! forward and its backward side by side (llm.c's pairs), so a layer's backward reads as its
//! forward reversed.

use crate::Result;
use crate::model::embedding_input::EmbeddingInput;
use crate::model::linear::Linear;
use crate::model::rnn::{LayerInput, RnnBuffers};
use crate::nn::graph::{Kind, Node, RnnOut, Var};
use crate::nn::model::{Built, Model, Phase};
use crate::plan::{Op, Program, View};

/// Which half of a node's pair to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// The forward pass, with dropout on when training.
    Forward {
        train: bool,
    },
    Backward,
}

impl Model {
    /// Every node's forward ops in graph order; the losses' only when `losses`.
    fn forward_ops(
        &self,
        ops: &mut Vec<Op>,
        shape: (usize, usize),
        train: bool,
        losses: bool,
    ) -> Result<()> {
        for (n, (node, built)) in self.g.nodes.iter().zip(&self.built).enumerate() {
            if losses || !self.g.is_loss(n) {
                self.node_ops(ops, (node, built), shape, Pass::Forward { train })?;
            }
        }
        Ok(())
    }

    /// Zero the parameters' gradients, then every node's backward in reverse order. The
    /// outputs nothing reads (an unused h_n, say) get a zero gradient first unless `seeded`:
    /// then the host wrote theirs.
    fn backward_ops(&self, ops: &mut Vec<Op>, (t, b): (usize, usize), seeded: bool) -> Result<()> {
        ops.push(Op::Fill {
            out: View {
                buf: self.grads,
                offset: 0,
                len: self.g.layout.len.max(1),
            },
            value: 0.0,
        });
        let g = &self.g;
        for (i, info) in g.vars.iter().enumerate().filter(|_| !seeded) {
            let loss = info.producer.is_some_and(|p| g.is_loss(p));
            let unread = info.producer.is_some() && info.consumers.is_empty() && !loss;
            if info.kind == Kind::F32
                && unread
                && let Some(out) = self.grad(Var(i), (t, b))
            {
                ops.push(Op::Fill { out, value: 0.0 });
            }
        }
        for (node, built) in g.nodes.iter().zip(&self.built).rev() {
            self.node_ops(ops, (node, built), (t, b), Pass::Backward)?;
        }
        Ok(())
    }

    /// One node's half of its pair.
    fn node_ops(
        &self,
        ops: &mut Vec<Op>,
        (node, built): (&Node, &Built),
        shape: (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        match (node, built) {
            // Folded into the recurrent layer it feeds, which emits it.
            (_, Built::Fused) => Ok(()),
            (Node::Embedding { ids, out, .. }, Built::Embedding { .. }) => {
                self.embedding(ops, built, (*ids, *out), shape, pass)
            }
            (Node::Linear { x, y, .. }, Built::Linear(lin)) => {
                self.linear(ops, lin, (*x, *y), shape, pass)
            }
            (Node::Rnn { x, out, .. }, Built::Rnn { rnn, input }) => {
                self.rnn(ops, (rnn, input.as_deref()), (*x, out), shape, pass)
            }
            (Node::Cell { x, h, c, .. }, Built::Cell(rnn)) => {
                self.cell(ops, rnn, (*x, *h, *c), shape, pass)
            }
            (Node::Dropout { p, x, y }, Built::Dropout { salt }) => {
                self.dropout(ops, (*p, *salt), (*x, *y), shape, pass)
            }
            (Node::CrossEntropy { .. } | Node::Mse { .. }, Built::Loss) => {
                self.loss(ops, node, shape, pass)
            }
            (Node::CatStates { x, idx, y }, _) => self.cat_states(ops, (*x, *y), idx, shape, pass),
            (Node::Carry { from, to }, _) => {
                // After the forward pass, without gradient.
                if let Pass::Forward { .. } = pass {
                    ops.push(Op::copy_flat(
                        self.value(*to, shape)?,
                        self.value(*from, shape)?,
                    ));
                }
                Ok(())
            }
            _ => unreachable!("each node is built as its own kind"),
        }
    }

    /// `out = weight[ids]`; backward: `dweight[ids] += dout`, grouped by id.
    fn embedding(
        &self,
        ops: &mut Vec<Op>,
        built: &Built,
        (ids, out): (Var, Var),
        shape: (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        let Built::Embedding { weight, dim, .. } = built else {
            unreachable!("an embedding node is built as one")
        };
        let layout = &self.g.layout;
        match pass {
            Pass::Forward { .. } => ops.push(Op::EmbeddingFwd {
                out: self.value(out, shape)?,
                ids: self.value(ids, shape)?,
                weight: layout.view(self.params, weight)?,
                e: *dim,
            }),
            Pass::Backward => {
                if let Some(dout) = self.grad(out, shape) {
                    let n = self.g.vars[out.0].rows.count(shape.0, shape.1);
                    let (offsets, rows) = token_rows(built, n);
                    ops.push(Op::EmbeddingBwd {
                        dweight: layout.view(self.grads, weight)?,
                        dout,
                        offsets,
                        rows,
                        e: *dim,
                    });
                }
            }
        }
        Ok(())
    }

    /// `y = x·Wᵀ + b`; backward: `dW += dyᵀ·x`, `db += Σ dy`, `dx = dy·W`.
    fn linear(
        &self,
        ops: &mut Vec<Op>,
        lin: &Linear,
        (x, y): (Var, Var),
        shape: (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        let rows = self.g.vars[x.0].rows.count(shape.0, shape.1);
        let xv = self.value(x, shape)?;
        match pass {
            Pass::Forward { .. } => lin.forward(ops, self.value(y, shape)?, xv, rows),
            Pass::Backward => {
                let dy = self.grad(y, shape).expect("a trained value has a gradient");
                lin.backward(ops, self.grad(x, shape), dy, xv, rows);
            }
        }
        Ok(())
    }

    /// The recurrent layers over the sequences (from the folded embedding's ids, or from
    /// `x`); backward: their steps in reverse, then the weight gradients.
    fn rnn(
        &self,
        ops: &mut Vec<Op>,
        (rnn, input): (&RnnBuffers, Option<&EmbeddingInput>),
        (x, node_out): (Var, &RnnOut),
        (t, b): (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        let (layout, params, grads) = (&self.g.layout, self.params, self.grads);
        match (pass, input) {
            (Pass::Forward { train }, Some(input)) => {
                input.forward_ops(ops, rnn, layout, params, (t, b), train)
            }
            (Pass::Forward { train }, None) => {
                let x = LayerInput::Rows(self.value(x, (t, b))?);
                rnn.forward_ops(ops, x, t, b, train)
            }
            (Pass::Backward, Some(input)) => {
                let states = self.state_grads(node_out);
                input.backward_ops(ops, rnn, layout, (params, grads), (t, b, states))
            }
            (Pass::Backward, None) => {
                let (xv, dx) = (self.value(x, (t, b))?, self.grad(x, (t, b)));
                rnn.backward_ops(ops, Some(xv), dx, t, b, self.state_grads(node_out))
            }
        }
    }

    /// Whether backward forms dh0 (dc0): when either requires its gradient.
    fn state_grads(&self, out: &RnnOut) -> bool {
        let wants = |v: Var| self.g.vars[v.0].requires_grad;
        wants(out.h0) || out.c0.is_some_and(wants)
    }

    /// One cell step: the state in, then a step of T = 1; backward: the step's gradient, then
    /// the state's gradient out.
    fn cell(
        &self,
        ops: &mut Vec<Op>,
        rnn: &RnnBuffers,
        (x, h, c): (Var, Var, Option<Var>),
        (t, b): (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        let xv = self.value(x, (t, b))?;
        match pass {
            Pass::Forward { train } => {
                ops.push(Op::copy_flat(rnn.state(rnn.h0, b), self.value(h, (t, b))?));
                if let (Some(c), Some(c0)) = (c, rnn.c0) {
                    ops.push(Op::copy_flat(rnn.state(c0, b), self.value(c, (t, b))?));
                }
                rnn.forward_ops(ops, LayerInput::Rows(xv), 1, b, train)
            }
            Pass::Backward => {
                // The step's output is h' itself: its gradient comes in through dh_n.
                let out = rnn.doutput(1, b);
                ops.push(Op::Fill { out, value: 0.0 });
                rnn.backward_ops(ops, Some(xv), self.grad(x, (t, b)), 1, b, true)?;
                if let Some(dh) = self.grad(h, (t, b)) {
                    ops.push(Op::copy_flat(dh, rnn.state(rnn.dh0, b)));
                }
                let dc = c.and_then(|c| self.grad(c, (t, b)));
                if let (Some(dc), Some(dc0)) = (dc, rnn.dc0) {
                    ops.push(Op::copy_flat(dc, rnn.state(dc0, b)));
                }
                Ok(())
            }
        }
    }

    /// `y = x·mask/(1 − p)` in training, `y = x` in evaluation; backward: the same mask (seed,
    /// step, salt) on the gradient.
    fn dropout(
        &self,
        ops: &mut Vec<Op>,
        (p, salt): (f32, u32),
        (x, y): (Var, Var),
        shape: (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        let rng = View {
            buf: self.rng,
            offset: 0,
            len: 2,
        };
        let (from, to) = match pass {
            Pass::Forward { train: false } => {
                ops.push(Op::copy_flat(self.value(y, shape)?, self.value(x, shape)?));
                return Ok(());
            }
            Pass::Forward { train: true } => {
                (Some(self.value(x, shape)?), Some(self.value(y, shape)?))
            }
            Pass::Backward => (self.grad(y, shape), self.grad(x, shape)),
        };
        if let (Some(inp), Some(out)) = (from, to) {
            ops.push(Op::Dropout {
                out,
                inp,
                rng,
                salt,
                p,
            });
        }
        Ok(())
    }

    /// A loss and, in the same kernel, its prediction's gradient; nothing in backward.
    fn loss(
        &self,
        ops: &mut Vec<Op>,
        node: &Node,
        shape: (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        if pass == Pass::Backward {
            return Ok(());
        }
        ops.push(match *node {
            Node::CrossEntropy {
                logits,
                targets,
                loss,
                reduction,
                ..
            } => Op::CrossEntropy {
                dlogits: self.grad(logits, shape).expect("declared with dlogits"),
                loss: self.value(loss, shape)?,
                logits: self.value(logits, shape)?,
                targets: self.value(targets, shape)?,
                c: self.g.vars[logits.0].cols,
                reduction,
            },
            Node::Mse {
                pred,
                target,
                loss,
                reduction,
            } => Op::Mse {
                dpred: self.grad(pred, shape).expect("declared with dpred"),
                loss: self.value(loss, shape)?,
                pred: self.value(pred, shape)?,
                target: self.value(target, shape)?,
                reduction,
            },
            _ => unreachable!("a loss node is a cross-entropy or an MSE"),
        });
        Ok(())
    }

    /// `y = cat(x[i] for i in idx)`; backward: each slice of dy back to its row of dx, zero
    /// elsewhere.
    fn cat_states(
        &self,
        ops: &mut Vec<Op>,
        (x, y): (Var, Var),
        idx: &[usize],
        shape: (usize, usize),
        pass: Pass,
    ) -> Result<()> {
        let (b, h) = (shape.1, self.g.vars[x.0].cols);
        match pass {
            Pass::Forward { .. } => {
                let (xv, yv) = (self.value(x, shape)?, self.value(y, shape)?);
                ops.extend(cat_copies(xv, yv, idx, b, h, true));
            }
            Pass::Backward => {
                if let (Some(dx), Some(dy)) = (self.grad(x, shape), self.grad(y, shape)) {
                    ops.push(Op::Fill {
                        out: dx,
                        value: 0.0,
                    });
                    ops.extend(cat_copies(dx, dy, idx, b, h, false));
                }
            }
        }
        Ok(())
    }

    /// Build the program of `phase` for (t, b) unless it exists.
    pub(crate) fn program(&mut self, (t, b): (usize, usize), phase: Phase) -> Result<()> {
        if self.programs.contains_key(&(t, b, phase)) {
            return Ok(());
        }
        let mut ops = Vec::new();
        match phase {
            Phase::Eval => self.forward_ops(&mut ops, (t, b), false, true)?,
            Phase::Predict => self.forward_ops(&mut ops, (t, b), false, false)?,
            Phase::Train => {
                // The tables follow the weights of every step.
                if let Some(tables) = &self.tables {
                    ops.extend(tables.ops.iter().cloned());
                }
                self.forward_ops(&mut ops, (t, b), true, true)?;
            }
            Phase::Backward => self.backward_ops(&mut ops, (t, b), false)?,
            Phase::BackwardFrom => self.backward_ops(&mut ops, (t, b), true)?,
        }
        self.programs.insert((t, b, phase), Program::new(ops));
        Ok(())
    }

    /// The optimizer's program (clipping and Adam), built once.
    pub(crate) fn step_program(&mut self) -> &Program {
        let opt = self.opt.as_ref().expect("a step needs a trainer");
        self.step_program.get_or_insert_with(|| {
            let mut ops = Vec::new();
            opt.step_ops(&mut ops);
            Program::new(ops)
        })
    }
}

/// A standalone embedding's token grouping for `n` tokens: offsets (V + 1) and rows (N).
pub(crate) fn token_rows(built: &Built, n: usize) -> (View, View) {
    let Built::Embedding {
        vocab,
        offsets,
        rows,
        ..
    } = built
    else {
        unreachable!("token rows belong to an embedding")
    };
    let view = |buf, len| View {
        buf,
        offset: 0,
        len,
    };
    (view(*offsets, vocab + 1), view(*rows, n))
}

/// The copies of [`Graph::cat_states`](crate::nn::Graph::cat_states) between a state `x` (k,
/// B, H) and `y` (B, n·H): slot j of each row of `y` is row `idx[j]` of `x`; `forward`
/// copies x into y, else y into x (the gradient).
fn cat_copies(x: View, y: View, idx: &[usize], b: usize, h: usize, forward: bool) -> Vec<Op> {
    let n = idx.len();
    idx.iter()
        .enumerate()
        .map(|(slot, &i)| {
            let state = x.sub(i * b * h, b * h);
            let part = y.sub(slot * h, (b - 1) * n * h + h);
            let (out, inp, ldo, ldi) = match forward {
                true => (part, state, n * h, h),
                false => (state, part, h, n * h),
            };
            Op::Copy {
                out,
                inp,
                rows: b,
                cols: h,
                ldo,
                ldi,
            }
        })
        .collect()
}
