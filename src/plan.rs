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
    /// Activations, parameters, gradients and optimizer state.
    F32,
    /// Token ids, sequence lengths, token rows and the dropout `[seed, step]`.
    U32,
    /// Cross-entropy targets (−1 = ignore).
    I32,
}

/// A declared buffer: name (for errors and limits), length in elements, element type.
#[derive(Clone, Debug)]
pub struct BufDecl {
    /// Names the buffer in errors and GPU labels (e.g. `grads`, `optim.m`).
    pub name: String,
    /// Length in elements.
    pub len: usize,
    /// Element type.
    pub dtype: Dtype,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
/// A declared buffer: its index in [`Buffers::decls`] and in the runtime's storage.
pub struct BufId(pub usize);

/// Elements `offset .. offset + len` of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// The buffer viewed.
    pub buf: BufId,
    /// First element, in elements from the buffer's start.
    pub offset: usize,
    /// Length in elements.
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
    /// torch.nn.RNN: tanh, or relu with `CellDims::relu` (G = 1).
    Rnn,
    /// torch.nn.GRU: gates r, z, n (G = 3).
    Gru,
    /// torch.nn.LSTM: gates i, f, g, o (G = 4), and a cell state `cs`.
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
    /// The cell family: which kernel runs, and G.
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
    /// W_hh `(D, G·H, H)`, both directions.
    pub whh: V,
    /// b_hh `(D, G·H)`, in W_hh's buffer; `None` for a module without biases.
    pub bhh: Option<V>,
    /// Sequence lengths `(B)` (u32): at times t ≥ `lens[b]`, row b keeps its state and
    /// outputs zero.
    pub lens: V,
    /// States `(D, T+1, B, H)`, step order: slot 0 holds h0, slot s+1 the state after step s.
    pub hs: V,
    /// LSTM only.
    pub cs: Option<V>,
    /// Output `(T, B, D·H)`, time order: zero where a row is past its length.
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

    /// The same op with every view passed through `f` (the GPU maps [`View`]s to
    /// `gpu::Slice`s).
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
    /// The cell family: which kernel runs, and G.
    pub kind: CellKind,
    /// The run's first step is `dims.s`.
    pub dims: CellDims,
    /// Steps in this run, going down: `dims.s, dims.s − 1, …` (a layer's whole backward is
    /// one run).
    pub steps: usize,
    /// Gradient of the forward's `out`: `(T, B, D·H)`, time order.
    pub dout: V,
    /// Gradient of h_n `(D, B, H)`: the state gradient at the last step.
    pub dhn: V,
    /// LSTM only.
    pub dcn: Option<V>,
    /// W_hh `(D, G·H, H)`, as in the forward.
    pub whh: V,
    /// Sequence lengths `(B)` (u32), as in the forward.
    pub lens: V,
    /// The forward's states `(D, T+1, B, H)` (the RNN and GRU kernels read them; the LSTM's
    /// read `cs` and `gates`).
    pub hs: V,
    /// LSTM only.
    pub cs: Option<V>,
    /// GRU and LSTM only.
    pub gates: Option<V>,
    /// Gradient of `xw`: `(T, B, D·G·H)`, time order; zero where a row is past its length.
    pub dxw: V,
    /// Gradient of the recurrent pre-activations `(D, T, B, G·H)`, step order: what the
    /// W_hh gradient and dh0 read.
    pub dhh: V,
    /// `(D, B, H)`: the gradient flowing to the previous state outside W_hh; after the run,
    /// dh0's part outside W_hh.
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

