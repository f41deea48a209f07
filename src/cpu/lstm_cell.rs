//! One LSTM step, forward and backward (torch.nn.LSTM: gates i, f, g, o).
//! GPU: shaders/lstm_cell_fwd.wgsl, shaders/lstm_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{
    CellDims, Xw, for_each_part, packed_whh, packed_whh_t, parts, prefetch_rows, recurrent_product,
    row_parts, sigmoid, slot_parts, state_grad, tanh,
};

/// Step `dims.s` of both directions: reads `hs[d, s]`, `cs[d, s]`, writes slot s+1 of both,
/// `out` at the step's time and `gates (D, T, B, 4H)` = i, f, g, o.
/// Runs steps `dims.s .. dims.s + n` one after another: the kernel is one step (n = 1), the
/// CPU runtime hands it a layer's whole run (see cpu::cell).
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_fwd(
    hs: &mut [f32],
    cs: &mut [f32],
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
        .zip(slot_parts(cs, &parts, (dims.t + 1, bn), h))
        .zip(slot_parts(gates, &parts, (dims.t, bn), 4 * h))
        .zip(row_parts(out, &parts, dims, h))
        .zip(&parts)
        .collect();
    let ws: Vec<_> = (0..dims.d)
        .map(|d| packed_whh_t(whh, 4, h, d, bn))
        .collect();
    for_each_part(
        work,
        |((((mut hs_p, mut cs_p), mut gates_p), mut out_p), part)| {
            let (d, rows) = (part.d, part.rows.clone());
            let bias = bhh.map(|bb| &bb[d * 4 * h..(d + 1) * 4 * h]);
            let (nr, lens_p) = (rows.len(), &lens[rows.clone()]);
            let mut hh = vec![0f32; nr * 4 * h];
            for dims in dims.run_fwd(n) {
                let (s, t) = (dims.s, dims.time(d));
                let (h_before, h_after) = hs_p.split_at_mut(s + 1);
                let (c_before, c_after) = cs_p.split_at_mut(s + 1);
                let (h_prev, c_prev) = (&*h_before[s], &*c_before[s]);
                prefetch_rows(xw, lens, &dims, (d, t), 4 * h, rows.clone());
                recurrent_product(&mut hh, h_prev, &ws[d], bias, lens_p, t);
                let steps = h_after[0]
                    .chunks_exact_mut(h)
                    .zip(c_after[0].chunks_exact_mut(h))
                    .zip(gates_p[s].chunks_exact_mut(4 * h))
                    .zip(out_p[t * nr..(t + 1) * nr].iter_mut());
                for (i, (((hn, cn), g), o)) in steps.enumerate() {
                    let (hp, cp) = (&h_prev[i * h..(i + 1) * h], &c_prev[i * h..(i + 1) * h]);
                    let b = rows.start + i;
                    if t >= lens[b] as usize {
                        hn.copy_from_slice(hp);
                        cn.copy_from_slice(cp);
                        o.fill(0.0);
                        continue;
                    }
                    let hhb = &hh[i * 4 * h..(i + 1) * 4 * h];
                    lstm_row(hn, cn, o, g, xw.row(&dims, d, t, b, 4 * h), hhb, cp);
                }
            }
        },
    );
}

/// The gates of one row: h and c next, out (H) and saved (4H) from xw and hh (4H) and c_prev
/// (H). Its own function, compiled for each SIMD width, as `gru_cell::gru_row`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn lstm_row(
    hnext: &mut [f32],
    cnext: &mut [f32],
    out: &mut [f32],
    saved: &mut [f32],
    xw: &[f32],
    hh: &[f32],
    cprev: &[f32],
) {
    let h = hnext.len();
    let (cnext, out, cprev) = (&mut cnext[..h], &mut out[..h], &cprev[..h]);
    let (xw, hh) = (&xw[..4 * h], &hh[..4 * h]);
    let (gi, rest) = saved[..4 * h].split_at_mut(h);
    let (gf, rest) = rest.split_at_mut(h);
    let (gg, go) = rest.split_at_mut(h);
    for j in 0..h {
        let i = sigmoid(xw[j] + hh[j]);
        let f = sigmoid(xw[h + j] + hh[h + j]);
        let g = tanh(xw[2 * h + j] + hh[2 * h + j]);
        let og = sigmoid(xw[3 * h + j] + hh[3 * h + j]);
        let c = f * cprev[j] + i * g;
        let hnew = og * tanh(c);
        cnext[j] = c;
        hnext[j] = hnew;
        out[j] = hnew;
        gi[j] = i;
        gf[j] = f;
        gg[j] = g;
        go[j] = og;
    }
}

