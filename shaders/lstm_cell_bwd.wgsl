// lstm_cell_bwd: one time step of an LSTM layer's backward pass, both directions in one
// dispatch. Steps run s = T − 1 … 0.
//
// dh (gradient of hs[d, s+1]) is dh_n at s = T − 1, else carry + Σ_k dhh[d, s+1, b, k]·W_hh[k, j];
// dc is dc_n at s = T − 1, else dc_carry. An active row adds dout at (t, b), then:
//   tc = tanh(c)    dc += dh · o · (1 − tc²)
//   di' = dc g i(1 − i)   df' = dc c_prev f(1 − f)   dg' = dc i (1 − g²)   do' = dh tc o(1 − o)
//   dxw = dhh = [di', df', dg', do']     carry = 0     dc_carry = dc ⊙ f
// A row past its end passes both through: carry = dh, dc_carry = dc, dxw = dhh = 0.
// After the loop, dh0 = carry + dhh[d, 0]·W_hh (a matmul) and dc0 = dc_carry.
//
// Layouts: dout (T, B, D·H); dhn and dcn (D, B, H) at dhn_off; dxw (T, B, D·4H) time order;
// dhh (D, T, B, 4H) step order; carry and dc_carry (D, B, H); the rest as in lstm_cell_fwd.
// Dispatch: one invocation per (b, j), z = d.
// CPU twin: src/cpu/lstm_cell.rs (cpu::lstm_cell::lstm_cell_bwd).

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
@group(0) @binding(1) var<storage, read> dout: array<f32>;            // (T, B, D·H)
@group(0) @binding(2) var<storage, read> dhn: array<f32>;             // (D, B, H) at dhn_off
@group(0) @binding(3) var<storage, read> dcn: array<f32>;             // (D, B, H) at dhn_off
@group(0) @binding(4) var<storage, read> w: array<f32>;               // W_hh (D, 4H, H)
@group(0) @binding(5) var<storage, read> lens: array<u32>;            // (B)
@group(0) @binding(6) var<storage, read> cs: array<f32>;              // (D, T+1, B, H)
@group(0) @binding(7) var<storage, read> gates: array<f32>;           // (D, T, B, 4H)
@group(0) @binding(8) var<storage, read_write> dxw: array<f32>;       // (T, B, D·4H)
@group(0) @binding(9) var<storage, read_write> dhh: array<f32>;       // (D, T, B, 4H)
@group(0) @binding(10) var<storage, read_write> carry: array<f32>;    // (D, B, H)
@group(0) @binding(11) var<storage, read_write> dc_carry: array<f32>; // (D, B, H)

@compute @workgroup_size(WG)
fn lstm_cell_bwd(
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
    var dc: f32;
    if p.first != 0u {
        dh = dhn[p.dhn_off + c];
        dc = dcn[p.dhn_off + c];
    } else {
        dh = carry[c];
        dc = dc_carry[c];
        let row = ((d * p.t + p.s + 1u) * p.b + b) * 4u * H;
        let wcol = p.whh_off + d * 4u * H * H + j;
        for (var k = 0u; k < 4u * H; k++) {
            dh += dhh[row + k] * w[wcol + k * H];
        }
    }

    let x = (t * p.b + b) * p.d * 4u * H + d * 4u * H + j;
    let y = ((d * p.t + p.s) * p.b + b) * 4u * H + j;
    if t >= lens[b] {
        carry[c] = dh;
        dc_carry[c] = dc;
        for (var q = 0u; q < 4u; q++) {
            dxw[x + q * H] = 0.0;
            dhh[y + q * H] = 0.0;
        }
        return;
    }
    dh += dout[(t * p.b + b) * p.d * H + d * H + j];

    let g0 = ((d * p.t + p.s) * p.b + b) * 4u * H + j;
    let i = gates[g0];
    let f = gates[g0 + H];
    let g = gates[g0 + 2u * H];
    let o = gates[g0 + 3u * H];
    let state = ((d * (p.t + 1u) + p.s) * p.b + b) * H + j;
    let c_prev = cs[state];
    let tc = tanh(clamp(cs[state + p.b * H], -15.0, 15.0));
    dc += dh * o * (1.0 - tc * tc);
    let grads = vec4<f32>(
        dc * g * i * (1.0 - i),
        dc * c_prev * f * (1.0 - f),
        dc * i * (1.0 - g * g),
        dh * tc * o * (1.0 - o),
    );
    for (var q = 0u; q < 4u; q++) {
        dxw[x + q * H] = grads[q];
        dhh[y + q * H] = grads[q];
    }
    carry[c] = 0.0;
    dc_carry[c] = dc * f;
}
