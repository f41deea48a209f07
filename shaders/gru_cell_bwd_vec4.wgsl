// gru_cell_bwd_vec4: gru_cell_bwd (same math, layouts and CellParams) for H, the W_hh offset
// and the dh_n offset all multiples of 4, register-tiled with vec4 loads and stores.
//
// Each invocation owns a tile of 4 batch rows × 4 hidden units of one direction. The
// recurrent part of dh, Σ_k dhh[d, s+1, b, k] · W_hh[d, k, j], takes per 4 values of k the 4
// rows of dhh (vec4 along k) and 4 rows of W_hh (vec4 along the tile's units): 64
// multiply-adds for 8 loads. Everything after is gru_cell_bwd's per-element math on vec4s.
// Dispatch: one invocation per (row quad, unit quad), idx = bq·(H/4) + jq over x/y, z = d.
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

@group(0) @binding(1) var<storage, read> dout: array<vec4<f32>>;         // (T, B, D·H)
@group(0) @binding(2) var<storage, read> dhn: array<vec4<f32>>;          // (D, B, H) at dhn_off
@group(0) @binding(3) var<storage, read> w: array<vec4<f32>>;            // W_hh (D, 3H, H)
@group(0) @binding(4) var<storage, read> lens: array<u32>;               // (B)
@group(0) @binding(5) var<storage, read> hs: array<vec4<f32>>;           // (D, T+1, B, H)
@group(0) @binding(6) var<storage, read> gates: array<vec4<f32>>;        // (D, T, B, 4H)
@group(0) @binding(7) var<storage, read_write> dxw: array<vec4<f32>>;    // (T, B, D·3H)
@group(0) @binding(8) var<storage, read_write> dhh: array<vec4<f32>>;    // (D, T, B, 3H)
@group(0) @binding(9) var<storage, read_write> carry: array<vec4<f32>>;  // (D, B, H)
@group(0) @binding(0) var<uniform> p: CellParams;

@compute @workgroup_size(WG)
fn gru_cell_bwd_vec4(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let H = p.h;
    let hq = H / 4u;
    let idx = gid.x + gid.y * nwg.x * WG;
    if idx >= ((p.b + 3u) / 4u) * hq {
        return;
    }
    let b0 = (idx / hq) * 4u;
    let jq = idx % hq;
    let d = gid.z;
    let t = select(p.s, p.t - 1u - p.s, d == 1u);

    // Named values, no indexed arrays: lavapipe keeps a dynamically indexed private array in
    // memory.
    var dh0: vec4<f32>;
    var dh1: vec4<f32>;
    var dh2: vec4<f32>;
    var dh3: vec4<f32>;
    if p.first != 0u {
        let base = p.dhn_off / 4u + d * p.b * hq + jq;
        dh0 = dhn[base + min(b0, p.b - 1u) * hq];
        dh1 = dhn[base + min(b0 + 1u, p.b - 1u) * hq];
        dh2 = dhn[base + min(b0 + 2u, p.b - 1u) * hq];
        dh3 = dhn[base + min(b0 + 3u, p.b - 1u) * hq];
    } else {
        let base = d * p.b * hq + jq;
        dh0 = carry[base + min(b0, p.b - 1u) * hq];
        dh1 = carry[base + min(b0 + 1u, p.b - 1u) * hq];
        dh2 = carry[base + min(b0 + 2u, p.b - 1u) * hq];
        dh3 = carry[base + min(b0 + 3u, p.b - 1u) * hq];
        // vec4 index of each row of dhh[d, s+1]
        let row0 = dhh_row(d, b0, hq);
        let row1 = dhh_row(d, b0 + 1u, hq);
        let row2 = dhh_row(d, b0 + 2u, hq);
        let row3 = dhh_row(d, b0 + 3u, hq);
        // dhh[d, s+1] is zero in rows not running at step s + 1: skip a tile of only those.
        let t1 = select(p.s + 1u, p.t - 2u - p.s, d == 1u);
        var running = false;
        for (var i = 0u; i < 4u; i++) {
            running = running || (b0 + i < p.b && t1 < lens[b0 + i]);
        }
        // W_hh[d, k, j0..j0+4] as a vec4: row k of direction d, this tile's units.
        let wcol = p.whh_off / 4u + d * 3u * H * hq + jq;
        for (var kq = 0u; running && kq < 3u * hq; kq++) {
            let w0 = w[wcol + (4u * kq) * hq];
            let w1 = w[wcol + (4u * kq + 1u) * hq];
            let w2 = w[wcol + (4u * kq + 2u) * hq];
            let w3 = w[wcol + (4u * kq + 3u) * hq];
            let q0 = dhh[row0 + kq];
            let q1 = dhh[row1 + kq];
            let q2 = dhh[row2 + kq];
            let q3 = dhh[row3 + kq];
            dh0 += q0.x * w0 + q0.y * w1 + q0.z * w2 + q0.w * w3;
            dh1 += q1.x * w0 + q1.y * w1 + q1.z * w2 + q1.w * w3;
            dh2 += q2.x * w0 + q2.y * w1 + q2.z * w2 + q2.w * w3;
            dh3 += q3.x * w0 + q3.y * w1 + q3.z * w2 + q3.w * w3;
        }
    }
    finish_row(d, t, b0, jq, dh0);
    finish_row(d, t, b0 + 1u, jq, dh1);
    finish_row(d, t, b0 + 2u, jq, dh2);
    finish_row(d, t, b0 + 3u, jq, dh3);
}

// vec4 index of row b of dhh[d, s+1] (b clamped into the batch).
fn dhh_row(d: u32, b: u32, hq: u32) -> u32 {
    return ((d * p.t + p.s + 1u) * p.b + min(b, p.b - 1u)) * 3u * hq;
}

// Row b's gate gradients for this unit quad from dh, the gradient reaching h at this step
// from later steps (or dh_n). Rows past the batch store nothing; ended rows pass dh on.
fn finish_row(d: u32, t: u32, b: u32, jq: u32, dh: vec4<f32>) {
    if b >= p.b {
        return;
    }
    let hq = p.h / 4u;
    let c = (d * p.b + b) * hq + jq;
    let x = ((t * p.b + b) * p.d + d) * 3u * hq + jq;
    let y = ((d * p.t + p.s) * p.b + b) * 3u * hq + jq;
    if t >= lens[b] {
        carry[c] = dh;
        dxw[x] = vec4<f32>(0.0);
        dxw[x + hq] = vec4<f32>(0.0);
        dxw[x + 2u * hq] = vec4<f32>(0.0);
        dhh[y] = vec4<f32>(0.0);
        dhh[y + hq] = vec4<f32>(0.0);
        dhh[y + 2u * hq] = vec4<f32>(0.0);
        return;
    }
    let g = ((d * p.t + p.s) * p.b + b) * 4u * hq + jq;
    let r = gates[g];
    let z = gates[g + hq];
    let n = gates[g + 2u * hq];
    let hn = gates[g + 3u * hq];
    let h_prev = hs[((d * (p.t + 1u) + p.s) * p.b + b) * hq + jq];
    let dhv = dh + dout[((t * p.b + b) * p.d + d) * hq + jq];
    let dn = dhv * (1.0 - z) * (1.0 - n * n);
    let dz = dhv * (h_prev - n) * z * (1.0 - z);
    let dr = dn * hn * r * (1.0 - r);
    dxw[x] = dr;
    dxw[x + hq] = dz;
    dxw[x + 2u * hq] = dn;
    dhh[y] = dr;
    dhh[y + hq] = dz;
    dhh[y + 2u * hq] = dn * r;
    carry[c] = dhv * z;
}
