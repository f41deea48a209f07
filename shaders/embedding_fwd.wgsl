// embedding_fwd: out[n, e] = weight[ids[n], e].
//
// Gather one row of the (V, E) table per token. weight is a view at w_off into the flat
// parameter buffer. Ids ≥ V are rejected by the host before upload; the guard here only keeps
// a bad id from reading out of bounds (it writes zeros).
// Dispatch: one invocation per (n, e), linearised as idx = n·E + e over a 2-D grid of
// workgroups of WG (see ops::grid_1d).
// CPU twin: src/cpu/embedding.rs (cpu::embedding::embedding_fwd).

struct EmbeddingParams {
    n: u32,      // tokens
    e: u32,      // embedding size
    v: u32,      // vocabulary size
    w_off: u32,  // offset of the table in `weight` (elements)
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: EmbeddingParams;
@group(0) @binding(1) var<storage, read> ids: array<u32>;          // (N)
@group(0) @binding(2) var<storage, read> weight: array<f32>;       // (V, E) at w_off
@group(0) @binding(3) var<storage, read_write> out: array<f32>;    // (N, E)

@compute @workgroup_size(WG)
fn embedding_fwd(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let idx = gid.x + gid.y * nwg.x * WG;
    if idx >= p.n * p.e {
        return;
    }
    let n = idx / p.e;
    let e = idx % p.e;
    let id = ids[n];
    if id >= p.v {
        out[idx] = 0.0;
        return;
    }
    out[idx] = weight[p.w_off + id * p.e + e];
}
