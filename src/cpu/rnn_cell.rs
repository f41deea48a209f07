//! One Elman RNN step (tanh or relu), forward and backward (torch.nn.RNN, RNNCell).
//! GPU: shaders/rnn_cell_fwd.wgsl, shaders/rnn_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{CellDims, recurrent_product, state_grad, tanh};

/// Step `dims.s` of both directions: reads `hs[d, s]`, writes `hs[d, s+1]` and `out` at the
/// step's time.
pub fn rnn_cell_fwd(
    hs: &mut [f32],
    out: &mut [f32],
    xw: &[f32],
    whh: &[f32],
    bhh: Option<&[f32]>,
    lens: &[u32],
    dims: &CellDims,
) {
    let (bn, h) = (dims.b, dims.h);
    let mut hh = vec![0f32; bn * h];
    for d in 0..dims.d {
        let t = dims.time(d);
        let prev = dims.state(d, dims.s, 0);
        recurrent_product(
            &mut hh,
            &hs[prev..prev + bn * h],
            whh,
            bhh,
            lens,
            1,
            dims,
            d,
        );
        for b in 0..bn {
            let prev = dims.state(d, dims.s, b);
            let next = dims.state(d, dims.s + 1, b);
            let o = dims.time_row(d, t, b, h);
            if t >= lens[b] as usize {
                hs.copy_within(prev..prev + h, next);
                out[o..o + h].fill(0.0);
                continue;
            }
            for j in 0..h {
                let pre = xw[o + j] + hh[b * h + j];
                let hnew = if dims.relu { pre.max(0.0) } else { tanh(pre) };
                hs[next + j] = hnew;
                out[o + j] = hnew;
            }
        }
    }
}

/// Backward of step `dims.s` for both directions: reads `dhh[d, s+1]` and `carry` (or `dhn
/// (D, B, H)` at the last step), writes `dxw` at the step's time, `dhh[d, s]` and `carry`.
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
) {
    let (bn, h) = (dims.b, dims.h);
    let mut dh = vec![0f32; bn * h];
    for d in 0..dims.d {
        let t = dims.time(d);
        state_grad(&mut dh, carry, dhn, dhh, whh, lens, 1, dims, d);
        for b in 0..bn {
            let c = (d * bn + b) * h;
            let x = dims.time_row(d, t, b, h);
            let y = dims.step_row(d, dims.s, b, h);
            let dhb = &dh[b * h..(b + 1) * h];
            if t >= lens[b] as usize {
                carry[c..c + h].copy_from_slice(dhb);
                dxw[x..x + h].fill(0.0);
                dhh[y..y + h].fill(0.0);
                continue;
            }
            let next = dims.state(d, dims.s + 1, b);
            for j in 0..h {
                let dh = dhb[j] + dout[x + j];
                let hv = hs[next + j];
                let dpre = if dims.relu {
                    if hv > 0.0 { dh } else { 0.0 }
                } else {
                    dh * (1.0 - hv * hv)
                };
                dxw[x + j] = dpre;
                dhh[y + j] = dpre;
                carry[c + j] = 0.0;
            }
        }
    }
}
