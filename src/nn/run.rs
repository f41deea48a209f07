//! The programs of a [`Model`]: each node's forward ops in graph order, and its backward ops
//! in reverse (llm.c's pairs, one node at a time), then the optimizer's step.

use crate::Result;
use crate::model::rnn::LayerInput;
use crate::nn::graph::{Kind, Node};
use crate::nn::model::{Built, Model, Phase};
use crate::plan::{Op, Program, View};

impl Model {
    fn forward_ops(&self, ops: &mut Vec<Op>, (t, b): (usize, usize), train: bool) -> Result<()> {
        let (g, params) = (&self.g, self.params);
        let rng = View {
            buf: self.rng,
            offset: 0,
            len: 2,
        };
        for (node, built) in g.nodes.iter().zip(&self.built) {
            match (node, built) {
                (_, Built::Fused) => {}
                (Node::Embedding { ids, out, .. }, Built::Embedding { weight, dim, .. }) => {
                    ops.push(Op::EmbeddingFwd {
                        out: self.value(*out, (t, b))?,
                        ids: self.value(*ids, (t, b))?,
                        weight: g.layout.view(params, weight)?,
                        e: *dim,
                    });
                }
                (Node::Linear { x, y, .. }, Built::Linear(lin)) => {
                    let rows = g.vars[x.0].rows.count(t, b);
                    lin.forward(ops, self.value(*y, (t, b))?, self.value(*x, (t, b))?, rows);
                }
                (Node::Rnn { x, .. }, Built::Rnn { rnn, input }) => match input {
                    Some(input) => input.forward_ops(ops, rnn, &g.layout, params, (t, b), train)?,
                    None => {
                        let x = LayerInput::Rows(self.value(*x, (t, b))?);
                        rnn.forward_ops(ops, x, t, b, train)?;
                    }
                },
                (Node::Cell { x, h, c, .. }, Built::Cell(rnn)) => {
                    // The state in, then one step of T = 1.
                    ops.push(Op::copy_flat(rnn.state(rnn.h0, b), self.value(*h, (t, b))?));
                    if let (Some(c), Some(c0)) = (c, rnn.c0) {
                        ops.push(Op::copy_flat(rnn.state(c0, b), self.value(*c, (t, b))?));
                    }
                    let x = LayerInput::Rows(self.value(*x, (t, b))?);
                    rnn.forward_ops(ops, x, 1, b, train)?;
                }
                (Node::Dropout { p, x, y }, Built::Dropout { salt }) => {
                    let (x, y) = (self.value(*x, (t, b))?, self.value(*y, (t, b))?);
                    ops.push(match train {
                        true => Op::Dropout {
                            out: y,
                            inp: x,
                            rng,
                            salt: *salt,
                            p: *p,
                        },
                        false => Op::copy_flat(y, x),
                    });
                }
                (
                    Node::CrossEntropy {
                        logits,
                        targets,
                        loss,
                        reduction,
                        ..
                    },
                    Built::Loss,
                ) => ops.push(Op::CrossEntropy {
                    dlogits: self.grad(*logits, (t, b)).expect("declared with dlogits"),
                    loss: self.value(*loss, (t, b))?,
                    logits: self.value(*logits, (t, b))?,
                    targets: self.value(*targets, (t, b))?,
                    c: g.vars[logits.0].cols,
                    reduction: *reduction,
                }),
                (
                    Node::Mse {
                        pred,
                        target,
                        loss,
                        reduction,
                    },
                    Built::Loss,
                ) => ops.push(Op::Mse {
                    dpred: self.grad(*pred, (t, b)).expect("declared with dpred"),
                    loss: self.value(*loss, (t, b))?,
                    pred: self.value(*pred, (t, b))?,
                    target: self.value(*target, (t, b))?,
                    reduction: *reduction,
                }),
                (Node::CatStates { x, idx, y }, _) => {
                    let (xv, yv) = (self.value(*x, (t, b))?, self.value(*y, (t, b))?);
                    ops.extend(cat_copies(xv, yv, idx, b, g.vars[x.0].cols, true));
                }
                (Node::Carry { from, to }, _) => {
                    ops.push(Op::copy_flat(
                        self.value(*to, (t, b))?,
                        self.value(*from, (t, b))?,
                    ));
                }
                _ => unreachable!("each node is built as its own kind"),
            }
        }
        Ok(())
    }

