//! One GRU step, forward and backward (torch.nn.GRU: gates r, z, n).
//! GPU: shaders/gru_cell_fwd.wgsl, shaders/gru_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{
    CellDims, Xw, direction_parts, for_each_part, packed_whh, packed_whh_t, prefetch_rows,
    recurrent_product, sigmoid, state_grad, tanh,
};

/// Step `dims.s` of both directions: reads `hs[d, s]`, writes `hs[d, s+1]`, `out` at the
/// step's time and `gates (D, T, B, 4H)` = r, z, n, hn.
/// Runs steps `dims.s .. dims.s + n` one after another: the kernel is one step (n = 1), the
/// CPU runtime hands it a layer's whole run (see cpu::cell).
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_fwd(
    hs: &mut [f32],
    out: &mut [f32],
    gates: &mut [f32],
    xw: Xw,
    whh: &[f32],
    bhh: Option<&[f32]>,
    lens: &[u32],
    dims: &CellDims,
    n: usize,
) {
    let (bn, h) = (dims.b, dims.h);
    let work: Vec<_> = hs
        .chunks_mut((dims.t + 1) * bn * h)
        .zip(gates.chunks_mut(dims.t * bn * 4 * h))
        .zip(direction_parts(out, dims, h))
        .take(dims.d)
        .enumerate()
        .collect();
    for_each_part(work, |(d, ((hs_d, gates_d), mut out_d))| {
        let w = packed_whh_t(whh, 3, h, d, bn);
        let bias = bhh.map(|bb| &bb[d * 3 * h..(d + 1) * 3 * h]);
        let mut hh = vec![0f32; bn * 3 * h];
        for dims in dims.run_fwd(n) {
            let t = dims.time(d);
            // This direction's states before and after the step.
            let (before, after) = hs_d.split_at_mut((dims.s + 1) * bn * h);
            let prev = &before[dims.s * bn * h..];
            prefetch_rows(xw, lens, &dims, (d, t), 3 * h, 0..dims.b);
            recurrent_product(&mut hh, prev, &w, bias, lens, t);
            let saved = gates_d[dims.s * bn * 4 * h..].chunks_exact_mut(4 * h);
            let outs = out_d[t * bn..(t + 1) * bn].iter_mut();
            let rows = after.chunks_exact_mut(h).zip(saved).zip(outs);
            for (b, ((next, g), o)) in rows.enumerate() {
                let prev = &prev[b * h..(b + 1) * h];
                if t >= lens[b] as usize {
                    next.copy_from_slice(prev);
                    o.fill(0.0);
                    continue;
                }
                gru_row(
                    next,
                    o,
                    g,
                    xw.row(&dims, d, t, b, 3 * h),
                    &hh[b * 3 * h..(b + 1) * 3 * h],
                    prev,
                );
            }
        }
    });
}

/// The gates of one row: h_next, out (H) and saved (4H) from xw and hh (3H) and h_prev (H).
/// Its own function so the slices are known not to overlap and the loop runs as SIMD, compiled
/// for each SIMD width and picked by the CPU's features.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn gru_row(
    hnext: &mut [f32],
    out: &mut [f32],
    saved: &mut [f32],
    xw: &[f32],
    hh: &[f32],
    hprev: &[f32],
) {
    let h = hnext.len();
    let (xr, xz, xn) = (&xw[..h], &xw[h..2 * h], &xw[2 * h..3 * h]);
    let (hr, hz, hn) = (&hh[..h], &hh[h..2 * h], &hh[2 * h..3 * h]);
    let (gr, rest) = saved[..4 * h].split_at_mut(h);
    let (gz, rest) = rest.split_at_mut(h);
    let (gn, ghn) = rest.split_at_mut(h);
    let (out, hprev) = (&mut out[..h], &hprev[..h]);
    for j in 0..h {
        let r = sigmoid(xr[j] + hr[j]);
        let z = sigmoid(xz[j] + hz[j]);
        let n = tanh(xn[j] + r * hn[j]);
        let hnew = (1.0 - z) * n + z * hprev[j];
        hnext[j] = hnew;
        out[j] = hnew;
        gr[j] = r;
        gz[j] = z;
        gn[j] = n;
        ghn[j] = hn[j];
    }
}

