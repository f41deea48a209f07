//! The matmul family. WGSL: shaders/matmul.wgsl; CPU twin: cpu::matmul.

use super::{Dispatch, check_distinct, check_len, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

pub use crate::cpu::matmul::MatmulDims;

/// Mirrors `MatmulParams` in matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulParams {
    /// Rows of op(A) and C (M).
    pub m: u32,
    /// Columns of op(B) and C (N).
    pub n: u32,
    /// The inner dimension (K).
    pub k: u32,
    /// Row stride of A as stored: (M, K), or (K, M) with TRANS_A.
    pub lda: u32,
    /// Row stride of B as stored: (K, N), or (N, K) with TRANS_B.
    pub ldb: u32,
    /// Row stride of C.
    pub ldc: u32,
    /// Offset of A in its buffer (elements), for product 0 of the batch.
    pub a_off: u32,
    /// Offset of B in its buffer (elements), for product 0.
    pub b_off: u32,
    /// Offset of C in its buffer (elements), for product 0.
    pub c_off: u32,
    /// Offset of the bias in its buffer (elements), for product 0.
    pub bias_off: u32,
    /// Batch stride of A: product z = gid.z reads A at a_off + z·a_bs.
    pub a_bs: u32,
    /// Batch stride of B.
    pub b_bs: u32,
    /// Batch stride of C.
    pub c_bs: u32,
    /// Batch stride of the bias.
    pub bias_bs: u32,
    /// 0, or a padded batch along M (1) or K (2), with bit 2 + z set when product z's steps
    /// run backwards in time; matmul_subgroup skips its padding.
    pub packed: u32,
    /// Rows per step of the padded batch.
    pub steps_b: u32,
}

/// The kernels that take [`MatmulParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[
    (shaders::MATMUL, "MatmulParams", size_of::<MatmulParams>()),
    (
        shaders::MATMUL_VEC4,
        "MatmulParams",
        size_of::<MatmulParams>(),
    ),
    (
        shaders::MATMUL_TILED,
        "MatmulParams",
        size_of::<MatmulParams>(),
    ),
    (
        shaders::MATMUL_SUBGROUP,
        "MatmulParams",
        size_of::<MatmulParams>(),
    ),
];

/// Workgroup shape of the register-tiled kernel; each invocation owns a 4×4 block of C.
const WG_X: u32 = 8;
const WG_Y: u32 = 8;
const TILE: usize = 4;
/// matmul_tiled's block of C per workgroup (64×64).
const SHARED_TILE: usize = 64;

/// The kernels of the matmul family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKernel {
    /// matmul.wgsl: any shape, strides and offsets.
    Scalar,
    /// matmul_vec4.wgsl: vec4 loads along each operand's contiguous dimension; needs that
    /// dimension, the row stride and the offset to be multiples of 4 (see [`vec4_eligible`]).
    Vec4,
    /// matmul_tiled.wgsl: 64×64 blocks staged through workgroup memory, for discrete and
    /// integrated GPUs; any shape. Barrier-bound on CPU adapters.
    Tiled,
    /// matmul_subgroup.wgsl: A shared through subgroup shuffles, on adapters whose subgroups
    /// hold 8 to 64 invocations ([`subgroups_fit`]); the operands of `Vec4`.
    Subgroup,
}

/// Rows of C per octet of lanes in matmul_subgroup.wgsl (its `ROWS`); each octet has 32
/// columns.
const SUBGROUP_ROWS: usize = 32;

/// matmul_subgroup's `OCT_M`: how many of a workgroup's 8 octets lie along M (the rest along
/// N), the arrangement whose blocks pad an M × N product least (the most along M on a tie).
/// A weight gradient of 300 × 100 gets 2: blocks of 64 × 128 pad it 1.37×, where 8 (256 × 32)
/// would pad it 2.2×.
fn subgroup_octets_m(m: usize, n: usize) -> usize {
    let padded = |om: usize| {
        let (rows, cols) = (SUBGROUP_ROWS * om, 32 * (8 / om));
        m.div_ceil(rows) * rows * n.div_ceil(cols) * cols
    };
    [8, 4, 2, 1]
        .into_iter()
        .min_by_key(|&om| padded(om))
        .expect("four arrangements")
}

