// matmul_vec4: C = op(A) · op(B) (+ bias[n]) (C += … with ACCUMULATE), for operands whose
// contiguous dimension, row stride and offset are multiples of 4: every load is a vec4.
// Same contract and MatmulParams as matmul.wgsl (offsets and strides in elements); the host
// (ops::matmul) picks this variant when the operands are aligned, and falls back to
// matmul.wgsl otherwise.
//
// Each invocation owns a 4×4 block of C, and each layout reads along its contiguous dimension:
//   NT (X·Wᵀ):   A rows and B rows along K: 16 vec4 dot products per 8 vec4 loads
//   NN (dY·W):   A rows along K, B rows along N: per 4 k, 4 + 4 vec4 loads for 64 FMAs
//   TN (dYᵀ·X):  A rows along M, B rows along N: an outer product per 2 vec4 loads
// Register-tiled and barrier-free, as matmul.wgsl. Dispatch: one invocation per 4×4 block,
// workgroup (WG_X, WG_Y), grid (ceil(ceil(N/4)/WG_X), ceil(ceil(M/4)/WG_Y), batch); gid.z picks
// the product of a batch, as in matmul.wgsl.
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
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;      // (M, K) or (K, M)
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;      // (K, N) or (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N); unused without HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;      // (M, N)

// This invocation's operand offsets: the product of batch z = gid.z.
var<private> a_off: u32;
var<private> b_off: u32;
var<private> c_off: u32;
var<private> bias_off: u32;

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

// (a·b0, a·b1, a·b2, a·b3): NT, one vec4 of k for four columns.
fn dots(a: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
}

// Σ_q a[q]·b_q: NN, one vec4 of k for a row's four columns (b_q = B[k + q, cols]).
fn combine(a: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3;
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    a_off = p.a_off + gid.z * p.a_bs;
    b_off = p.b_off + gid.z * p.b_bs;
    c_off = p.c_off + gid.z * p.c_bs;
    bias_off = p.bias_off + gid.z * p.bias_bs;
    let col0 = gid.x * 4u;
    let row0 = gid.y * 4u;
    if col0 >= p.n || row0 >= p.m {
        return;
    }
    let r = min(vec4<u32>(row0, row0 + 1u, row0 + 2u, row0 + 3u), vec4<u32>(p.m - 1u));
    let cl = min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4<u32>(p.n - 1u));
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    if !TRANS_A && TRANS_B {
        // NT: C[i, j] = Σ_k A[i, k] B[j, k]; rows of both are vec4 runs along k.
        let ar = (vec4<u32>(a_off) + r * p.lda) / 4u;
        let br = (vec4<u32>(b_off) + cl * p.ldb) / 4u;
        for (var kk = 0u; kk < p.k / 4u; kk++) {
            let b0 = b[br.x + kk];
            let b1 = b[br.y + kk];
            let b2 = b[br.z + kk];
            let b3 = b[br.w + kk];
            acc0 += dots(a[ar.x + kk], b0, b1, b2, b3);
            acc1 += dots(a[ar.y + kk], b0, b1, b2, b3);
            acc2 += dots(a[ar.z + kk], b0, b1, b2, b3);
            acc3 += dots(a[ar.w + kk], b0, b1, b2, b3);
        }
    } else if !TRANS_A && !TRANS_B {
        // NN: C[i, :] += A[i, k] B[k, :]; A rows along k, B rows along n (col0 is 4-aligned).
        let ar = (vec4<u32>(a_off) + r * p.lda) / 4u;
        for (var kk = 0u; kk < p.k / 4u; kk++) {
            let kb = (b_off + 4u * kk * p.ldb + col0) / 4u;
            let s = p.ldb / 4u;
            let b0 = b[kb];
            let b1 = b[kb + s];
            let b2 = b[kb + 2u * s];
            let b3 = b[kb + 3u * s];
            acc0 += combine(a[ar.x + kk], b0, b1, b2, b3);
            acc1 += combine(a[ar.y + kk], b0, b1, b2, b3);
            acc2 += combine(a[ar.z + kk], b0, b1, b2, b3);
            acc3 += combine(a[ar.w + kk], b0, b1, b2, b3);
        }
    } else {
        // TN: C[i, j] = Σ_k A[k, i] B[k, j]; A rows along m, B rows along n (both 4-aligned).
        // Four k per iteration into two accumulator sets, for independent work per lane.
        var bcc0 = vec4<f32>(0.0);
        var bcc1 = vec4<f32>(0.0);
        var bcc2 = vec4<f32>(0.0);
        var bcc3 = vec4<f32>(0.0);
        let sa = p.lda / 4u;
        let sb = p.ldb / 4u;
        var ai = (a_off + row0) / 4u;
        var bi = (b_off + col0) / 4u;
        let k4 = p.k / 4u;
        for (var kk = 0u; kk < k4; kk++) {
            let a0 = a[ai];
            let a1 = a[ai + sa];
            let a2 = a[ai + 2u * sa];
            let a3 = a[ai + 3u * sa];
            let b0 = b[bi];
            let b1 = b[bi + sb];
            let b2 = b[bi + 2u * sb];
            let b3 = b[bi + 3u * sb];
            acc0 += a0.x * b0 + a1.x * b1;
            acc1 += a0.y * b0 + a1.y * b1;
            acc2 += a0.z * b0 + a1.z * b1;
            acc3 += a0.w * b0 + a1.w * b1;
            bcc0 += a2.x * b2 + a3.x * b3;
            bcc1 += a2.y * b2 + a3.y * b3;
            bcc2 += a2.z * b2 + a3.z * b3;
            bcc3 += a2.w * b2 + a3.w * b3;
            ai += 4u * sa;
            bi += 4u * sb;
        }
        for (var k = 4u * k4; k < p.k; k++) {
            let av = a[(a_off + k * p.lda + row0) / 4u];
            let bv = b[(b_off + k * p.ldb + col0) / 4u];
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        acc0 += bcc0;
        acc1 += bcc1;
        acc2 += bcc2;
        acc3 += bcc3;
    }

    store_row(row0, col0, acc0);
    store_row(row0 + 1u, col0, acc1);
    store_row(row0 + 2u, col0, acc2);
    store_row(row0 + 3u, col0, acc3);
}
