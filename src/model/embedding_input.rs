//! Token ids → `Embedding(V, E)` → layer 0 of a recurrent module, forward and backward, as
//! the classifier and the language model both feed it.
//!
//! The embedding feeds only W_ih of layer 0, so for a small vocabulary x·W_ihᵀ + b_ih of every
//! token id is a row of `table = E·W_ihᵀ + b_ih (V, D·G·H)`: one small product, then a gather
//! instead of a (T·B, D·G·H, E) projection, and a backward over V rows instead of T·B (128
//! characters for the names, 65 for tiny-shakespeare). A large vocabulary (words), or dropout
//! on the embedding's output (which acts on rows, not on their projections), gathers embedding
//! rows (T·B, E) and projects them.

use crate::Result;
use crate::cpu::matmul::MatmulDims;
use crate::model::classifier_config::ClassifierConfig;
use crate::model::params::ParamLayout;
use crate::model::rnn::{LayerInput, RnnBuffers, RnnConfig};
use crate::plan::{BufId, Buffers, Op, View};

/// Dropout salt of the embedding's mask (the recurrent layers' masks use their layer index).
const EMBED_SALT: u32 = 0x00e3_b0d0;

#[derive(Clone, Copy, Debug)]
enum Input {
    Table {
        table: BufId,
        dtable: BufId,
    },
    /// `dropped`: the embedding rows after dropout and their gradient, when training with
    /// `embed_dropout`.
    Rows {
        x: BufId,
        dx: BufId,
        dropped: Option<(BufId, BufId)>,
    },
}

/// The embedding's buffers: token ids (T, B), their grouping by id for the backward pass
/// ([`crate::cpu::embedding::TokenRows`]) and the table or the rows.
#[derive(Clone, Debug)]
pub struct EmbeddingInput {
    /// Token ids (T, B), u32.
    pub ids: BufId,
    /// Where each id's rows start in `rows` (V + 1), for the backward pass.
    pub offsets: BufId,
    /// The rows (T·B) grouped by token id.
    pub rows: BufId,
    input: Input,
    vocab: usize,
    embed: usize,
    dropout: f32,
    /// The table's parameter name, `embedding.weight` in the classifier.
    weight: String,
}

/// What [`EmbeddingInput::declare_for`] builds: an Embedding(vocab, embed) named `weight`,
/// dropout `dropout` on its output, feeding the recurrent module `rnn`.
#[derive(Clone, Debug)]
pub struct EmbeddingSpec<'a> {
    /// Rows of the embedding (V).
    pub vocab: usize,
    /// Width of the embedding (E), the recurrent module's input size.
    pub embed: usize,
    /// Dropout probability on the embedding's output in training (0: none).
    pub dropout: f32,
    /// The embedding's parameter name (`embedding.weight`).
    pub weight: &'a str,
    /// The recurrent module it feeds.
    pub rnn: &'a RnnConfig,
}

fn v(buf: BufId, len: usize) -> View {
    View {
        buf,
        offset: 0,
        len,
    }
}

/// Elements of the projection table: V × D·G·H.
fn n_table(spec: &EmbeddingSpec) -> usize {
    spec.vocab * spec.rnn.dirs() * spec.rnn.cell.gates() * spec.rnn.hidden
}

impl EmbeddingInput {
    /// Buffers for `tb` = T_max·B_max tokens of the model `cfg`.
    pub fn declare(bufs: &mut Buffers, cfg: &ClassifierConfig, tb: usize) -> Self {
        let spec = EmbeddingSpec {
            vocab: cfg.vocab,
            embed: cfg.embed,
            dropout: cfg.embed_dropout,
            weight: "embedding.weight",
            rnn: &cfg.rnn,
        };
        Self::declare_for(bufs, &spec, tb, "")
    }

    /// Buffers for `tb` = T_max·B_max tokens of `spec`, named under `prefix`.
    pub fn declare_for(bufs: &mut Buffers, spec: &EmbeddingSpec, tb: usize, prefix: &str) -> Self {
        let (e, dropout) = (spec.embed, spec.dropout);
        let n = |s: &str| format!("{prefix}{s}");
        let input = if 4 * spec.vocab <= tb && dropout == 0.0 {
            Input::Table {
                table: bufs.f32(n("embedding_projection"), n_table(spec)),
                dtable: bufs.f32(n("dembedding_projection"), n_table(spec)),
            }
        } else {
            Input::Rows {
                x: bufs.f32(n("embedding.out"), tb * e),
                dx: bufs.f32(n("embedding.dout"), tb * e),
                dropped: (dropout > 0.0).then(|| {
                    (
                        bufs.f32(n("embedding.dropped"), tb * e),
                        bufs.f32(n("embedding.ddropped"), tb * e),
                    )
                }),
            }
        };
        Self {
            ids: bufs.u32(n("ids"), tb),
            offsets: bufs.u32(n("token_rows.offsets"), spec.vocab + 1),
            rows: bufs.u32(n("token_rows.rows"), tb),
            input,
            vocab: spec.vocab,
            embed: e,
            dropout,
            weight: spec.weight.to_string(),
        }
    }

    /// Layer 0 reads a table (declare the recurrent module with `table_input`).
    pub fn is_table(&self) -> bool {
        matches!(self.input, Input::Table { .. })
    }

    /// The table's product, `table = E·W_ihᵀ + b_ih`, when layer 0 reads one: part of every
    /// training step, and run once before a run of inference steps.
    pub fn table_op(
        &self,
        rnn: &RnnBuffers,
        layout: &ParamLayout,
        params: BufId,
    ) -> Result<Option<Op>> {
        let Input::Table { table, .. } = self.input else {
            return Ok(None);
        };
        let dgh = rnn.cfg.dirs() * rnn.cfg.cell.gates() * rnn.cfg.hidden;
        let (w_ih, b_ih) = rnn.input_weights(params)?;
        Ok(Some(Op::Matmul {
            c: v(table, self.vocab * dgh),
            a: layout.view(params, &self.weight)?,
            b: w_ih,
            bias: b_ih,
            dims: MatmulDims::nt(self.vocab, dgh, self.embed),
            padded: None,
        }))
    }

