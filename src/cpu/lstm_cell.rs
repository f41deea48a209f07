//! One LSTM step, forward and backward (torch.nn.LSTM: gates i, f, g, o).
//! GPU: shaders/lstm_cell_fwd.wgsl, shaders/lstm_cell_bwd.wgsl. Layouts: cpu::cell.

use crate::cpu::cell::{
    CellDims, Xw, direction_parts, for_each_direction, packed_whh, packed_whh_t, prefetch_rows,
    recurrent_product, sigmoid, state_grad, tanh,
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
    let slots = (dims.t + 1) * bn * h;
    let work: Vec<_> = hs
        .chunks_mut(slots)
        .zip(cs.chunks_mut(slots))
        .zip(gates.chunks_mut(dims.t * bn * 4 * h))
        .zip(direction_parts(out, dims, h))
        .take(dims.d)
        .enumerate()
        .collect();
    for_each_direction(work, |(d, (((hs_d, cs_d), gates_d), mut out_d))| {
        let w = packed_whh_t(whh, 4, h, d);
        let bias = bhh.map(|bb| &bb[d * 4 * h..(d + 1) * 4 * h]);
        let mut hh = vec![0f32; bn * 4 * h];
        for dims in dims.run_fwd(n) {
            let t = dims.time(d);
            let split = (dims.s + 1) * bn * h;
            let (h_before, h_after) = hs_d.split_at_mut(split);
            let (c_before, c_after) = cs_d.split_at_mut(split);
            let (h_prev, c_prev) = (&h_before[split - bn * h..], &c_before[split - bn * h..]);
            prefetch_rows(xw, lens, &dims, d, t, 4 * h);
            recurrent_product(&mut hh, h_prev, &w, bias, lens, t);
            let rows = h_after
                .chunks_exact_mut(h)
                .zip(c_after.chunks_exact_mut(h))
                .zip(gates_d[dims.s * bn * 4 * h..].chunks_exact_mut(4 * h))
                .zip(out_d[t * bn..(t + 1) * bn].iter_mut());
            for (b, (((hn, cn), g), o)) in rows.enumerate() {
                let (hp, cp) = (&h_prev[b * h..(b + 1) * h], &c_prev[b * h..(b + 1) * h]);
                if t >= lens[b] as usize {
                    hn.copy_from_slice(hp);
                    cn.copy_from_slice(cp);
                    o.fill(0.0);
                    continue;
                }
                let hhb = &hh[b * 4 * h..(b + 1) * 4 * h];
                lstm_row(hn, cn, o, g, xw.row(&dims, d, t, b, 4 * h), hhb, cp);
            }
        }
    });
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
    let work: Vec<_> = dhh
        .chunks_mut(dims.t * bn * 4 * h)
        .zip(carry.chunks_mut(bn * h))
        .zip(dc_carry.chunks_mut(bn * h))
        .zip(direction_parts(dxw, dims, 4 * h))
        .take(dims.d)
        .enumerate()
        .collect();
    for_each_direction(work, |(d, (((dhh_d, carry_d), dcc_d), mut dxw_d))| {
        let w = packed_whh(whh, 4, h, d);
        let own = d * bn * h..(d + 1) * bn * h;
        let (dhn_d, dcn_d) = (&dhn[own.clone()], &dcn[own]);
        let mut dh = vec![0f32; bn * h];
        for dims in dims.run_bwd(n) {
            let t = dims.time(d);
            let (this, next) = dhh_d.split_at_mut((dims.s + 1) * bn * 4 * h);
            let this = &mut this[dims.s * bn * 4 * h..];
            state_grad(&mut dh, carry_d, dhn_d, next, &w, lens, &dims, d);
            if dims.s + 1 == dims.t {
                dcc_d.copy_from_slice(dcn_d);
            }
            let outs = dxw_d[t * bn..(t + 1) * bn]
                .iter_mut()
                .zip(this.chunks_exact_mut(4 * h))
                .zip(carry_d.chunks_exact_mut(h))
                .zip(dcc_d.chunks_exact_mut(h));
            for (b, (((dx, dy), c), dcc)) in outs.enumerate() {
                let dhb = &dh[b * h..(b + 1) * h];
                if t >= lens[b] as usize {
                    c.copy_from_slice(dhb);
                    dx.fill(0.0);
                    dy.fill(0.0);
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
                    let dc = dcc[j] + dh * og * (1.0 - tc * tc);
                    let grads = [
                        dc * g * i * (1.0 - i),
                        dc * cs[prev + j] * f * (1.0 - f),
                        dc * i * (1.0 - g * g),
                        dh * tc * og * (1.0 - og),
                    ];
                    for (q, gr) in grads.into_iter().enumerate() {
                        dx[q * h + j] = gr;
                        dy[q * h + j] = gr;
                    }
                    c[j] = 0.0;
                    dcc[j] = dc * f;
                }
            }
        }
    });
}
