//! One GRU step, forward and backward (torch.nn.GRU: gates r, z, n).
//! GPU: shaders/gru_cell_fwd.wgsl, shaders/gru_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{CellDims, recurrent_product, sigmoid, state_grad, tanh};

/// Step `dims.s` of both directions: reads `hs[d, s]`, writes `hs[d, s+1]`, `out` at the
/// step's time and `gates (D, T, B, 4H)` = r, z, n, hn.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_fwd(
    hs: &mut [f32],
    out: &mut [f32],
    gates: &mut [f32],
    xw: &[f32],
    whh: &[f32],
    bhh: Option<&[f32]>,
    lens: &[u32],
    dims: &CellDims,
) {
    let (bn, h) = (dims.b, dims.h);
    let mut hh = vec![0f32; bn * 3 * h];
    for d in 0..dims.d {
        let t = dims.time(d);
        recurrent_product(&mut hh, hs, whh, bhh, lens, 3, dims, d);
        for b in 0..bn {
            let prev = dims.state(d, dims.s, b);
            let next = dims.state(d, dims.s + 1, b);
            let g = dims.step_row(d, dims.s, b, 4 * h);
            let o = dims.time_row(d, t, b, h);
            if t >= lens[b] as usize {
                hs.copy_within(prev..prev + h, next);
                out[o..o + h].fill(0.0);
                gates[g..g + 4 * h].fill(0.0);
                continue;
            }
            let x = dims.time_row(d, t, b, 3 * h);
            let (before, after) = hs.split_at_mut(next);
            gru_row(
                &mut after[..h],
                &mut out[o..o + h],
                &mut gates[g..g + 4 * h],
                &xw[x..x + 3 * h],
                &hh[b * 3 * h..(b + 1) * 3 * h],
                &before[prev..prev + h],
            );
        }
    }
}

/// The gates of one row: h_next, out (H) and saved (4H) from xw and hh (3H) and h_prev (H).
/// Its own function so the slices are known not to overlap and the loop runs as SIMD.
#[inline(never)]
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
) {
    let (bn, h) = (dims.b, dims.h);
    let mut dh = vec![0f32; bn * h];
    for d in 0..dims.d {
        let t = dims.time(d);
        state_grad(&mut dh, carry, dhn, dhh, whh, lens, 3, dims, d);
        for b in 0..bn {
            let c = (d * bn + b) * h;
            let x = dims.time_row(d, t, b, 3 * h);
            let y = dims.step_row(d, dims.s, b, 3 * h);
            let dhb = &dh[b * h..(b + 1) * h];
            if t >= lens[b] as usize {
                carry[c..c + h].copy_from_slice(dhb);
                dxw[x..x + 3 * h].fill(0.0);
                dhh[y..y + 3 * h].fill(0.0);
                continue;
            }
            let o = dims.time_row(d, t, b, h);
            let g = dims.step_row(d, dims.s, b, 4 * h);
            let prev = dims.state(d, dims.s, b);
            for j in 0..h {
                let dh = dhb[j] + dout[o + j];
                let (r, z, n, hn) = (
                    gates[g + j],
                    gates[g + h + j],
                    gates[g + 2 * h + j],
                    gates[g + 3 * h + j],
                );
                let dn = dh * (1.0 - z) * (1.0 - n * n);
                let dz = dh * (hs[prev + j] - n) * z * (1.0 - z);
                let dr = dn * hn * r * (1.0 - r);
                dxw[x + j] = dr;
                dxw[x + h + j] = dz;
                dxw[x + 2 * h + j] = dn;
                dhh[y + j] = dr;
                dhh[y + h + j] = dz;
                dhh[y + 2 * h + j] = dn * r;
                carry[c + j] = dh * z;
            }
        }
    }
}
