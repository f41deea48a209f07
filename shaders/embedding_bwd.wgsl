// embedding_bwd: dweight[v, e] += Σ_{n : ids[n] = v} dout[n, e].
//
// Deterministic without float atomics: the host groups token positions by id (a counting sort,
// ops::embedding::TokenRows), so row v owns rows[offsets[v] .. offsets[v+1]], in increasing n.
// Each invocation sums its own (v, e) in that fixed order: bit-identical run to run, and the
// same order as the CPU twin's loop over n.
// Dispatch: one invocation per (v, e), idx = v·E + e over a 2-D grid of workgroups of WG.
// CPU twin: src/cpu/embedding.rs (cpu::embedding::embedding_bwd).

struct EmbeddingParams {
    n: u32,       // tokens
    e: u32,       // embedding size
    v: u32,       // vocabulary size
    dw_off: u32,  // offset of the table's gradient in `dweight` (elements)
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: EmbeddingParams;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;      // (V + 1)
@group(0) @binding(2) var<storage, read> rows: array<u32>;         // (N) token positions grouped by id
@group(0) @binding(3) var<storage, read> dout: array<f32>;         // (N, E)
@group(0) @binding(4) var<storage, read_write> dweight: array<f32>; // (V, E) at dw_off

@compute @workgroup_size(WG)
fn embedding_bwd(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let idx = gid.x + gid.y * nwg.x * WG;
    if idx >= p.v * p.e {
        return;
    }
    let v = idx / p.e;
    let e = idx % p.e;
    var sum = 0.0;
    for (var j = offsets[v]; j < offsets[v + 1u]; j++) {
        sum += dout[rows[j] * p.e + e];
    }
    dweight[p.dw_off + idx] += sum;
}
