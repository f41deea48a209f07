//! The recurrent cell kernels (rnn_cell, gru_cell, lstm_cell; forward and backward): one
//! host wrapper for all six, since they share `CellParams` and differ only in bindings.
//! WGSL: shaders/{rnn,gru,lstm}_cell_{fwd,bwd}.wgsl; CPU twins: cpu::{rnn,gru,lstm}_cell.

use super::{Dispatch, WG, check_len, grid_1d, to_u32};
use crate::gpu::{GpuContext, Slice};
use crate::plan::{CellBwd, CellFwd, CellKind};
use crate::shaders::{self, Shader};
use crate::{Error, Result};

/// Mirrors `CellParams` in the six cell kernels.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CellParams {
    /// Batch rows (B).
    pub b: u32,
    /// Hidden size (H).
    pub h: u32,
    /// Directions (D): 1, or 2 for bidirectional; the grid's z.
    pub d: u32,
    /// Steps in this batch (T).
    pub t: u32,
    /// This step, 0-based, in each direction's own order.
    pub s: u32,
    /// 1 at s = T − 1, the first step backward runs: no later step's dhh·W_hh to add
    /// (dh starts from dh_n). Read by the backward kernels only.
    pub first: u32,
    /// RNN only: 1 for relu instead of tanh.
    pub relu: u32,
    /// Forward: 1 to add b_hh.
    pub has_bias: u32,
    /// Offset of W_hh (D, G·H, H) in its buffer (elements).
    pub whh_off: u32,
    /// Forward: offset of b_hh (D, G·H) in W_hh's buffer (elements).
    pub bhh_off: u32,
    /// Backward: offset of dh_n (D, B, H), and of dc_n for the LSTM, in its buffer.
    pub dhn_off: u32,
    /// Forward: `xw` is a (V, D·G·H) table read through `ids` (see `CellFwd::ids`).
    pub gather: u32,
}

