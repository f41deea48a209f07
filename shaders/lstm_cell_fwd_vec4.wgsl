// lstm_cell_fwd_vec4: lstm_cell_fwd (same math, layouts and CellParams) for H, the W_hh offset
// and the b_hh offset all multiples of 4, register-tiled with vec4 loads and stores.
//
// Each invocation owns a tile of 4 batch rows × 4 hidden units of one direction, for all
// four gates: per 4 values of k it loads the 4 rows of h_prev and the 16 rows of W_hh
// (i, f, g, o × 4 units) as vec4s and accumulates 64 vec4 dot products, 256 multiply-adds for
// 20 loads (the plain kernel does 4 for 5). Stores are whole vec4s: a row's 4 units.
// Dispatch: one invocation per (row quad, unit quad), idx = bq·(H/4) + jq over x/y, z = d.
// 8 storage buffers, as lstm_cell_fwd.
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
@group(0) @binding(1) var<storage, read> xw: array<vec4<f32>>;          // (T, B, D·4H), or (V, D·4H) with p.gather
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;           // W_hh (D, 4H, H), b_hh (D, 4H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;              // (B)
@group(0) @binding(4) var<storage, read_write> hs: array<vec4<f32>>;    // (D, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> cs: array<vec4<f32>>;    // (D, T+1, B, H)
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;   // (T, B, D·H)
@group(0) @binding(7) var<storage, read_write> gates: array<vec4<f32>>; // (D, T, B, 4H)
@group(0) @binding(8) var<storage, read> ids: array<u32>;               // (T, B) with p.gather

// The row of xw that step row (t, b) reads: its own, or with p.gather its token's table row.
fn xw_row(t: u32, b: u32) -> u32 {
    if p.gather != 0u {
        return ids[t * p.b + b];
    }
    return t * p.b + b;
}

fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
    return 1.0 / (1.0 + exp(-x));
}

// The four gates' recurrent products of one row for a unit quad.
struct Acc {
    i: vec4<f32>,
    f: vec4<f32>,
    g: vec4<f32>,
    o: vec4<f32>,
}

// Row h's products added to a: W_hh rows of gate quads wi, wf, wg, wo (4 units each).
fn add(a: Acc, h: vec4<f32>, wi: mat4x4<f32>, wf: mat4x4<f32>, wg: mat4x4<f32>, wo: mat4x4<f32>) -> Acc {
    return Acc(
        a.i + h * wi,
        a.f + h * wf,
        a.g + h * wg,
        a.o + h * wo,
    );
}

// The 4 W_hh rows (units jq·4 .. jq·4 + 3 of one gate, from vec4 index `at`) at k quad kq, as
// the columns of a matrix: h · m = (h·row0, h·row1, h·row2, h·row3).
fn rows(at: u32, hq: u32, kq: u32) -> mat4x4<f32> {
    return mat4x4<f32>(w[at + kq], w[at + hq + kq], w[at + 2u * hq + kq], w[at + 3u * hq + kq]);
}

@compute @workgroup_size(WG)
fn lstm_cell_fwd_vec4(
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

    // Rows past the batch repeat the last row and are never stored. Named values, no indexed
    // arrays: lavapipe keeps a dynamically indexed private array in memory.
    let prev0 = h_prev(d, b0, hq);
    let prev1 = h_prev(d, b0 + 1u, hq);
    let prev2 = h_prev(d, b0 + 2u, hq);
    let prev3 = h_prev(d, b0 + 3u, hq);
    // W_hh rows of this tile's units, as vec4 indices: gate q, unit u at wrow + (q·H + u)·hq.
    let wrow = (p.whh_off + (d * 4u * H + jq * 4u) * H) / 4u;
    let zero = Acc(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var a0 = zero;
    var a1 = zero;
    var a2 = zero;
    var a3 = zero;
    // A tile whose rows have all ended only carries its states: skip its product.
    var running = false;
    for (var i = 0u; i < 4u; i++) {
        running = running || (b0 + i < p.b && t < lens[b0 + i]);
    }
    for (var kq = 0u; running && kq < hq; kq++) {
        let wi = rows(wrow, hq, kq);
        let wf = rows(wrow + H * hq, hq, kq);
        let wg = rows(wrow + 2u * H * hq, hq, kq);
        let wo = rows(wrow + 3u * H * hq, hq, kq);
        a0 = add(a0, hs[prev0 + kq], wi, wf, wg, wo);
        a1 = add(a1, hs[prev1 + kq], wi, wf, wg, wo);
        a2 = add(a2, hs[prev2 + kq], wi, wf, wg, wo);
        a3 = add(a3, hs[prev3 + kq], wi, wf, wg, wo);
    }
    var bias = zero;
    if p.has_bias != 0u {
        let bb = (p.bhh_off + d * 4u * H) / 4u + jq;
        bias = Acc(w[bb], w[bb + hq], w[bb + 2u * hq], w[bb + 3u * hq]);
    }
    finish_row(d, t, b0, jq, prev0, a0, bias);
    finish_row(d, t, b0 + 1u, jq, prev1, a1, bias);
    finish_row(d, t, b0 + 2u, jq, prev2, a2, bias);
    finish_row(d, t, b0 + 3u, jq, prev3, a3, bias);
}

// vec4 index of row b's h_prev (and c_prev) in hs and cs (b clamped into the batch).
fn h_prev(d: u32, b: u32, hq: u32) -> u32 {
    return ((d * (p.t + 1u) + p.s) * p.b + min(b, p.b - 1u)) * hq;
}

// Row b's gates and new state for this unit quad, from its recurrent products and b_hh.
// Rows past the batch store nothing; ended rows carry their state.
fn finish_row(d: u32, t: u32, b: u32, jq: u32, prev: u32, a: Acc, bias: Acc) {
    if b >= p.b {
        return;
    }
    let hq = p.h / 4u;
    let next = prev + p.b * hq + jq;
    let g0 = ((d * p.t + p.s) * p.b + b) * 4u * hq + jq;
    let o = ((t * p.b + b) * p.d + d) * hq + jq;
    if t >= lens[b] {
        hs[next] = hs[prev + jq];
        cs[next] = cs[prev + jq];
        out[o] = vec4<f32>(0.0);
        return;
    }
    let x = (xw_row(t, b) * p.d + d) * 4u * hq + jq;
    let i = sigmoid4(xw[x] + a.i + bias.i);
    let f = sigmoid4(xw[x + hq] + a.f + bias.f);
    let g = tanh(clamp(xw[x + 2u * hq] + a.g + bias.g, vec4<f32>(-15.0), vec4<f32>(15.0)));
    let og = sigmoid4(xw[x + 3u * hq] + a.o + bias.o);
    let c = f * cs[prev + jq] + i * g;
    let h = og * tanh(clamp(c, vec4<f32>(-15.0), vec4<f32>(15.0)));
    cs[next] = c;
    hs[next] = h;
    out[o] = h;
    gates[g0] = i;
    gates[g0 + hq] = f;
    gates[g0 + 2u * hq] = g;
    gates[g0 + 3u * hq] = og;
}
