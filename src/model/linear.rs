//! torch.nn.Linear as ops over the rows of its input: `y = x·Wᵀ + b`, and its backward
//! (`dW += dyᵀ·x`, `db += Σ dy`, `dx = dy·W`), with W and b views of the parameter buffer and
//! their gradients views of the gradient buffer.

use crate::Result;
use crate::cpu::matmul::MatmulDims;
use crate::model::params::ParamLayout;
use crate::plan::{BufId, Op, View};

/// A Linear layer named `{prefix}.weight` (out, in) and `{prefix}.bias` (out).
#[derive(Clone, Debug)]
pub struct Linear {
    weight: View,
    bias: View,
    dweight: View,
    dbias: View,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    /// (in, out) features.
    pub fn shape(&self) -> (usize, usize) {
        (self.inputs, self.outputs)
    }

    /// The layer whose `{prefix}.weight` (out, in) and `{prefix}.bias` live in `layout`.
    pub fn new(layout: &ParamLayout, params: BufId, grads: BufId, prefix: &str) -> Result<Self> {
        let (w, b) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
        let shape = &layout.get(&w)?.shape;
        Ok(Self {
            outputs: shape[0],
            inputs: shape[1],
            weight: layout.view(params, &w)?,
            bias: layout.view(params, &b)?,
            dweight: layout.view(grads, &w)?,
            dbias: layout.view(grads, &b)?,
        })
    }

    /// `y (rows, out) = x (rows, in) · Wᵀ + b`.
    pub fn forward(&self, ops: &mut Vec<Op>, y: View, x: View, rows: usize) {
        let dims = MatmulDims::nt(rows, self.outputs, self.inputs);
        ops.push(Op::Matmul {
            c: y,
            a: x,
            b: self.weight,
            bias: Some(self.bias),
            dims,
            padded: None,
        });
    }

    /// Accumulate dW and db from `dy (rows, out)` and the forward's `x`, and write
    /// `dx (rows, in) = dy · W` when `dx` is given (an input nothing differentiates skips it).
    pub fn backward(&self, ops: &mut Vec<Op>, dx: Option<View>, dy: View, x: View, rows: usize) {
        let (i, o) = (self.inputs, self.outputs);
        ops.push(Op::Matmul {
            c: self.dweight,
            a: dy,
            b: x,
            bias: None,
            dims: MatmulDims::tn(o, i, rows).accumulate(),
            padded: None,
        });
        ops.push(Op::BiasGrad {
            dbias: self.dbias,
            dy,
            m: rows,
            n: o,
            ld: o,
            padded: None,
        });
        if let Some(dx) = dx {
            ops.push(Op::Matmul {
                c: dx,
                a: dy,
                b: self.weight,
                bias: None,
                dims: MatmulDims::nn(rows, i, o),
                padded: None,
            });
        }
    }
}