/// The kernels that take [`CellParams`] as their uniform, with its name there and the size of
/// this mirror (checked against the WGSL by tests/shaders.rs).
pub const UNIFORMS: &[(&Shader, &str, usize)] = &[
    (shaders::RNN_CELL_FWD, "CellParams", size_of::<CellParams>()),
    (shaders::RNN_CELL_BWD, "CellParams", size_of::<CellParams>()),
    (shaders::GRU_CELL_FWD, "CellParams", size_of::<CellParams>()),
    (
        shaders::GRU_CELL_FWD_VEC4,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (
        shaders::GRU_CELL_FWD_SUBGROUP,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (shaders::GRU_CELL_BWD, "CellParams", size_of::<CellParams>()),
    (
        shaders::GRU_CELL_BWD_VEC4,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (
        shaders::GRU_CELL_BWD_SUBGROUP,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (
        shaders::LSTM_CELL_FWD,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (
        shaders::LSTM_CELL_FWD_VEC4,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (
        shaders::LSTM_CELL_BWD,
        "CellParams",
        size_of::<CellParams>(),
    ),
    (
        shaders::LSTM_CELL_BWD_VEC4,
        "CellParams",
        size_of::<CellParams>(),
    ),
];

/// Activations live in their own buffers and start at offset 0.
fn at_zero(op: &'static str, views: &[Option<&Slice>]) -> Result<()> {
    for s in views.iter().flatten() {
        if s.offset != 0 {
            return Err(Error::InvalidArgument {
                op,
                message: format!("{} must start at offset 0", s.tensor.label),
            });
        }
    }
    Ok(())
}

fn missing(op: &'static str, what: &str) -> Error {
    Error::InvalidArgument {
        op,
        message: format!("{what} is required for this cell"),
    }
}

fn same_buffer(op: &'static str, a: &Slice, b: &Slice) -> Result<()> {
    if a.buffer() != b.buffer() {
        return Err(Error::InvalidArgument {
            op,
            message: "W_hh and b_hh must be views of one buffer".into(),
        });
    }
    Ok(())
}

fn params(
    op: &'static str,
    a: &crate::cpu::cell::CellDims,
    whh: &Slice,
    bhh_off: usize,
    dhn_off: usize,
) -> Result<CellParams> {
    if a.d == 0 || a.d > 2 || a.s >= a.t || a.b == 0 || a.h == 0 {
        return Err(Error::Shape {
            op,
            expected: "B, H ≥ 1, D ∈ {1, 2}, s < T".into(),
            got: format!("{a:?}"),
        });
    }
    Ok(CellParams {
        b: to_u32(op, "B", a.b)?,
        h: to_u32(op, "H", a.h)?,
        d: a.d as u32,
        t: to_u32(op, "T", a.t)?,
        s: to_u32(op, "s", a.s)?,
        first: (a.s + 1 == a.t) as u32,
        relu: a.relu as u32,
        has_bias: a.has_bias as u32,
        whh_off: to_u32(op, "offset", whh.offset)?,
        bhh_off: to_u32(op, "offset", bhh_off)?,
        dhn_off: to_u32(op, "offset", dhn_off)?,
        gather: 0,
    })
}

/// Check the lengths every cell kernel relies on.
fn check_common(
    op: &'static str,
    kind: CellKind,
    a: &crate::cpu::cell::CellDims,
    whh: &Slice,
    lens: &Slice,
    hs: &Slice,
) -> Result<()> {
    let gh = kind.gates() * a.h;
    check_len(op, "W_hh (D, G·H, H)", whh, a.d * gh * a.h)?;
    check_len(op, "lens (B)", lens, a.b)?;
    check_len(op, "hs (D, T+1, B, H)", hs, a.d * (a.t + 1) * a.b * a.h)
}

/// The kernels of a cell step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKernel {
    /// One invocation per (row, unit): any H and offsets.
    Scalar,
    /// 4 rows × 4 units per invocation with vec4 loads (GRU, LSTM; H and the weight offsets
    /// multiples of 4, and one direction for the LSTM's backward: see [`vec4_eligible`]).
    Vec4,
    /// 32 rows × 4 units (forward) or 8 units (backward) per octet of lanes, W_hh shared
    /// through subgroup shuffles (GRU; the operands of `Vec4`, on devices with subgroups of 8
    /// to 64, [`crate::ops::matmul::subgroups_fit`]).
    Subgroup,
}

/// Whether a vec4 variant can run this step of `d` directions: H and the `offsets` (W_hh's
/// and b_hh's; for the GRU's backward dh_n's) all multiples of 4, for a cell that has one
/// (the GRU; the LSTM, whose backward takes one direction, see lstm_cell_bwd_vec4.wgsl).
pub fn vec4_eligible(
    kind: CellKind,
    backward: bool,
    (d, h): (usize, usize),
    offsets: &[usize],
) -> bool {
    let has = match kind {
        CellKind::Gru => true,
        CellKind::Lstm => !backward || d == 1,
        CellKind::Rnn => false,
    };
    has && h.is_multiple_of(4) && offsets.iter().all(|o| o.is_multiple_of(4))
}

/// The offsets [`vec4_eligible`] checks for a backward step: the LSTM's vec4 kernel does not
/// read dh_n (the plan copies it into the carry).
fn bwd_offsets(c: &CellBwd<Slice>) -> Vec<usize> {
    match c.kind {
        CellKind::Lstm => vec![c.whh.offset],
        _ => vec![c.whh.offset, c.dhn.offset],
    }
}

/// The fastest kernel for a step whose operands are (or are not) [`vec4_eligible`]: the
/// GRU's subgroup kernel where the device has subgroups that fit, else the vec4 one.
fn pick(ctx: &GpuContext, kind: CellKind, aligned: bool) -> CellKernel {
    match aligned {
        true if kind == CellKind::Gru && crate::ops::matmul::subgroups_fit(ctx) => {
            CellKernel::Subgroup
        }
        true => CellKernel::Vec4,
        false => CellKernel::Scalar,
    }
}

/// The subgroup kernels need subgroups of 8 to 64 invocations.
fn check_subgroups(op: &'static str, ctx: &GpuContext, kernel: CellKernel) -> Result<()> {
    if kernel == CellKernel::Subgroup && !crate::ops::matmul::subgroups_fit(ctx) {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "needs subgroups of 8 to 64 invocations; {} has {:?}",
                ctx.adapter.name, ctx.adapter.subgroup_sizes
            ),
        });
    }
    Ok(())
}

/// The shader of a step; as everywhere, its file stem is also its entry point and the op's
/// name.
fn cell_shader(kind: CellKind, kernel: CellKernel, backward: bool) -> Result<&'static Shader> {
    use CellKernel::{Scalar, Subgroup, Vec4};
    use CellKind::{Gru, Lstm, Rnn};
    Ok(match (kind, kernel, backward) {
        (Rnn, Scalar, false) => shaders::RNN_CELL_FWD,
        (Rnn, Scalar, true) => shaders::RNN_CELL_BWD,
        (Gru, Scalar, false) => shaders::GRU_CELL_FWD,
        (Gru, Scalar, true) => shaders::GRU_CELL_BWD,
        (Lstm, Scalar, false) => shaders::LSTM_CELL_FWD,
        (Lstm, Scalar, true) => shaders::LSTM_CELL_BWD,
        (Gru, Vec4, false) => shaders::GRU_CELL_FWD_VEC4,
        (Lstm, Vec4, false) => shaders::LSTM_CELL_FWD_VEC4,
        (Lstm, Vec4, true) => shaders::LSTM_CELL_BWD_VEC4,
        (Gru, Vec4, true) => shaders::GRU_CELL_BWD_VEC4,
        (Gru, Subgroup, false) => shaders::GRU_CELL_FWD_SUBGROUP,
        (Gru, Subgroup, true) => shaders::GRU_CELL_BWD_SUBGROUP,
        (kind, Vec4 | Subgroup, backward) => {
            return Err(Error::InvalidArgument {
                op: "cell",
                message: format!("no {kernel:?} kernel for {kind:?} (backward: {backward})"),
            });
        }
    })
}

/// The forward step dispatch for `c.kind`, with the fastest kernel the operands allow.
pub fn cell_fwd(ctx: &GpuContext, c: &CellFwd<Slice>) -> Result<Dispatch> {
    let offs = [c.whh.offset, c.bhh.map_or(0, |b| b.offset)];
    let dh = (c.dims.d, c.dims.h);
    let kernel = pick(ctx, c.kind, vec4_eligible(c.kind, false, dh, &offs));
    cell_fwd_with(ctx, kernel, c)
}

/// [`cell_fwd`] with an explicit kernel. Starting offsets other than W_hh's and b_hh's must
/// be 0 (activations live in their own buffers).
pub fn cell_fwd_with(ctx: &GpuContext, kernel: CellKernel, c: &CellFwd<Slice>) -> Result<Dispatch> {
    let shader = cell_shader(c.kind, kernel, false)?;
    let (op, entry) = (shader.name, shader.name);
    check_subgroups(op, ctx, kernel)?;
    check_fwd(op, kernel, c)?;
    let a = &c.dims;
    let mut p = params(op, a, &c.whh, c.bhh.map_or(0, |s| s.offset), 0)?;
    p.gather = c.ids.is_some() as u32;
    let pipeline = ctx.pipeline(shader, entry, &[("WG", WG as f64)])?;
    let mut groups = grid_1d(ctx, invocations(kernel, a, false), WG);
    groups[2] = a.d as u32;
    let bufs = fwd_bindings(op, c)?;
    Ok(Dispatch::new(ctx, op, pipeline, &p, &bufs, groups))
}

/// The forward step's operands against its dims and the kernel's alignment.
fn check_fwd(op: &'static str, kernel: CellKernel, c: &CellFwd<Slice>) -> Result<()> {
    let offsets = [c.whh.offset, c.bhh.map_or(0, |b| b.offset)];
    if kernel != CellKernel::Scalar && !vec4_eligible(c.kind, false, (c.dims.d, c.dims.h), &offsets)
    {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "needs H and the weight offsets to be multiples of 4: {:?}",
                c.dims
            ),
        });
    }
    let a = &c.dims;
    let gh = c.kind.gates() * a.h;
    check_common(op, c.kind, a, &c.whh, &c.lens, &c.hs)?;
    match &c.ids {
        None => check_len(op, "xw (T, B, D·G·H)", &c.xw, a.t * a.b * a.d * gh)?,
        Some(ids) => {
            check_len(op, "ids (T, B)", ids, a.t * a.b)?;
            check_len(op, "xw (V, D·G·H)", &c.xw, a.d * gh)?;
            if !c.xw.len.is_multiple_of(a.d * gh) {
                return Err(Error::Shape {
                    op,
                    expected: format!("a table of whole rows of D·G·H = {}", a.d * gh),
                    got: format!("{} elements", c.xw.len),
                });
            }
        }
    }
    check_len(op, "out (T, B, D·H)", &c.out, a.t * a.b * a.d * a.h)?;
    if let Some(bhh) = &c.bhh {
        same_buffer(op, &c.whh, bhh)?;
        check_len(op, "b_hh (D, G·H)", bhh, a.d * gh)?;
    }
    at_zero(
        op,
        &[
            Some(&c.xw),
            c.ids.as_ref(),
            Some(&c.lens),
            Some(&c.hs),
            Some(&c.out),
            c.cs.as_ref(),
            c.gates.as_ref(),
        ],
    )
}