/// Backward of step `dims.s` for both directions: reads `dhh[d, s+1]` and `carry` (or `dhn
/// (D, B, H)` at the last step), writes `dxw` at the step's time, `dhh[d, s]` and `carry`.
/// Runs steps `dims.s, dims.s − 1, …, dims.s − n + 1` one after another: the kernel is one
/// step (n = 1), the CPU runtime hands it a layer's whole run (see cpu::cell).
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_bwd(
    dxw: &mut [f32],
    dhh: &mut [f32],
    carry: &mut [f32],
    dout: &[f32],
    dhn: &[f32],
    whh: &[f32],
    lens: &[u32],
    hs: &[f32],
    gates: &[f32],
    dims: &CellDims,
    n: usize,
) {
    let (bn, h) = (dims.b, dims.h);
    let work: Vec<_> = dhh
        .chunks_mut(dims.t * bn * 3 * h)
        .zip(carry.chunks_mut(bn * h))
        .zip(direction_parts(dxw, dims, 3 * h))
        .take(dims.d)
        .enumerate()
        .collect();
    for_each_part(work, |(d, ((dhh_d, carry_d), mut dxw_d))| {
        let w = packed_whh(whh, 3, h, d, bn);
        let dhn_d = &dhn[d * bn * h..(d + 1) * bn * h];
        let mut dh = vec![0f32; bn * h];
        for dims in dims.run_bwd(n) {
            let t = dims.time(d);
            // This direction's dhh at step s (written) and s + 1 (read).
            let (this, next) = dhh_d.split_at_mut((dims.s + 1) * bn * 3 * h);
            let this = &mut this[dims.s * bn * 3 * h..];
            state_grad(&mut dh, carry_d, dhn_d, next, &w, lens, &dims, d);
            let outs = dxw_d[t * bn..(t + 1) * bn]
                .iter_mut()
                .zip(this.chunks_exact_mut(3 * h))
                .zip(carry_d.chunks_exact_mut(h));
            for (b, ((dx, dy), c)) in outs.enumerate() {
                let dhb = &dh[b * h..(b + 1) * h];
                if t >= lens[b] as usize {
                    c.copy_from_slice(dhb);
                    dx.fill(0.0);
                    dy.fill(0.0);
                    continue;
                }
                let o = dims.time_row(d, t, b, h);
                let g = dims.step_row(d, dims.s, b, 4 * h);
                let prev = dims.state(d, dims.s, b);
                gru_bwd_row(
                    dx,
                    dy,
                    c,
                    dhb,
                    &dout[o..o + h],
                    &gates[g..g + 4 * h],
                    &hs[prev..prev + h],
                );
            }
        }
    });
}

/// The gate gradients of one row: dxw and dhh (3H) and the new carry (H), from dh (the
/// gradient from later steps), dout, the saved gates (4H) and h_prev. As `gru_row`: its own
/// function, compiled for each SIMD width.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn gru_bwd_row(
    dxw: &mut [f32],
    dhh: &mut [f32],
    carry: &mut [f32],
    dh: &[f32],
    dout: &[f32],
    saved: &[f32],
    hprev: &[f32],
) {
    let h = carry.len();
    let (dxr, rest) = dxw[..3 * h].split_at_mut(h);
    let (dxz, dxn) = rest.split_at_mut(h);
    let (dyr, rest) = dhh[..3 * h].split_at_mut(h);
    let (dyz, dyn_) = rest.split_at_mut(h);
    let (gr, gz, gn, ghn) = (
        &saved[..h],
        &saved[h..2 * h],
        &saved[2 * h..3 * h],
        &saved[3 * h..4 * h],
    );
    let (dh, dout, hprev) = (&dh[..h], &dout[..h], &hprev[..h]);
    for j in 0..h {
        let dhj = dh[j] + dout[j];
        let (r, z, n, hn) = (gr[j], gz[j], gn[j], ghn[j]);
        let dn = dhj * (1.0 - z) * (1.0 - n * n);
        let dz = dhj * (hprev[j] - n) * z * (1.0 - z);
        let dr = dn * hn * r * (1.0 - r);
        dxr[j] = dr;
        dxz[j] = dz;
        dxn[j] = dn;
        dyr[j] = dr;
        dyz[j] = dz;
        dyn_[j] = dn * r;
        carry[j] = dhj * z;
    }
}
