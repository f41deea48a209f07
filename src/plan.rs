//! A model step as data: buffers declared once, and programs (lists of [`Op`]s over views of
//! those buffers) that either backend runs. The CPU runtime calls each op's CPU twin; the GPU
//! runtime turns each op into prebuilt dispatches (a cell run into one per step). Both
//! therefore run exactly the same sequence, and a program's dispatch count on the GPU is the
//! sum of [`Op::dispatches`].

use std::sync::atomic::{AtomicU64, Ordering};

use crate::cpu::adam::AdamConfig;
use crate::cpu::cell::CellDims;
use crate::cpu::cross_entropy::Reduction;
use crate::cpu::matmul::MatmulDims;
use crate::cpu::sgd::SgdConfig;

/// Element type of a buffer (all are 4 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    U32,
    I32,
}

/// A declared buffer: name (for errors and limits), length in elements, element type.
#[derive(Clone, Debug)]
pub struct BufDecl {
    pub name: String,
    pub len: usize,
    pub dtype: Dtype,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufId(pub usize);

/// Elements `offset .. offset + len` of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub buf: BufId,
    pub offset: usize,
    pub len: usize,
}

impl View {
    /// The sub-view `offset .. offset + len` of this view.
    pub fn sub(&self, offset: usize, len: usize) -> View {
        assert!(
            offset + len <= self.len,
            "sub-view {offset}+{len} outside a view of {}",
            self.len
        );
        View {
            buf: self.buf,
            offset: self.offset + offset,
            len,
        }
    }
}

/// The recurrent cell families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellKind {
    Rnn,
    Gru,
    Lstm,
}

impl CellKind {
    /// Gates per hidden unit: the multiple of H in W_ih and W_hh.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }

    /// Saved activations per unit and step (`gates` buffer width / H).
    pub fn saved(self) -> usize {
        match self {
            CellKind::Rnn => 0,
            CellKind::Gru | CellKind::Lstm => 4,
        }
    }

    /// PyTorch's module name: the prefix of its state_dict keys.
    pub fn torch_name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Gru => "gru",
            CellKind::Lstm => "lstm",
        }
    }
}

/// One step of a recurrent layer, forward: the buffers of `rnn_cell_fwd`, `gru_cell_fwd` or
/// `lstm_cell_fwd` (layouts in cpu::cell). `whh` and `bhh` are views of one parameter buffer.
/// Generic over the view type: [`View`] in a plan, `gpu::Slice` when the GPU builds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellFwd<V = View> {
    pub kind: CellKind,
    /// The run's first step is `dims.s`.
    pub dims: CellDims,
    /// Steps in this run: `dims.s, dims.s + 1, …` (a layer's whole forward is one run).
    pub steps: usize,
    /// x·W_ihᵀ + b_ih: `(T, B, D·G·H)`, or with `ids` a `(V, D·G·H)` table of it per token.
    pub xw: V,
    /// Tokens `(T, B)` (u32, all below V): step row (t, b) reads `xw` row `ids[t·B + b]`. Layer 0 of the
    /// classifier, whose input projection is a table (embedding·W_ihᵀ + b_ih): the steps read
    /// it in place of a (T, B) copy.
    pub ids: Option<V>,
    pub whh: V,
    pub bhh: Option<V>,
    pub lens: V,
    pub hs: V,
    /// LSTM only.
    pub cs: Option<V>,
    pub out: V,
    /// GRU and LSTM only.
    pub gates: Option<V>,
}

impl<V: Copy> CellFwd<V> {
    /// Step `i` of the run (time order) as a run of one step: one kernel launch.
    pub fn step(&self, i: usize) -> Self {
        assert!(i < self.steps, "step {i} of a run of {}", self.steps);
        Self {
            dims: self.dims.at(self.dims.s + i),
            steps: 1,
            ..*self
        }
    }

    pub fn map<W>(&self, mut f: impl FnMut(V) -> W) -> CellFwd<W> {
        CellFwd {
            kind: self.kind,
            dims: self.dims,
            steps: self.steps,
            xw: f(self.xw),
            ids: self.ids.map(&mut f),
            whh: f(self.whh),
            bhh: self.bhh.map(&mut f),
            lens: f(self.lens),
            hs: f(self.hs),
            cs: self.cs.map(&mut f),
            out: f(self.out),
            gates: self.gates.map(&mut f),
        }
    }
}

