// gru_cell_bwd_subgroup: gru_cell_bwd (same math, layouts and CellParams) for H, the W_hh
// offset and the dh_n offset all multiples of 4, with W_hh shared through subgroup shuffles.
//
// Eight consecutive lanes of a subgroup (an "octet") own 32 batch rows × 8 hidden units (two
// unit quads; the second lies past H in the last octet when H/4 is odd) of one direction:
// lane l holds rows 4l..4l+3. The recurrent part of dh, Σ_k dhh[d, s+1, b, k] · W_hh[d, k, j],
// takes for each slice of 8 k two vec4 of W_hh per lane (row k0 + l, the octet's 8 units),
// shared with subgroupShuffle, and the lane's own 4 rows of dhh (8 vec4): 256 FMAs per 10
// loads, against 128 per 9 with one quad (1.4–1.7× slower on lavapipe) and 64 per 8 in
// gru_cell_bwd_vec4. Everything after is gru_cell_bwd's per-element math on vec4s, as in the
// vec4 kernel.
//
// An octet whose rows all ended before step s + 1 skips the product (a loop bound). Every lane
// runs the k loop, also past the batch; the octet comes from subgroup_id and
// subgroup_invocation_id. Dispatch: 8 invocations per (32-row block, pair of unit quads),
// octet = rb·⌈H/8⌉ + unit octet, linear over x/y (index = x + y·nwg.x·WG), z = d; WG = 64.
// CPU twin: src/cpu/gru_cell.rs (cpu::gru_cell::gru_cell_bwd).

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

@group(0) @binding(1) var<storage, read> dout: array<vec4<f32>>;         // (T, B, D·H)
@group(0) @binding(2) var<storage, read> dhn: array<vec4<f32>>;          // (D, B, H) at dhn_off
@group(0) @binding(3) var<storage, read> w: array<vec4<f32>>;            // W_hh (D, 3H, H)
@group(0) @binding(4) var<storage, read> lens: array<u32>;               // (B)
@group(0) @binding(5) var<storage, read> hs: array<vec4<f32>>;           // (D, T+1, B, H)
@group(0) @binding(6) var<storage, read> gates: array<vec4<f32>>;        // (D, T, B, 4H)
@group(0) @binding(7) var<storage, read_write> dxw: array<vec4<f32>>;    // (T, B, D·3H)
@group(0) @binding(8) var<storage, read_write> dhh: array<vec4<f32>>;    // (D, T, B, 3H)
@group(0) @binding(9) var<storage, read_write> carry: array<vec4<f32>>;  // (D, B, H)
@group(0) @binding(0) var<uniform> p: CellParams;

// vec4 index of row b of dhh[d, s+1] (b clamped into the batch).
fn dhh_row(d: u32, b: u32, hq: u32) -> u32 {
    return ((d * p.t + p.s + 1u) * p.b + min(b, p.b - 1u)) * 3u * hq;
}

// Row `row` of dhh at k0..k0+8 as two vec4 (zero past 3H, a multiple of 4).
fn dhh_slice(row: u32, k0: u32) -> array<vec4<f32>, 2> {
    let q = k0 / 4u;
    let n = 3u * p.h / 4u;
    let lo = dhh[row + min(q, n - 1u)];
    let hi = dhh[row + min(q + 1u, n - 1u)];
    return array<vec4<f32>, 2>(
        select(vec4<f32>(0.0), lo, q < n),
        select(vec4<f32>(0.0), hi, q + 1u < n),
    );
}

// The 4 rows' dh.
struct Dh {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// dX.rY += dhh_Y[k] · W_hh[k, units of quad X], W_hh's row taken from lane `src`.
fn step_k(da: ptr<function, Dh>, db: ptr<function, Dh>, wa: vec4<f32>, wb: vec4<f32>, src: u32, q0: f32, q1: f32, q2: f32, q3: f32) {
    let a = subgroupShuffle(wa, src);
    let b = subgroupShuffle(wb, src);
    (*da).r0 = fma(vec4<f32>(q0), a, (*da).r0);
    (*da).r1 = fma(vec4<f32>(q1), a, (*da).r1);
    (*da).r2 = fma(vec4<f32>(q2), a, (*da).r2);
    (*da).r3 = fma(vec4<f32>(q3), a, (*da).r3);
    (*db).r0 = fma(vec4<f32>(q0), b, (*db).r0);
    (*db).r1 = fma(vec4<f32>(q1), b, (*db).r1);
    (*db).r2 = fma(vec4<f32>(q2), b, (*db).r2);
    (*db).r3 = fma(vec4<f32>(q3), b, (*db).r3);
}

// The 4 rows' dh (or dh_n) for unit quad jq: from dh_n at the last step, else the carry.
fn dh_start(d: u32, b0: u32, jq: u32) -> Dh {
    let hq = p.h / 4u;
    var base = d * p.b * hq + jq;
    if p.first != 0u {
        base += p.dhn_off / 4u;
        return Dh(dhn[base + min(b0, p.b - 1u) * hq], dhn[base + min(b0 + 1u, p.b - 1u) * hq], dhn[base + min(b0 + 2u, p.b - 1u) * hq], dhn[base + min(b0 + 3u, p.b - 1u) * hq]);
    }
    return Dh(carry[base + min(b0, p.b - 1u) * hq], carry[base + min(b0 + 1u, p.b - 1u) * hq], carry[base + min(b0 + 2u, p.b - 1u) * hq], carry[base + min(b0 + 3u, p.b - 1u) * hq]);
}

@compute @workgroup_size(WG)
fn gru_cell_bwd_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let H = p.h;
    let hq = H / 4u;
    let ho = (hq + 1u) / 2u;                          // unit octets (two quads each)
    let lane = sid & 7u;
    let first = sid - lane;
    let octet = ((wg.x + wg.y * nwg.x) * WG + sg * sg_size + sid) / 8u;
    let blocks = (p.b + 31u) / 32u;
    let rb = min(octet / ho, blocks - 1u);
    let ja = 2u * (octet % ho);
    // The second quad, clamped onto the first where it lies past H (its results unstored).
    let jb = min(ja + 1u, hq - 1u);
    let past = octet >= blocks * ho;
    let d = wg.z;
    let t = select(p.s, p.t - 1u - p.s, d == 1u);
    let b0 = rb * 32u + 4u * lane;

