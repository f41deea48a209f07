// adapter_peak: what bounds a kernel on this adapter. Not a model kernel (no CPU twin): probes
// for benches/adapter_peak.rs, each 1024 steps per invocation.
//   fma_only:     8 independent vec4 FMA chains in registers: the arithmetic peak.
//   load_fma:     one FMA per two storage-buffer loads: the rate of storage loads.
//   uniform_fma:  the same loads from a uniform buffer.
//   shuffle_fma:  one FMA per subgroup shuffle, one storage load per 8 shuffles: what sharing
//                 loaded values through subgroup shuffles costs (matmul_subgroup does that).
//   shuffle_unrolled, broadcast_fma: the same with the 8 shuffles written out, and as
//                 broadcasts from constant lanes (possible where a subgroup is one octet).
//   indexed_acc:  four vec4 accumulators in a private array indexed by a loop variable;
//   named_acc:    the same sums in four named variables (lavapipe keeps the first in memory).
//   scalar_load:  one vec4 FMA per four scalar storage loads;
//   vec4_load:    one vec4 FMA per vec4 storage load: what a wide load saves per element.
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> ub: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<storage, read> ins: array<f32>;

@compute @workgroup_size(64)
fn fma_only(@builtin(global_invocation_id) gid: vec3<u32>) {
    var a = vec4<f32>(f32(gid.x)); var b = a + 1.0; var c = a + 2.0; var d = a + 3.0;
    var e = a + 4.0; var f = a + 5.0; var g = a + 6.0; var h = a + 7.0;
    let m = vec4<f32>(0.999); let k = vec4<f32>(0.001);
    for (var i = 0u; i < 1024u; i++) {
        a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
        e = fma(e, m, k); f = fma(f, m, k); g = fma(g, m, k); h = fma(h, m, k);
    }
    out[gid.x] = a + b + c + d + e + f + g + h;
}

@compute @workgroup_size(64)
fn load_fma(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    let base = (gid.x * 16u) % 4096u;
    for (var i = 0u; i < 1024u; i++) {
        acc = fma(inp[(base + i) & 8191u], inp[(base + 2u * i) & 8191u], acc);
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(64)
fn uniform_fma(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    let base = (gid.x * 16u) % 2048u;
    for (var i = 0u; i < 1024u; i++) {
        acc = fma(ub[(base + i) & 4095u], ub[(base + 2u * i) & 4095u], acc);
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(64)
fn shuffle_fma(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(subgroup_invocation_id) sid: u32) {
    var acc = vec4<f32>(0.0);
    let m = vec4<f32>(0.999, 0.5, 0.25, 0.125);
    let base = (gid.x * 16u) % 2048u;
    let first = sid & ~7u;
    for (var i = 0u; i < 128u; i++) {
        let a = ins[(base + 8u * i + sid) & 32767u];
        for (var j = 0u; j < 8u; j++) {
            acc = fma(vec4<f32>(subgroupShuffle(a, first + j)), m, acc);
        }
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(64)
fn broadcast_fma(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(subgroup_invocation_id) sid: u32) {
    var acc = vec4<f32>(0.0);
    let m = vec4<f32>(0.999, 0.5, 0.25, 0.125);
    let base = (gid.x * 16u) % 2048u;
    for (var i = 0u; i < 128u; i++) {
        let a = ins[(base + 8u * i + sid) & 32767u];
        acc = fma(vec4<f32>(subgroupBroadcast(a, 0u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 1u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 2u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 3u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 4u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 5u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 6u)), m, acc);
        acc = fma(vec4<f32>(subgroupBroadcast(a, 7u)), m, acc);
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(64)
fn shuffle_unrolled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(subgroup_invocation_id) sid: u32) {
    var acc = vec4<f32>(0.0);
    let m = vec4<f32>(0.999, 0.5, 0.25, 0.125);
    let base = (gid.x * 16u) % 2048u;
    let first = sid & ~7u;
    for (var i = 0u; i < 128u; i++) {
        let a = ins[(base + 8u * i + sid) & 32767u];
        acc = fma(vec4<f32>(subgroupShuffle(a, first)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 1u)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 2u)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 3u)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 4u)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 5u)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 6u)), m, acc);
        acc = fma(vec4<f32>(subgroupShuffle(a, first + 7u)), m, acc);
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(64)
fn indexed_acc(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc: array<vec4<f32>, 4>;
    let m = vec4<f32>(0.999);
    for (var i = 0u; i < 256u; i++) {
        for (var r = 0u; r < 4u; r++) {
            acc[r] = fma(acc[r], m, vec4<f32>(f32(r)));
        }
    }
    out[gid.x] = acc[0] + acc[1] + acc[2] + acc[3];
}

@compute @workgroup_size(64)
fn named_acc(@builtin(global_invocation_id) gid: vec3<u32>) {
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    let m = vec4<f32>(0.999);
    for (var i = 0u; i < 256u; i++) {
        a0 = fma(a0, m, vec4<f32>(0.0)); a1 = fma(a1, m, vec4<f32>(1.0));
        a2 = fma(a2, m, vec4<f32>(2.0)); a3 = fma(a3, m, vec4<f32>(3.0));
    }
    out[gid.x] = a0 + a1 + a2 + a3;
}

@compute @workgroup_size(64)
fn scalar_load(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    let base = (gid.x * 16u) % 4096u;
    for (var i = 0u; i < 1024u; i++) {
        let j = (base + 4u * i) & 32767u;
        acc = fma(vec4<f32>(ins[j], ins[j + 1u], ins[j + 2u], ins[j + 3u]), vec4<f32>(0.5), acc);
    }
    out[gid.x] = acc;
}
@compute @workgroup_size(64)
fn vec4_load(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    let base = (gid.x * 4u) % 4096u;
    for (var i = 0u; i < 1024u; i++) {
        acc = fma(inp[(base + i) & 8191u], vec4<f32>(0.5), acc);
    }
    out[gid.x] = acc;
}