/// The forward kernels' bindings, by cell kind.
fn fwd_bindings<'a>(
    op: &'static str,
    c: &'a CellFwd<Slice>,
) -> Result<Vec<(u32, &'a wgpu::Buffer)>> {
    let a = &c.dims;
    // Without a gather, `ids` is bound to `lens` and never read.
    let ids = c.ids.as_ref().unwrap_or(&c.lens).buffer();
    let w = c.whh.buffer();
    Ok(match c.kind {
        CellKind::Rnn => vec![
            (1, c.xw.buffer()),
            (2, w),
            (3, c.lens.buffer()),
            (4, c.hs.buffer()),
            (5, c.out.buffer()),
            (6, ids),
        ],
        CellKind::Gru => {
            let gates = c.gates.as_ref().ok_or_else(|| missing(op, "gates"))?;
            check_len(op, "gates (D, T, B, 4H)", gates, a.d * a.t * a.b * 4 * a.h)?;
            vec![
                (1, c.xw.buffer()),
                (2, w),
                (3, c.lens.buffer()),
                (4, c.hs.buffer()),
                (5, c.out.buffer()),
                (6, gates.buffer()),
                (7, ids),
            ]
        }
        CellKind::Lstm => {
            let gates = c.gates.as_ref().ok_or_else(|| missing(op, "gates"))?;
            let cs = c.cs.as_ref().ok_or_else(|| missing(op, "cs"))?;
            check_len(op, "gates (D, T, B, 4H)", gates, a.d * a.t * a.b * 4 * a.h)?;
            check_len(op, "cs (D, T+1, B, H)", cs, a.d * (a.t + 1) * a.b * a.h)?;
            vec![
                (1, c.xw.buffer()),
                (2, w),
                (3, c.lens.buffer()),
                (4, c.hs.buffer()),
                (5, cs.buffer()),
                (6, c.out.buffer()),
                (7, gates.buffer()),
                (8, ids),
            ]
        }
    })
}