/// Whether `ctx`'s device runs matmul_subgroup.wgsl: subgroup operations enabled, and
/// subgroups of 8 to 64 invocations, so that its 64-invocation workgroups hold whole octets.
pub fn subgroups_fit(ctx: &GpuContext) -> bool {
    let (min, max) = ctx.adapter.subgroup_sizes;
    ctx.features.contains(wgpu::Features::SUBGROUP) && min >= 8 && max <= 64
}

/// Whether `ctx`'s adapter is a real GPU, whose workgroup memory and barriers are cheap
/// (discrete or integrated), rather than a CPU or virtual adapter such as lavapipe.
pub fn prefers_shared_tiles(ctx: &GpuContext) -> bool {
    matches!(
        ctx.adapter.device_type,
        wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu
    )
}

/// Whether `matmul_vec4` can run this product: NT, NN and TN with 4-aligned contiguous
/// dimensions, strides and offsets.
pub fn vec4_eligible(d: &MatmulDims, a_off: usize, b_off: usize) -> bool {
    let q = |x: usize| x.is_multiple_of(4);
    if !(q(d.batch_a) && q(d.batch_b)) {
        return false;
    }
    match (d.trans_a, d.trans_b) {
        (false, true) => q(d.k) && q(d.lda) && q(a_off) && q(d.ldb) && q(b_off),
        (false, false) => q(d.k) && q(d.lda) && q(a_off) && q(d.n) && q(d.ldb) && q(b_off),
        (true, false) => q(d.m) && q(d.lda) && q(a_off) && q(d.n) && q(d.ldb) && q(b_off),
        (true, true) => false,
    }
}

/// `c = op(a)·op(b) (+ bias)`, or `c += …` with `dims.accumulate`, with the kernel that suits
/// the adapter: the one [`tuned_kernels`] measured fastest for this layout, where the operands
/// allow it. Without a measurement, by adapter type: shared-memory tiles on a real GPU; on a
/// CPU adapter the subgroup kernel (or the register-tiled vec4 one without subgroups) where
/// the operands allow it, else the scalar one. Each operand is a view starting at
/// its first element; `bias` is (N).
pub fn matmul(
    ctx: &GpuContext,
    c: Slice,
    a: Slice,
    b: Slice,
    bias: Option<Slice>,
    dims: &MatmulDims,
) -> Result<Dispatch> {
    let kernel = pick(ctx, dims, &a, &b);
    matmul_with(ctx, kernel, c, a, b, bias, dims)
}

/// The kernel [`matmul`] runs these operands with.
fn pick(ctx: &GpuContext, dims: &MatmulDims, a: &Slice, b: &Slice) -> MatmulKernel {
    let aligned = vec4_eligible(dims, a.offset, b.offset);
    let tuned = layout_index(dims).and_then(|i| tuned_kernels(ctx).map(|k| k[i]));
    match tuned {
        // The autotune timed aligned operands; Tiled takes any.
        Some(k) if aligned || k == MatmulKernel::Tiled => k,
        _ if prefers_shared_tiles(ctx) => MatmulKernel::Tiled,
        _ if aligned && subgroups_fit(ctx) => MatmulKernel::Subgroup,
        _ if aligned => MatmulKernel::Vec4,
        _ => MatmulKernel::Scalar,
    }
}

/// The layouts the autotune times separately: NT, NN, TN (TT products take the default rule).
const LAYOUTS: [&str; 3] = ["NT", "NN", "TN"];

fn layout_index(d: &MatmulDims) -> Option<usize> {
    match (d.trans_a, d.trans_b) {
        (false, true) => Some(0),
        (false, false) => Some(1),
        (true, false) => Some(2),
        (true, true) => None,
    }
}

