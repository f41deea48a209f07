// grad_norm: the global L2 norm of the flat gradient buffer, and the clip coefficient of
// torch.nn.utils.clip_grad_norm_: coef = min(1, max_norm / (norm + 1e-6)).
//
// Two barrier-free passes:
//   grad_norm_partial: S = p.parts invocations; invocation s sums g[i]² for i = s, s + S, …
//                      (adjacent invocations read adjacent addresses).
//   grad_norm_final:   one invocation sums the S partials in order, then writes
//                      out = [norm, coef] (coef = 1 when max_norm ≤ 0: no clipping).
// The fixed order makes the result deterministic. Adam reads coef from `out`.
// CPU twin: src/cpu/grad_norm.rs (cpu::grad_norm::grad_norm, cpu::grad_norm::clip_coef).

struct GradNormParams {
    n: u32,
    parts: u32,
    max_norm: f32,
    _pad0: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: GradNormParams;
@group(0) @binding(1) var<storage, read> grads: array<f32>;          // (P)
@group(0) @binding(2) var<storage, read_write> partials: array<f32>; // (S)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;      // (2) [norm, coef]

@compute @workgroup_size(WG)
fn grad_norm_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
    let s = gid.x;
    if s >= p.parts {
        return;
    }
    var sum = 0.0;
    for (var i = s; i < p.n; i += p.parts) {
        let g = grads[i];
        sum += g * g;
    }
    partials[s] = sum;
}

@compute @workgroup_size(1)
fn grad_norm_final() {
    var sum = 0.0;
    for (var s = 0u; s < p.parts; s++) {
        sum += partials[s];
    }
    let norm = sqrt(sum);
    var coef = 1.0;
    if p.max_norm > 0.0 {
        coef = min(1.0, p.max_norm / (norm + 1e-6));
    }
    out[0] = norm;
    out[1] = coef;
}
