// rnn_cell_bwd: one time step of an Elman RNN layer's backward pass, both directions in one
// dispatch. Steps run s = T − 1 … 0.
//
// dh (gradient of hs[d, s+1]) is dh_n at s = T − 1, else carry + Σ_k dhh[d, s+1, b, k]·W_hh[k, j].
// An active row adds dout at (t, b), then with h = hs[d, s+1]:
//   dpre = dh · (1 − h²)  (tanh)   or   dh · [h > 0]  (relu)
//   dxw = dhh = dpre,   carry = 0
// A row past its end passes dh through: carry = dh, dxw = dhh = 0.
// After the loop, dh0 = carry + dhh[d, 0]·W_hh (a matmul).
// Layouts: dout (T, B, D·H); dhn (D, B, H) at dhn_off; dxw (T, B, D·H) time order;
// dhh (D, T, B, H) step order; carry (D, B, H); hs (D, T+1, B, H).
// Dispatch: one invocation per (b, j), z = d.
// CPU twin: src/cpu/rnn_cell.rs (cpu::rnn_cell::rnn_cell_bwd).

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
@group(0) @binding(1) var<storage, read> dout: array<f32>;         // (T, B, D·H)
@group(0) @binding(2) var<storage, read> dhn: array<f32>;          // (D, B, H) at dhn_off
@group(0) @binding(3) var<storage, read> w: array<f32>;            // W_hh (D, H, H)
@group(0) @binding(4) var<storage, read> lens: array<u32>;         // (B)
@group(0) @binding(5) var<storage, read> hs: array<f32>;           // (D, T+1, B, H)
@group(0) @binding(6) var<storage, read_write> dxw: array<f32>;    // (T, B, D·H)
@group(0) @binding(7) var<storage, read_write> dhh: array<f32>;    // (D, T, B, H)
@group(0) @binding(8) var<storage, read_write> carry: array<f32>;  // (D, B, H)

@compute @workgroup_size(WG)
fn rnn_cell_bwd(
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
        let row = ((d * p.t + p.s + 1u) * p.b + b) * H;
        let wcol = p.whh_off + d * H * H + j;
        for (var k = 0u; k < H; k++) {
            dh += dhh[row + k] * w[wcol + k * H];
        }
    }

    let x = (t * p.b + b) * p.d * H + d * H + j;
    let y = ((d * p.t + p.s) * p.b + b) * H + j;
    if t >= lens[b] {
        carry[c] = dh;
        dxw[x] = 0.0;
        dhh[y] = 0.0;
        return;
    }
    dh += dout[x];
    let h = hs[((d * (p.t + 1u) + p.s + 1u) * p.b + b) * H + j];
    var dpre: f32;
    if p.relu != 0u {
        dpre = select(0.0, dh, h > 0.0);
    } else {
        dpre = dh * (1.0 - h * h);
    }
    dxw[x] = dpre;
    dhh[y] = dpre;
    carry[c] = 0.0;
}