    /// The same op with every view passed through `f` (the GPU maps [`View`]s to
    /// `gpu::Slice`s).
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
    /// Sequence lengths `(B)` (u32).
    pub lens: View,
    /// T: steps (blocks of B rows).
    pub t: usize,
    /// B: rows per block.
    pub b: usize,
    /// Per product `z`: whether block i is time T − 1 − i.
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
    /// `out[i] = value` for every i (e.g. zeroing gradients).
    Fill {
        /// The elements to fill.
        out: View,
        /// The value written.
        value: f32,
    },
    /// Strided block copy: `out[r·ldo + c] = inp[r·ldi + c]` for r < rows, c < cols.
    Copy {
        /// Destination; starts at the block's first element.
        out: View,
        /// Source; starts at the block's first element.
        inp: View,
        /// Rows of the block.
        rows: usize,
        /// Elements per row.
        cols: usize,
        /// Row stride of `out`.
        ldo: usize,
        /// Row stride of `inp`.
        ldi: usize,
    },
    /// With `padded`, the product's (T·B) rows (M, or K of a weight gradient) are a padded
    /// batch. Past the rows still running at each step, the operand that spans them is zero
    /// (gradients, a lower layer's output), or the result is never read (layer 0's projection
    /// of a real input: the cells skip padded positions). The GPU runs the whole product (or
    /// matmul_subgroup skips padding octets); the CPU skips those rows, with the same result
    /// wherever it is read.
    Matmul {
        /// C `(M, N)`, row stride `dims.ldc`: written, or added to with `dims.accumulate`.
        c: View,
        /// A: `(M, K)`, or `(K, M)` with `dims.trans_a`.
        a: View,
        /// B: `(K, N)`, or `(N, K)` with `dims.trans_b`.
        b: View,
        /// `(N)`, added to every row of C (a projection's b_ih).
        bias: Option<View>,
        /// Shapes, strides, transposes and batch of the product.
        dims: MatmulDims,
        /// The padded batch of the (T·B) rows, or `None` when every row is real.
        padded: Option<Steps>,
    },
    /// `padded` as for [`Op::Matmul`]: the CPU sums only each step's real rows.
    BiasGrad {
        /// `(N)`, accumulated: `dbias += Σ_i dy[i, ·]`.
        dbias: View,
        /// `(M, N)` with row stride `ld`.
        dy: View,
        /// M: rows of `dy`.
        m: usize,
        /// N: columns of `dy`, the bias length.
        n: usize,
        /// Row stride of `dy`.
        ld: usize,
        /// The padded batch of `dy`'s rows, or `None` when every row is real.
        padded: Option<Steps>,
    },
    /// `out (N, E) = weight (V, E)[ids (N)]` (nn.Embedding); every id must be below V.
    EmbeddingFwd {
        /// `(N, E)`: one row per token.
        out: View,
        /// Token ids `(N)` (u32).
        ids: View,
        /// The table `(V, E)`.
        weight: View,
        /// E: the width of a row.
        e: usize,
    },
    /// `dweight (V, E) += Σ_{n: ids[n] = v} dout[n]`, over the token positions grouped by id
    /// (`cpu::embedding::TokenRows`): deterministic without atomics.
    EmbeddingBwd {
        /// Gradient of the table `(V, E)`, added to.
        dweight: View,
        /// Gradient of the lookup's output `(N, E)`.
        dout: View,
        /// `(V + 1)` (u32): row v of the table owns `rows[offsets[v] .. offsets[v + 1]]`.
        offsets: View,
        /// `(N)` (u32): token positions sorted by id, increasing within each id.
        rows: View,
        /// E: the width of a row.
        e: usize,
    },
    /// Fused softmax and cross-entropy (nn.CrossEntropyLoss, ignore_index = -1): the loss and
    /// its gradient `dlogits`.
    CrossEntropy {
        /// `(N, C)`: d loss / d logits; zero for ignored rows.
        dlogits: View,
        /// One element: the loss.
        loss: View,
        /// `(N, C)`.
        logits: View,
        /// `(N)` class indices (i32); −1 ignores the row.
        targets: View,
        /// C: classes per row.
        c: usize,
        /// Mean over the rows not ignored, or sum.
        reduction: Reduction,
    },
    /// `loss = scale·Σ (pred − target)²` and its gradient `dpred` (see cpu::mse).
    Mse {
        /// `(N)`: d loss / d pred.
        dpred: View,
        /// One element: the loss.
        loss: View,
        /// Predictions `(N)`.
        pred: View,
        /// Targets `(N)`.
        target: View,
        /// Mean (scale 1/N) or sum (scale 1).
        reduction: Reduction,
    },
    /// `out = inp · mask / (1 − p)`; `rng` is a u32 view holding `[seed, step]`.
    Dropout {
        /// Output, of `inp`'s length.
        out: View,
        /// Input: activations, or in the backward pass their gradient with the same mask.
        inp: View,
        /// u32 `[seed, step]`.
        rng: View,
        /// Separates the masks of dropouts that share `rng` (e.g. the layer index).
        salt: u32,
        /// Probability of zeroing an element.
        p: f32,
    },
    /// A run of a layer's forward steps: one kernel launch per step on the GPU.
    CellFwd(CellFwd),
    /// A run of a layer's backward steps, from the last down: one kernel launch per step on
    /// the GPU.
    CellBwd(CellBwd),
    /// First pass of the global gradient norm: `partials[s] = Σ_{i ≡ s (mod S)} g_i²`.
    GradNormPartial {
        /// `(S)`: the sums of squares, S = `partials.len` (`cpu::grad_norm::parts_for`).
        partials: View,
        /// The flat gradient buffer `(P)`.
        grads: View,
    },
    /// Second pass: `out = [norm, coef]` from the partial sums, `coef` as
    /// torch.nn.utils.clip_grad_norm_ scales the gradients.
    GradNormFinal {
        /// `[norm, coef]` (2 elements).
        out: View,
        /// The first pass's sums of squares.
        partials: View,
        /// Clip to this norm; ≤ 0 turns clipping off (`coef` = 1).
        max_norm: f32,
    },
    /// `sched` holds `[step_size, bc2_sqrt, decay]` (`AdamConfig::schedule`), written each step;
    /// `clip` is grad_norm_final's `[norm, coef]`.
    Adam {
        /// Parameters `(P)`, flat, updated in place.
        params: View,
        /// First moment `(P)`.
        m: View,
        /// Second moment `(P)`.
        v: View,
        /// Gradients `(P)`.
        grads: View,
        /// Scales the gradients by `coef`, its second element; `None`: no clipping.
        clip: Option<View>,
        /// `[step_size, bc2_sqrt, decay]` of this step.
        sched: View,
        /// Hyper-parameters (torch.optim.Adam, or AdamW with `decoupled`).
        cfg: AdamConfig,
    },
    /// `sched` holds `[lr, first]` (`SgdConfig::schedule`), written each step; `buf` is the
    /// momentum buffer; `clip` as for Adam.
    Sgd {
        /// Parameters `(P)`, flat, updated in place.
        params: View,
        /// Momentum buffer `(P)`.
        buf: View,
        /// Gradients `(P)`.
        grads: View,
        /// Scales the gradients by `coef`, its second element; `None`: no clipping.
        clip: Option<View>,
        /// `[lr, first]` of this step.
        sched: View,
        /// Hyper-parameters (torch.optim.SGD).
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
    /// Unique per program: the key the GPU runtime keeps its built dispatches under.
    pub id: u64,
    /// The ops, in the order they run.
    pub ops: Vec<Op>,
}

impl Program {
    /// A program of `ops` with a new id.
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
    /// Indexed by [`BufId`].
    pub decls: Vec<BufDecl>,
}

impl Buffers {
    /// Declare a buffer of `len` elements of `dtype`; returns its id.
    pub fn add(&mut self, name: impl Into<String>, len: usize, dtype: Dtype) -> BufId {
        self.decls.push(BufDecl {
            name: name.into(),
            len,
            dtype,
        });
        BufId(self.decls.len() - 1)
    }

    /// Declare an f32 buffer of `len` elements.
    pub fn f32(&mut self, name: impl Into<String>, len: usize) -> BufId {
        self.add(name, len, Dtype::F32)
    }

    /// Declare a u32 buffer of `len` elements.
    pub fn u32(&mut self, name: impl Into<String>, len: usize) -> BufId {
        self.add(name, len, Dtype::U32)
    }

    /// Declare an i32 buffer of `len` elements.
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
