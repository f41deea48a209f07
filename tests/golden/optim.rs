//! The optimizers (adam.wgsl for Adam and AdamW, sgd.wgsl) and their CPU twins against
//! torch.optim itself: four steps on fixed gradients from tests/fixtures/optim (made by
//! make_optim_fixtures.py), and the kernels against the twins on random sizes with clipping.

use std::path::{Path, PathBuf};

use gpu_rnn::cpu;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::cpu::sgd::SgdConfig;
use gpu_rnn::gpu::{GpuContext, Recorder};
use gpu_rnn::model::optim::Method;
use gpu_rnn::ops;

use crate::common::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optim/optim.safetensors")
}

/// A fixture case's torch arguments as a method.
fn method(json: &str) -> Method {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let f = |k: &str, default: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(default);
    match v["class"].as_str().unwrap() {
        "Adam" | "AdamW" => {
            let adamw = v["class"] == "AdamW";
            let betas = v.get("betas").map_or((0.9, 0.999), |b| {
                (b[0].as_f64().unwrap(), b[1].as_f64().unwrap())
            });
            Method::Adam(AdamConfig {
                lr: f("lr", 1e-3),
                beta1: betas.0,
                beta2: betas.1,
                eps: f("eps", 1e-8),
                weight_decay: f("weight_decay", if adamw { 0.01 } else { 0.0 }),
                decoupled: adamw,
            })
        }
        "SGD" => Method::Sgd(SgdConfig {
            lr: f("lr", 1e-3),
            momentum: f("momentum", 0.0),
            dampening: f("dampening", 0.0),
            weight_decay: f("weight_decay", 0.0),
            nesterov: v.get("nesterov").and_then(|x| x.as_bool()).unwrap_or(false),
        }),
        other => panic!("unknown optimizer {other}"),
    }
}

/// `steps` updates of `p` by the CPU twin, gradient t scaled by `coefs[t]`.
fn cpu_steps(method: &Method, p: &mut [f32], grads: &[Vec<f32>], coefs: &[f32]) {
    let n = p.len();
    let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
    for (t, (g, &coef)) in grads.iter().zip(coefs).enumerate() {
        let t = t as u64 + 1;
        match method {
            Method::Adam(c) => cpu::adam::adam(p, &mut m, &mut v, g, coef, c.schedule(t), c),
            Method::Sgd(c) => cpu::sgd::sgd(p, &mut m, g, coef, c.schedule(t), c),
        }
    }
}

/// The same steps by the kernel (clipped to `max_norm` by grad_norm when it is above 0).
fn gpu_steps(
    ctx: &GpuContext,
    method: &Method,
    p0: &[f32],
    grads: &[Vec<f32>],
    max_norm: f32,
) -> Vec<f32> {
    let n = p0.len();
    let (tp, tg) = (
        upload(ctx, "params", p0),
        upload(ctx, "grads", &vec![0f32; n]),
    );
    let (tm, tv) = (
        upload(ctx, "m", &vec![0f32; n]),
        upload(ctx, "v", &vec![0f32; n]),
    );
    let partials = upload(ctx, "partials", &vec![0f32; cpu::grad_norm::parts_for(n)]);
    let (clip, sched) = (
        upload(ctx, "clip", &[0f32; 2]),
        upload(ctx, "sched", &[0f32; 3]),
    );
    let mut dispatches = vec![
        ops::grad_norm::grad_norm_partial(ctx, partials.all(), tg.all()).unwrap(),
        ops::grad_norm::grad_norm_final(ctx, clip.all(), partials.all(), max_norm).unwrap(),
    ];
    let c = (max_norm > 0.0).then(|| clip.all());
    dispatches.push(
        match method {
            Method::Adam(cfg) => ops::adam::adam(
                ctx,
                tp.all(),
                tm.all(),
                tv.all(),
                tg.all(),
                c,
                sched.all(),
                cfg,
            ),
            Method::Sgd(cfg) => {
                let s = sched.slice(0, 2).unwrap();
                ops::sgd::sgd(ctx, (tp.all(), tm.all()), tg.all(), c, s, cfg)
            }
        }
        .unwrap(),
    );
    for (t, g) in grads.iter().enumerate() {
        let t = t as u64 + 1;
        tg.write(ctx, g).unwrap();
        let s = match method {
            Method::Adam(cfg) => cfg.schedule(t),
            Method::Sgd(cfg) => {
                let [lr, first] = cfg.schedule(t);
                [lr, first, 0.0]
            }
        };
        sched.write(ctx, &s).unwrap();
        let mut rec = Recorder::new(ctx, "optimizer step");
        for d in &dispatches {
            d.record(&mut rec);
        }
        rec.submit();
    }
    download(ctx, &tp)
}

// Adam with L2 decay, AdamW (default and non-default betas, eps and decay), SGD plain, with
// momentum and dampening, and Nesterov: four steps give torch.optim's parameters, on the CPU
// twins and on the kernels.
#[test]
fn optimizers_match_torch() {
    let path = fixture();
    let meta = read_metadata(&path);
    let (_, p0) = read_tensor(&path, "p0");
    let (shape, flat) = read_tensor(&path, "grads");
    let grads: Vec<Vec<f32>> = flat.chunks(shape[1]).map(<[f32]>::to_vec).collect();
    let ctx = gpu("optimizers_match_torch");
    let mut names: Vec<&String> = meta.keys().collect();
    names.sort();
    assert_eq!(names.len(), 6, "the fixture's cases");
    for name in names {
        let m = method(&meta[name]);
        let (_, want) = read_tensor(&path, &format!("final.{name}"));
        let mut p = p0.clone();
        cpu_steps(&m, &mut p, &grads, &[1.0; 4]);
        assert_close(&format!("{name} (cpu twin)"), &p, &want, 1e-6, 1e-5, 0);
        if let Some(ctx) = ctx {
            let got = gpu_steps(ctx, &m, &p0, &grads, 0.0);
            assert_close(&format!("{name} (kernel)"), &got, &want, 1e-6, 1e-5, 0);
        }
    }
}

// The SGD kernel against its twin on random sizes, momentum, Nesterov and clipping.
#[test]
fn sgd_matches_cpu_over_several_steps() {
    let mut rng = TestRng::new("sgd_matches_cpu_over_several_steps");
    let Some(ctx) = gpu("sgd_matches_cpu_over_several_steps") else {
        return;
    };
    for case in 0..4 {
        let n = rng.size(257) * (1 + rng.below(300));
        let cfg = SgdConfig {
            lr: [1e-3, 0.05, 0.1][rng.below(3)],
            momentum: [0.0, 0.9, 0.5, 0.9][case],
            dampening: [0.0, 0.1, 0.0, 0.0][case],
            weight_decay: [0.0, 1e-4, 0.01, 0.0][case],
            nesterov: case >= 2,
        };
        let max_norm = if case % 2 == 1 { 0.5 } else { 0.0 };
        let p0 = rng.values(n);
        let grads: Vec<Vec<f32>> = (0..5).map(|_| rng.values(n)).collect();
        let coefs: Vec<f32> = grads
            .iter()
            .map(|g| cpu::grad_norm::clip_coef(cpu::grad_norm::grad_norm(g), max_norm))
            .collect();
        let mut want = p0.clone();
        cpu_steps(&Method::Sgd(cfg), &mut want, &grads, &coefs);
        let got = gpu_steps(ctx, &Method::Sgd(cfg), &p0, &grads, max_norm);
        let what = format!("sgd n={n} {cfg:?} max_norm={max_norm}");
        assert_close(&what, &got, &want, 1e-6, 1e-5, rng.seed);
    }
}