/// The matmul kernel per layout (NT, NN, TN) that [`autotune`] measured fastest on this
/// adapter, from this process's table, else from the cache file (see [`tune_cache_path`]), else
/// measured now and saved there. `None` when `GPU_RNN_AUTOTUNE=0`, without timestamp queries
/// or a cache folder, or if measuring failed: then [`matmul`] picks by adapter type. Either
/// answer is kept for the process, so a failure is not measured again at every product.
pub fn tuned_kernels(ctx: &GpuContext) -> Option<[MatmulKernel; 3]> {
    type Table = Vec<(String, Option<[MatmulKernel; 3]>)>;
    static TUNED: std::sync::Mutex<Table> = std::sync::Mutex::new(Vec::new());
    if std::env::var("GPU_RNN_AUTOTUNE").is_ok_and(|v| v == "0" || v == "off") {
        return None;
    }
    let key = tune_key(ctx);
    let mut table = TUNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, k)) = table.iter().find(|(k, _)| *k == key) {
        return *k;
    }
    let kernels = tune_cache_path().and_then(|path| tuned_from(ctx, &path).ok());
    table.push((key, kernels));
    kernels
}

/// `$GPU_RNN_CACHE_DIR`, `$XDG_CACHE_HOME/gpu-rnn` or `~/.cache/gpu-rnn`, then
/// `matmul-autotune.json`: one entry per adapter, name, backend and driver.
pub fn tune_cache_path() -> Option<std::path::PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let dir = env("GPU_RNN_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| env("XDG_CACHE_HOME").map(|d| std::path::Path::new(&d).join("gpu-rnn")))
        .or_else(|| env("HOME").map(|d| std::path::Path::new(&d).join(".cache/gpu-rnn")))?;
    Some(dir.join("matmul-autotune.json"))
}

/// The adapter, backend and driver, and a hash of the candidate kernels' sources: a choice
/// measured against other kernels (an older gpu-rnn) is measured again.
fn tune_key(ctx: &GpuContext) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for shader in [
        shaders::MATMUL_VEC4,
        shaders::MATMUL_TILED,
        shaders::MATMUL_SUBGROUP,
    ] {
        shader.source.hash(&mut h);
    }
    let a = &ctx.adapter;
    format!(
        "{} | {:?} | {} | kernels {:016x}",
        a.name,
        a.backend,
        a.driver,
        h.finish()
    )
}

/// [`tuned_kernels`] with the cache file at `path`: this adapter's entry if the file has one
/// (a file that does not parse is measured over), else [`autotune`] and the entry saved
/// (atomically, keeping the other adapters' entries).
pub fn tuned_from(ctx: &GpuContext, path: &std::path::Path) -> Result<[MatmulKernel; 3]> {
    let key = tune_key(ctx);
    let read = || -> serde_json::Map<String, serde_json::Value> {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    };
    let parse = |v: &serde_json::Value| -> Option<[MatmulKernel; 3]> {
        let mut out = [MatmulKernel::Scalar; 3];
        for (slot, layout) in out.iter_mut().zip(LAYOUTS) {
            *slot = match v.get(layout)?.as_str()? {
                "Vec4" => MatmulKernel::Vec4,
                "Tiled" => MatmulKernel::Tiled,
                "Subgroup" if subgroups_fit(ctx) => MatmulKernel::Subgroup,
                _ => return None,
            };
        }
        Some(out)
    };
    if let Some(k) = read().get(&key).and_then(parse) {
        return Ok(k);
    }
    let kernels = autotune(ctx)?;
    let entry = LAYOUTS
        .iter()
        .zip(kernels)
        .map(|(l, k)| (l.to_string(), format!("{k:?}").into()))
        .collect();
    // Read again: another process may have saved its adapter meanwhile.
    let mut file = read();
    file.insert(key, serde_json::Value::Object(entry));
    let text = serde_json::to_string_pretty(&file).expect("a JSON map");
    // A folder that can't be written costs the next run a measurement, nothing more.
    if let Err(e) = crate::output::write_atomic(path, text.as_bytes()) {
        eprintln!("warning: could not save the matmul autotune: {e}");
    }
    Ok(kernels)
}

