// matmul_subgroup: C = op(A) · op(B) (+ bias[n]) (C += … with ACCUMULATE), sharing A through
// subgroup shuffles instead of loading it in every invocation. Same contract, operand
// alignment and MatmulParams as matmul_vec4.wgsl (NT, NN and TN; contiguous dimensions, row
// strides and offsets of A and B multiples of 4); the host (ops::matmul) picks it on adapters
// with subgroups of 8 to 64 invocations.
//
// Eight consecutive lanes of a subgroup (an "octet") own a ROWS × 32 block of C: lane l holds
// columns 4l..4l+3 of all ROWS rows, as ROWS vec4 accumulators. For each slice of 8 k:
//   - A (K, M) (TN): lane l loads A[k0 + l, the ROWS rows] as 8 vec4, and for each k every
//     lane takes them from lane k − k0 with subgroupShuffle;
//   - A (M, K) (NT, NN): lane l loads rows 4l..4l+3 at k0..k0+8 as 8 vec4, and for each k
//     every lane takes row quad q from lane q;
//   - either way each A element is loaded once per octet, and lane l loads its own
//     B[k0..k0+8, 4l..4l+4] (8 vec4).
// So a lane does 32·ROWS FMAs per 16 vec4 loads. Where loads are the bottleneck (lavapipe
// turns every storage-buffer load into a per-lane loop, see benches/adapter_peak.rs), that is
// 64 loaded floats per 1024 FMAs, against 32 per 64 in matmul_vec4's 4×4 blocks; loading A as
// vec4 rather than 32 scalars made it 1.2–1.3× faster there. 32 rows measured best: 16 rows
// ran 1.4× slower, 64 rows (256 accumulators) 1.25× slower.
//
// With `packed`, the padding of a padded (T, B) batch is skipped: octets whose 32 rows of M
// are all padding, and along K each step's rows past its last running one (the CPU twin's
// cpu::matmul::matmul_padded skips the same rows; the other matmul kernels run them).
//
// Every lane of an octet runs the whole k loop, also when its columns or rows lie outside C,
// because the others read its A values; such lanes clamp their loads and skip their stores.
// The octet is found from subgroup_id and subgroup_invocation_id, never from the local index,
// because Vulkan does not fix how invocations map to subgroups. Workgroup: 64 invocations
// as OCT_M octets along M by 8 / OCT_M along N (the host picks the arrangement that pads C
// least); grid (ceil(N/(32·8/OCT_M)), ceil(M/(ROWS·OCT_M)), batch).
// CPU twin: src/cpu/matmul.rs (cpu::matmul::matmul).

struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    bias_off: u32,
    a_bs: u32,     // batch strides: product z reads A at a_off + z·a_bs, …
    b_bs: u32,
    c_bs: u32,
    bias_bs: u32,
    // A padded (T, B) batch along M (packed = 1) or K (packed = 2), B = steps_b rows per
    // step; bit 2 + z: product z's steps run backwards in time (see model::plan::Steps).
    packed: u32,
    steps_b: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
// Octets of a workgroup along M: 1, 2, 4 or 8.
override OCT_M: u32 = 8u;

// Rows of C per octet (written out in rank1 and the loads of A).
const ROWS: u32 = 32u;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;      // (M, K) or (K, M)
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;      // (K, N) or (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N); unused without HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;      // (M, N)
@group(0) @binding(5) var<storage, read> lens: array<u32>;         // (B) with `packed`

// The time of step `step` of product z's T = t steps: backwards when its bit says so.
fn step_time(step: u32, t: u32, z: u32) -> u32 {
    return select(step, t - 1u - step, ((p.packed >> (2u + z)) & 1u) == 1u);
}

// One past the last row of step `step` (of product z, along K) still running, as
// cpu::cell::active_rows: the octet's lanes look at every 8th length, then take the maximum.
fn step_rows(step: u32, z: u32, lane: u32) -> u32 {
    let t = p.k / p.steps_b;
    let time = step_time(step, t, z);
    var last = 0u;
    for (var row = lane; row < p.steps_b; row += 8u) {
        if time < lens[row] {
            last = row + 1u;
        }
    }
    return subgroupMax(last);
}

// Whether row i of product z's C (along M) belongs to a running sequence: i = step·B + b,
// and the step's time is before lens[b]. Rows past M do not.
fn running(i: u32, z: u32) -> bool {
    if i >= p.m {
        return false;
    }
    let step = i / p.steps_b;
    let t = p.m / p.steps_b;
    let time = step_time(step, t, z);
    return time < lens[i % p.steps_b];
}

