//! `gpu-rnn bench`'s kernel table: every kernel at the lecture model's shapes and at one large
//! shape, each as one op over its own buffers, timed on the GPU by timestamp queries and on the
//! CPU as its twin, with the GFLOP/s or GB/s that bounds it.

use gpu_rnn::Result;
use gpu_rnn::backend::Backend;
use gpu_rnn::backend::Variant;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::cpu::cell::CellDims;
use gpu_rnn::cpu::cross_entropy::Reduction;
use gpu_rnn::cpu::embedding::TokenRows;
use gpu_rnn::cpu::matmul::MatmulDims;
use gpu_rnn::model::classifier::ClassifierConfig;
use gpu_rnn::plan::{BufId, Buffers, CellBwd, CellFwd, CellKind, Dtype, Op, View};

/// One kernel at one shape: its op over buffers of its own, and what it computes.
pub struct KernelCase {
    /// The shader entry point that runs (what `--kernel` filters match).
    pub kernel: String,
    /// `lecture` (the lecture model's shape) or `large`.
    pub size: &'static str,
    pub shape: String,
    pub variant: Variant,
    /// Floating-point operations of one run; 0 for kernels bound by memory.
    pub flops: f64,
    /// Bytes one run must read and write at least.
    pub bytes: f64,
    bufs: Buffers,
    op: Op,
    /// Contents of the integer buffers (ids, lengths, targets); f32 buffers get values in
    /// [−1, 1).
    ints: Vec<(BufId, Vec<u32>)>,
}

/// Median, fastest and slowest of a kernel's runs, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Spread {
    pub fn of(mut xs: Vec<f64>) -> Self {
        xs.sort_by(f64::total_cmp);
        Self {
            median: xs[xs.len() / 2],
            min: xs[0],
            max: xs[xs.len() - 1],
            runs: xs.len(),
        }
    }
}

impl KernelCase {
    /// GFLOP/s (compute-bound kernels) or GB/s (the rest) at `seconds` per run, with its unit.
    pub fn rate(&self, seconds: f64) -> (f64, &'static str) {
        if self.flops > 0.0 {
            (self.flops / seconds * 1e-9, "GFLOP/s")
        } else {
            (self.bytes / seconds * 1e-9, "GB/s")
        }
    }

    /// Time `runs` executions on `backend` after a warm-up.
    pub fn time(&self, backend: &Backend, runs: usize) -> Result<Spread> {
        let mut rt = backend.runtime(&self.bufs)?;
        let mut state = 0x9e37_79b9_u32;
        for (i, decl) in self.bufs.decls.iter().enumerate() {
            if decl.dtype == Dtype::F32 {
                let values: Vec<f32> = (0..decl.len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
                    })
                    .collect();
                rt.write_f32(BufId(i), 0, &values)?;
            }
        }
        for (buf, values) in &self.ints {
            match self.bufs.decls[buf.0].dtype {
                Dtype::I32 => {
                    let v: Vec<i32> = values.iter().map(|&x| x as i32).collect();
                    rt.write_i32(*buf, 0, &v)?
                }
                _ => rt.write_u32(*buf, 0, values)?,
            }
        }
        Ok(Spread::of(rt.time_op(
            &self.op,
            self.variant,
            runs.max(1),
        )?))
    }
}

fn variant_suffix(v: Variant) -> &'static str {
    match v {
        Variant::Vec4 => "_vec4",
        Variant::Tiled => "_tiled",
        Variant::Subgroup => "_subgroup",
        _ => "",
    }
}

fn matmul_case(size: &'static str, what: &str, dims: MatmulDims, variant: Variant) -> KernelCase {
    let mut bufs = Buffers::default();
    let (ea, eb, ec) = dims.extents();
    let (a, b, c) = (bufs.f32("a", ea), bufs.f32("b", eb), bufs.f32("c", ec));
    let t = |x: bool| if x { "T" } else { "N" };
    KernelCase {
        kernel: format!("matmul{}", variant_suffix(variant)),
        size,
        shape: format!(
            "{}{} {}x{}x{} ({what})",
            t(dims.trans_a),
            t(dims.trans_b),
            dims.m,
            dims.n,
            dims.k
        ),
        variant,
        flops: dims.flops(),
        bytes: 4.0 * (ea + eb + ec) as f64,
        op: Op::Matmul {
            c: bufs.all(c),
            a: bufs.all(a),
            b: bufs.all(b),
            bias: None,
            dims,
            padded: None,
        },
        bufs,
        ints: Vec::new(),
    }
}