/// One invocation per (row, unit), per 4 × 4 tile with the vec4 kernel, or eight per 32 rows
/// and 4 units (8 units `backward`) with the subgroup kernel.
fn invocations(kernel: CellKernel, a: &crate::cpu::cell::CellDims, backward: bool) -> usize {
    match kernel {
        CellKernel::Scalar => a.b * a.h,
        CellKernel::Vec4 => a.b.div_ceil(4) * (a.h / 4),
        // Eight lanes per block of 32 rows and unit quad (forward) or pair of unit quads
        // (backward).
        CellKernel::Subgroup if backward => a.b.div_ceil(32) * (a.h / 4).div_ceil(2) * 8,
        CellKernel::Subgroup => a.b.div_ceil(32) * (a.h / 4) * 8,
    }
}

/// The backward step dispatch for `c.kind`, with the fastest kernel the operands allow.
pub fn cell_bwd(ctx: &GpuContext, c: &CellBwd<Slice>) -> Result<Dispatch> {
    let dh = (c.dims.d, c.dims.h);
    let kernel = pick(
        ctx,
        c.kind,
        vec4_eligible(c.kind, true, dh, &bwd_offsets(c)),
    );
    cell_bwd_with(ctx, kernel, c)
}

/// [`cell_bwd`] with an explicit kernel (same offset rules as [`cell_fwd_with`]; `dhn` and
/// `dcn` may start anywhere, at the same offset).
pub fn cell_bwd_with(ctx: &GpuContext, kernel: CellKernel, c: &CellBwd<Slice>) -> Result<Dispatch> {
    let shader = cell_shader(c.kind, kernel, true)?;
    let (op, entry) = (shader.name, shader.name);
    check_subgroups(op, ctx, kernel)?;
    check_bwd(op, kernel, c)?;
    let a = &c.dims;
    let p = params(op, a, &c.whh, 0, c.dhn.offset)?;
    let pipeline = ctx.pipeline(shader, entry, &[("WG", WG as f64)])?;
    let mut groups = grid_1d(ctx, invocations(kernel, a, true), WG);
    groups[2] = a.d as u32;
    let bufs = bwd_bindings(op, kernel, c)?;
    Ok(Dispatch::new(ctx, op, pipeline, &p, &bufs, groups))
}