// A (K, M): A[row..row + 4, k] as one vec4, zero unless k_in (M is a multiple of 4, so a quad
// lies wholly inside A or wholly outside, where it is clamped).
fn load_a4(a_off: u32, row: u32, k: u32, k_in: bool) -> vec4<f32> {
    let v = a[(a_off + k * p.lda + min(row, p.m - 4u)) / 4u];
    return select(vec4<f32>(0.0), v, k_in);
}

// A (M, K): A[row, k0..k0 + 8] as two vec4 (row clamped into A; K is a multiple of 4, and a
// run past K repeats its first quad, which meets B's zeros there).
fn a_run(a_off: u32, row: u32, k0: u32) -> array<vec4<f32>, 2> {
    let base = (a_off + min(row, p.m - 1u) * p.lda + k0) / 4u;
    return array<vec4<f32>, 2>(a[base], a[base + select(0u, 1u, k0 + 4u < p.k)]);
}

// NN: B[k, col..col + 4], zero from k_lim (at most K) on.
fn b_col(b_off: u32, k: u32, k_lim: u32, col: u32) -> vec4<f32> {
    let v = b[(b_off + min(k, k_lim - 1u) * p.ldb + col) / 4u];
    return select(vec4<f32>(0.0), v, k < k_lim);
}

// NT: row n of the stored (N, K) B at k0..k0 + 8, as two vec4, zero past K (K is a multiple
// of 4); n is clamped into B.
fn b_row(b_off: u32, n: u32, k0: u32) -> array<vec4<f32>, 2> {
    let base = b_off + min(n, p.n - 1u) * p.ldb;
    let lo = b[(base + k0) / 4u];
    let hi = b[(base + min(k0 + 4u, p.k - 4u)) / 4u];
    return array<vec4<f32>, 2>(lo, select(vec4<f32>(0.0), hi, k0 + 4u < p.k));
}

// acc[r] += A[r, k] · bk for the 32 rows, where lane `src` of the octet holds A[0..32, k] as
// eight quads aq[q] = A[4q..4q + 4, k]. Every index is a constant: lavapipe keeps a
// dynamically indexed private array in memory.
fn rank1(acc: ptr<function, array<vec4<f32>, 32>>, aq: ptr<function, array<vec4<f32>, 8>>, src: u32, bk: vec4<f32>) {
    let s0 = subgroupShuffle((*aq)[0], src);
    let s1 = subgroupShuffle((*aq)[1], src);
    let s2 = subgroupShuffle((*aq)[2], src);
    let s3 = subgroupShuffle((*aq)[3], src);
    let s4 = subgroupShuffle((*aq)[4], src);
    let s5 = subgroupShuffle((*aq)[5], src);
    let s6 = subgroupShuffle((*aq)[6], src);
    let s7 = subgroupShuffle((*aq)[7], src);
    add_rank1(acc, s0, s1, s2, s3, s4, s5, s6, s7, bk);
}

// acc[r] += A[r, k] · bk for the 32 rows, where lane q of the octet holds A[4q..4q + 4, k]
// as `quad` (the layout of an (M, K) A).
fn rank1_rows(acc: ptr<function, array<vec4<f32>, 32>>, quad: vec4<f32>, first: u32, bk: vec4<f32>) {
    let s0 = subgroupShuffle(quad, first);
    let s1 = subgroupShuffle(quad, first + 1u);
    let s2 = subgroupShuffle(quad, first + 2u);
    let s3 = subgroupShuffle(quad, first + 3u);
    let s4 = subgroupShuffle(quad, first + 4u);
    let s5 = subgroupShuffle(quad, first + 5u);
    let s6 = subgroupShuffle(quad, first + 6u);
    let s7 = subgroupShuffle(quad, first + 7u);
    add_rank1(acc, s0, s1, s2, s3, s4, s5, s6, s7, bk);
}

