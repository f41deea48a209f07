//! `cargo bench --bench adapter_peak`: what bounds a kernel on this adapter. The arithmetic
//! peak (register-only vec4 FMA chains) against FMA loops fed by storage-buffer loads, by
//! uniform-buffer loads and by subgroup shuffles, a private array indexed by a loop variable
//! against named variables, and scalar against vec4 loads. On lavapipe these gaps decide how
//! gpu-rnn's kernels are written (see README, Performance, and shaders/matmul_subgroup.wgsl).

use gpu_rnn::gpu::GpuContext;

/// One probe: its entry point in adapter_peak.wgsl, FLOPs per invocation, and the binding its
/// operand comes from (1 storage vec4, 2 uniform, 3 storage f32).
struct Probe {
    entry: &'static str,
    flops: f64,
    input: u32,
    needs_subgroups: bool,
}

const PROBES: &[Probe] = &[
    Probe {
        entry: "fma_only",
        flops: 1024.0 * 8.0 * 8.0,
        input: 1,
        needs_subgroups: false,
    },
    Probe {
        entry: "load_fma",
        flops: 1024.0 * 8.0,
        input: 1,
        needs_subgroups: false,
    },
    Probe {
        entry: "uniform_fma",
        flops: 1024.0 * 8.0,
        input: 2,
        needs_subgroups: false,
    },
    Probe {
        entry: "shuffle_fma",
        flops: 1024.0 * 8.0,
        input: 3,
        needs_subgroups: true,
    },
    Probe {
        entry: "broadcast_fma",
        flops: 1024.0 * 8.0,
        input: 3,
        needs_subgroups: true,
    },
    Probe {
        entry: "shuffle_unrolled",
        flops: 1024.0 * 8.0,
        input: 3,
        needs_subgroups: true,
    },
    Probe {
        entry: "indexed_acc",
        flops: 256.0 * 4.0 * 8.0,
        input: 1,
        needs_subgroups: false,
    },
    Probe {
        entry: "named_acc",
        flops: 256.0 * 4.0 * 8.0,
        input: 1,
        needs_subgroups: false,
    },
    Probe {
        entry: "scalar_load",
        flops: 1024.0 * 8.0,
        input: 3,
        needs_subgroups: false,
    },
    Probe {
        entry: "vec4_load",
        flops: 1024.0 * 8.0,
        input: 1,
        needs_subgroups: false,
    },
];

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
    let buffer = |size: u64, usage: wgpu::BufferUsages| {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("adapter_peak"),
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let out = buffer(u64::from(invocations) * 16, wgpu::BufferUsages::STORAGE);
    let inp = buffer(8192 * 16, wgpu::BufferUsages::STORAGE);
    let uniform = buffer(4096 * 16, wgpu::BufferUsages::UNIFORM);
    let subgroups = ctx.features.contains(wgpu::Features::SUBGROUP);
    for probe in PROBES {
        if probe.needs_subgroups && !subgroups {
            println!(
                "  {:<12} (the device has no subgroup operations)",
                probe.entry
            );
            continue;
        }
        let pipeline = ctx
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(probe.entry),
                layout: None,
                module: &module,
                entry_point: Some(probe.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        // The layout holds only what the entry point uses: `out` and, but for the register-only
        // probes, its input.
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: out.as_entire_binding(),
        }];
        if !matches!(probe.entry, "fma_only" | "indexed_acc" | "named_acc") {
            let source = if probe.input == 2 { &uniform } else { &inp };
            entries.push(wgpu::BindGroupEntry {
                binding: probe.input,
                resource: source.as_entire_binding(),
            });
        }
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(probe.entry),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
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
        let gflops = f64::from(invocations) * probe.flops / best * 1e-9;
        println!(
            "  {:<12} {:8.2} ms  {gflops:6.1} GFLOP/s (best of 7)",
            probe.entry,
            best * 1e3
        );
    }
}
