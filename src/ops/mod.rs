//! Host side of each kernel: one module per WGSL file, same names as the CPU twins in
//! `cpu/`. An op is built once — pipeline, uniform buffer, bind group, grid — as a
//! [`Dispatch`] (or a small struct of them), then recorded into as many steps as needed.

pub mod adam;
pub mod bias_grad;
pub mod cell;
pub mod copy;
pub mod cross_entropy;
pub mod dropout;
pub mod embedding;
pub mod fill;
pub mod grad_norm;
pub mod matmul;
pub mod mse;
pub mod sgd;

use crate::gpu::{Dispatch, GpuContext, Slice};
use crate::shaders::Shader;

/// Every kernel's uniform struct: the shader, the struct's name in it and the size of its
/// Rust mirror. tests/shaders.rs checks each size against the WGSL, and that every shader
/// with a uniform is here.
pub fn uniforms() -> Vec<(&'static Shader, &'static str, usize)> {
    [
        adam::UNIFORMS,
        bias_grad::UNIFORMS,
        cell::UNIFORMS,
        copy::UNIFORMS,
        cross_entropy::UNIFORMS,
        dropout::UNIFORMS,
        embedding::UNIFORMS,
        fill::UNIFORMS,
        grad_norm::UNIFORMS,
        matmul::UNIFORMS,
        mse::UNIFORMS,
        sgd::UNIFORMS,
    ]
    .concat()
}
use crate::{Error, Result};

/// Workgroups for `n` invocations in groups of `wg`, folded into y when x would pass the
/// adapter's per-dimension limit. Kernels rebuild the index as `gid.x + gid.y · nwg.x · WG`.
pub(crate) fn grid_1d(ctx: &GpuContext, n: usize, wg: u32) -> [u32; 3] {
    let groups = n.div_ceil(wg as usize).max(1);
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    if groups <= max {
        [groups as u32, 1, 1]
    } else {
        [max as u32, groups.div_ceil(max) as u32, 1]
    }
}

/// `v` as a u32 uniform field, or a shape error naming the op.
pub(crate) fn to_u32(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Shape {
        op,
        expected: format!("{what} < 2^32"),
        got: v.to_string(),
    })
}

/// Fail unless `s` holds at least `need` elements.
pub(crate) fn check_len(op: &'static str, what: &str, s: &Slice, need: usize) -> Result<()> {
    if s.len < need {
        return Err(Error::Shape {
            op,
            expected: format!("{what} with at least {need} elements"),
            got: format!("{} elements of {}", s.len, s.tensor.label),
        });
    }
    Ok(())
}

/// A buffer an op writes may not also be bound for reading in the same dispatch.
pub(crate) fn check_distinct(op: &'static str, written: &Slice, read: &[&Slice]) -> Result<()> {
    if let Some(r) = read.iter().find(|r| r.buffer() == written.buffer()) {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "{} is both read and written; use separate tensors",
                r.tensor.label
            ),
        });
    }
    Ok(())
}

/// Default workgroup size of the element-wise kernels (`override WG`).
pub(crate) const WG: u32 = 64;

/// The checks an optimizer's operands share (adam, sgd): `written` and `grads` all (P) from
/// offset 0, `sched` of `sched_len` values from offset 0, `clip` [norm, coef], and nothing
/// written also bound for reading.
pub(crate) fn check_optimizer(
    op: &'static str,
    written: &[(&Slice, &str)],
    grads: &Slice,
    clip: Option<&Slice>,
    (sched, sched_len): (&Slice, usize),
) -> Result<()> {
    let n = written[0].0.len;
    for (s, what) in written.iter().copied().chain([(grads, "grads")]) {
        if s.len != n {
            return Err(Error::Shape {
                op,
                expected: format!("{what} with {n} elements"),
                got: s.len.to_string(),
            });
        }
    }
    for s in written.iter().map(|w| w.0).chain([grads, sched]) {
        if s.offset != 0 {
            return Err(Error::InvalidArgument {
                op,
                message: format!("{} must start at offset 0", s.tensor.label),
            });
        }
    }
    check_len(op, "sched", sched, sched_len)?;
    if let Some(c) = clip {
        check_len(op, "clip [norm, coef]", c, 2)?;
    }
    let reads: Vec<&Slice> = [Some(grads), Some(sched), clip]
        .into_iter()
        .flatten()
        .collect();
    for (s, _) in written {
        check_distinct(op, s, &reads)?;
    }
    Ok(())
}