// acc[4q + i] += sq[i] · bk: one k's column of A for the 32 rows, as eight quads, times this
// lane's row of B.
fn add_rank1(acc: ptr<function, array<vec4<f32>, 32>>, s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, s3: vec4<f32>, s4: vec4<f32>, s5: vec4<f32>, s6: vec4<f32>, s7: vec4<f32>, bk: vec4<f32>) {
    (*acc)[0] = fma(vec4<f32>(s0.x), bk, (*acc)[0]);
    (*acc)[1] = fma(vec4<f32>(s0.y), bk, (*acc)[1]);
    (*acc)[2] = fma(vec4<f32>(s0.z), bk, (*acc)[2]);
    (*acc)[3] = fma(vec4<f32>(s0.w), bk, (*acc)[3]);
    (*acc)[4] = fma(vec4<f32>(s1.x), bk, (*acc)[4]);
    (*acc)[5] = fma(vec4<f32>(s1.y), bk, (*acc)[5]);
    (*acc)[6] = fma(vec4<f32>(s1.z), bk, (*acc)[6]);
    (*acc)[7] = fma(vec4<f32>(s1.w), bk, (*acc)[7]);
    (*acc)[8] = fma(vec4<f32>(s2.x), bk, (*acc)[8]);
    (*acc)[9] = fma(vec4<f32>(s2.y), bk, (*acc)[9]);
    (*acc)[10] = fma(vec4<f32>(s2.z), bk, (*acc)[10]);
    (*acc)[11] = fma(vec4<f32>(s2.w), bk, (*acc)[11]);
    (*acc)[12] = fma(vec4<f32>(s3.x), bk, (*acc)[12]);
    (*acc)[13] = fma(vec4<f32>(s3.y), bk, (*acc)[13]);
    (*acc)[14] = fma(vec4<f32>(s3.z), bk, (*acc)[14]);
    (*acc)[15] = fma(vec4<f32>(s3.w), bk, (*acc)[15]);
    (*acc)[16] = fma(vec4<f32>(s4.x), bk, (*acc)[16]);
    (*acc)[17] = fma(vec4<f32>(s4.y), bk, (*acc)[17]);
    (*acc)[18] = fma(vec4<f32>(s4.z), bk, (*acc)[18]);
    (*acc)[19] = fma(vec4<f32>(s4.w), bk, (*acc)[19]);
    (*acc)[20] = fma(vec4<f32>(s5.x), bk, (*acc)[20]);
    (*acc)[21] = fma(vec4<f32>(s5.y), bk, (*acc)[21]);
    (*acc)[22] = fma(vec4<f32>(s5.z), bk, (*acc)[22]);
    (*acc)[23] = fma(vec4<f32>(s5.w), bk, (*acc)[23]);
    (*acc)[24] = fma(vec4<f32>(s6.x), bk, (*acc)[24]);
    (*acc)[25] = fma(vec4<f32>(s6.y), bk, (*acc)[25]);
    (*acc)[26] = fma(vec4<f32>(s6.z), bk, (*acc)[26]);
    (*acc)[27] = fma(vec4<f32>(s6.w), bk, (*acc)[27]);
    (*acc)[28] = fma(vec4<f32>(s7.x), bk, (*acc)[28]);
    (*acc)[29] = fma(vec4<f32>(s7.y), bk, (*acc)[29]);
    (*acc)[30] = fma(vec4<f32>(s7.z), bk, (*acc)[30]);
    (*acc)[31] = fma(vec4<f32>(s7.w), bk, (*acc)[31]);
}

// C[row, col..col + 4] = v + add (+= with ACCUMULATE), for the columns inside C; `add` is
// this lane's quad of the bias (or 0), loaded once for all its rows.
fn store_row(c_off: u32, row: u32, col: u32, v: vec4<f32>, add: vec4<f32>) {
    if row >= p.m {
        return;
    }
    let x = v + add;
    for (var q = 0u; q < 4u; q++) {
        let cq = col + q;
        if cq >= p.n {
            break;
        }
        let idx = c_off + row * p.ldc + cq;
        if ACCUMULATE {
            c[idx] += x[q];
        } else {
            c[idx] = x[q];
        }
    }
}

