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
    _pad0: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: CellParams;
@group(0) @binding(1) var<storage, read> xw: array<vec4<f32>>;        // (T, B, D·3H)
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;         // W_hh (D, 3H, H), b_hh (D, 3H)
@group(0) @binding(3) var<storage, read> lens: array<u32>;            // (B)
@group(0) @binding(4) var<storage, read_write> hs: array<vec4<f32>>;  // (D, T+1, B, H)
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>; // (T, B, D·H)
@group(0) @binding(6) var<storage, read_write> gates: array<vec4<f32>>; // (D, T, B, 4H)

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

    // Rows past the batch repeat the last row and are never stored.
    var prev: array<u32, 4>;   // vec4 index of each row's h_prev
    for (var i = 0u; i < 4u; i++) {
        prev[i] = ((d * (p.t + 1u) + p.s) * p.b + min(b0 + i, p.b - 1u)) * hq;
    }
    // W_hh rows of this tile's units, as vec4 indices: gate g, unit u at wrow + (g·H + u)·hq.
    let wrow = (p.whh_off + (d * 3u * H + jq * 4u) * H) / 4u;
    var ar: array<vec4<f32>, 4>;
    var az: array<vec4<f32>, 4>;
    var an: array<vec4<f32>, 4>;
    // A tile whose rows have all ended only carries its states: skip its product. With rows
    // sorted by length (as the classifier sorts them) that is every tile past the running rows.
    var running = false;
    for (var i = 0u; i < 4u; i++) {
        running = running || (b0 + i < p.b && t < lens[b0 + i]);
    }
    for (var kq = 0u; running && kq < hq; kq++) {
        let h0 = hs[prev[0] + kq];
        let h1 = hs[prev[1] + kq];
        let h2 = hs[prev[2] + kq];
        let h3 = hs[prev[3] + kq];
        for (var u = 0u; u < 4u; u++) {
            let wr = w[wrow + u * hq + kq];
            let wz = w[wrow + (H + u) * hq + kq];
            let wn = w[wrow + (2u * H + u) * hq + kq];
            ar[0][u] += dot(h0, wr);
            ar[1][u] += dot(h1, wr);
            ar[2][u] += dot(h2, wr);
            ar[3][u] += dot(h3, wr);
            az[0][u] += dot(h0, wz);
            az[1][u] += dot(h1, wz);
            az[2][u] += dot(h2, wz);
            az[3][u] += dot(h3, wz);
            an[0][u] += dot(h0, wn);
            an[1][u] += dot(h1, wn);
            an[2][u] += dot(h2, wn);
            an[3][u] += dot(h3, wn);
        }
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

    for (var i = 0u; i < 4u; i++) {
        let b = b0 + i;
        if b >= p.b {
            break;
        }
        let next = prev[i] + p.b * hq + jq;
        let g = ((d * p.t + p.s) * p.b + b) * 4u * hq + jq;
        let o = ((t * p.b + b) * p.d + d) * hq + jq;
        if t >= lens[b] {
            hs[next] = hs[prev[i] + jq];
            out[o] = vec4<f32>(0.0);
            gates[g] = vec4<f32>(0.0);
            gates[g + hq] = vec4<f32>(0.0);
            gates[g + 2u * hq] = vec4<f32>(0.0);
            gates[g + 3u * hq] = vec4<f32>(0.0);
            continue;
        }
        let x = ((t * p.b + b) * p.d + d) * 3u * hq + jq;
        let hn = an[i] + bn;
        let r = sigmoid4(xw[x] + ar[i] + br);
        let z = sigmoid4(xw[x + hq] + az[i] + bz);
        let n = tanh(clamp(xw[x + 2u * hq] + r * hn, vec4<f32>(-15.0), vec4<f32>(15.0)));
        let hnew = (1.0 - z) * n + z * hs[prev[i] + jq];
        hs[next] = hnew;
        out[o] = hnew;
        gates[g] = r;
        gates[g + hq] = z;
        gates[g + 2u * hq] = n;
        gates[g + 3u * hq] = hn;
    }
}
