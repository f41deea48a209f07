// copy: out[o_off + r·ldo + c] = inp[i_off + r·ldi + c] for r < rows, c < cols.
//
// Moves (rows, cols) blocks between strided views: h0 into a layer's state sequence, the final
// states out of it into h_n, the two directions of h_n side by side into a classifier's input.
// Dispatch: one invocation per element, idx = r·cols + c over a 2-D grid of workgroups of WG.
// CPU twin: src/cpu/copy.rs (cpu::copy::copy).

struct CopyParams {
    rows: u32,
    cols: u32,
    ldo: u32,
    ldi: u32,
    o_off: u32,
    i_off: u32,
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: CopyParams;
@group(0) @binding(1) var<storage, read> inp: array<f32>;        // (rows, cols) at i_off, stride ldi
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // (rows, cols) at o_off, stride ldo

@compute @workgroup_size(WG)
fn copy(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let idx = gid.x + gid.y * nwg.x * WG;
    if idx >= p.rows * p.cols {
        return;
    }
    let r = idx / p.cols;
    let c = idx % p.cols;
    out[p.o_off + r * p.ldo + c] = inp[p.i_off + r * p.ldi + c];
}
