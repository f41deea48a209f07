// matmul_tiled: matmul (same math, layouts, MatmulParams and overrides) with workgroup-shared
// tiles, for discrete and integrated GPUs.
//
// A workgroup of 16×16 invocations computes a 64×64 block of C; each invocation owns a 4×4
// sub-block. For every 16-wide slice of K the workgroup stages op(A)'s 64×16 and op(B)'s 16×64
// tiles in workgroup memory (4 elements per invocation each, consecutive invocations reading
// consecutive addresses of the stored operand), waits at a barrier, and every invocation then
// does 16 × 16 multiply-adds from shared memory. Out-of-range elements are staged as 0 and
// never stored, so any M, N, K ≥ 1 is correct.
// The barriers make this the slow variant on CPU adapters (lavapipe), where matmul and
// matmul_vec4 run instead; ops::matmul picks by adapter type.
// Dispatch: grid (ceil(N/64), ceil(M/64), batch); gid.z picks the product of a batch.
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

const TM: u32 = 64u;   // rows of C per workgroup
const TN: u32 = 64u;   // columns of C per workgroup
const TK: u32 = 16u;   // slice of K staged at a time

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;            // (M, K) or (K, M)
@group(0) @binding(2) var<storage, read> b: array<f32>;            // (K, N) or (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N); unused without HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;      // (M, N)

var<workgroup> a_tile: array<f32, 1024>;   // op(A)[row0 + r, k0 + kk] at kk·TM + r
var<workgroup> b_tile: array<f32, 1024>;   // op(B)[k0 + kk, col0 + cc] at kk·TN + cc

@compute @workgroup_size(16, 16)
fn matmul_tiled(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let a_off = p.a_off + wid.z * p.a_bs;
    let b_off = p.b_off + wid.z * p.b_bs;
    let c_off = p.c_off + wid.z * p.c_bs;
    let bias_off = p.bias_off + wid.z * p.bias_bs;
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    let tid = lid.y * 16u + lid.x;

    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var q = 0u; q < 4u; q++) {
            let e = tid + 256u * q;
            // A stored (K, M) is contiguous along rows of op(A); (M, K) along K.
            var r = e % TM;
            var kk = e / TM;
            if !TRANS_A {
                r = e / TK;
                kk = e % TK;
            }
            let row = row0 + r;
            let ka = k0 + kk;
            var av = 0.0;
            if row < p.m && ka < p.k {
                if TRANS_A {
                    av = a[a_off + ka * p.lda + row];
                } else {
                    av = a[a_off + row * p.lda + ka];
                }
            }
            a_tile[kk * TM + r] = av;

            // B stored (K, N) is contiguous along columns; (N, K) along K.
            var cc = e % TN;
            var kb = e / TN;
            if TRANS_B {
                cc = e / TK;
                kb = e % TK;
            }
            let col = col0 + cc;
            let kbb = k0 + kb;
            var bv = 0.0;
            if col < p.n && kbb < p.k {
                if TRANS_B {
                    bv = b[b_off + col * p.ldb + kbb];
                } else {
                    bv = b[b_off + kbb * p.ldb + col];
                }
            }
            b_tile[kb * TN + cc] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let ar = kk * TM + lid.y * 4u;
            let br = kk * TN + lid.x * 4u;
            let av = vec4<f32>(a_tile[ar], a_tile[ar + 1u], a_tile[ar + 2u], a_tile[ar + 3u]);
            let bv = vec4<f32>(b_tile[br], b_tile[br + 1u], b_tile[br + 2u], b_tile[br + 3u]);
            acc[0] += av.x * bv;
            acc[1] += av.y * bv;
            acc[2] += av.z * bv;
            acc[3] += av.w * bv;
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let row = row0 + lid.y * 4u + i;
        if row >= p.m {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x * 4u + j;
            if col >= p.n {
                break;
            }
            var v = acc[i][j];
            if HAS_BIAS {
                v += bias[bias_off + col];
            }
            let idx = c_off + row * p.ldc + col;
            if ACCUMULATE {
                v += c[idx];
            }
            c[idx] = v;
        }
    }
}
