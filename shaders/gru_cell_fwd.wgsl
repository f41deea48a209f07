// gru_cell_fwd: one time step of a GRU layer, both directions in one dispatch
// (torch.nn.GRU, gate order r, z, n).
//
//   hr, hz, hn = W_h{r,z,n} · h_prev + b_h{r,z,n}         (the recurrent product, fused here)
//   r = σ(xw_r + hr)    z = σ(xw_z + hz)    n = tanh(xw_n + r ⊙ hn)
//   h = (1 − z) ⊙ n + z ⊙ h_prev
// xw = x·W_ihᵀ + b_ih for every timestep comes from one matmul before the time loop.
// With p.gather, xw is instead a (V, D·G·H) table of it per token and row (t, b) reads
// the row of token ids[t·B + b] (layer 0 of the classifier: embedding·W_ihᵀ + b_ih).
//
// Direction d's step s runs at time t = s (d = 0) or t = T − 1 − s (d = 1). A row whose length
// is ≤ t is past its end (pack_padded_sequence): it carries h unchanged and outputs 0,
// so the reverse direction starts at each row's own last real step.
//
// Layouts (state sequences in each direction's step order, xw and out in time order):
//   xw    (T, B, D·3H)      hs (D, T+1, B, H): hs[d, 0] = h0, hs[d, s+1] = state after step s
//   out   (T, B, D·H)       gates (D, T, B, 4H): r, z, n, hn — what gru_cell_bwd needs
//   (not written in rows past their length, which gru_cell_bwd does not read)
// Dispatch: one invocation per (b, j) (idx = b·H + j over x/y, folded by ops::grid_1d), z = d.
// CPU twin: src/cpu/gru_cell.rs (cpu::gru_cell::gru_cell_fwd).

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
@group(0) @binding(1) var<storage, read> xw: array<f32>;           // (T, B, D·3H), or (V, D·3H) with p.gather
@group(0) @binding(2) var<storage, read> w: array<f32>;            // W_hh (D, 3H, H), b_hh (D, 3H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;         // (B)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;     // (D, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // (T, B, D·H)
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;  // (D, T, B, 4H)
@group(0) @binding(7) var<storage, read> ids: array<u32>;          // (T, B) with p.gather

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
fn gru_cell_fwd(
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
    let g = ((d * p.t + p.s) * p.b + b) * 4u * H + j;
    let o = (t * p.b + b) * p.d * H + d * H + j;

    if t >= lens[b] {
        hs[next + j] = hs[prev + j];
        out[o] = 0.0;
        return;
    }

    let wr = p.whh_off + (d * 3u * H + j) * H;
    let wz = wr + H * H;
    let wn = wz + H * H;
    var hr = 0.0;
    var hz = 0.0;
    var hn = 0.0;
    for (var k = 0u; k < H; k++) {
        let hk = hs[prev + k];
        hr += w[wr + k] * hk;
        hz += w[wz + k] * hk;
        hn += w[wn + k] * hk;
    }
    if p.has_bias != 0u {
        let bb = p.bhh_off + d * 3u * H + j;
        hr += w[bb];
        hz += w[bb + H];
        hn += w[bb + 2u * H];
    }
    let x = (xw_row(t, b) * p.d + d) * 3u * H + j;
    let r = sigmoid(xw[x] + hr);
    let z = sigmoid(xw[x + H] + hz);
    let n = tanh(clamp(xw[x + 2u * H] + r * hn, -15.0, 15.0));
    let hnew = (1.0 - z) * n + z * hs[prev + j];
    hs[next + j] = hnew;
    out[o] = hnew;
    gates[g] = r;
    gates[g + H] = z;
    gates[g + 2u * H] = n;
    gates[g + 3u * H] = hn;
}
