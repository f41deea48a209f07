// lstm_cell_bwd_vec4: lstm_cell_bwd (same math and CellParams) for one direction, H and the
// W_hh offset multiples of 4, register-tiled with vec4 loads and stores, in 8 storage buffers.
//
// Each invocation owns a tile of 4 batch rows × 4 hidden units: per 4 values of k (of 4H) it
// loads the 4 rows' pre-activation gradients of the next step and 4 rows of W_hh as vec4s and
// accumulates 16 vec4 multiply-adds (the plain kernel loads 2 values per multiply-add).
//
// What makes 8 buffers (the plain kernel binds 11):
// - For an LSTM with one direction the plan copies dh_n and dc_n into carry and dc_carry
//   before the layer's last step, so the first step starts from them like every other
//   (p.first only skips the product).
// - With one direction dxw (T, B, 4H) and dhh (1, T, B, 4H) are the same layout and the same
//   values: this kernel writes dxw alone and reads the next step's from it; with one
//   direction the plan reads dxw wherever it would read dhh.
//
// Layouts: dout (T, B, H); dxw (T, B, 4H); carry and dc_carry (B, H); the rest as in
// lstm_cell_fwd. Dispatch: one invocation per (row quad, unit quad), idx = bq·(H/4) + jq.
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
@group(0) @binding(1) var<storage, read> dout: array<vec4<f32>>;             // (T, B, H)
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;                // W_hh (4H, H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;                   // (B)
@group(0) @binding(4) var<storage, read> cs: array<vec4<f32>>;               // (T+1, B, H)
@group(0) @binding(5) var<storage, read> gates: array<vec4<f32>>;            // (T, B, 4H)
@group(0) @binding(6) var<storage, read_write> dxw: array<vec4<f32>>;        // (T, B, 4H)
@group(0) @binding(7) var<storage, read_write> carry: array<vec4<f32>>;      // (B, H)
@group(0) @binding(8) var<storage, read_write> dc_carry: array<vec4<f32>>;   // (B, H)

@compute @workgroup_size(WG)
fn lstm_cell_bwd_vec4(
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
    let t = p.s;

    var d0 = vec4<f32>(0.0);
    var d1 = vec4<f32>(0.0);
    var d2 = vec4<f32>(0.0);
    var d3 = vec4<f32>(0.0);
    // dh += dxw[s+1] · W_hh: the next step's rows (clamped into the batch), 4 k at a time.
    var running = false;
    for (var i = 0u; i < 4u; i++) {
        running = running || (b0 + i < p.b && t + 1u < lens[b0 + i]);
    }
    if p.first == 0u && running {
        let n0 = next_row(b0);
        let n1 = next_row(b0 + 1u);
        let n2 = next_row(b0 + 2u);
        let n3 = next_row(b0 + 3u);
        let wcol = p.whh_off / 4u + jq;
        for (var kq = 0u; kq < H; kq++) {
            let at = wcol + kq * 4u * hq;
            let m = mat4x4<f32>(w[at], w[at + hq], w[at + 2u * hq], w[at + 3u * hq]);
            d0 += m * dxw[n0 + kq];
            d1 += m * dxw[n1 + kq];
            d2 += m * dxw[n2 + kq];
            d3 += m * dxw[n3 + kq];
        }
    }
    finish_row(t, b0, jq, d0);
    finish_row(t, b0 + 1u, jq, d1);
    finish_row(t, b0 + 2u, jq, d2);
    finish_row(t, b0 + 3u, jq, d3);
}

// vec4 index of row b's pre-activation gradients at step s + 1 (b clamped into the batch).
fn next_row(b: u32) -> u32 {
    return ((p.s + 1u) * p.b + min(b, p.b - 1u)) * p.h;
}

// Row b's gradients for this unit quad, from the recurrent part of its dh.
fn finish_row(t: u32, b: u32, jq: u32, product: vec4<f32>) {
    if b >= p.b {
        return;
    }
    let hq = p.h / 4u;
    let c = b * hq + jq;
    var dh = carry[c] + product;
    var dc = dc_carry[c];
    let x = (t * p.b + b) * 4u * hq + jq;
    if t >= lens[b] {
        carry[c] = dh;
        dc_carry[c] = dc;
        for (var q = 0u; q < 4u; q++) {
            dxw[x + q * hq] = vec4<f32>(0.0);
        }
        return;
    }
    dh += dout[(t * p.b + b) * hq + jq];
    let i = gates[x];
    let f = gates[x + hq];
    let g = gates[x + 2u * hq];
    let o = gates[x + 3u * hq];
    let state = (t * p.b + b) * hq + jq;
    let c_prev = cs[state];
    let tc = tanh(clamp(cs[state + p.b * hq], vec4<f32>(-15.0), vec4<f32>(15.0)));
    dc += dh * o * (1.0 - tc * tc);
    dxw[x] = dc * g * i * (1.0 - i);
    dxw[x + hq] = dc * c_prev * f * (1.0 - f);
    dxw[x + 2u * hq] = dc * i * (1.0 - g * g);
    dxw[x + 3u * hq] = dh * tc * o * (1.0 - o);
    carry[c] = vec4<f32>(0.0);
    dc_carry[c] = dc * f;
}
