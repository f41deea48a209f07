use gpu_rnn::cpu;
use gpu_rnn::cpu::cross_entropy::Reduction;
use gpu_rnn::ops::mse::mse;

use crate::common::*;

// The loss (an f32 tree sum on the GPU against an f64 sum) within 1e-5 relative, and dpred
// (one subtraction and two products per element) within a few ulps, for sizes around the
// workgroup's 256 and both reductions; nothing written outside loss[loss_off] or dpred.
#[test]
fn mse_matches_cpu() {
    let mut rng = TestRng::new("mse_matches_cpu");
    let Some(ctx) = gpu("mse_matches_cpu") else {
        return;
    };
    for case in 0..6 {
        let n = [1, 255, 256, 257, rng.size(5000), rng.size(3000)][case];
        let pred = rng.uniform(n, -3.0, 3.0);
        let target = rng.uniform(n, -3.0, 3.0);
        let reduction = if case % 2 == 0 {
            Reduction::Mean
        } else {
            Reduction::Sum
        };
        let mut want_d = vec![0f32; n];
        let want = cpu::mse::mse(&mut want_d, &pred, &target, reduction);
        let (tp, tt) = (upload(ctx, "pred", &pred), upload(ctx, "target", &target));
        let td = poisoned(ctx, "dpred", &[n + GUARD]);
        let tl = poisoned(ctx, "loss", &[3]);
        let op = mse(
            ctx,
            td.slice(0, n).unwrap(),
            tl.slice(1, 1).unwrap(),
            tp.all(),
            tt.all(),
            reduction,
        )
        .unwrap();
        run(ctx, &[&op]);
        let l = download(ctx, &tl);
        assert!(
            l[0].is_nan() && l[2].is_nan(),
            "mse wrote outside loss[loss_off]"
        );
        let what = format!("mse n={n} {reduction:?}");
        assert_close(
            &format!("{what} loss"),
            &[l[1]],
            &[want],
            1e-5,
            1e-5,
            rng.seed,
        );
        let d = download(ctx, &td);
        assert_untouched(
            &format!("{what} dpred"),
            &d[n..],
            &[f32::NAN; GUARD],
            rng.seed,
        );
        assert_close(
            &format!("{what} dpred"),
            &d[..n],
            &want_d,
            1e-7,
            1e-6,
            rng.seed,
        );
    }
}

#[test]
fn mse_cpu_matches_closed_forms() {
    // pred − target = (1, −2, 2): Σ e² = 9, mean 3; dpred = 2e/N for the mean, 2e for the sum.
    let (pred, target) = ([1.0f32, 0.0, 5.0], [0.0f32, 2.0, 3.0]);
    let mut d = [f32::NAN; 3];
    assert_eq!(cpu::mse::mse(&mut d, &pred, &target, Reduction::Mean), 3.0);
    assert_eq!(d, [2.0 / 3.0, -4.0 / 3.0, 4.0 / 3.0]);
    assert_eq!(cpu::mse::mse(&mut d, &pred, &target, Reduction::Sum), 9.0);
    assert_eq!(d, [2.0, -4.0, 4.0]);
}
