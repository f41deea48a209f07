// gru_cell_fwd_subgroup: gru_cell_fwd (same math, layouts and CellParams) for H, the W_hh
// offset and the b_hh offset all multiples of 4, with W_hh shared through subgroup shuffles.
//
// Eight consecutive lanes of a subgroup (an "octet") own 32 batch rows × 4 hidden units of one
// direction, for all three gates: lane l holds rows 4l..4l+3. For each slice of 8 k:
//   - lane l loads W_hh[g·H + u, k0 + l] for the 12 (gate, unit) pairs: each weight is loaded
//     once per octet, and the others take it with subgroupShuffle;
//   - lane l loads its own 4 rows of h_prev at k0..k0+8 (8 vec4).
// So a lane does 384 FMAs per 44 loaded floats, against 192 per 64 in gru_cell_fwd_vec4,
// whose lanes each load the same h and their own W (see benches/adapter_peak.rs for why loads
// decide the speed on lavapipe). Accumulators are named values, never an indexed array.
//
// An octet whose rows have all ended skips the product (a loop bound: lavapipe runs both sides
// of a branch under a mask). Every lane runs the k loop, also past the batch, because the
// others read its weights; the octet is found from subgroup_id and subgroup_invocation_id, as
// in matmul_subgroup.wgsl. Dispatch: 8 invocations per (32-row block, unit quad),
// octet = rb·(H/4) + jq, linear over x/y (index = x + y·nwg.x·WG), z = d; WG = 64.
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
@group(0) @binding(2) var<storage, read> w: array<f32>;               // W_hh (D, 3H, H), b_hh (D, 3H)
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

// vec4 index of row b's h_prev in hs (b clamped into the batch).
fn h_prev(d: u32, b: u32, hq: u32) -> u32 {
    return ((d * (p.t + 1u) + p.s) * p.b + min(b, p.b - 1u)) * hq;
}

// W_hh[d][g·H + 4jq .. +4, k] as a vec4 over the 4 units, zero past H.
fn w_units(wrow: u32, g: u32, k: u32) -> vec4<f32> {
    let kk = min(k, p.h - 1u);
    let base = wrow + g * p.h * p.h + kk;
    let v = vec4<f32>(w[base], w[base + p.h], w[base + 2u * p.h], w[base + 3u * p.h]);
    return select(vec4<f32>(0.0), v, k < p.h);
}

// Row b's h_prev at k0..k0+8 as two vec4 (zero past H; H is a multiple of 4).
fn h_row(prev: u32, k0: u32) -> array<vec4<f32>, 2> {
    let q = k0 / 4u;
    let hq = p.h / 4u;
    let lo = hs[prev + min(q, hq - 1u)];
    let hi = hs[prev + min(q + 1u, hq - 1u)];
    return array<vec4<f32>, 2>(
        select(vec4<f32>(0.0), lo, q < hq),
        select(vec4<f32>(0.0), hi, q + 1u < hq),
    );
}

// The 4 rows' accumulators of one gate.
struct Acc {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// acc.rX += h_X[k] · w for the 4 rows, where h_X[k] is component j of row X's slice.
fn add(acc: ptr<function, Acc>, w: vec4<f32>, h0: f32, h1: f32, h2: f32, h3: f32) {
    (*acc).r0 = fma(vec4<f32>(h0), w, (*acc).r0);
    (*acc).r1 = fma(vec4<f32>(h1), w, (*acc).r1);
    (*acc).r2 = fma(vec4<f32>(h2), w, (*acc).r2);
    (*acc).r3 = fma(vec4<f32>(h3), w, (*acc).r3);
}

// One k of the slice: the three gates' weights from lane `src`, times the rows' h at k.
fn step_k(ar: ptr<function, Acc>, az: ptr<function, Acc>, an: ptr<function, Acc>, wr: vec4<f32>, wz: vec4<f32>, wn: vec4<f32>, src: u32, h0: f32, h1: f32, h2: f32, h3: f32) {
    add(ar, subgroupShuffle(wr, src), h0, h1, h2, h3);
    add(az, subgroupShuffle(wz, src), h0, h1, h2, h3);
    add(an, subgroupShuffle(wn, src), h0, h1, h2, h3);
}

@compute @workgroup_size(WG)
fn gru_cell_fwd_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let H = p.h;
    let hq = H / 4u;
    let lane = sid & 7u;
    let first = sid - lane;
    let octet = ((wg.x + wg.y * nwg.x) * WG + sg * sg_size + sid) / 8u;
    let blocks = (p.b + 31u) / 32u;
    // Octets past the last block still run the loop (their lanes hold weights others read
    // only within their own octet, but the loop bound below must not read lens out of range).
    let rb = min(octet / hq, blocks - 1u);
    let jq = octet % hq;
    let past = octet >= blocks * hq;
    let d = wg.z;
    let t = select(p.s, p.t - 1u - p.s, d == 1u);
    let b0 = rb * 32u + 4u * lane;

