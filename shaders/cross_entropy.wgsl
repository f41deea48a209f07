// cross_entropy: fused softmax + cross-entropy, loss and dlogits in one pass
// (torch.nn.CrossEntropyLoss with ignore_index = -1).
//
// For each row r with target t = targets[r] ≥ 0:
//   lse_r       = max_j x[r, j] + log Σ_j exp(x[r, j] − max)
//   loss_r      = lse_r − x[r, t]
//   dlogits[r]  = (softmax(x[r]) − onehot(t)) · scale
// Rows with t = −1 are ignored: dlogits[r] = 0 and they are left out of the count.
// reduction 0 (mean): scale = 1 / count; reduction 1 (sum): scale = 1.
// loss[loss_off] = scale · Σ_r loss_r. With count = 0 the mean is 0 (PyTorch gives NaN).
//
// Dispatch: one workgroup of WG invocations (WG a power of two); invocation i handles rows
// i, i + WG, …. Two tree reductions in workgroup memory (the count, then the loss) make the
// result deterministic. The loss is cheap next to the products around it, so one workgroup is
// enough.
// CPU twin: src/cpu/cross_entropy.rs (cpu::cross_entropy::cross_entropy).

struct CrossEntropyParams {
    n: u32,         // rows
    c: u32,         // classes
    reduction: u32, // 0 mean, 1 sum
    loss_off: u32,  // where the scalar loss goes in `loss`
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: CrossEntropyParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // (N, C)
@group(0) @binding(2) var<storage, read> targets: array<i32>;      // (N), −1 = ignore
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>; // (N, C)
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;   // scalar at loss_off

var<workgroup> red_count: array<u32, WG>;
var<workgroup> red_loss: array<f32, WG>;

@compute @workgroup_size(WG)
fn cross_entropy(@builtin(local_invocation_index) li: u32) {
    var count = 0u;
    for (var r = li; r < p.n; r += WG) {
        if targets[r] >= 0 {
            count += 1u;
        }
    }
    red_count[li] = count;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if li < s {
            red_count[li] += red_count[li + s];
        }
        workgroupBarrier();
    }
    let total = red_count[0];
    var scale = 1.0;
    if p.reduction == 0u {
        scale = 1.0 / f32(max(total, 1u));
    }

    var partial = 0.0;
    for (var r = li; r < p.n; r += WG) {
        let base = r * p.c;
        let t = targets[r];
        if t < 0 {
            for (var j = 0u; j < p.c; j++) {
                dlogits[base + j] = 0.0;
            }
            continue;
        }
        var mx = logits[base];
        for (var j = 1u; j < p.c; j++) {
            mx = max(mx, logits[base + j]);
        }
        var sum = 0.0;
        for (var j = 0u; j < p.c; j++) {
            sum += exp(logits[base + j] - mx);
        }
        partial += mx + log(sum) - logits[base + u32(t)];
        let inv = 1.0 / sum;
        for (var j = 0u; j < p.c; j++) {
            var g = exp(logits[base + j] - mx) * inv;
            if j == u32(t) {
                g -= 1.0;
            }
            dlogits[base + j] = g * scale;
        }
    }
    red_loss[li] = partial;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if li < s {
            red_loss[li] += red_loss[li + s];
        }
        workgroupBarrier();
    }
    if li == 0u {
        loss[p.loss_off] = red_loss[0] * scale;
    }
}
