// mse: mean squared error, loss and dpred in one pass (torch.nn.MSELoss).
//
// For every element i of pred and want (N of them):
//   loss      = scale · Σ_i (pred[i] − want[i])²   (want: the target; `target` is a WGSL keyword)
//   dpred[i]  = 2 · (pred[i] − want[i]) · scale
// reduction 0 (mean): scale = 1 / N; reduction 1 (sum): scale = 1.
//
// Dispatch: one workgroup of WG invocations (WG a power of two); invocation i handles
// elements i, i + WG, …. A tree reduction in workgroup memory makes the loss deterministic.
// The loss is cheap next to the products before it, so one workgroup is enough.
// CPU twin: src/cpu/mse.rs (cpu::mse::mse).

struct MseParams {
    n: u32,         // elements
    reduction: u32, // 0 mean, 1 sum
    loss_off: u32,  // where the scalar loss goes in `loss`
    _pad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: MseParams;
@group(0) @binding(1) var<storage, read> pred: array<f32>;         // (N)
@group(0) @binding(2) var<storage, read> want: array<f32>;       // (N)
@group(0) @binding(3) var<storage, read_write> dpred: array<f32>;  // (N)
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;   // scalar at loss_off

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn mse(@builtin(local_invocation_index) li: u32) {
    var scale = 1.0;
    if p.reduction == 0u {
        scale = 1.0 / f32(max(p.n, 1u));
    }
    var partial = 0.0;
    for (var i = li; i < p.n; i += WG) {
        let d = pred[i] - want[i];
        partial += d * d;
        dpred[i] = 2.0 * d * scale;
    }
    red[li] = partial;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if li < s {
            red[li] += red[li + s];
        }
        workgroupBarrier();
    }
    if li == 0u {
        loss[p.loss_off] = red[0] * scale;
    }
}
