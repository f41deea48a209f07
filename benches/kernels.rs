//! `cargo bench`: the kernels at the lecture model's shapes, GPU against the CPU twin, and the
//! whole training step on both backends, so regressions show. (`gpu-rnn bench` prints the
//! same whole-step numbers.) Times are the median of several runs after a warm-up.

use std::sync::Arc;
use std::time::Instant;

use gpu_rnn::backend::Backend;
use gpu_rnn::cli::bench::lecture_step;
use gpu_rnn::cpu;
use gpu_rnn::gpu::{GpuContext, GpuTensor, Recorder};
use gpu_rnn::ops::matmul::{MatmulDims, MatmulKernel, matmul_with, vec4_eligible};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let ctx = GpuContext::new(None).ok().map(Arc::new);
    match &ctx {
        Some(c) => println!("adapter: {}", c.adapter),
        None => println!("no GPU adapter: CPU numbers only"),
    }
    println!("\nmatmul at the lecture's shapes (median of 7)");
    let shapes = [
        (
            "input projection, layer 1 (NT)",
            MatmulDims::nt(4864, 600, 200),
        ),
        (
            "input gradient, layer 1 (NN)",
            MatmulDims::nn(4864, 200, 600),
        ),
        (
            "weight gradient W_ih, layer 1 (TN)",
            MatmulDims::tn(600, 200, 4864),
        ),
        ("square 512 (NN)", MatmulDims::nn(512, 512, 512)),
    ];
    for (name, d) in shapes {
        let (ea, eb, ec) = d.extents();
        let (a, b) = (vec![0.5f32; ea], vec![0.25f32; eb]);
        let mut c = vec![0f32; ec];
        let t = time(7, || cpu::matmul::matmul(&mut c, &a, &b, None, &d));
        let mut line = format!(
            "  {name:<36} cpu {:8.2} ms {:6.2} GFLOP/s",
            t * 1e3,
            d.flops() / t / 1e9
        );
        if let Some(ctx) = &ctx {
            let ta = GpuTensor::from_slice(ctx, "a", &[ea], &a).unwrap();
            let tb = GpuTensor::from_slice(ctx, "b", &[eb], &b).unwrap();
            let tc = GpuTensor::zeros(ctx, "c", &[ec]).unwrap();
            for kernel in [MatmulKernel::Scalar, MatmulKernel::Vec4] {
                if kernel == MatmulKernel::Vec4 && !vec4_eligible(&d, 0, 0) {
                    continue;
                }
                let op = matmul_with(ctx, kernel, tc.all(), ta.all(), tb.all(), None, &d).unwrap();
                let t = time(7, || {
                    let mut rec = Recorder::new(ctx, "bench");
                    op.record(&mut rec);
                    rec.submit();
                    ctx.wait().unwrap();
                });
                line += &format!(
                    " | gpu {kernel:?} {:8.2} ms {:6.2} GFLOP/s",
                    t * 1e3,
                    d.flops() / t / 1e9
                );
            }
        }
        println!("{line}");
    }
    println!("\nlecture model, 8 shuffled batches of 256 training names");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/names_train.csv.gz");
    let batches = gpu_rnn::cli::bench::lecture_data_batches(&data, 256, 8).unwrap();
    let mut backends = vec![Backend::Cpu];
    if let Some(ctx) = &ctx {
        backends.insert(0, Backend::Gpu(ctx.clone()));
    }
    for b in &backends {
        let r = lecture_step(b, &batches).unwrap();
        println!(
            "  {:<60} train {:8.1} names/s ({:7.1} ms, {} dispatches), inference {:8.1} names/s",
            r.backend,
            r.train_per_s(),
            r.step_s() * 1e3,
            r.dispatches,
            r.infer_per_s()
        );
    }
}
