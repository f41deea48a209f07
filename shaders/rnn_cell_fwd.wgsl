// rnn_cell_fwd: one time step of an Elman RNN layer, both directions in one dispatch
// (torch.nn.RNN / RNNCell):
//   h = act(xw + W_hh · h_prev + b_hh),  act = tanh, or relu when p.relu = 1
// xw = x·W_ihᵀ + b_ih for every timestep comes from one matmul before the time loop.
// With p.gather, xw is instead a (V, D·G·H) table of it per token and row (t, b) reads
// the row of token ids[t·B + b] (layer 0 of the classifier: embedding·W_ihᵀ + b_ih).
//
// Direction d's step s runs at time t = s (d = 0) or t = T − 1 − s (d = 1). A row whose length
// is ≤ t carries h unchanged and outputs 0 (pack_padded_sequence).
// Layouts: xw (T, B, D·H); hs (D, T+1, B, H) in step order (slot 0 = h0); out (T, B, D·H).
// Backward needs only hs (tanh' = 1 − h², relu' = [h > 0]).
// Dispatch: one invocation per (b, j) (idx = b·H + j over x/y), z = d.
// CPU twin: src/cpu/rnn_cell.rs (cpu::rnn_cell::rnn_cell_fwd).

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
@group(0) @binding(1) var<storage, read> xw: array<f32>;         // (T, B, D·H), or (V, D·H) with p.gather
@group(0) @binding(2) var<storage, read> w: array<f32>;          // W_hh (D, H, H), b_hh (D, H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;       // (B)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;   // (D, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // (T, B, D·H)
@group(0) @binding(6) var<storage, read> ids: array<u32>;       // (T, B) with p.gather

// The row of xw that step row (t, b) reads: its own, or with p.gather its token's table row.
fn xw_row(t: u32, b: u32) -> u32 {
    if p.gather != 0u {
        return ids[t * p.b + b];
    }
    return t * p.b + b;
}

@compute @workgroup_size(WG)
fn rnn_cell_fwd(
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
    let o = (t * p.b + b) * p.d * H + d * H + j;

    if t >= lens[b] {
        hs[next + j] = hs[prev + j];
        out[o] = 0.0;
        return;
    }
    var acc = xw[(xw_row(t, b) * p.d + d) * H + j];
    let w0 = p.whh_off + (d * H + j) * H;
    for (var k = 0u; k < H; k++) {
        acc += w[w0 + k] * hs[prev + k];
    }
    if p.has_bias != 0u {
        acc += w[p.bhh_off + d * H + j];
    }
    var h: f32;
    if p.relu != 0u {
        h = max(acc, 0.0);
    } else {
        h = tanh(clamp(acc, -15.0, 15.0));
    }
    hs[next + j] = h;
    out[o] = h;
}
