use gpu_rnn::cpu;
use gpu_rnn::cpu::grad_norm::parts_for;
use gpu_rnn::ops::grad_norm::{grad_norm_final, grad_norm_partial};

use crate::common::*;

// Tolerance: the GPU sums squares in f32 over 1024 strided partials, the CPU in f64. Terms are
// all positive, so the relative error stays near log-depth·2⁻²⁴ per partial plus n/1024 serial
// adds: 1e-5 relative is ample, 0 absolute.
#[test]
fn grad_norm_and_clip_coef_match_cpu() {
    let mut rng = TestRng::new("grad_norm_and_clip_coef_match_cpu");
    let Some(ctx) = gpu("grad_norm_and_clip_coef_match_cpu") else {
        return;
    };
    for _ in 0..6 {
        let n = rng.size(257) * (1 + rng.below(2000));
        let g = rng.values(n);
        let max_norm = [0.0, 1.0, 1e6][rng.below(3)];
        let norm = cpu::grad_norm::grad_norm(&g);
        let coef = cpu::grad_norm::clip_coef(norm, max_norm);
        let tg = upload(ctx, "grads", &g);
        let partials = poisoned(ctx, "partials", &[parts_for(n)]);
        let out = poisoned(ctx, "out", &[2 + GUARD]);
        let p1 = grad_norm_partial(ctx, partials.all(), tg.all()).unwrap();
        let p2 = grad_norm_final(ctx, out.all(), partials.all(), max_norm).unwrap();
        run(ctx, &[&p1, &p2]);
        let all = download(ctx, &out);
        assert_untouched("grad_norm_final", &all[2..], &[f32::NAN; GUARD], rng.seed);
        let got = all[..2].to_vec();
        // The CPU twins of the two passes agree with the one-pass f64 reference too.
        let mut cp = vec![0f32; parts_for(n)];
        let mut cout = [0f32; 2];
        cpu::grad_norm::grad_norm_partial(&mut cp, &g);
        cpu::grad_norm::grad_norm_final(&mut cout, &cp, max_norm);
        assert_close(
            "grad_norm cpu passes",
            &cout,
            &[norm, coef],
            0.0,
            1e-6,
            rng.seed,
        );
        assert_close(
            &format!("grad_norm n={n} max_norm={max_norm}"),
            &got,
            &[norm, coef],
            0.0,
            1e-5,
            rng.seed,
        );
    }
}

#[test]
fn clip_coef_follows_torch() {
    assert_eq!(cpu::grad_norm::clip_coef(10.0, 0.0), 1.0);
    assert_eq!(cpu::grad_norm::clip_coef(0.5, 1.0), 1.0);
    assert!((cpu::grad_norm::clip_coef(4.0, 1.0) - 1.0 / (4.0 + 1e-6)).abs() < 1e-7);
    assert!((cpu::grad_norm::grad_norm(&[3.0, -4.0]) - 5.0).abs() < 1e-7);
}
