// adapter_peak: what bounds a kernel on this adapter. Not a model kernel (no CPU twin): two
// probes for benches/adapter_peak.rs.
//   fma_only: 8 independent vec4 FMA chains in registers, 1024 steps: the arithmetic peak.
//   load_fma: one FMA per two storage-buffer loads (a dot-product loop): the load-bound rate.
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@compute @workgroup_size(64)
fn fma_only(@builtin(global_invocation_id) gid: vec3<u32>) {
    var a = vec4<f32>(f32(gid.x)); var b = a + 1.0; var c = a + 2.0; var d = a + 3.0;
    var e = a + 4.0; var f = a + 5.0; var g = a + 6.0; var h = a + 7.0;
    let m = vec4<f32>(0.999); let k = vec4<f32>(0.001);
    for (var i = 0u; i < 1024u; i++) {
        a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
        e = fma(e, m, k); f = fma(f, m, k); g = fma(g, m, k); h = fma(h, m, k);
    }
    out[gid.x] = a + b + c + d + e + f + g + h + inp[0] * 0.0;
}
@compute @workgroup_size(64)
fn load_fma(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    let base = (gid.x * 16u) % 4096u;
    for (var i = 0u; i < 1024u; i++) {
        acc = fma(inp[(base + i) % 8192u], inp[(base + 2u * i) % 8192u], acc);
    }
    out[gid.x] = acc;
}
