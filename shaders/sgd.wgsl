// sgd: one torch.optim.SGD step (maximize = false) over the whole flat parameter buffer in
// one dispatch.
//   g    = grad · grad_scale + weight_decay · θ      (grad_scale = clip coefficient, or 1)
//   buf  = g on the first step, else momentum · buf + (1 − dampening) · g
//   g    = g + momentum · buf with Nesterov, else buf        (without momentum: g as is)
//   θ   -= lr · g
// lr and the first-step flag are in `sched` = [lr, first], written by the host before each
// step: the dispatch itself never changes.
// Dispatch: one invocation per parameter, idx over a 2-D grid of workgroups of WG.
// CPU twin: src/cpu/sgd.rs (cpu::sgd::sgd).

struct SgdParams {
    n: u32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: u32,
    use_clip: u32,   // 1: multiply grads by clip[1] (written by grad_norm_final)
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: SgdParams;
@group(0) @binding(1) var<storage, read_write> params: array<f32>; // (P)
@group(0) @binding(2) var<storage, read> grads: array<f32>;        // (P)
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;    // (P) momentum buffer
@group(0) @binding(4) var<storage, read> clip: array<f32>;         // (2) [norm, coef]
@group(0) @binding(5) var<storage, read> sched: array<f32>;        // (2) [lr, first]

@compute @workgroup_size(WG)
fn sgd(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.x + gid.y * nwg.x * WG;
    if i >= p.n {
        return;
    }
    var g = grads[i];
    if p.use_clip != 0u {
        g *= clip[1];
    }
    g += p.weight_decay * params[i];
    if p.momentum != 0.0 {
        var b = g;
        if sched[1] == 0.0 {
            b = p.momentum * buf[i] + (1.0 - p.dampening) * g;
        }
        buf[i] = b;
        if p.nesterov != 0u {
            g = g + p.momentum * b;
        } else {
            g = b;
        }
    }
    params[i] -= sched[0] * g;
}
