// gru_cell_fwd_vec4: gru_cell_fwd (same math, layouts and CellParams) for H, the W_hh offset
// and the b_hh offset all multiples of 4, register-tiled with vec4 loads and stores.
//
// Each invocation owns a tile of 4 batch rows × 4 hidden units of one direction, for all
// three gates: per 4 values of k it loads the 4 rows of h_prev and the 12 rows of W_hh
// (r, z, n × 4 units) as vec4s and accumulates 48 vec4 dot products, 192 multiply-adds for
// 16 loads (the plain kernel does 3 for 2). Stores are whole vec4s: a row's 4 units.
// Dispatch: one invocation per (row quad, unit quad), idx = bq·(H/4) + jq over x/y, z = d.
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
@group(0) @binding(1) var<storage, read> xw: array<vec4<f32>>;        // (T, B, D·3H), or (V, D·3H) with p.gather
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;         // W_hh (D, 3H, H), b_hh (D, 3H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;            // (B)
@group(0) @binding(4) var<storage, read_write> hs: array<vec4<f32>>;  // (D, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>; // (T, B, D·H)
@group(0) @binding(6) var<storage, read_write> gates: array<vec4<f32>>; // (D, T, B, 4H)
@group(0) @binding(7) var<storage, read> ids: array<u32>;             // (T, B) with p.gather

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

@compute @workgroup_size(WG)
fn gru_cell_fwd_vec4(
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
    let prev0 = h_prev(d, b0, hq);   // vec4 index of each row's h_prev
    let prev1 = h_prev(d, b0 + 1u, hq);
    let prev2 = h_prev(d, b0 + 2u, hq);
    let prev3 = h_prev(d, b0 + 3u, hq);
    // W_hh rows of this tile's units, as vec4 indices: gate g, unit u at wrow + (g·H + u)·hq.
    let wrow = (p.whh_off + (d * 3u * H + jq * 4u) * H) / 4u;
    var ar0 = vec4<f32>(0.0);
    var ar1 = vec4<f32>(0.0);
    var ar2 = vec4<f32>(0.0);
    var ar3 = vec4<f32>(0.0);
    var az0 = vec4<f32>(0.0);
    var az1 = vec4<f32>(0.0);
    var az2 = vec4<f32>(0.0);
    var az3 = vec4<f32>(0.0);
    var an0 = vec4<f32>(0.0);
    var an1 = vec4<f32>(0.0);
    var an2 = vec4<f32>(0.0);
    var an3 = vec4<f32>(0.0);
    // A tile whose rows have all ended only carries its states: skip its product. With rows
    // sorted by length (as the classifier sorts them) that is every tile past the running rows.
    var running = false;
    for (var i = 0u; i < 4u; i++) {
        running = running || (b0 + i < p.b && t < lens[b0 + i]);
    }
    for (var kq = 0u; running && kq < hq; kq++) {
        let h0 = hs[prev0 + kq];
        let h1 = hs[prev1 + kq];
        let h2 = hs[prev2 + kq];
        let h3 = hs[prev3 + kq];
        let wr0 = w[wrow + kq];
        let wr1 = w[wrow + hq + kq];
        let wr2 = w[wrow + 2u * hq + kq];
        let wr3 = w[wrow + 3u * hq + kq];
        let wz0 = w[wrow + H * hq + kq];
        let wz1 = w[wrow + (H + 1u) * hq + kq];
        let wz2 = w[wrow + (H + 2u) * hq + kq];
        let wz3 = w[wrow + (H + 3u) * hq + kq];
        let wn0 = w[wrow + 2u * H * hq + kq];
        let wn1 = w[wrow + (2u * H + 1u) * hq + kq];
        let wn2 = w[wrow + (2u * H + 2u) * hq + kq];
        let wn3 = w[wrow + (2u * H + 3u) * hq + kq];
        ar0 += dots(h0, wr0, wr1, wr2, wr3);
        ar1 += dots(h1, wr0, wr1, wr2, wr3);
        ar2 += dots(h2, wr0, wr1, wr2, wr3);
        ar3 += dots(h3, wr0, wr1, wr2, wr3);
        az0 += dots(h0, wz0, wz1, wz2, wz3);
        az1 += dots(h1, wz0, wz1, wz2, wz3);
        az2 += dots(h2, wz0, wz1, wz2, wz3);
        az3 += dots(h3, wz0, wz1, wz2, wz3);
        an0 += dots(h0, wn0, wn1, wn2, wn3);
        an1 += dots(h1, wn0, wn1, wn2, wn3);
        an2 += dots(h2, wn0, wn1, wn2, wn3);
        an3 += dots(h3, wn0, wn1, wn2, wn3);
    }
    var br = vec4<f32>(0.0);
    var bz = vec4<f32>(0.0);
    var bn = vec4<f32>(0.0);
    if p.has_bias != 0u {
        let bb = (p.bhh_off + d * 3u * H) / 4u + jq;
        br = w[bb];
        bz = w[bb + hq];
        bn = w[bb + 2u * hq];
    }
    finish_row(d, t, b0, jq, prev0, ar0 + br, az0 + bz, an0 + bn);
    finish_row(d, t, b0 + 1u, jq, prev1, ar1 + br, az1 + bz, an1 + bn);
    finish_row(d, t, b0 + 2u, jq, prev2, ar2 + br, az2 + bz, an2 + bn);
    finish_row(d, t, b0 + 3u, jq, prev3, ar3 + br, az3 + bz, an3 + bn);
}

// vec4 index of row b's h_prev in hs (b clamped into the batch).
fn h_prev(d: u32, b: u32, hq: u32) -> u32 {
    return ((d * (p.t + 1u) + p.s) * p.b + min(b, p.b - 1u)) * hq;
}

// (h·a, h·b, h·c, h·d): one vec4 of k for four units.
fn dots(h: vec4<f32>, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(h, a), dot(h, b), dot(h, c), dot(h, d));
}

// Row b's gates and new state for this unit quad, from its recurrent products (b_hh added):
// hr, hz, hn. Rows past the batch store nothing; ended rows carry their state.
fn finish_row(d: u32, t: u32, b: u32, jq: u32, prev: u32, hr: vec4<f32>, hz: vec4<f32>, hn: vec4<f32>) {
    if b >= p.b {
        return;
    }
    let hq = p.h / 4u;
    let next = prev + p.b * hq + jq;
    let g = ((d * p.t + p.s) * p.b + b) * 4u * hq + jq;
    let o = ((t * p.b + b) * p.d + d) * hq + jq;
    if t >= lens[b] {
        hs[next] = hs[prev + jq];
        out[o] = vec4<f32>(0.0);
        return;
    }
    let x = (xw_row(t, b) * p.d + d) * 3u * hq + jq;
    let r = sigmoid4(xw[x] + hr);
    let z = sigmoid4(xw[x + hq] + hz);
    let n = tanh(clamp(xw[x + 2u * hq] + r * hn, vec4<f32>(-15.0), vec4<f32>(15.0)));
    let hnew = (1.0 - z) * n + z * hs[prev + jq];
    hs[next] = hnew;
    out[o] = hnew;
    gates[g] = r;
    gates[g + hq] = z;
    gates[g + 2u * hq] = n;
    gates[g + 3u * hq] = hn;
}
