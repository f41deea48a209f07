//! The matmul family. WGSL: shaders/matmul.wgsl; CPU twin: cpu::matmul.

use super::{Dispatch, check_distinct, check_len, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::{Error, Result, shaders};

pub use crate::cpu::matmul::MatmulDims;

/// Mirrors `MatmulParams` in matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub lda: u32,
    pub ldb: u32,
    pub ldc: u32,
    pub a_off: u32,
    pub b_off: u32,
    pub c_off: u32,
    pub bias_off: u32,
    pub _pad: [u32; 2],
}

/// Workgroup shape of the register-tiled kernel; each invocation owns a 4×4 block of C.
const WG_X: u32 = 8;
const WG_Y: u32 = 8;
const TILE: usize = 4;

/// `c = op(a)·op(b) (+ bias)`, or `c += …` with `dims.accumulate`. Each operand is a view
/// starting at its first element; `bias` is (N).
pub fn matmul(
    ctx: &GpuContext,
    c: Slice,
    a: Slice,
    b: Slice,
    bias: Option<Slice>,
    dims: &MatmulDims,
) -> Result<Dispatch> {
    const OP: &str = "matmul";
    let d = dims;
    if d.m == 0 || d.n == 0 {
        return Err(Error::Shape {
            op: OP,
            expected: "M, N ≥ 1".into(),
            got: format!("M = {}, N = {}", d.m, d.n),
        });
    }
    let (ea, eb, ec) = d.extents();
    check_len(OP, "A", &a, ea)?;
    check_len(OP, "B", &b, eb)?;
    check_len(OP, "C", &c, ec)?;
    if let Some(bias) = &bias {
        check_len(OP, "bias (N)", bias, d.n)?;
    }
    let reads: Vec<&Slice> = [Some(&a), Some(&b), bias.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    check_distinct(OP, &c, &reads)?;

    let params = MatmulParams {
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
        _pad: [0; 2],
    };
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let pipeline = ctx.pipeline(
        shaders::MATMUL,
        "matmul",
        &[
            ("TRANS_A", flag(d.trans_a)),
            ("TRANS_B", flag(d.trans_b)),
            ("HAS_BIAS", flag(bias.is_some())),
            ("ACCUMULATE", flag(d.accumulate)),
            ("WG_X", WG_X as f64),
            ("WG_Y", WG_Y as f64),
        ],
    )?;
    let groups = [
        to_u32(OP, "grid", d.n.div_ceil(TILE).div_ceil(WG_X as usize))?,
        to_u32(OP, "grid", d.m.div_ceil(TILE).div_ceil(WG_Y as usize))?,
        1,
    ];
    let max = ctx.limits.max_compute_workgroups_per_dimension;
    if groups[0] > max || groups[1] > max {
        return Err(Error::Shape {
            op: OP,
            expected: format!("at most {max} workgroups per dimension"),
            got: format!("{groups:?} for {d:?}"),
        });
    }
    // Without a bias, binding 3 still needs a buffer; A is read-only already.
    let bias_buf = bias.as_ref().map_or(a.buffer(), |s| s.buffer());
    Ok(Dispatch::new(
        ctx,
        OP,
        pipeline,
        &params,
        &[
            (1, a.buffer()),
            (2, b.buffer()),
            (3, bias_buf),
            (4, c.buffer()),
        ],
        groups,
    ))
}