    fn backward_ops(&self, ops: &mut Vec<Op>, (t, b): (usize, usize)) -> Result<()> {
        let opt = self.opt.as_ref().expect("backward needs a trainer");
        ops.push(opt.zero_grads());
        let g = &self.g;
        // Outputs nothing reads (an unused h_n, say) have a zero gradient.
        for (i, info) in g.vars.iter().enumerate() {
            let loss = info.producer.is_some_and(|p| g.is_loss(p));
            let unread = info.producer.is_some() && info.consumers.is_empty() && !loss;
            if info.kind == Kind::F32
                && unread
                && let Some(out) = self.grad(crate::nn::Var(i), (t, b))
            {
                ops.push(Op::Fill { out, value: 0.0 });
            }
        }
        let (params, grads) = (self.params, self.grads);
        let rng = View {
            buf: self.rng,
            offset: 0,
            len: 2,
        };
        for (node, built) in g.nodes.iter().zip(&self.built).rev() {
            match (node, built) {
                (Node::Carry { .. }, _) | (_, Built::Fused | Built::Loss) => {}
                (Node::CatStates { x, idx, y }, _) => {
                    if let (Some(dx), Some(dy)) = (self.grad(*x, (t, b)), self.grad(*y, (t, b))) {
                        // The rows not selected get no gradient.
                        ops.push(Op::Fill {
                            out: dx,
                            value: 0.0,
                        });
                        ops.extend(cat_copies(dx, dy, idx, b, g.vars[x.0].cols, false));
                    }
                }
                (Node::Embedding { out, .. }, built @ Built::Embedding { weight, dim, .. }) => {
                    let Some(dout) = self.grad(*out, (t, b)) else {
                        continue;
                    };
                    let (offsets, rows) = token_rows(built, g.vars[out.0].rows.count(t, b));
                    ops.push(Op::EmbeddingBwd {
                        dweight: g.layout.view(grads, weight)?,
                        dout,
                        offsets,
                        rows,
                        e: *dim,
                    });
                }
                (Node::Linear { x, y, .. }, Built::Linear(lin)) => {
                    let rows = g.vars[x.0].rows.count(t, b);
                    let dy = self
                        .grad(*y, (t, b))
                        .expect("a trained value has a gradient");
                    lin.backward(
                        ops,
                        self.grad(*x, (t, b)),
                        dy,
                        self.value(*x, (t, b))?,
                        rows,
                    );
                }
                (Node::Rnn { x, .. }, Built::Rnn { rnn, input }) => match input {
                    Some(input) => {
                        input.backward_ops(ops, rnn, &g.layout, (params, grads), (t, b))?
                    }
                    None => {
                        let (xv, dx) = (self.value(*x, (t, b))?, self.grad(*x, (t, b)));
                        rnn.backward_ops(ops, Some(xv), dx, t, b, false)?;
                    }
                },
                (Node::Cell { x, h, c, .. }, Built::Cell(rnn)) => {
                    // The step's output is h' itself: its gradient comes in through dh_n.
                    let out = rnn.doutput(1, b);
                    ops.push(Op::Fill { out, value: 0.0 });
                    let (xv, dx) = (self.value(*x, (t, b))?, self.grad(*x, (t, b)));
                    rnn.backward_ops(ops, Some(xv), dx, 1, b, true)?;
                    if let Some(dh) = self.grad(*h, (t, b)) {
                        ops.push(Op::copy_flat(dh, rnn.state(rnn.dh0, b)));
                    }
                    if let (Some(dc), Some(dc0)) = (c.and_then(|c| self.grad(c, (t, b))), rnn.dc0) {
                        ops.push(Op::copy_flat(dc, rnn.state(dc0, b)));
                    }
                }
                (Node::Dropout { p, x, y }, Built::Dropout { salt }) => {
                    if let (Some(dx), Some(dy)) = (self.grad(*x, (t, b)), self.grad(*y, (t, b))) {
                        // The same mask (seed, step, salt) on the gradient.
                        ops.push(Op::Dropout {
                            out: dx,
                            inp: dy,
                            rng,
                            salt: *salt,
                            p: *p,
                        });
                    }
                }
                _ => unreachable!("each node is built as its own kind"),
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
            Phase::Eval => self.forward_ops(&mut ops, (t, b), false)?,
            Phase::Train => {
                // The tables follow the weights of every step.
                if let Some(tables) = &self.tables {
                    ops.extend(tables.ops.iter().cloned());
                }
                self.forward_ops(&mut ops, (t, b), true)?;
            }
            Phase::Backward => self.backward_ops(&mut ops, (t, b))?,
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