/// One step (s = 0 of T = 2, every row running, both directions) of a cell, forward or
/// backward; the backward step multiplies dhh of step 1 by W_hh as every inner step does.
fn cell_case(
    size: &'static str,
    kind: CellKind,
    backward: bool,
    b: usize,
    h: usize,
    variant: Variant,
) -> KernelCase {
    let (t, d, g) = (2, 2, kind.gates());
    let dims = CellDims {
        b,
        h,
        d,
        t,
        s: 0,
        relu: false,
        has_bias: true,
    };
    let mut bufs = Buffers::default();
    let lens = bufs.u32("lens", b);
    let op = if backward {
        cell_bwd_op(&mut bufs, kind, dims, lens)
    } else {
        cell_fwd_op(&mut bufs, kind, dims, lens)
    };
    let dir = if backward { "bwd" } else { "fwd" };
    KernelCase {
        kernel: format!(
            "{}_cell_{dir}{}",
            kind.torch_name(),
            variant_suffix(variant)
        ),
        size,
        shape: format!("B={b} H={h} D={d}"),
        variant,
        // The recurrent product dominates: 2·B·(G·H)·H per direction.
        flops: 2.0 * (d * b * g * h * h) as f64,
        bytes: 4.0 * (d * g * h * h + 2 * d * b * (g + 2) * h) as f64,
        bufs,
        op,
        ints: vec![(lens, vec![t as u32; b])],
    }
}

/// What both directions of a cell step read: W_hh and b_hh (one buffer), the states and the
/// saved gates.
struct CellOperands {
    whh: View,
    bhh: View,
    hs: BufId,
    cs: Option<BufId>,
    saved: Option<BufId>,
}

fn cell_operands(bufs: &mut Buffers, kind: CellKind, a: &CellDims) -> CellOperands {
    let (d, g, h, t, b) = (a.d, kind.gates(), a.h, a.t, a.b);
    let w = bufs.f32("w_hh,b_hh", d * g * h * h + d * g * h);
    let state = d * (t + 1) * b * h;
    CellOperands {
        whh: View {
            buf: w,
            offset: 0,
            len: d * g * h * h,
        },
        bhh: View {
            buf: w,
            offset: d * g * h * h,
            len: d * g * h,
        },
        hs: bufs.f32("hs", state),
        cs: (kind == CellKind::Lstm).then(|| bufs.f32("cs", state)),
        saved: (kind.saved() > 0).then(|| bufs.f32("gates", d * t * b * kind.saved() * h)),
    }
}

fn cell_fwd_op(bufs: &mut Buffers, kind: CellKind, dims: CellDims, lens: BufId) -> Op {
    let o = cell_operands(bufs, kind, &dims);
    let (d, g, h, t, b) = (dims.d, kind.gates(), dims.h, dims.t, dims.b);
    let xw = bufs.f32("xw", t * b * d * g * h);
    let out = bufs.f32("out", t * b * d * h);
    Op::CellFwd(CellFwd {
        kind,
        dims,
        steps: 1,
        xw: bufs.all(xw),
        ids: None,
        whh: o.whh,
        bhh: Some(o.bhh),
        lens: bufs.all(lens),
        hs: bufs.all(o.hs),
        cs: o.cs.map(|x| bufs.all(x)),
        out: bufs.all(out),
        gates: o.saved.map(|x| bufs.all(x)),
    })
}

fn cell_bwd_op(bufs: &mut Buffers, kind: CellKind, dims: CellDims, lens: BufId) -> Op {
    let o = cell_operands(bufs, kind, &dims);
    let (d, g, h, t, b) = (dims.d, kind.gates(), dims.h, dims.t, dims.b);
    let lstm = kind == CellKind::Lstm;
    let dout = bufs.f32("dout", t * b * d * h);
    let dhn = bufs.f32("dh_n", d * b * h);
    let dcn = lstm.then(|| bufs.f32("dc_n", d * b * h));
    let dxw = bufs.f32("dxw", t * b * d * g * h);
    let dhh = bufs.f32("dhh", d * t * b * g * h);
    let carry = bufs.f32("carry", d * b * h);
    let dc_carry = lstm.then(|| bufs.f32("dc_carry", d * b * h));
    Op::CellBwd(CellBwd {
        kind,
        dims,
        steps: 1,
        dout: bufs.all(dout),
        dhn: bufs.all(dhn),
        dcn: dcn.map(|x| bufs.all(x)),
        whh: o.whh,
        lens: bufs.all(lens),
        hs: bufs.all(o.hs),
        cs: o.cs.map(|x| bufs.all(x)),
        gates: o.saved.map(|x| bufs.all(x)),
        dxw: bufs.all(dxw),
        dhh: bufs.all(dhh),
        carry: bufs.all(carry),
        dc_carry: dc_carry.map(|x| bufs.all(x)),
    })
}