/// One step of a recurrent layer, backward (see the `*_cell_bwd` kernels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellBwd<V = View> {
    pub kind: CellKind,
    /// The run's first step is `dims.s`.
    pub dims: CellDims,
    /// Steps in this run, going down: `dims.s, dims.s − 1, …` (a layer's whole backward is
    /// one run).
    pub steps: usize,
    pub dout: V,
    pub dhn: V,
    /// LSTM only.
    pub dcn: Option<V>,
    pub whh: V,
    pub lens: V,
    pub hs: V,
    /// LSTM only.
    pub cs: Option<V>,
    /// GRU and LSTM only.
    pub gates: Option<V>,
    pub dxw: V,
    pub dhh: V,
    pub carry: V,
    /// LSTM only.
    pub dc_carry: Option<V>,
}

impl<V: Copy> CellBwd<V> {
    /// Step `i` of the run (from the last step down) as a run of one step: one kernel launch.
    pub fn step(&self, i: usize) -> Self {
        assert!(i < self.steps, "step {i} of a run of {}", self.steps);
        Self {
            dims: self.dims.at(self.dims.s - i),
            steps: 1,
            ..*self
        }
    }

    pub fn map<W>(&self, mut f: impl FnMut(V) -> W) -> CellBwd<W> {
        CellBwd {
            kind: self.kind,
            dims: self.dims,
            steps: self.steps,
            dout: f(self.dout),
            dhn: f(self.dhn),
            dcn: self.dcn.map(&mut f),
            whh: f(self.whh),
            lens: f(self.lens),
            hs: f(self.hs),
            cs: self.cs.map(&mut f),
            gates: self.gates.map(&mut f),
            dxw: f(self.dxw),
            dhh: f(self.dhh),
            carry: f(self.carry),
            dc_carry: self.dc_carry.map(&mut f),
        }
    }
}

/// The steps of a padded (T, B) batch: block i of B rows is step i, whose time is i, or
/// T − 1 − i where `reversed` (the backward direction's step order; one entry per product of
/// a batched matmul, one per direction). Rows past [`crate::cpu::cell::active_rows`] of that
/// time are padding.
#[derive(Clone, Copy, Debug)]
pub struct Steps {
    pub lens: View,
    pub t: usize,
    pub b: usize,
    pub reversed: [bool; 2],
}

impl Steps {
    /// The real rows of each block, per product `z` (at most 2).
    pub fn rows(&self, lens: &[u32]) -> Vec<Vec<usize>> {
        self.reversed
            .iter()
            .map(|&rev| {
                (0..self.t)
                    .map(|i| {
                        let time = if rev { self.t - 1 - i } else { i };
                        crate::cpu::cell::active_rows(lens, time)
                    })
                    .collect()
            })
            .collect()
    }
}

/// One kernel launch. Each variant is named after its kernel; the fields are that kernel's
/// arguments (outputs first).
#[derive(Clone, Debug)]
pub enum Op {
    Fill {
        out: View,
        value: f32,
    },
    Copy {
        out: View,
        inp: View,
        rows: usize,
        cols: usize,
        ldo: usize,
        ldi: usize,
    },
    /// With `padded`, the product's (T·B) rows (M, or K of a weight gradient) are a padded
    /// batch. Past the rows still running at each step, the operand that spans them is zero
    /// (gradients, a lower layer's output), or the result is never read (layer 0's projection
    /// of a real input: the cells skip padded positions). The GPU runs the whole product (or
    /// matmul_subgroup skips padding octets); the CPU skips those rows, with the same result
    /// wherever it is read.
    Matmul {
        c: View,
        a: View,
        b: View,
        bias: Option<View>,
        dims: MatmulDims,
        padded: Option<Steps>,
    },
    /// `padded` as for [`Op::Matmul`]: the CPU sums only each step's real rows.
    BiasGrad {
        dbias: View,
        dy: View,
        m: usize,
        n: usize,
        ld: usize,
        padded: Option<Steps>,
    },
    EmbeddingFwd {
        out: View,
        ids: View,
        weight: View,
        e: usize,
    },
    EmbeddingBwd {
        dweight: View,
        dout: View,
        offsets: View,
        rows: View,
        e: usize,
    },
    CrossEntropy {
        dlogits: View,
        loss: View,
        logits: View,
        targets: View,
        c: usize,
        reduction: Reduction,
    },
    /// `loss = scale·Σ (pred − target)²` and its gradient `dpred` (see cpu::mse).
    Mse {
        dpred: View,
        loss: View,
        pred: View,
        target: View,
        reduction: Reduction,
    },
    /// `out = inp · mask / (1 − p)`; `rng` is a u32 view holding `[seed, step]`.
    Dropout {
        out: View,
        inp: View,
        rng: View,
        salt: u32,
        p: f32,
    },
    CellFwd(CellFwd),
    CellBwd(CellBwd),
    GradNormPartial {
        partials: View,
        grads: View,
    },
    GradNormFinal {
        out: View,
        partials: View,
        max_norm: f32,
    },
    /// `sched` holds `[step_size, bc2_sqrt, decay]` (`AdamConfig::schedule`), written each step;
    /// `clip` is grad_norm_final's `[norm, coef]`.
    Adam {
        params: View,
        m: View,
        v: View,
        grads: View,
        clip: Option<View>,
        sched: View,
        cfg: AdamConfig,
    },
    /// `sched` holds `[lr, first]` (`SgdConfig::schedule`), written each step; `buf` is the
    /// momentum buffer; `clip` as for Adam.
    Sgd {
        params: View,
        buf: View,
        grads: View,
        clip: Option<View>,
        sched: View,
        cfg: SgdConfig,
    },
}

