//! Embedding lookup and its backward. WGSL: shaders/embedding_fwd.wgsl,
//! shaders/embedding_bwd.wgsl; CPU twin: cpu::embedding.

use super::{Dispatch, WG, check_distinct, check_len, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::shaders::Shader;
use crate::{Error, Result, shaders};

/// Mirrors `EmbeddingParams` in embedding_fwd.wgsl and embedding_bwd.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct EmbeddingParams {
    /// Tokens (N).
    pub n: u32,
    /// Embedding size (E).
    pub e: u32,
    /// Vocabulary size (V); forward writes zeros for an id ≥ V.
    pub v: u32,
    /// Offset of the (V, E) table in `weight`, or of its gradient in `dweight` (elements).
    pub w_off: u32,
}

/// The kernels that take [`EmbeddingParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[
    (
        shaders::EMBEDDING_FWD,
        "EmbeddingParams",
        size_of::<EmbeddingParams>(),
    ),
    (
        shaders::EMBEDDING_BWD,
        "EmbeddingParams",
        size_of::<EmbeddingParams>(),
    ),
];

/// `out (N, E) = weight (V, E)[ids (N)]`; `weight` is a view of the table (V·E elements).
pub fn embedding_fwd(
    ctx: &GpuContext,
    out: Slice,
    ids: Slice,
    weight: Slice,
    e: usize,
) -> Result<Dispatch> {
    const OP: &str = "embedding_fwd";
    let n = ids.len;
    if e == 0 || !weight.len.is_multiple_of(e) {
        return Err(Error::Shape {
            op: OP,
            expected: format!("weight (V, {e})"),
            got: format!("{} elements", weight.len),
        });
    }
    check_len(OP, "out (N, E)", &out, n * e)?;
    check_distinct(OP, &out, &[&ids, &weight])?;
    let params = EmbeddingParams {
        n: to_u32(OP, "N", n)?,
        e: to_u32(OP, "E", e)?,
        v: to_u32(OP, "V", weight.len / e)?,
        w_off: to_u32(OP, "offset", weight.offset)?,
    };
    if out.offset != 0 || ids.offset != 0 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "out and ids must start at offset 0".into(),
        });
    }
    let pipeline = ctx.pipeline(
        shaders::EMBEDDING_FWD,
        "embedding_fwd",
        &[("WG", WG as f64)],
    )?;
    let groups = grid_1d(ctx, n * e, WG);
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[(1, ids.buffer()), (2, weight.buffer()), (3, out.buffer())],
        groups,
    ))
}

/// `dweight (V, E) += Σ_{n: ids[n] = v} dout[n]`, with `offsets (V + 1)` and `rows (N)` from
/// [`TokenRows`](crate::cpu::embedding::TokenRows). `dweight` is a view of the table's gradient.
pub fn embedding_bwd(
    ctx: &GpuContext,
    dweight: Slice,
    dout: Slice,
    offsets: Slice,
    rows: Slice,
    e: usize,
) -> Result<Dispatch> {
    const OP: &str = "embedding_bwd";
    if e == 0 || !dweight.len.is_multiple_of(e) {
        return Err(Error::Shape {
            op: OP,
            expected: format!("dweight (V, {e})"),
            got: format!("{} elements", dweight.len),
        });
    }
    let v = dweight.len / e;
    let n = rows.len;
    check_len(OP, "offsets (V + 1)", &offsets, v + 1)?;
    check_len(OP, "dout (N, E)", &dout, n * e)?;
    check_distinct(OP, &dweight, &[&dout, &offsets, &rows])?;
    if dout.offset != 0 || offsets.offset != 0 || rows.offset != 0 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "dout, offsets and rows must start at offset 0".into(),
        });
    }
    let params = EmbeddingParams {
        n: to_u32(OP, "N", n)?,
        e: to_u32(OP, "E", e)?,
        v: to_u32(OP, "V", v)?,
        w_off: to_u32(OP, "offset", dweight.offset)?,
    };
    let pipeline = ctx.pipeline(
        shaders::EMBEDDING_BWD,
        "embedding_bwd",
        &[("WG", WG as f64)],
    )?;
    let groups = grid_1d(ctx, v * e, WG);
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[
            (1, offsets.buffer()),
            (2, rows.buffer()),
            (3, dout.buffer()),
            (4, dweight.buffer()),
        ],
        groups,
    ))
}
