// adam: one torch.optim.Adam or AdamW step (amsgrad = false, maximize = false) over the
// whole flat parameter buffer in one dispatch.
//   g  = grad · grad_scale                 (grad_scale = clip coefficient, or 1)
//   g += weight_decay · θ                  (Adam's L2, as torch: added to the gradient)
//   θ  = θ · decay                         (AdamW: decay = 1 − lr·weight_decay, else 1)
//   m  = m + (1 − β1)(g − m)               (torch: exp_avg.lerp_(g, 1 − β1))
//   v  = β2 v + (1 − β2) g²
//   θ -= step_size · m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 − β1^t), bc2_sqrt = sqrt(1 − β2^t) and decay computed on the host in f64,
// as torch does in Python floats, and written to `sched` before each step: the dispatch itself
// never changes, so a whole training step can be recorded once. eps is added outside the sqrt.
// Dispatch: one invocation per parameter, idx over a 2-D grid of workgroups of WG.
// CPU twin: src/cpu/adam.rs (cpu::adam::adam).

struct AdamParams {
    n: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32, // Adam's L2 term; 0 for AdamW, whose decay is sched[2]
    use_clip: u32,   // 1: multiply grads by clip[1] (written by grad_norm_final)
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: AdamParams;
@group(0) @binding(1) var<storage, read_write> params: array<f32>; // (P)
@group(0) @binding(2) var<storage, read> grads: array<f32>;        // (P)
@group(0) @binding(3) var<storage, read_write> m: array<f32>;      // (P) first moment
@group(0) @binding(4) var<storage, read_write> v: array<f32>;      // (P) second moment
@group(0) @binding(5) var<storage, read> clip: array<f32>;         // (2) [norm, coef]
@group(0) @binding(6) var<storage, read> sched: array<f32>;        // (3) [step_size, bc2_sqrt, decay]

@compute @workgroup_size(WG)
fn adam(
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
    let theta = params[i] * sched[2];
    let mi = m[i] + (1.0 - p.beta1) * (g - m[i]);
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let denom = sqrt(vi) / sched[1] + p.eps;
    params[i] = theta - sched[0] * (mi / denom);
}
