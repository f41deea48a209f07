//! One Elman RNN step (tanh or relu), forward and backward (torch.nn.RNN, RNNCell).
//! GPU: shaders/rnn_cell_fwd.wgsl, shaders/rnn_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{
    CellDims, Xw, direction_parts, for_each_part, packed_whh, packed_whh_t, prefetch_rows,
    recurrent_product, state_grad, tanh,
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
    let work: Vec<_> = hs
        .chunks_mut((dims.t + 1) * bn * h)
        .zip(direction_parts(out, dims, h))
        .take(dims.d)
        .enumerate()
        .collect();
    for_each_part(work, |(d, (hs_d, mut out_d))| {
        let w = packed_whh_t(whh, 1, h, d, bn);
        let bias = bhh.map(|bb| &bb[d * h..(d + 1) * h]);
        let mut hh = vec![0f32; bn * h];
        for dims in dims.run_fwd(n) {
            let t = dims.time(d);
            let (before, after) = hs_d.split_at_mut((dims.s + 1) * bn * h);
            let prev = &before[dims.s * bn * h..];
            prefetch_rows(xw, lens, &dims, (d, t), h, 0..dims.b);
            recurrent_product(&mut hh, prev, &w, bias, lens, t);
            let outs = out_d[t * bn..(t + 1) * bn].iter_mut();
            for (b, (next, o)) in after.chunks_exact_mut(h).zip(outs).enumerate() {
                let prev = &prev[b * h..(b + 1) * h];
                if t >= lens[b] as usize {
                    next.copy_from_slice(prev);
                    o.fill(0.0);
                    continue;
                }
                let xb = xw.row(&dims, d, t, b, h);
                for j in 0..h {
                    let pre = xb[j] + hh[b * h + j];
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
    let work: Vec<_> = dhh
        .chunks_mut(dims.t * bn * h)
        .zip(carry.chunks_mut(bn * h))
        .zip(direction_parts(dxw, dims, h))
        .take(dims.d)
        .enumerate()
        .collect();
    for_each_part(work, |(d, ((dhh_d, carry_d), mut dxw_d))| {
        let w = packed_whh(whh, 1, h, d, bn);
        let dhn_d = &dhn[d * bn * h..(d + 1) * bn * h];
        let mut dh = vec![0f32; bn * h];
        for dims in dims.run_bwd(n) {
            let t = dims.time(d);
            let (this, next) = dhh_d.split_at_mut((dims.s + 1) * bn * h);
            let this = &mut this[dims.s * bn * h..];
            state_grad(&mut dh, carry_d, dhn_d, next, &w, lens, &dims, d);
            let outs = dxw_d[t * bn..(t + 1) * bn]
                .iter_mut()
                .zip(this.chunks_exact_mut(h))
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
                let next = dims.state(d, dims.s + 1, b);
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
