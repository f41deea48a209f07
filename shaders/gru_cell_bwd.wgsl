// gru_cell_bwd: one time step of a GRU layer's backward pass, both directions in one dispatch.
// Steps run s = T − 1 … 0 (the forward loop read backwards).
//
// dh, the gradient of the state after step s (hs[d, s+1]), is dh_n at s = T − 1 and otherwise
//   dh = carry + Σ_k dhh[d, s+1, b, k] · W_hh[d, k, j]        (the recurrent product, fused)
// plus dout at (t, b) when the row is active. Then, with r, z, n, hn saved by gru_cell_fwd:
//   dn' = dh (1 − z)(1 − n²)      dz' = dh (h_prev − n) z (1 − z)      dr' = dn' hn r (1 − r)
//   dxw   = [dr', dz', dn']       (gradient of the input projection, for dW_ih, db_ih, dx)
//   dhh   = [dr', dz', dn' ⊙ r]   (gradient of W_hh·h + b_hh, for dW_hh, db_hh, step s − 1)
//   carry = dh ⊙ z                (the direct path to h_prev)
// A row past its end passes dh through: carry = dh, dxw = dhh = 0.
// After the loop, dh0 = carry + dhh[d, 0]·W_hh (a matmul, see model::rnn).
//
// Layouts: dout (T, B, D·H), dhn (D, B, H) at dhn_off, dxw (T, B, D·3H) time order,
// dhh (D, T, B, 3H) step order, carry (D, B, H); the rest as in gru_cell_fwd.
// Dispatch: one invocation per (b, j), z = d.
// CPU twin: src/cpu/gru_cell.rs (cpu::gru_cell::gru_cell_bwd).

struct CellParams {
    b: u32,
    h: u32,
    d: u32,
    t: u32,
    s: u32,
    first: u32,
    relu: u32,
    has_bias: u32,
    whh_off: u32,
    bhh_off: u32,
    dhn_off: u32,
    gather: u32,   // forward only
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: CellParams;
@group(0) @binding(1) var<storage, read> dout: array<f32>;          // (T, B, D·H)
@group(0) @binding(2) var<storage, read> dhn: array<f32>;           // (D, B, H) at dhn_off
@group(0) @binding(3) var<storage, read> w: array<f32>;             // W_hh (D, 3H, H)
@group(0) @binding(4) var<storage, read> lens: array<u32>;          // (B)
@group(0) @binding(5) var<storage, read> hs: array<f32>;            // (D, T+1, B, H)
@group(0) @binding(6) var<storage, read> gates: array<f32>;         // (D, T, B, 4H)
@group(0) @binding(7) var<storage, read_write> dxw: array<f32>;     // (T, B, D·3H)
@group(0) @binding(8) var<storage, read_write> dhh: array<f32>;     // (D, T, B, 3H)
@group(0) @binding(9) var<storage, read_write> carry: array<f32>;   // (D, B, H)

@compute @workgroup_size(WG)
fn gru_cell_bwd(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let idx = gid.x + gid.y * nwg.x * WG;
    let H = p.h;
    if idx >= p.b * H {
        return;
    }
    let b = idx / H;
    let j = idx % H;
    let d = gid.z;
    let t = select(p.s, p.t - 1u - p.s, d == 1u);
    let c = (d * p.b + b) * H + j;

    var dh: f32;
    if p.first != 0u {
        dh = dhn[p.dhn_off + c];
    } else {
        dh = carry[c];
        let row = ((d * p.t + p.s + 1u) * p.b + b) * 3u * H;
        let wcol = p.whh_off + d * 3u * H * H + j;
        for (var k = 0u; k < 3u * H; k++) {
            dh += dhh[row + k] * w[wcol + k * H];
        }
    }

    let x = (t * p.b + b) * p.d * 3u * H + d * 3u * H + j;
    let y = ((d * p.t + p.s) * p.b + b) * 3u * H + j;
    if t >= lens[b] {
        carry[c] = dh;
        dxw[x] = 0.0;
        dxw[x + H] = 0.0;
        dxw[x + 2u * H] = 0.0;
        dhh[y] = 0.0;
        dhh[y + H] = 0.0;
        dhh[y + 2u * H] = 0.0;
        return;
    }
    dh += dout[(t * p.b + b) * p.d * H + d * H + j];

    let g = ((d * p.t + p.s) * p.b + b) * 4u * H + j;
    let r = gates[g];
    let z = gates[g + H];
    let n = gates[g + 2u * H];
    let hn = gates[g + 3u * H];
    let h_prev = hs[((d * (p.t + 1u) + p.s) * p.b + b) * H + j];

    let dn = dh * (1.0 - z) * (1.0 - n * n);
    let dz = dh * (h_prev - n) * z * (1.0 - z);
    let dr = dn * hn * r * (1.0 - r);
    dxw[x] = dr;
    dxw[x + H] = dz;
    dxw[x + 2u * H] = dn;
    dhh[y] = dr;
    dhh[y + H] = dz;
    dhh[y + 2u * H] = dn * r;
    carry[c] = dh * z;
}
