// dropout: out[i] = inp[i] · keep(i) / (1 − p), keep(i) = [hash(seed, step, salt, i) ≥ p·2³²].
//
// Inverted dropout between recurrent layers (PyTorch's `dropout` argument). The mask is a
// counter-based hash of the run's seed, the training step (both read from `rng`, written by the
// host once per step), the op's salt (which layer) and the element index: no random state is
// stored, CPU and GPU draw the same mask, and backward applies the same kernel to the gradient.
// Hash: lowbias32 (Chris Wellons' 32-bit integer hash), chained over the four inputs.
// Dispatch: one invocation per element, idx over a 2-D grid of workgroups of WG.
// CPU twin: src/cpu/dropout.rs (cpu::dropout::dropout).

struct DropoutParams {
    n: u32,
    threshold: u32, // p·2³², rounded
    salt: u32,
    _pad0: u32,
    scale: f32,     // 1 / (1 − p)
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: DropoutParams;
@group(0) @binding(1) var<storage, read> rng: array<u32>;         // (2) [seed, step]
@group(0) @binding(2) var<storage, read> inp: array<f32>;         // (N)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // (N)

fn lowbias32(x0: u32) -> u32 {
    var x = x0;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

@compute @workgroup_size(WG)
fn dropout(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.x + gid.y * nwg.x * WG;
    if i >= p.n {
        return;
    }
    let h = lowbias32(lowbias32(lowbias32(lowbias32(rng[0]) ^ rng[1]) ^ p.salt) ^ i);
    out[i] = select(0.0, inp[i] * p.scale, h >= p.threshold);
}
