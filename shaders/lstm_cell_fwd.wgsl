// lstm_cell_fwd: one time step of an LSTM layer, both directions in one dispatch
// (torch.nn.LSTM, gate order i, f, g, o).
//
//   [hi, hf, hg, ho] = W_hh · h_prev + b_hh                 (the recurrent product, fused here)
//   i = σ(xw_i + hi)   f = σ(xw_f + hf)   g = tanh(xw_g + hg)   o = σ(xw_o + ho)
//   c = f ⊙ c_prev + i ⊙ g          h = o ⊙ tanh(c)
// xw = x·W_ihᵀ + b_ih for every timestep comes from one matmul before the time loop.
// With p.gather, xw is instead a (V, D·G·H) table of it per token and row (t, b) reads
// the row of token ids[t·B + b] (layer 0 of the classifier: embedding·W_ihᵀ + b_ih).
//
// Direction d's step s runs at time t = s (d = 0) or t = T − 1 − s (d = 1). A row whose length
// is ≤ t carries h and c unchanged and outputs 0 (pack_padded_sequence).
//
// Layouts: xw (T, B, D·4H); hs and cs (D, T+1, B, H) in step order (slot 0 = h0, c0);
// out (T, B, D·H); gates (D, T, B, 4H): i, f, g, o after their nonlinearities (not written
// in rows past their length, which lstm_cell_bwd does not read).
// Dispatch: one invocation per (b, j) (idx = b·H + j over x/y), z = d.
// CPU twin: src/cpu/lstm_cell.rs (cpu::lstm_cell::lstm_cell_fwd).

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
    gather: u32,   // forward: xw is a (V, D·G·H) table, row (t, b) = ids[t·B + b]
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: CellParams;
@group(0) @binding(1) var<storage, read> xw: array<f32>;           // (T, B, D·4H), or (V, D·4H) with p.gather
@group(0) @binding(2) var<storage, read> w: array<f32>;            // W_hh (D, 4H, H), b_hh (D, 4H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;         // (B)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;     // (D, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> cs: array<f32>;     // (D, T+1, B, H)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;    // (T, B, D·H)
@group(0) @binding(7) var<storage, read_write> gates: array<f32>;  // (D, T, B, 4H)
@group(0) @binding(8) var<storage, read> ids: array<u32>;          // (T, B) with p.gather

// The row of xw that step row (t, b) reads: its own, or with p.gather its token's table row.
fn xw_row(t: u32, b: u32) -> u32 {
    if p.gather != 0u {
        return ids[t * p.b + b];
    }
    return t * p.b + b;
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(WG)
fn lstm_cell_fwd(
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
    let prev = ((d * (p.t + 1u) + p.s) * p.b + b) * H;
    let next = prev + p.b * H;
    let g0 = ((d * p.t + p.s) * p.b + b) * 4u * H + j;
    let o = (t * p.b + b) * p.d * H + d * H + j;

    if t >= lens[b] {
        hs[next + j] = hs[prev + j];
        cs[next + j] = cs[prev + j];
        out[o] = 0.0;
        return;
    }

    var acc = vec4<f32>(0.0);
    let w0 = p.whh_off + (d * 4u * H + j) * H;
    let hh = H * H;
    for (var k = 0u; k < H; k++) {
        let hk = hs[prev + k];
        acc += vec4<f32>(w[w0 + k], w[w0 + hh + k], w[w0 + 2u * hh + k], w[w0 + 3u * hh + k]) * hk;
    }
    if p.has_bias != 0u {
        let bb = p.bhh_off + d * 4u * H + j;
        acc += vec4<f32>(w[bb], w[bb + H], w[bb + 2u * H], w[bb + 3u * H]);
    }
    let x = (xw_row(t, b) * p.d + d) * 4u * H + j;
    let i = sigmoid(xw[x] + acc.x);
    let f = sigmoid(xw[x + H] + acc.y);
    let g = tanh(clamp(xw[x + 2u * H] + acc.z, -15.0, 15.0));
    let og = sigmoid(xw[x + 3u * H] + acc.w);
    let c = f * cs[prev + j] + i * g;
    let h = og * tanh(clamp(c, -15.0, 15.0));
    cs[next + j] = c;
    hs[next + j] = h;
    out[o] = h;
    gates[g0] = i;
    gates[g0 + H] = f;
    gates[g0 + 2u * H] = g;
    gates[g0 + 3u * H] = og;
}
