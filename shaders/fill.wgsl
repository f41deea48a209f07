// fill: out[off + i] = value for i < n. Zeroes gradient buffers at the start of a step.
// Dispatch: one invocation per element, idx over a 2-D grid of workgroups of WG.
// CPU twin: src/cpu/fill.rs (cpu::fill::fill).

struct FillParams {
    n: u32,
    off: u32,
    value: f32,
    _pad0: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: FillParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn fill(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.x + gid.y * nwg.x * WG;
    if i >= p.n {
        return;
    }
    out[p.off + i] = p.value;
}
