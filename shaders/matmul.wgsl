// matmul: C = op(A) · op(B) (+ bias[n]) (C += … with ACCUMULATE).
//
// op(A) is (M, K): A itself, row-major with row stride lda, or with TRANS_A the transpose of a
// stored (K, M) matrix. op(B) is (K, N): B with row stride ldb, or with TRANS_B the transpose of
// a stored (N, K) matrix. C is (M, N) with row stride ldc. Offsets are in elements, so every
// operand can be a view into a larger buffer (the flat parameter buffer, or one direction's half
// of a concatenated (T, B, 2H) output).
//   forward   Y  = X · Wᵀ + b   (NT)
//   backward  dX = dY · W       (NN),   dW += dYᵀ · X   (TN, ACCUMULATE)
//
// Dispatch: one invocation per 4×4 block of C; workgroup (WG_X, WG_Y);
// grid (ceil(ceil(N/4) / WG_X), ceil(ceil(M/4) / WG_Y), batch): gid.z picks one of a batch of
// equally shaped products whose operands lie a_bs, b_bs, c_bs, bias_bs elements apart (the
// two directions of a recurrent layer, for instance).
// Register-tiled and barrier-free: on CPU adapters (lavapipe) workgroup barriers cost far more
// than they save. Out-of-range rows and columns are clamped on load and skipped on store, so any
// M, N, K ≥ 1 is correct.
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
    packed: u32,     // matmul_subgroup only: this kernel runs the whole product
    steps_b: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;            // (M, K) or (K, M)
@group(0) @binding(2) var<storage, read> b: array<f32>;            // (K, N) or (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N); unused without HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;      // (M, N)

// This invocation's operand offsets: the product of batch z = gid.z.
var<private> a_off: u32;
var<private> b_off: u32;
var<private> c_off: u32;
var<private> bias_off: u32;

// op(A)[row, kk]
fn load_a(row: u32, kk: u32) -> f32 {
    if TRANS_A {
        return a[a_off + kk * p.lda + row];
    }
    return a[a_off + row * p.lda + kk];
}

// op(B)[kk, col]
fn load_b(kk: u32, col: u32) -> f32 {
    if TRANS_B {
        return b[b_off + col * p.ldb + kk];
    }
    return b[b_off + kk * p.ldb + col];
}

// C[row, col0..col0 + 4] = v (+ bias) (+= with ACCUMULATE), for the parts inside C. Called
// with named values: lavapipe keeps a dynamically indexed private array in memory.
fn store_row(row: u32, col0: u32, v: vec4<f32>) {
    if row >= p.m {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if col >= p.n {
            break;
        }
        var x = v[j];
        if HAS_BIAS {
            x += bias[bias_off + col];
        }
        let idx = c_off + row * p.ldc + col;
        if ACCUMULATE {
            x += c[idx];
        }
        c[idx] = x;
    }
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    a_off = p.a_off + gid.z * p.a_bs;
    b_off = p.b_off + gid.z * p.b_bs;
    c_off = p.c_off + gid.z * p.c_bs;
    bias_off = p.bias_off + gid.z * p.bias_bs;
    let col0 = gid.x * 4u;
    let row0 = gid.y * 4u;
    if col0 >= p.n || row0 >= p.m {
        return;
    }
    // Clamped indices: edge blocks compute duplicates of the last row/column and never store them.
    let r = min(vec4<u32>(row0, row0 + 1u, row0 + 2u, row0 + 3u), vec4<u32>(p.m - 1u));
    let cl = min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4<u32>(p.n - 1u));

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let av = vec4<f32>(load_a(r.x, kk), load_a(r.y, kk), load_a(r.z, kk), load_a(r.w, kk));
        let bv = vec4<f32>(load_b(kk, cl.x), load_b(kk, cl.y), load_b(kk, cl.z), load_b(kk, cl.w));
        acc0 += av.x * bv;
        acc1 += av.y * bv;
        acc2 += av.z * bv;
        acc3 += av.w * bv;
    }
    store_row(row0, col0, acc0);
    store_row(row0 + 1u, col0, acc1);
    store_row(row0 + 2u, col0, acc2);
    store_row(row0 + 3u, col0, acc3);
}