    var da = dh_start(d, b0, ja);
    var db = dh_start(d, b0, jb);
    var k_end = 0u;
    if p.first == 0u {
        // dhh[d, s+1] is zero in rows not running at step s + 1: an octet of only those
        // skips the product.
        let t1 = select(p.s + 1u, p.t - 2u - p.s, d == 1u);
        var mine = false;
        for (var i = 0u; i < 4u; i++) {
            mine = mine || (b0 + i < p.b && t1 < lens[b0 + i]);
        }
        k_end = select(0u, 3u * H, subgroupAny(mine && !past));
    }
    let row0 = dhh_row(d, b0, hq);
    let row1 = dhh_row(d, b0 + 1u, hq);
    let row2 = dhh_row(d, b0 + 2u, hq);
    let row3 = dhh_row(d, b0 + 3u, hq);
    // W_hh[d, k, 4j..4j+4] as a vec4 index: row k of direction d, quad j.
    let wrow = p.whh_off / 4u + d * 3u * H * hq;
    for (var k0 = 0u; k0 < k_end; k0 += 8u) {
        let k = k0 + lane;
        let kc = wrow + min(k, 3u * H - 1u) * hq;
        let wa = select(vec4<f32>(0.0), w[kc + ja], k < 3u * H);
        let wb = select(vec4<f32>(0.0), w[kc + jb], k < 3u * H);
        let x0 = dhh_slice(row0, k0);
        let x1 = dhh_slice(row1, k0);
        let x2 = dhh_slice(row2, k0);
        let x3 = dhh_slice(row3, k0);
        step_k(&da, &db, wa, wb, first, x0[0].x, x1[0].x, x2[0].x, x3[0].x);
        step_k(&da, &db, wa, wb, first + 1u, x0[0].y, x1[0].y, x2[0].y, x3[0].y);
        step_k(&da, &db, wa, wb, first + 2u, x0[0].z, x1[0].z, x2[0].z, x3[0].z);
        step_k(&da, &db, wa, wb, first + 3u, x0[0].w, x1[0].w, x2[0].w, x3[0].w);
        step_k(&da, &db, wa, wb, first + 4u, x0[1].x, x1[1].x, x2[1].x, x3[1].x);
        step_k(&da, &db, wa, wb, first + 5u, x0[1].y, x1[1].y, x2[1].y, x3[1].y);
        step_k(&da, &db, wa, wb, first + 6u, x0[1].z, x1[1].z, x2[1].z, x3[1].z);
        step_k(&da, &db, wa, wb, first + 7u, x0[1].w, x1[1].w, x2[1].w, x3[1].w);
    }
    if past {
        return;
    }
    finish_row(d, t, b0, ja, da.r0);
    finish_row(d, t, b0 + 1u, ja, da.r1);
    finish_row(d, t, b0 + 2u, ja, da.r2);
    finish_row(d, t, b0 + 3u, ja, da.r3);
    if ja + 1u < hq {
        finish_row(d, t, b0, jb, db.r0);
        finish_row(d, t, b0 + 1u, jb, db.r1);
        finish_row(d, t, b0 + 2u, jb, db.r2);
        finish_row(d, t, b0 + 3u, jb, db.r3);
    }
}

// Row b's gate gradients for this unit quad from dh, the gradient reaching h at this step
// from later steps (or dh_n). Rows past the batch store nothing; ended rows pass dh on.
fn finish_row(d: u32, t: u32, b: u32, jq: u32, dh: vec4<f32>) {
    if b >= p.b {
        return;
    }
    let hq = p.h / 4u;
    let c = (d * p.b + b) * hq + jq;
    let x = ((t * p.b + b) * p.d + d) * 3u * hq + jq;
    let y = ((d * p.t + p.s) * p.b + b) * 3u * hq + jq;
    if t >= lens[b] {
        carry[c] = dh;
        dxw[x] = vec4<f32>(0.0);
        dxw[x + hq] = vec4<f32>(0.0);
        dxw[x + 2u * hq] = vec4<f32>(0.0);
        dhh[y] = vec4<f32>(0.0);
        dhh[y + hq] = vec4<f32>(0.0);
        dhh[y + 2u * hq] = vec4<f32>(0.0);
        return;
    }
    let g = ((d * p.t + p.s) * p.b + b) * 4u * hq + jq;
    let r = gates[g];
    let z = gates[g + hq];
    let n = gates[g + 2u * hq];
    let hn = gates[g + 3u * hq];
    let h_prev = hs[((d * (p.t + 1u) + p.s) * p.b + b) * hq + jq];
    let dhv = dh + dout[((t * p.b + b) * p.d + d) * hq + jq];
    let dn = dhv * (1.0 - z) * (1.0 - n * n);
    let dz = dhv * (h_prev - n) * z * (1.0 - z);
    let dr = dn * hn * r * (1.0 - r);
    dxw[x] = dr;
    dxw[x + hq] = dz;
    dxw[x + 2u * hq] = dn;
    dhh[y] = dr;
    dhh[y + hq] = dz;
    dhh[y + 2u * hq] = dn * r;
    carry[c] = dhv * z;
}