/// The backward step's operands against its dims and the kernel's alignment.
fn check_bwd(op: &'static str, kernel: CellKernel, c: &CellBwd<Slice>) -> Result<()> {
    if kernel != CellKernel::Scalar
        && !vec4_eligible(c.kind, true, (c.dims.d, c.dims.h), &bwd_offsets(c))
    {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "needs H and the weight and dh_n offsets to be multiples of 4: {:?}",
                c.dims
            ),
        });
    }
    let a = &c.dims;
    let gh = c.kind.gates() * a.h;
    let dbh = a.d * a.b * a.h;
    check_common(op, c.kind, a, &c.whh, &c.lens, &c.hs)?;
    check_len(op, "dout (T, B, D·H)", &c.dout, a.t * a.b * a.d * a.h)?;
    check_len(op, "dh_n (D, B, H)", &c.dhn, dbh)?;
    check_len(op, "dxw (T, B, D·G·H)", &c.dxw, a.t * a.b * a.d * gh)?;
    check_len(op, "dhh (D, T, B, G·H)", &c.dhh, a.d * a.t * a.b * gh)?;
    check_len(op, "carry (D, B, H)", &c.carry, dbh)?;
    at_zero(
        op,
        &[
            Some(&c.dout),
            Some(&c.lens),
            Some(&c.hs),
            Some(&c.dxw),
            Some(&c.dhh),
            Some(&c.carry),
            c.cs.as_ref(),
            c.gates.as_ref(),
            c.dc_carry.as_ref(),
        ],
    )
}

/// The backward kernels' bindings, by cell kind (and for the LSTM, by kernel).
fn bwd_bindings<'a>(
    op: &'static str,
    kernel: CellKernel,
    c: &'a CellBwd<Slice>,
) -> Result<Vec<(u32, &'a wgpu::Buffer)>> {
    let a = &c.dims;
    let dbh = a.d * a.b * a.h;
    let w = c.whh.buffer();
    Ok(match c.kind {
        CellKind::Rnn => vec![
            (1, c.dout.buffer()),
            (2, c.dhn.buffer()),
            (3, w),
            (4, c.lens.buffer()),
            (5, c.hs.buffer()),
            (6, c.dxw.buffer()),
            (7, c.dhh.buffer()),
            (8, c.carry.buffer()),
        ],
        CellKind::Gru => {
            let gates = c.gates.as_ref().ok_or_else(|| missing(op, "gates"))?;
            check_len(op, "gates (D, T, B, 4H)", gates, a.d * a.t * a.b * 4 * a.h)?;
            vec![
                (1, c.dout.buffer()),
                (2, c.dhn.buffer()),
                (3, w),
                (4, c.lens.buffer()),
                (5, c.hs.buffer()),
                (6, gates.buffer()),
                (7, c.dxw.buffer()),
                (8, c.dhh.buffer()),
                (9, c.carry.buffer()),
            ]
        }
        CellKind::Lstm => {
            let gates = c.gates.as_ref().ok_or_else(|| missing(op, "gates"))?;
            let cs = c.cs.as_ref().ok_or_else(|| missing(op, "cs"))?;
            let dcn = c.dcn.as_ref().ok_or_else(|| missing(op, "dc_n"))?;
            let dc_carry = c.dc_carry.as_ref().ok_or_else(|| missing(op, "dc_carry"))?;
            check_len(op, "gates (D, T, B, 4H)", gates, a.d * a.t * a.b * 4 * a.h)?;
            check_len(op, "cs (D, T+1, B, H)", cs, a.d * (a.t + 1) * a.b * a.h)?;
            check_len(op, "dc_n (D, B, H)", dcn, dbh)?;
            check_len(op, "dc_carry (D, B, H)", dc_carry, dbh)?;
            if dcn.offset != c.dhn.offset {
                return Err(Error::InvalidArgument {
                    op,
                    message: "dh_n and dc_n must start at the same offset".into(),
                });
            }
            if kernel == CellKernel::Vec4 {
                // dh_n and dc_n come through the carries; dhh is dxw (one direction).
                return Ok(vec![
                    (1, c.dout.buffer()),
                    (2, w),
                    (3, c.lens.buffer()),
                    (4, cs.buffer()),
                    (5, gates.buffer()),
                    (6, c.dxw.buffer()),
                    (7, c.carry.buffer()),
                    (8, dc_carry.buffer()),
                ]);
            }
            vec![
                (1, c.dout.buffer()),
                (2, c.dhn.buffer()),
                (3, dcn.buffer()),
                (4, w),
                (5, c.lens.buffer()),
                (6, cs.buffer()),
                (7, gates.buffer()),
                (8, c.dxw.buffer()),
                (9, c.dhh.buffer()),
                (10, c.carry.buffer()),
                (11, dc_carry.buffer()),
            ]
        }
    })
}
