//! One Elman RNN step (tanh or relu), forward and backward (torch.nn.RNN, RNNCell).
//! GPU: shaders/rnn_cell_fwd.wgsl, shaders/rnn_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{
    CellDims, Xw, for_each_part, packed_whh, packed_whh_t, parts, prefetch_rows, recurrent_product,
    row_parts, slot_parts, state_grad, tanh,
};

/// Step `dims.s` of both directions: reads `hs[d, s]`, writes `hs[d, s+1]` and `out` at the
/// step's time.
/// Runs steps `dims.s .. dims.s + n` one after another: the kernel is one step (n = 1), the
/// CPU runtime hands it a layer's whole run (see cpu::cell).
#[allow(clippy::too_many_arguments)]
pub fn rnn_cell_fwd(
    hs: &mut [f32],
    out: &mut [f32],
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
        .zip(row_parts(out, &parts, dims, h))
        .zip(&parts)
        .collect();
    let ws: Vec<_> = (0..dims.d)
        .map(|d| packed_whh_t(whh, 1, h, d, bn))
        .collect();
    for_each_part(work, |((mut hs_p, mut out_p), part)| {
        let (d, rows) = (part.d, part.rows.clone());
        let bias = bhh.map(|bb| &bb[d * h..(d + 1) * h]);
        let (nr, lens_p) = (rows.len(), &lens[rows.clone()]);
        let mut hh = vec![0f32; nr * h];
        for dims in dims.run_fwd(n) {
            let (s, t) = (dims.s, dims.time(d));
            let (before, after) = hs_p.split_at_mut(s + 1);
            let prev = &*before[s];
            prefetch_rows(xw, lens, &dims, (d, t), h, rows.clone());
            recurrent_product(&mut hh, prev, &ws[d], bias, lens_p, t);
            let outs = out_p[t * nr..(t + 1) * nr].iter_mut();
            for (i, (next, o)) in after[0].chunks_exact_mut(h).zip(outs).enumerate() {
                let (prev, b) = (&prev[i * h..(i + 1) * h], rows.start + i);
                if t >= lens[b] as usize {
                    next.copy_from_slice(prev);
                    o.fill(0.0);
                    continue;
                }
                let xb = xw.row(&dims, d, t, b, h);
                for j in 0..h {
                    let pre = xb[j] + hh[i * h + j];
                    let hnew = if dims.relu { pre.max(0.0) } else { tanh(pre) };
                    next[j] = hnew;
                    o[j] = hnew;
                }
            }
        }
    });
}

/// Backward of step `dims.s` for both directions: reads `dhh[d, s+1]` and `carry` (or `dhn
/// (D, B, H)` at the last step), writes `dxw` at the step's time, `dhh[d, s]` and `carry`.
/// Runs steps `dims.s, dims.s − 1, …, dims.s − n + 1` one after another: the kernel is one
/// step (n = 1), the CPU runtime hands it a layer's whole run (see cpu::cell).
#[allow(clippy::too_many_arguments)]
pub fn rnn_cell_bwd(
    dxw: &mut [f32],
    dhh: &mut [f32],
    carry: &mut [f32],
    dout: &[f32],
    dhn: &[f32],
    whh: &[f32],
    lens: &[u32],
    hs: &[f32],
    dims: &CellDims,
    n: usize,
) {
    let (bn, h) = (dims.b, dims.h);
    let parts = parts(dims);
    let work: Vec<_> = slot_parts(dhh, &parts, (dims.t, bn), h)
        .into_iter()
        .zip(slot_parts(carry, &parts, (1, bn), h))
        .zip(row_parts(dxw, &parts, dims, h))
        .zip(&parts)
        .collect();
    let ws: Vec<_> = (0..dims.d).map(|d| packed_whh(whh, 1, h, d, bn)).collect();
    for_each_part(work, |(((mut dhh_p, mut carry_p), mut dxw_p), part)| {
        let (d, rows) = (part.d, part.rows.clone());
        let (nr, lens_p) = (rows.len(), &lens[rows.clone()]);
        let dhn_p = &dhn[(d * bn + rows.start) * h..(d * bn + rows.end) * h];
        let carry_p = &mut *carry_p[0];
        let mut dh = vec![0f32; nr * h];
        for dims in dims.run_bwd(n) {
            let (s, t) = (dims.s, dims.time(d));
            let (this, next) = dhh_p.split_at_mut(s + 1);
            let next: &[f32] = next.first().map_or(&[], |n| &**n);
            state_grad(&mut dh, carry_p, dhn_p, next, &ws[d], lens_p, &dims, d);
            let outs = dxw_p[t * nr..(t + 1) * nr]
                .iter_mut()
                .zip(this[s].chunks_exact_mut(h))
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
                let next = dims.state(d, s + 1, b);
                for j in 0..h {
                    let dh = dhb[j] + dout[o + j];
                    let hv = hs[next + j];
                    let dpre = if dims.relu {
                        if hv > 0.0 { dh } else { 0.0 }
                    } else {
                        dh * (1.0 - hv * hv)
                    };
                    dx[j] = dpre;
                    dy[j] = dpre;
                    c[j] = 0.0;
                }
            }
        }
    });
}