/// Token ids spread over the vocabulary, every id used.
fn token_ids(n: usize, v: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 7919) % v) as u32).collect()
}

fn embedding_case(size: &'static str, backward: bool, n: usize, v: usize, e: usize) -> KernelCase {
    let mut bufs = Buffers::default();
    let ids = token_ids(n, v);
    let rows_of = TokenRows::new(&ids, v).expect("ids are in the vocabulary");
    let weight = bufs.f32("weight", v * e);
    let out = bufs.f32("out", n * e);
    let (op, ints) = if backward {
        let offsets = bufs.u32("offsets", v + 1);
        let rows = bufs.u32("rows", n);
        (
            Op::EmbeddingBwd {
                dweight: bufs.all(weight),
                dout: bufs.all(out),
                offsets: bufs.all(offsets),
                rows: bufs.all(rows),
                e,
            },
            vec![(offsets, rows_of.offsets), (rows, rows_of.rows)],
        )
    } else {
        let idb = bufs.u32("ids", n);
        (
            Op::EmbeddingFwd {
                out: bufs.all(out),
                ids: bufs.all(idb),
                weight: bufs.all(weight),
                e,
            },
            vec![(idb, ids)],
        )
    };
    KernelCase {
        kernel: if backward {
            "embedding_bwd"
        } else {
            "embedding_fwd"
        }
        .into(),
        size,
        shape: format!("{n} tokens, V={v} E={e}"),
        variant: Variant::Auto,
        flops: 0.0,
        // Every output row written (forward) or read (backward) once, each used table row once.
        bytes: 4.0 * (n * e + v.min(n) * e + n) as f64,
        bufs,
        op,
        ints,
    }
}

fn cross_entropy_case(size: &'static str, b: usize, c: usize) -> KernelCase {
    let mut bufs = Buffers::default();
    let logits = bufs.f32("logits", b * c);
    let dlogits = bufs.f32("dlogits", b * c);
    let loss = bufs.f32("loss", 1);
    let targets = bufs.i32("targets", b);
    KernelCase {
        kernel: "cross_entropy".into(),
        size,
        shape: format!("B={b} C={c}"),
        variant: Variant::Auto,
        flops: 0.0,
        bytes: 4.0 * (2 * b * c + b) as f64,
        op: Op::CrossEntropy {
            dlogits: bufs.all(dlogits),
            loss: bufs.all(loss),
            logits: bufs.all(logits),
            targets: bufs.all(targets),
            c,
            reduction: Reduction::Mean,
        },
        bufs,
        ints: vec![(targets, (0..b).map(|i| (i % c) as u32).collect())],
    }
}

fn adam_case(size: &'static str, p: usize) -> KernelCase {
    let mut bufs = Buffers::default();
    let ids: Vec<BufId> = ["params", "m", "v", "grads"]
        .iter()
        .map(|n| bufs.f32(*n, p))
        .collect();
    let sched = bufs.f32("sched", 3);
    KernelCase {
        kernel: "adam".into(),
        size,
        shape: format!("{p} parameters"),
        variant: Variant::Auto,
        flops: 0.0,
        // Reads params, m, v and grads; writes params, m and v.
        bytes: 4.0 * (7 * p) as f64,
        op: Op::Adam {
            params: bufs.all(ids[0]),
            m: bufs.all(ids[1]),
            v: bufs.all(ids[2]),
            grads: bufs.all(ids[3]),
            clip: None,
            sched: bufs.all(sched),
            cfg: AdamConfig::default(),
        },
        bufs,
        ints: Vec::new(),
    }
}