@compute @workgroup_size(64)
fn matmul_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let a_off = p.a_off + wg.z * p.a_bs;
    let b_off = p.b_off + wg.z * p.b_bs;
    let c_off = p.c_off + wg.z * p.c_bs;
    let bias_off = p.bias_off + wg.z * p.bias_bs;
    let lane = sid & 7u;
    let first = sid - lane;                           // lane 0 of this octet in the subgroup
    let octet = (sg * sg_size + sid) / 8u;           // 0..8 within the workgroup
    // Row blocks in the order 0, last, 1, last − 1, …: a padded batch's early steps hold the
    // most running rows, and a device that hands each thread a contiguous run of workgroups
    // (lavapipe does) then gets a share of both ends.
    let half = wg.y / 2u;
    let yb = select(half, nwg.y - 1u - half, (wg.y & 1u) == 1u);
    let row0 = (yb * OCT_M + octet % OCT_M) * ROWS;
    let col0 = (wg.x * (8u / OCT_M) + octet / OCT_M) * 32u + 4u * lane;
    // Clamped so that lanes outside C still load real elements; their results are dropped.
    // (NN has N a multiple of 4, so the clamp only moves lanes that lie wholly outside C.)
    let col = min(col0, p.n - 4u);

    var acc: array<vec4<f32>, 32>;
    // A padded batch along M: a subgroup whose rows are all padding skips the product (their
    // A rows are zero or their C rows unread); each lane looks at 4 of its octet's 32 rows.
    var k_end = p.k;
    if (p.packed & 3u) == 1u {
        var mine = false;
        for (var r = 0u; r < 4u; r++) {
            mine = mine || running(row0 + 4u * lane + r, wg.z);
        }
        if !subgroupAny(mine) {
            k_end = 0u;
        }
    }
    // Along K: each step's k run only to one past its last running row; the rows after it
    // are padding and add zeros. (A loop bound, not a branch in the loop: lavapipe runs both
    // sides of a branch under a mask, but leaves a loop once no lane is in it.)
    let along_k = (p.packed & 3u) == 2u;
    let segments = select(1u, p.k / max(p.steps_b, 1u), along_k);
    for (var seg = 0u; seg < segments; seg++) {
    var k0 = 0u;
    var k_lim = k_end;
    if along_k {
        k0 = seg * p.steps_b;
        k_lim = k0 + step_rows(seg, wg.z, lane);
    }
    for (; k0 < k_lim; k0 += 8u) {
        // This lane's B[k0 + j, col..col + 4] for j < 8 (zero past K). Constant indices only:
        // lavapipe keeps indexed private arrays in memory.
        var bk: array<vec4<f32>, 8>;
        if TRANS_B {
            // B is (N, K): four rows of B, two vec4 runs along k each, transposed here.
            let q0 = b_row(b_off, col0, k0);
            let q1 = b_row(b_off, col0 + 1u, k0);
            let q2 = b_row(b_off, col0 + 2u, k0);
            let q3 = b_row(b_off, col0 + 3u, k0);
            bk[0] = vec4<f32>(q0[0].x, q1[0].x, q2[0].x, q3[0].x);
            bk[1] = vec4<f32>(q0[0].y, q1[0].y, q2[0].y, q3[0].y);
            bk[2] = vec4<f32>(q0[0].z, q1[0].z, q2[0].z, q3[0].z);
            bk[3] = vec4<f32>(q0[0].w, q1[0].w, q2[0].w, q3[0].w);
            bk[4] = vec4<f32>(q0[1].x, q1[1].x, q2[1].x, q3[1].x);
            bk[5] = vec4<f32>(q0[1].y, q1[1].y, q2[1].y, q3[1].y);
            bk[6] = vec4<f32>(q0[1].z, q1[1].z, q2[1].z, q3[1].z);
            bk[7] = vec4<f32>(q0[1].w, q1[1].w, q2[1].w, q3[1].w);
        } else {
            bk[0] = b_col(b_off, k0, k_lim, col);
            bk[1] = b_col(b_off, k0 + 1u, k_lim, col);
            bk[2] = b_col(b_off, k0 + 2u, k_lim, col);
            bk[3] = b_col(b_off, k0 + 3u, k_lim, col);
            bk[4] = b_col(b_off, k0 + 4u, k_lim, col);
            bk[5] = b_col(b_off, k0 + 5u, k_lim, col);
            bk[6] = b_col(b_off, k0 + 6u, k_lim, col);
            bk[7] = b_col(b_off, k0 + 7u, k_lim, col);
        }
        if !TRANS_A {
            // A is (M, K): this lane loads its 4 of the 32 rows at k0..k0 + 8 (8 vec4), and
            // each k's quad of them is shared.
            let r = row0 + 4u * lane;
            let a0 = a_run(a_off, r, k0);
            let a1 = a_run(a_off, r + 1u, k0);
            let a2 = a_run(a_off, r + 2u, k0);
            let a3 = a_run(a_off, r + 3u, k0);
            rank1_rows(&acc, vec4<f32>(a0[0].x, a1[0].x, a2[0].x, a3[0].x), first, bk[0]);
            rank1_rows(&acc, vec4<f32>(a0[0].y, a1[0].y, a2[0].y, a3[0].y), first, bk[1]);
            rank1_rows(&acc, vec4<f32>(a0[0].z, a1[0].z, a2[0].z, a3[0].z), first, bk[2]);
            rank1_rows(&acc, vec4<f32>(a0[0].w, a1[0].w, a2[0].w, a3[0].w), first, bk[3]);
            rank1_rows(&acc, vec4<f32>(a0[1].x, a1[1].x, a2[1].x, a3[1].x), first, bk[4]);
            rank1_rows(&acc, vec4<f32>(a0[1].y, a1[1].y, a2[1].y, a3[1].y), first, bk[5]);
            rank1_rows(&acc, vec4<f32>(a0[1].z, a1[1].z, a2[1].z, a3[1].z), first, bk[6]);
            rank1_rows(&acc, vec4<f32>(a0[1].w, a1[1].w, a2[1].w, a3[1].w), first, bk[7]);
        } else {
            // A is (K, M): this lane's k, and the A elements it shares, A[row0..row0 + 32,
            // k] as 8 vec4 (zero from k_lim on).
            let kl = min(k0 + lane, k_lim - 1u);
            let k_in = k0 + lane < k_lim;
            var aq: array<vec4<f32>, 8>;
            aq[0] = load_a4(a_off, row0 + 0u, kl, k_in);
            aq[1] = load_a4(a_off, row0 + 4u, kl, k_in);
            aq[2] = load_a4(a_off, row0 + 8u, kl, k_in);
            aq[3] = load_a4(a_off, row0 + 12u, kl, k_in);
            aq[4] = load_a4(a_off, row0 + 16u, kl, k_in);
            aq[5] = load_a4(a_off, row0 + 20u, kl, k_in);
            aq[6] = load_a4(a_off, row0 + 24u, kl, k_in);
            aq[7] = load_a4(a_off, row0 + 28u, kl, k_in);
            rank1(&acc, &aq, first, bk[0]);
            rank1(&acc, &aq, first + 1u, bk[1]);
            rank1(&acc, &aq, first + 2u, bk[2]);
            rank1(&acc, &aq, first + 3u, bk[3]);
            rank1(&acc, &aq, first + 4u, bk[4]);
            rank1(&acc, &aq, first + 5u, bk[5]);
            rank1(&acc, &aq, first + 6u, bk[6]);
            rank1(&acc, &aq, first + 7u, bk[7]);
        }
    }
    }

    if col0 >= p.n {
        return;
    }
    // Constant indices only: a dynamically indexed acc would live in memory on lavapipe.
    var add = vec4<f32>(0.0);
    if HAS_BIAS {
        let bq = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
        add = vec4<f32>(bias[bias_off + bq.x], bias[bias_off + bq.y], bias[bias_off + bq.z], bias[bias_off + bq.w]);
    }
    store_row(c_off, row0 + 0u, col0, acc[0], add);
    store_row(c_off, row0 + 1u, col0, acc[1], add);
    store_row(c_off, row0 + 2u, col0, acc[2], add);
    store_row(c_off, row0 + 3u, col0, acc[3], add);
    store_row(c_off, row0 + 4u, col0, acc[4], add);
    store_row(c_off, row0 + 5u, col0, acc[5], add);
    store_row(c_off, row0 + 6u, col0, acc[6], add);
    store_row(c_off, row0 + 7u, col0, acc[7], add);
    store_row(c_off, row0 + 8u, col0, acc[8], add);
    store_row(c_off, row0 + 9u, col0, acc[9], add);
    store_row(c_off, row0 + 10u, col0, acc[10], add);
    store_row(c_off, row0 + 11u, col0, acc[11], add);
    store_row(c_off, row0 + 12u, col0, acc[12], add);
    store_row(c_off, row0 + 13u, col0, acc[13], add);
    store_row(c_off, row0 + 14u, col0, acc[14], add);
    store_row(c_off, row0 + 15u, col0, acc[15], add);
    store_row(c_off, row0 + 16u, col0, acc[16], add);
    store_row(c_off, row0 + 17u, col0, acc[17], add);
    store_row(c_off, row0 + 18u, col0, acc[18], add);
    store_row(c_off, row0 + 19u, col0, acc[19], add);
    store_row(c_off, row0 + 20u, col0, acc[20], add);
    store_row(c_off, row0 + 21u, col0, acc[21], add);
    store_row(c_off, row0 + 22u, col0, acc[22], add);
    store_row(c_off, row0 + 23u, col0, acc[23], add);
    store_row(c_off, row0 + 24u, col0, acc[24], add);
    store_row(c_off, row0 + 25u, col0, acc[25], add);
    store_row(c_off, row0 + 26u, col0, acc[26], add);
    store_row(c_off, row0 + 27u, col0, acc[27], add);
    store_row(c_off, row0 + 28u, col0, acc[28], add);
    store_row(c_off, row0 + 29u, col0, acc[29], add);
    store_row(c_off, row0 + 30u, col0, acc[30], add);
    store_row(c_off, row0 + 31u, col0, acc[31], add);
}
