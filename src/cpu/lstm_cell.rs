//! One LSTM step, forward and backward (torch.nn.LSTM: gates i, f, g, o).
//! GPU: shaders/lstm_cell_fwd.wgsl, shaders/lstm_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{CellDims, recurrent_product, sigmoid, state_grad, tanh};

/// Step `dims.s` of both directions: reads `hs[d, s]`, `cs[d, s]`, writes slot s+1 of both,
/// `out` at the step's time and `gates (D, T, B, 4H)` = i, f, g, o.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_fwd(
    hs: &mut [f32],
    cs: &mut [f32],
    out: &mut [f32],
    gates: &mut [f32],
    xw: &[f32],
    whh: &[f32],
    bhh: Option<&[f32]>,
    lens: &[u32],
    dims: &CellDims,
) {
    let (bn, h) = (dims.b, dims.h);
    let mut hh = vec![0f32; bn * 4 * h];
    for d in 0..dims.d {
        let t = dims.time(d);
        let prev = dims.state(d, dims.s, 0);
        recurrent_product(
            &mut hh,
            &hs[prev..prev + bn * h],
            whh,
            bhh,
            lens,
            4,
            dims,
            d,
        );
        for b in 0..bn {
            let prev = dims.state(d, dims.s, b);
            let next = dims.state(d, dims.s + 1, b);
            let g0 = dims.step_row(d, dims.s, b, 4 * h);
            let o = dims.time_row(d, t, b, h);
            if t >= lens[b] as usize {
                hs.copy_within(prev..prev + h, next);
                cs.copy_within(prev..prev + h, next);
                out[o..o + h].fill(0.0);
                gates[g0..g0 + 4 * h].fill(0.0);
                continue;
            }
            let x = dims.time_row(d, t, b, 4 * h);
            let hhb = &hh[b * 4 * h..(b + 1) * 4 * h];
            for j in 0..h {
                let i = sigmoid(xw[x + j] + hhb[j]);
                let f = sigmoid(xw[x + h + j] + hhb[h + j]);
                let g = tanh(xw[x + 2 * h + j] + hhb[2 * h + j]);
                let og = sigmoid(xw[x + 3 * h + j] + hhb[3 * h + j]);
                let c = f * cs[prev + j] + i * g;
                let hnew = og * tanh(c);
                cs[next + j] = c;
                hs[next + j] = hnew;
                out[o + j] = hnew;
                gates[g0 + j] = i;
                gates[g0 + h + j] = f;
                gates[g0 + 2 * h + j] = g;
                gates[g0 + 3 * h + j] = og;
            }
        }
    }
}

/// Backward of step `dims.s` for both directions: reads `dhh[d, s+1]`, `carry` and `dc_carry`
/// (or `dhn`, `dcn (D, B, H)` at the last step), writes `dxw` at the step's time, `dhh[d, s]`,
/// `carry` and `dc_carry`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_bwd(
    dxw: &mut [f32],
    dhh: &mut [f32],
    carry: &mut [f32],
    dc_carry: &mut [f32],
    dout: &[f32],
    dhn: &[f32],
    dcn: &[f32],
    whh: &[f32],
    lens: &[u32],
    cs: &[f32],
    gates: &[f32],
    dims: &CellDims,
) {
    let (bn, h) = (dims.b, dims.h);
    let last = dims.s + 1 == dims.t;
    let mut dh = vec![0f32; bn * h];
    for d in 0..dims.d {
        let t = dims.time(d);
        state_grad(&mut dh, carry, dhn, dhh, whh, lens, 4, dims, d);
        for b in 0..bn {
            let c = (d * bn + b) * h;
            let x = dims.time_row(d, t, b, 4 * h);
            let y = dims.step_row(d, dims.s, b, 4 * h);
            let dhb = &dh[b * h..(b + 1) * h];
            if last {
                dc_carry[c..c + h].copy_from_slice(&dcn[c..c + h]);
            }
            if t >= lens[b] as usize {
                carry[c..c + h].copy_from_slice(dhb);
                dxw[x..x + 4 * h].fill(0.0);
                dhh[y..y + 4 * h].fill(0.0);
                continue;
            }
            let o = dims.time_row(d, t, b, h);
            let g0 = dims.step_row(d, dims.s, b, 4 * h);
            let prev = dims.state(d, dims.s, b);
            let next = dims.state(d, dims.s + 1, b);
            for j in 0..h {
                let dh = dhb[j] + dout[o + j];
                let (i, f, g, og) = (
                    gates[g0 + j],
                    gates[g0 + h + j],
                    gates[g0 + 2 * h + j],
                    gates[g0 + 3 * h + j],
                );
                let tc = tanh(cs[next + j]);
                let dc = dc_carry[c + j] + dh * og * (1.0 - tc * tc);
                let grads = [
                    dc * g * i * (1.0 - i),
                    dc * cs[prev + j] * f * (1.0 - f),
                    dc * i * (1.0 - g * g),
                    dh * tc * og * (1.0 - og),
                ];
                for (q, gr) in grads.into_iter().enumerate() {
                    dxw[x + q * h + j] = gr;
                    dhh[y + q * h + j] = gr;
                }
                carry[c + j] = 0.0;
                dc_carry[c + j] = dc * f;
            }
        }
    }
}
