// bias_grad: dbias[j] += Σ_i dy[i, j], the column sums of a (M, N) gradient with row stride ld.
//
// The bias of every linear map gets its gradient this way. Deterministic: each invocation owns
// one column and adds the rows in order.
// Dispatch: one invocation per column j, workgroups of WG.
// CPU twin: src/cpu/bias_grad.rs (cpu::bias_grad::bias_grad).

struct BiasGradParams {
    m: u32,
    n: u32,
    ld: u32,
    dy_off: u32,
    db_off: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: BiasGradParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;            // (M, N) at dy_off, stride ld
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;   // (N) at db_off

@compute @workgroup_size(WG)
fn bias_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.n {
        return;
    }
    var sum = 0.0;
    for (var i = 0u; i < p.m; i++) {
        sum += dy[p.dy_off + i * p.ld + j];
    }
    dbias[p.db_off + j] += sum;
}