/// Time each candidate kernel (matmul_vec4, matmul_tiled, and matmul_subgroup where it runs)
/// on a 256³ product of each layout, median of 5 timestamped runs after a warm-up, and
/// return the fastest per layout. About a second on lavapipe, most of it compiling pipelines.
pub fn autotune(ctx: &GpuContext) -> Result<[MatmulKernel; 3]> {
    const SIZE: usize = 256;
    if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        return Err(Error::InvalidArgument {
            op: "matmul autotune",
            message: format!("{} has no timestamp queries", ctx.adapter.name),
        });
    }
    let mut candidates = vec![MatmulKernel::Vec4, MatmulKernel::Tiled];
    if subgroups_fit(ctx) {
        candidates.push(MatmulKernel::Subgroup);
    }
    let tensor = |label| crate::gpu::GpuTensor::zeros(ctx, label, &[SIZE, SIZE]);
    let (a, b, c) = (tensor("tune a")?, tensor("tune b")?, tensor("tune c")?);
    let shapes = [MatmulDims::nt, MatmulDims::nn, MatmulDims::tn];
    let mut best = [MatmulKernel::Vec4; 3];
    for (slot, shape) in best.iter_mut().zip(shapes) {
        let dims = shape(SIZE, SIZE, SIZE);
        let mut fastest = f64::INFINITY;
        for &kernel in &candidates {
            let dispatch = matmul_with(ctx, kernel, c.all(), a.all(), b.all(), None, &dims)?;
            crate::gpu::time_dispatch(ctx, &dispatch, 1)?;
            let mut t = crate::gpu::time_dispatch(ctx, &dispatch, 5)?;
            t.sort_by(f64::total_cmp);
            if t[2] < fastest {
                fastest = t[2];
                *slot = kernel;
            }
        }
    }
    Ok(best)
}

/// A product over a padded (T, B) batch (an `Op::Matmul` with `padded`): along K when A is
/// transposed (a weight gradient), else along M. `lens` (B) holds the sequence lengths,
/// `reversed[z]` says that product z's steps run backwards in time (see `plan::Steps`).
#[derive(Clone, Copy)]
pub struct PaddedRows<'a> {
    /// Sequence lengths (B), from offset 0: rows at a time ≥ their length are padding.
    pub lens: Slice<'a>,
    /// Rows per step (B): the padded dimension (M, or K with A transposed) holds whole steps.
    pub steps_b: usize,
    /// Per product z (at most 2): its steps run backwards in time, step i at T − 1 − i.
    pub reversed: [bool; 2],
}

/// [`matmul`] over a padded batch: the kernel [`matmul`] picks, which skips the padding if it
/// is matmul_subgroup; the others run the whole product, whose padding adds zeros (or lands
/// in rows nobody reads).
pub fn matmul_padded(
    ctx: &GpuContext,
    c: Slice,
    a: Slice,
    b: Slice,
    bias: Option<Slice>,
    dims: &MatmulDims,
    rows: PaddedRows,
) -> Result<Dispatch> {
    let kernel = pick(ctx, dims, &a, &b);
    build(ctx, kernel, c, a, b, bias, dims, Some(rows))
}

/// [`matmul`] with an explicit kernel (for tests and benchmarks).
pub fn matmul_with(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    c: Slice,
    a: Slice,
    b: Slice,
    bias: Option<Slice>,
    dims: &MatmulDims,
) -> Result<Dispatch> {
    build(ctx, kernel, c, a, b, bias, dims, None)
}

/// [`matmul_padded`] with an explicit kernel.
#[allow(clippy::too_many_arguments)]
pub fn matmul_padded_with(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    c: Slice,
    a: Slice,
    b: Slice,
    bias: Option<Slice>,
    dims: &MatmulDims,
    rows: PaddedRows,
) -> Result<Dispatch> {
    build(ctx, kernel, c, a, b, bias, dims, Some(rows))
}