fn mse_case(size: &'static str, n: usize) -> KernelCase {
    let mut bufs = Buffers::default();
    let ids: Vec<BufId> = ["pred", "target", "dpred"]
        .iter()
        .map(|name| bufs.f32(*name, n))
        .collect();
    let loss = bufs.f32("loss", 1);
    KernelCase {
        kernel: "mse".into(),
        size,
        shape: format!("{n} values"),
        variant: Variant::Auto,
        flops: 0.0,
        bytes: 4.0 * (3 * n) as f64,
        op: Op::Mse {
            dpred: bufs.all(ids[2]),
            loss: bufs.all(loss),
            pred: bufs.all(ids[0]),
            target: bufs.all(ids[1]),
            reduction: Reduction::Mean,
        },
        bufs,
        ints: Vec::new(),
    }
}

fn sgd_case(size: &'static str, p: usize) -> KernelCase {
    let mut bufs = Buffers::default();
    let ids: Vec<BufId> = ["params", "buf", "grads"]
        .iter()
        .map(|n| bufs.f32(*n, p))
        .collect();
    let sched = bufs.f32("sched", 2);
    KernelCase {
        kernel: "sgd".into(),
        size,
        shape: format!("{p} parameters, momentum 0.9"),
        variant: Variant::Auto,
        flops: 0.0,
        // Reads params, buf and grads; writes params and buf.
        bytes: 4.0 * (5 * p) as f64,
        op: Op::Sgd {
            params: bufs.all(ids[0]),
            buf: bufs.all(ids[1]),
            grads: bufs.all(ids[2]),
            clip: None,
            sched: bufs.all(sched),
            cfg: gpu_rnn::cpu::sgd::SgdConfig {
                momentum: 0.9,
                ..gpu_rnn::cpu::sgd::SgdConfig::new(0.1)
            },
        },
        bufs,
        ints: Vec::new(),
    }
}

/// Every kernel at the lecture model's shapes (T = 19, B = 256, H = E = 100, the (128, 600)
/// input table, 18 classes) and at one large shape, in a fixed order.
pub fn kernel_cases() -> Vec<KernelCase> {
    let (t, b, h) = (19, 256, 100);
    let tb = t * b;
    let mut cases = vec![
        embedding_case("lecture", false, tb, 128, 600),
        embedding_case("lecture", true, tb, 128, 600),
        embedding_case("large", false, 65536, 20000, 256),
        embedding_case("large", true, 65536, 20000, 256),
    ];
    for variant in [Variant::Scalar, Variant::Vec4, Variant::Subgroup] {
        let shapes = [
            (
                "lecture",
                "layer-1 input projection",
                MatmulDims::nt(tb, 600, 200),
            ),
            (
                "lecture",
                "layer-1 input gradient",
                MatmulDims::nn(tb, 200, 600),
            ),
            (
                "lecture",
                "layer-1 W_ih gradient",
                MatmulDims::tn(600, 200, tb),
            ),
            ("large", "square", MatmulDims::nn(1024, 1024, 1024)),
        ];
        for (size, what, dims) in shapes {
            cases.push(matmul_case(size, what, dims, variant));
        }
    }
    // The shared-memory variant real GPUs get; barrier-bound on a CPU adapter, so one shape.
    cases.push(matmul_case(
        "lecture",
        "layer-1 input projection",
        MatmulDims::nt(tb, 600, 200),
        Variant::Tiled,
    ));
    for kind in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        for backward in [false, true] {
            let mut variants = vec![Variant::Scalar];
            if kind == CellKind::Gru {
                variants.extend([Variant::Vec4, Variant::Subgroup]);
            }
            for variant in variants {
                cases.push(cell_case("lecture", kind, backward, b, h, variant));
                cases.push(cell_case("large", kind, backward, 1024, 256, variant));
            }
        }
    }
    cases.push(cross_entropy_case("lecture", b, 18));
    cases.push(cross_entropy_case("large", 4096, 1000));
    cases.push(adam_case(
        "lecture",
        ClassifierConfig::lecture().layout().len,
    ));
    cases.push(adam_case("large", 10_000_000));
    cases.push(sgd_case(
        "lecture",
        ClassifierConfig::lecture().layout().len,
    ));
    cases.push(sgd_case("large", 10_000_000));
    cases.push(mse_case("lecture", b * 10));
    cases.push(mse_case("large", 1 << 20));
    cases
}

/// The cases whose kernel name or size contains one of `filters` (all when empty).
pub fn select(cases: Vec<KernelCase>, filters: &[String]) -> Vec<KernelCase> {
    cases
        .into_iter()
        .filter(|c| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|f| c.kernel.contains(f.as_str()) || c.size == f.as_str())
        })
        .collect()
}