/// Backward of step `dims.s` for both directions: reads `dhh[d, s+1]`, `carry` and `dc_carry`
/// (or `dhn`, `dcn (D, B, H)` at the last step), writes `dxw` at the step's time, `dhh[d, s]`,
/// `carry` and `dc_carry`.
/// Runs steps `dims.s, dims.s − 1, …, dims.s − n + 1` one after another: the kernel is one
/// step (n = 1), the CPU runtime hands it a layer's whole run (see cpu::cell).
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
    n: usize,
) {
    let (bn, h) = (dims.b, dims.h);
    let parts = parts(dims);
    let work: Vec<_> = slot_parts(dhh, &parts, (dims.t, bn), 4 * h)
        .into_iter()
        .zip(slot_parts(carry, &parts, (1, bn), h))
        .zip(slot_parts(dc_carry, &parts, (1, bn), h))
        .zip(row_parts(dxw, &parts, dims, 4 * h))
        .zip(&parts)
        .collect();
    let ws: Vec<_> = (0..dims.d).map(|d| packed_whh(whh, 4, h, d, bn)).collect();
    for_each_part(
        work,
        |((((mut dhh_p, mut carry_p), mut dcc_p), mut dxw_p), part)| {
            let (d, rows) = (part.d, part.rows.clone());
            let (nr, lens_p) = (rows.len(), &lens[rows.clone()]);
            let own = (d * bn + rows.start) * h..(d * bn + rows.end) * h;
            let (dhn_p, dcn_p) = (&dhn[own.clone()], &dcn[own]);
            let (carry_p, dcc_p) = (&mut *carry_p[0], &mut *dcc_p[0]);
            let mut dh = vec![0f32; nr * h];
            for dims in dims.run_bwd(n) {
                let (s, t) = (dims.s, dims.time(d));
                let (this, next) = dhh_p.split_at_mut(s + 1);
                let next: &[f32] = next.first().map_or(&[], |n| &**n);
                state_grad(&mut dh, carry_p, dhn_p, next, &ws[d], lens_p, &dims, d);
                if s + 1 == dims.t {
                    dcc_p.copy_from_slice(dcn_p);
                }
                let steps = dxw_p[t * nr..(t + 1) * nr]
                    .iter_mut()
                    .zip(this[s].chunks_exact_mut(4 * h))
                    .zip(carry_p.chunks_exact_mut(h))
                    .zip(dcc_p.chunks_exact_mut(h));
                for (i, (((dx, dy), c), dcc)) in steps.enumerate() {
                    let (dhb, b) = (&dh[i * h..(i + 1) * h], rows.start + i);
                    if t >= lens[b] as usize {
                        c.copy_from_slice(dhb);
                        dx.fill(0.0);
                        dy.fill(0.0);
                        continue;
                    }
                    let o = dims.time_row(d, t, b, h);
                    let g0 = dims.step_row(d, s, b, 4 * h);
                    let (prev, next) = (dims.state(d, s, b), dims.state(d, s + 1, b));
                    let saved = LstmSaved {
                        gates: &gates[g0..g0 + 4 * h],
                        c_prev: &cs[prev..prev + h],
                        c_next: &cs[next..next + h],
                    };
                    lstm_row_bwd(dx, dy, c, dcc, dhb, &dout[o..o + h], saved);
                }
            }
        },
    );
}

/// What one row's backward reads from the forward: the gates i, f, g, o (4H) and the cell
/// state before and after the step.
struct LstmSaved<'a> {
    gates: &'a [f32],
    c_prev: &'a [f32],
    c_next: &'a [f32],
}

/// One row's backward through the gates: from dh (the state's gradient, `dh + dout`) and
/// dc_carry to the pre-activations' gradient (written to both `dxw` and `dhh`), a zero carry
/// and the next dc_carry. Compiled for each SIMD width, as [`lstm_row`].
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn lstm_row_bwd(
    dx: &mut [f32],
    dy: &mut [f32],
    carry: &mut [f32],
    dcc: &mut [f32],
    dh: &[f32],
    dout: &[f32],
    saved: LstmSaved,
) {
    let h = carry.len();
    let (dcc, dh, dout) = (&mut dcc[..h], &dh[..h], &dout[..h]);
    let (gates, cp, cn) = (
        &saved.gates[..4 * h],
        &saved.c_prev[..h],
        &saved.c_next[..h],
    );
    let (dx, dy) = (&mut dx[..4 * h], &mut dy[..4 * h]);
    for j in 0..h {
        let dhj = dh[j] + dout[j];
        let (i, f, g, og) = (gates[j], gates[h + j], gates[2 * h + j], gates[3 * h + j]);
        let tc = tanh(cn[j]);
        let dc = dcc[j] + dhj * og * (1.0 - tc * tc);
        let grads = [
            dc * g * i * (1.0 - i),
            dc * cp[j] * f * (1.0 - f),
            dc * i * (1.0 - g * g),
            dhj * tc * og * (1.0 - og),
        ];
        for (q, gr) in grads.into_iter().enumerate() {
            dx[q * h + j] = gr;
            dy[q * h + j] = gr;
        }
        dcc[j] = dc * f;
    }
    carry.fill(0.0);
}
