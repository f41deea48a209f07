//! One GRU step, forward and backward (torch.nn.GRU: gates r, z, n).
//! GPU: shaders/gru_cell_fwd.wgsl, shaders/gru_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{
    CellDims, Xw, for_each_part, packed_whh, packed_whh_t, parts, prefetch_rows, recurrent_product,
    row_parts, sigmoid, slot_parts, state_grad, tanh,
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
    let parts = parts(dims);
    let work: Vec<_> = slot_parts(hs, &parts, (dims.t + 1, bn), h)
        .into_iter()
        .zip(slot_parts(gates, &parts, (dims.t, bn), 4 * h))
        .zip(row_parts(out, &parts, dims, h))
        .zip(&parts)
        .collect();
    let ws: Vec<_> = (0..dims.d)
        .map(|d| packed_whh_t(whh, 3, h, d, bn))
        .collect();
    for_each_part(work, |(((mut hs_p, mut gates_p), mut out_p), part)| {
        let (d, rows) = (part.d, part.rows.clone());
        let bias = bhh.map(|bb| &bb[d * 3 * h..(d + 1) * 3 * h]);
        let (nr, lens_p) = (rows.len(), &lens[rows.clone()]);
        let mut hh = vec![0f32; nr * 3 * h];
        for dims in dims.run_fwd(n) {
            let (s, t) = (dims.s, dims.time(d));
            // This part's states before and after the step.
            let (before, after) = hs_p.split_at_mut(s + 1);
            let prev = &*before[s];
            prefetch_rows(xw, lens, &dims, (d, t), 3 * h, rows.clone());
            recurrent_product(&mut hh, prev, &ws[d], bias, lens_p, t);
            let saved = gates_p[s].chunks_exact_mut(4 * h);
            let outs = out_p[t * nr..(t + 1) * nr].iter_mut();
            let steps = after[0].chunks_exact_mut(h).zip(saved).zip(outs);
            for (i, ((next, g), o)) in steps.enumerate() {
                let (prev, b) = (&prev[i * h..(i + 1) * h], rows.start + i);
                if t >= lens[b] as usize {
                    next.copy_from_slice(prev);
                    o.fill(0.0);
                    continue;
                }
                let hhb = &hh[i * 3 * h..(i + 1) * 3 * h];
                gru_row(next, o, g, xw.row(&dims, d, t, b, 3 * h), hhb, prev);
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
    let parts = parts(dims);
    let work: Vec<_> = slot_parts(dhh, &parts, (dims.t, bn), 3 * h)
        .into_iter()
        .zip(slot_parts(carry, &parts, (1, bn), h))
        .zip(row_parts(dxw, &parts, dims, 3 * h))
        .zip(&parts)
        .collect();
    let ws: Vec<_> = (0..dims.d).map(|d| packed_whh(whh, 3, h, d, bn)).collect();
    for_each_part(work, |(((mut dhh_p, mut carry_p), mut dxw_p), part)| {
        let (d, rows) = (part.d, part.rows.clone());
        let (nr, lens_p) = (rows.len(), &lens[rows.clone()]);
        let dhn_p = &dhn[(d * bn + rows.start) * h..(d * bn + rows.end) * h];
        let carry_p = &mut *carry_p[0];
        let mut dh = vec![0f32; nr * h];
        for dims in dims.run_bwd(n) {
            let (s, t) = (dims.s, dims.time(d));
            // This part's dhh at step s (written) and s + 1 (read).
            let (this, next) = dhh_p.split_at_mut(s + 1);
            let next: &[f32] = next.first().map_or(&[], |n| &**n);
            state_grad(&mut dh, carry_p, dhn_p, next, &ws[d], lens_p, &dims, d);
            let outs = dxw_p[t * nr..(t + 1) * nr]
                .iter_mut()
                .zip(this[s].chunks_exact_mut(3 * h))
                .zip(carry_p.chunks_exact_mut(h));
            for (i, ((dx, dy), c)) in outs.enumerate() {
                let (dhb, b) = (&dh[i * h..(i + 1) * h], rows.start + i);
                if t >= lens[b] as usize {
                    c.copy_from_slice(dhb);
                    dx.fill(0.0);
                    dy.fill(0.0);
                    continue;
                }
                let o = dims.time_row(d, t, b, h);
                let g = dims.step_row(d, s, b, 4 * h);
                let prev = dims.state(d, s, b);
                let saved = (&gates[g..g + 4 * h], &hs[prev..prev + h]);
                gru_bwd_row(dx, dy, c, dhb, &dout[o..o + h], saved.0, saved.1);
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
