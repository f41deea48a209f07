use gpu_rnn::cpu;
use gpu_rnn::ops::cross_entropy::{Reduction, cross_entropy};

use crate::common::*;

struct Case {
    n: usize,
    c: usize,
    logits: Vec<f32>,
    targets: Vec<i32>,
    reduction: Reduction,
}

fn draw(rng: &mut TestRng) -> Case {
    let (n, c) = (rng.size(257) + rng.size(257) * rng.below(3), rng.size(100));
    // Logits up to ±500 in half the cases: exp overflows f32 past 88, so only a correct max
    // subtraction survives them.
    let scale = if rng.coin() { 20.0 } else { 500.0 };
    let logits = rng.uniform(n * c, -scale, scale);
    let mut targets: Vec<i32> = (0..n).map(|_| rng.below(c) as i32).collect();
    for t in targets.iter_mut() {
        if rng.below(5) == 0 {
            *t = -1; // ignored (padding)
        }
    }
    targets[0] = rng.below(c) as i32; // at least one counted row
    let reduction = if rng.coin() {
        Reduction::Mean
    } else {
        Reduction::Sum
    };
    Case {
        n,
        c,
        logits,
        targets,
        reduction,
    }
}

/// Runs the kernel; returns (loss, dlogits) from the GPU and from the CPU twin.
fn both(ctx: &gpu_rnn::gpu::GpuContext, k: &Case) -> ((f32, Vec<f32>), (f32, Vec<f32>)) {
    let mut dl = vec![0f32; k.n * k.c];
    let loss = cpu::cross_entropy::cross_entropy(&mut dl, &k.logits, &k.targets, k.c, k.reduction);
    let tl = upload(ctx, "logits", &k.logits);
    let tt = upload(ctx, "targets", &k.targets);
    let tdl = poisoned(ctx, "dlogits", &[k.n * k.c + GUARD]);
    let tloss = poisoned(ctx, "loss", &[3]);
    let op = cross_entropy(
        ctx,
        tdl.all(),
        tloss.slice(1, 1).unwrap(),
        tl.all(),
        tt.all(),
        k.c,
        k.reduction,
    )
    .unwrap();
    run(ctx, &[&op]);
    let l = download(ctx, &tloss);
    assert!(
        l[0].is_nan() && l[2].is_nan(),
        "cross_entropy wrote outside loss[loss_off]"
    );
    let got = download(ctx, &tdl);
    let nc = k.n * k.c;
    assert_untouched("cross_entropy dlogits", &got[nc..], &[f32::NAN; GUARD], 0);
    ((l[1], got[..nc].to_vec()), (loss, dl))
}

// Tolerances: the loss is an f32 sum over up to ~800 rows of values up to ~45 on the GPU
// against an f64 sum on the CPU, so allow 1e-5 relative; dlogits are probabilities computed
// per element from f32 exp (≤ 1 in size, errors of a few ulps): 1e-6 absolute, 1e-5 relative.
#[test]
fn cross_entropy_loss_matches_cpu() {
    let mut rng = TestRng::new("cross_entropy_loss_matches_cpu");
    let Some(ctx) = gpu("cross_entropy_loss_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let k = draw(&mut rng);
        let ((gl, _), (cl, _)) = both(ctx, &k);
        assert_close(
            &format!("cross_entropy loss n={} c={} {:?}", k.n, k.c, k.reduction),
            &[gl],
            &[cl],
            1e-5,
            1e-5,
            rng.seed,
        );
    }
}

#[test]
fn cross_entropy_dlogits_matches_cpu() {
    let mut rng = TestRng::new("cross_entropy_dlogits_matches_cpu");
    let Some(ctx) = gpu("cross_entropy_dlogits_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let k = draw(&mut rng);
        let ((_, gd), (_, cd)) = both(ctx, &k);
        assert_close(
            &format!(
                "cross_entropy dlogits n={} c={} {:?}",
                k.n, k.c, k.reduction
            ),
            &gd,
            &cd,
            1e-6,
            1e-5,
            rng.seed,
        );
    }
}

#[test]
fn cross_entropy_cpu_matches_closed_forms() {
    // Equal logits: loss = ln C; dlogits = (1/C − onehot) / N for the mean.
    let (n, c) = (4, 5);
    let logits = vec![0.7f32; n * c];
    let targets = vec![0, 1, -1, 4];
    let mut dl = vec![f32::NAN; n * c];
    let loss = cpu::cross_entropy::cross_entropy(&mut dl, &logits, &targets, c, Reduction::Mean);
    assert!((loss - (c as f32).ln()).abs() < 1e-6, "loss {loss}");
    assert!((dl[0] - (0.2 - 1.0) / 3.0).abs() < 1e-7 && (dl[1] - 0.2 / 3.0).abs() < 1e-7);
    assert!(
        dl[10..15].iter().all(|&x| x == 0.0),
        "ignored row must have zero gradient"
    );
    // Sum is N_counted times the mean.
    let sum = cpu::cross_entropy::cross_entropy(&mut dl, &logits, &targets, c, Reduction::Sum);
    assert!((sum - 3.0 * loss).abs() < 1e-5);
}