#[allow(clippy::too_many_arguments)]
fn build(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    c: Slice,
    a: Slice,
    b: Slice,
    bias: Option<Slice>,
    dims: &MatmulDims,
    padded: Option<PaddedRows>,
) -> Result<Dispatch> {
    let d = dims;
    check_operands(d, (&c, &a, &b, bias.as_ref()))?;
    let mut params = matmul_params(d, (&c, &a, &b, bias.as_ref()))?;
    if let Some(rows) = &padded {
        pad_params(&mut params, d, rows)?;
    }
    check_kernel(ctx, kernel, d, (a.offset, b.offset))?;
    let (pipeline, groups) = pipeline_and_grid(ctx, kernel, d, bias.is_some())?;
    // Without a bias, binding 3 still needs a buffer; A is read-only already. So does
    // matmul_subgroup's binding 5 without lengths.
    let bias_buf = bias.as_ref().map_or(a.buffer(), |s| s.buffer());
    let mut bindings = vec![
        (1, a.buffer()),
        (2, b.buffer()),
        (3, bias_buf),
        (4, c.buffer()),
    ];
    if kernel == MatmulKernel::Subgroup {
        bindings.push((5, padded.map_or(a.buffer(), |r| r.lens.buffer())));
    }
    Ok(Dispatch::new(ctx, OP, pipeline, &params, &bindings, groups))
}

const OP: &str = "matmul";

/// Sizes, extents and aliasing of (C, A, B, bias).
fn check_operands(
    d: &MatmulDims,
    (c, a, b, bias): (&Slice, &Slice, &Slice, Option<&Slice>),
) -> Result<()> {
    if d.m == 0 || d.n == 0 {
        return Err(Error::Shape {
            op: OP,
            expected: "M, N ≥ 1".into(),
            got: format!("M = {}, N = {}", d.m, d.n),
        });
    }
    let (ea, eb, ec) = d.extents();
    check_len(OP, "A", a, ea)?;
    check_len(OP, "B", b, eb)?;
    check_len(OP, "C", c, ec)?;
    if let Some(bias) = bias {
        let n = (d.batch.max(1) - 1) * d.batch_bias + d.n;
        check_len(OP, "bias (N)", bias, n)?;
    }
    let reads: Vec<&Slice> = [Some(a), Some(b), bias].into_iter().flatten().collect();
    check_distinct(OP, c, &reads)
}

/// The kernel's uniform for an unpadded product.
fn matmul_params(
    d: &MatmulDims,
    (c, a, b, bias): (&Slice, &Slice, &Slice, Option<&Slice>),
) -> Result<MatmulParams> {
    Ok(MatmulParams {
        m: to_u32(OP, "M", d.m)?,
        n: to_u32(OP, "N", d.n)?,
        k: to_u32(OP, "K", d.k)?,
        lda: to_u32(OP, "lda", d.lda)?,
        ldb: to_u32(OP, "ldb", d.ldb)?,
        ldc: to_u32(OP, "ldc", d.ldc)?,
        a_off: to_u32(OP, "offset", a.offset)?,
        b_off: to_u32(OP, "offset", b.offset)?,
        c_off: to_u32(OP, "offset", c.offset)?,
        bias_off: to_u32(OP, "offset", bias.map_or(0, |s| s.offset))?,
        a_bs: to_u32(OP, "batch stride", d.batch_a)?,
        b_bs: to_u32(OP, "batch stride", d.batch_b)?,
        c_bs: to_u32(OP, "batch stride", d.batch_c)?,
        bias_bs: to_u32(OP, "batch stride", d.batch_bias)?,
        packed: 0,
        steps_b: 0,
    })
}

/// A padded product's flags: which operand runs over the (T, B) rows, and each product's
/// step order.
fn pad_params(params: &mut MatmulParams, d: &MatmulDims, rows: &PaddedRows) -> Result<()> {
    // The kernel reads the lengths from the start of their buffer, one bit per product.
    if rows.lens.offset != 0 || d.batch > 2 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!(
                "a padded product needs its lengths at offset 0 (got {}) and at most 2 products (got {})",
                rows.lens.offset, d.batch
            ),
        });
    }
    let len = if d.trans_a { d.k } else { d.m };
    if rows.steps_b == 0 || !len.is_multiple_of(rows.steps_b) || rows.lens.len < rows.steps_b {
        return Err(Error::Shape {
            op: OP,
            expected: format!("a padded dimension of whole steps of {} rows", rows.steps_b),
            got: format!("{len} rows, {} lengths", rows.lens.len),
        });
    }
    params.packed = if d.trans_a { 2 } else { 1 }
        | u32::from(rows.reversed[0]) << 2
        | u32::from(rows.reversed[1]) << 3;
    params.steps_b = to_u32(OP, "B", rows.steps_b)?;
    Ok(())
}

