//! `cargo bench --bench adapter_peak`: the adapter's arithmetic peak (register-only vec4 FMA
//! chains) against a loop that loads its operands from storage buffers. On lavapipe the gap
//! between the two is what bounds gpu-rnn's matmul and cell kernels (see README, Performance).

use gpu_rnn::gpu::GpuContext;

fn main() {
    let ctx = match GpuContext::new(None) {
        Ok(c) => c,
        Err(e) => {
            println!("no GPU adapter ({e}); nothing to measure");
            return;
        }
    };
    println!("adapter: {}", ctx.adapter);
    let module = ctx
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("adapter_peak"),
            source: wgpu::ShaderSource::Wgsl(include_str!("adapter_peak.wgsl").into()),
        });
    let invocations: u32 = 64 * 256;
    let buffer = |size: u64| {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("adapter_peak"),
            size,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let (out, inp) = (buffer(u64::from(invocations) * 16), buffer(8192 * 16));
    // FLOPs per invocation: 1024 steps of 8 vec4 FMAs, or of one vec4 FMA.
    for (entry, flops) in [("fma_only", 1024.0 * 8.0 * 8.0), ("load_fma", 1024.0 * 8.0)] {
        let pipeline = ctx
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(entry),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: out.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: inp.as_entire_binding(),
                },
            ],
        });
        let mut best = f64::MAX;
        for _ in 0..7 {
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind, &[]);
                pass.dispatch_workgroups(invocations / 64, 1, 1);
            }
            let t0 = std::time::Instant::now();
            ctx.queue.submit([enc.finish()]);
            ctx.wait().expect("device poll");
            best = best.min(t0.elapsed().as_secs_f64());
        }
        let gflops = f64::from(invocations) * flops / best * 1e-9;
        println!(
            "  {entry:<9} {:8.2} ms  {gflops:6.1} GFLOP/s (best of 7)",
            best * 1e3
        );
    }
}