    /// The embedding and the recurrent module's forward pass on the ids of a (T, B) batch,
    /// after [`EmbeddingInput::table_op`] for a table (`train`: dropout on).
    pub fn forward_ops(
        &self,
        ops: &mut Vec<Op>,
        rnn: &RnnBuffers,
        layout: &ParamLayout,
        params: BufId,
        (t, b): (usize, usize),
        train: bool,
    ) -> Result<()> {
        let ids = v(self.ids, t * b);
        let e = self.embed;
        match self.input {
            Input::Table { table, .. } => {
                let dgh = rnn.cfg.dirs() * rnn.cfg.cell.gates() * rnn.cfg.hidden;
                let table = v(table, self.vocab * dgh);
                rnn.forward_ops(ops, LayerInput::Table { table, ids }, t, b, train)
            }
            Input::Rows { x, dropped, .. } => {
                let x = v(x, t * b * e);
                ops.push(Op::EmbeddingFwd {
                    out: x,
                    ids,
                    weight: layout.view(params, &self.weight)?,
                    e,
                });
                let input = match dropped {
                    Some((xd, _)) if train => {
                        let xd = v(xd, t * b * e);
                        ops.push(Op::Dropout {
                            out: xd,
                            inp: x,
                            rng: rnn.rng_view(),
                            salt: EMBED_SALT,
                            p: self.dropout,
                        });
                        xd
                    }
                    _ => x,
                };
                rnn.forward_ops(ops, LayerInput::Rows(input), t, b, train)
            }
        }
    }

    /// The backward of [`EmbeddingInput::forward_ops`] (with `train`), after the recurrent
    /// module's output and state gradients are in place: the module's backward (with dh0 and
    /// dc0 when `state_grads`), then the embedding's (and the table's) gradients.
    pub fn backward_ops(
        &self,
        ops: &mut Vec<Op>,
        rnn: &RnnBuffers,
        layout: &ParamLayout,
        (params, grads): (BufId, BufId),
        (t, b, state_grads): (usize, usize, bool),
    ) -> Result<()> {
        let e = self.embed;
        let offsets = v(self.offsets, self.vocab + 1);
        let rows = v(self.rows, t * b);
        let demb = layout.view(grads, &self.weight)?;
        let dtable = match self.input {
            Input::Table { dtable, .. } => dtable,
            Input::Rows { x, dx, dropped } => {
                let (x, dx) = (v(x, t * b * e), v(dx, t * b * e));
                match dropped {
                    Some((xd, dxd)) => {
                        let (xd, dxd) = (v(xd, t * b * e), v(dxd, t * b * e));
                        rnn.backward_ops(ops, Some(xd), Some(dxd), t, b, state_grads)?;
                        // The same mask (same seed, step and salt) on the gradient.
                        ops.push(Op::Dropout {
                            out: dx,
                            inp: dxd,
                            rng: rnn.rng_view(),
                            salt: EMBED_SALT,
                            p: self.dropout,
                        });
                    }
                    None => rnn.backward_ops(ops, Some(x), Some(dx), t, b, state_grads)?,
                }
                ops.push(Op::EmbeddingBwd {
                    dweight: demb,
                    dout: dx,
                    offsets,
                    rows,
                    e,
                });
                return Ok(());
            }
        };
        rnn.backward_ops(ops, None, None, t, b, state_grads)?;
        self.table_backward(ops, rnn, layout, (params, grads), (t, b), dtable)
    }

    /// Back through the table: dtable sums layer 0's dxw rows per token id, then
    /// dW_ih += dtableᵀ·E, db_ih += Σ dtable, dE += dtable·W_ih, each over V rows only.
    fn table_backward(
        &self,
        ops: &mut Vec<Op>,
        rnn: &RnnBuffers,
        layout: &ParamLayout,
        (params, grads): (BufId, BufId),
        (t, b): (usize, usize),
        dtable: BufId,
    ) -> Result<()> {
        let e = self.embed;
        let dgh = rnn.cfg.dirs() * rnn.cfg.cell.gates() * rnn.cfg.hidden;
        let dtable = v(dtable, self.vocab * dgh);
        ops.push(Op::Fill {
            out: dtable,
            value: 0.0,
        });
        ops.push(Op::EmbeddingBwd {
            dweight: dtable,
            dout: rnn.dxw0(t, b),
            offsets: v(self.offsets, self.vocab + 1),
            rows: v(self.rows, t * b),
            e: dgh,
        });
        let (gw, gb) = rnn.input_weights(grads)?;
        let (w_ih, _) = rnn.input_weights(params)?;
        let emb = layout.view(params, &self.weight)?;
        ops.push(Op::Matmul {
            c: gw,
            a: dtable,
            b: emb,
            bias: None,
            dims: MatmulDims::tn(dgh, e, self.vocab).accumulate(),
            padded: None,
        });
        if let Some(gb) = gb {
            ops.push(Op::BiasGrad {
                dbias: gb,
                dy: dtable,
                m: self.vocab,
                n: dgh,
                ld: dgh,
                padded: None,
            });
        }
        ops.push(Op::Matmul {
            c: layout.view(grads, &self.weight)?,
            a: dtable,
            b: w_ih,
            bias: None,
            dims: MatmulDims::nn(self.vocab, e, dgh).accumulate(),
            padded: None,
        });
        Ok(())
    }
}