    let prev0 = h_prev(d, b0, hq);
    let prev1 = h_prev(d, b0 + 1u, hq);
    let prev2 = h_prev(d, b0 + 2u, hq);
    let prev3 = h_prev(d, b0 + 3u, hq);
    // First element of W_hh[d] row (gate 0, unit 4jq).
    let wrow = p.whh_off + (d * 3u * H + 4u * jq) * H;

    var ar: Acc;
    var az: Acc;
    var an: Acc;
    // An octet whose 32 rows have all ended (or that lies past the batch) skips the product.
    var mine = false;
    for (var i = 0u; i < 4u; i++) {
        mine = mine || (b0 + i < p.b && t < lens[b0 + i]);
    }
    let k_end = select(0u, H, subgroupAny(mine && !past));
    for (var k0 = 0u; k0 < k_end; k0 += 8u) {
        let wr = w_units(wrow, 0u, k0 + lane);
        let wz = w_units(wrow, 1u, k0 + lane);
        let wn = w_units(wrow, 2u, k0 + lane);
        let x0 = h_row(prev0, k0);
        let x1 = h_row(prev1, k0);
        let x2 = h_row(prev2, k0);
        let x3 = h_row(prev3, k0);
        step_k(&ar, &az, &an, wr, wz, wn, first, x0[0].x, x1[0].x, x2[0].x, x3[0].x);
        step_k(&ar, &az, &an, wr, wz, wn, first + 1u, x0[0].y, x1[0].y, x2[0].y, x3[0].y);
        step_k(&ar, &az, &an, wr, wz, wn, first + 2u, x0[0].z, x1[0].z, x2[0].z, x3[0].z);
        step_k(&ar, &az, &an, wr, wz, wn, first + 3u, x0[0].w, x1[0].w, x2[0].w, x3[0].w);
        step_k(&ar, &az, &an, wr, wz, wn, first + 4u, x0[1].x, x1[1].x, x2[1].x, x3[1].x);
        step_k(&ar, &az, &an, wr, wz, wn, first + 5u, x0[1].y, x1[1].y, x2[1].y, x3[1].y);
        step_k(&ar, &az, &an, wr, wz, wn, first + 6u, x0[1].z, x1[1].z, x2[1].z, x3[1].z);
        step_k(&ar, &az, &an, wr, wz, wn, first + 7u, x0[1].w, x1[1].w, x2[1].w, x3[1].w);
    }
    if past {
        return;
    }
    var br = vec4<f32>(0.0);
    var bz = vec4<f32>(0.0);
    var bn = vec4<f32>(0.0);
    if p.has_bias != 0u {
        let bb = p.bhh_off + d * 3u * H + 4u * jq;
        br = vec4<f32>(w[bb], w[bb + 1u], w[bb + 2u], w[bb + 3u]);
        bz = vec4<f32>(w[bb + H], w[bb + H + 1u], w[bb + H + 2u], w[bb + H + 3u]);
        let n0 = bb + 2u * H;
        bn = vec4<f32>(w[n0], w[n0 + 1u], w[n0 + 2u], w[n0 + 3u]);
    }
    finish_row(d, t, b0, jq, prev0, ar.r0 + br, az.r0 + bz, an.r0 + bn);
    finish_row(d, t, b0 + 1u, jq, prev1, ar.r1 + br, az.r1 + bz, an.r1 + bn);
    finish_row(d, t, b0 + 2u, jq, prev2, ar.r2 + br, az.r2 + bz, an.r2 + bn);
    finish_row(d, t, b0 + 3u, jq, prev3, ar.r3 + br, az.r3 + bz, an.r3 + bn);
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