impl Op {
    /// Kernel launches this op makes on the GPU: one per step of a cell run, else one.
    pub fn dispatches(&self) -> usize {
        match self {
            Op::CellFwd(c) => c.steps,
            Op::CellBwd(c) => c.steps,
            _ => 1,
        }
    }

    /// A copy of `inp` into `out`, both contiguous and of `inp`'s length.
    pub fn copy_flat(out: View, inp: View) -> Op {
        let n = inp.len;
        Op::Copy {
            out,
            inp,
            rows: 1,
            cols: n,
            ldo: n,
            ldi: n,
        }
    }

    /// The kernel's name, with a matmul's layout and shape (M×N×K), e.g. for a profile.
    pub fn label(&self) -> String {
        let name = match self {
            Op::Fill { .. } => "fill",
            Op::Copy { .. } => "copy",
            Op::Matmul { dims, .. } => {
                let t = |x: bool| if x { 'T' } else { 'N' };
                return format!(
                    "matmul {}{} {}x{}x{}{}",
                    t(dims.trans_a),
                    t(dims.trans_b),
                    dims.m,
                    dims.n,
                    dims.k,
                    if dims.batch > 1 {
                        format!(" (x{})", dims.batch)
                    } else {
                        String::new()
                    }
                );
            }
            Op::BiasGrad { .. } => "bias_grad",
            Op::EmbeddingFwd { .. } => "embedding_fwd",
            Op::EmbeddingBwd { .. } => "embedding_bwd",
            Op::CrossEntropy { .. } => "cross_entropy",
            Op::Mse { .. } => "mse",
            Op::Dropout { .. } => "dropout",
            Op::CellFwd(c) => return format!("{}_cell_fwd", c.kind.torch_name()),
            Op::CellBwd(c) => return format!("{}_cell_bwd", c.kind.torch_name()),
            Op::GradNormPartial { .. } => "grad_norm_partial",
            Op::GradNormFinal { .. } => "grad_norm_final",
            Op::Adam { .. } => "adam",
            Op::Sgd { .. } => "sgd",
        };
        name.to_string()
    }
}

/// A list of ops with an identity, so a GPU runtime can build its dispatches once and reuse
/// them every time the program runs.
#[derive(Debug)]
pub struct Program {
    pub id: u64,
    pub ops: Vec<Op>,
}

impl Program {
    pub fn new(ops: Vec<Op>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            ops,
        }
    }
}

/// Declares buffers; their ids index the runtime's storage.
#[derive(Clone, Debug, Default)]
pub struct Buffers {
    pub decls: Vec<BufDecl>,
}

impl Buffers {
    pub fn add(&mut self, name: impl Into<String>, len: usize, dtype: Dtype) -> BufId {
        self.decls.push(BufDecl {
            name: name.into(),
            len,
            dtype,
        });
        BufId(self.decls.len() - 1)
    }

    pub fn f32(&mut self, name: impl Into<String>, len: usize) -> BufId {
        self.add(name, len, Dtype::F32)
    }

    pub fn u32(&mut self, name: impl Into<String>, len: usize) -> BufId {
        self.add(name, len, Dtype::U32)
    }

    pub fn i32(&mut self, name: impl Into<String>, len: usize) -> BufId {
        self.add(name, len, Dtype::I32)
    }

    /// The whole buffer as a view.
    pub fn all(&self, id: BufId) -> View {
        View {
            buf: id,
            offset: 0,
            len: self.decls[id.0].len,
        }
    }
}