/// What the aligned and subgroup kernels need of their operands and of the adapter.
fn check_kernel(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    d: &MatmulDims,
    (a_off, b_off): (usize, usize),
) -> Result<()> {
    let aligned = matches!(kernel, MatmulKernel::Vec4 | MatmulKernel::Subgroup);
    if aligned && !vec4_eligible(d, a_off, b_off) {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!(
                "{kernel:?} needs 4-aligned operands: {d:?}, offsets {a_off} and {b_off}"
            ),
        });
    }
    if kernel == MatmulKernel::Subgroup && !subgroups_fit(ctx) {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!(
                "matmul_subgroup needs subgroups of 8 to 64 invocations; {} has {:?}",
                ctx.adapter.name, ctx.adapter.subgroup_sizes
            ),
        });
    }
    Ok(())
}

/// The kernel's pipeline with its constants, and its grid over C.
fn pipeline_and_grid(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    d: &MatmulDims,
    has_bias: bool,
) -> Result<(wgpu::ComputePipeline, [u32; 3])> {
    let (shader, entry) = match kernel {
        MatmulKernel::Scalar => (shaders::MATMUL, "matmul"),
        MatmulKernel::Vec4 => (shaders::MATMUL_VEC4, "matmul_vec4"),
        MatmulKernel::Tiled => (shaders::MATMUL_TILED, "matmul_tiled"),
        MatmulKernel::Subgroup => (shaders::MATMUL_SUBGROUP, "matmul_subgroup"),
    };
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let mut constants = vec![
        ("TRANS_A", flag(d.trans_a)),
        ("TRANS_B", flag(d.trans_b)),
        ("HAS_BIAS", flag(has_bias)),
        ("ACCUMULATE", flag(d.accumulate)),
    ];
    // C's elements per workgroup along (N, M).
    let block = match kernel {
        MatmulKernel::Tiled => (SHARED_TILE, SHARED_TILE),
        MatmulKernel::Subgroup => {
            let om = subgroup_octets_m(d.m, d.n);
            constants.push(("OCT_M", om as f64));
            (32 * (8 / om), SUBGROUP_ROWS * om)
        }
        MatmulKernel::Scalar | MatmulKernel::Vec4 => {
            constants.extend([("WG_X", WG_X as f64), ("WG_Y", WG_Y as f64)]);
            (TILE * WG_X as usize, TILE * WG_Y as usize)
        }
    };
    let pipeline = ctx.pipeline(shader, entry, &constants)?;
    let groups = [
        to_u32(OP, "grid", d.n.div_ceil(block.0))?,
        to_u32(OP, "grid", d.m.div_ceil(block.1))?,
        to_u32(OP, "batch", d.batch.max(1))?,
    ];
    let max = ctx.limits.max_compute_workgroups_per_dimension;
    if groups.iter().any(|&g| g > max) {
        return Err(Error::Shape {
            op: OP,
            expected: format!("at most {max} workgroups per dimension"),
            got: format!("{groups:?} for {d:?}"),
        });
    }
    Ok((pipeline, groups))
}

#[cfg(test)]
mod tests {
    use super::subgroup_octets_m;

    // The lecture model's products: the weight gradients get blocks that fit them, the long
    // products keep 256-row blocks.
    #[test]
    fn subgroup_arrangement_pads_least() {
        assert_eq!(subgroup_octets_m(300, 100), 2);
        assert_eq!(subgroup_octets_m(100, 60), 4);
        assert_eq!(subgroup_octets_m(600, 200), 1);
        assert_eq!(subgroup_octets_m(3328, 600), 8);
        assert_eq!(subgroup_octets_m(4864, 200), 8);
        assert_eq!(subgroup_octets_m(1024, 1024), 8);
    }
}
