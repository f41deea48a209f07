use gpu_rnn::cpu;
use gpu_rnn::ops::bias_grad::bias_grad;

use crate::common::*;

// Tolerance: a column sum of M ≤ ~800 values in [-1, 1): f32 serial sum on the GPU against an
// f64 sum on the CPU; the f32 error is below M·2⁻²⁴·Σ|x| but typically ~sqrt(M)·2⁻²⁴·|x|·M^½,
// so 1e-4 absolute (sums reach ~30) with 1e-5 relative.
#[test]
fn bias_grad_matches_cpu() {
    let mut rng = TestRng::new("bias_grad_matches_cpu");
    let Some(ctx) = gpu("bias_grad_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let (m, n) = (rng.size(257) * (1 + rng.below(3)), rng.size(257));
        let ld = n + rng.below(4);
        let (dy_off, db_off) = (rng.below(5), rng.below(5));
        let dy = rng.values(dy_off + (m - 1) * ld + n);
        let db0 = rng.values(db_off + n + GUARD);
        let mut want = db0.clone();
        cpu::bias_grad::bias_grad(&mut want[db_off..], &dy[dy_off..], m, n, ld);

        let tdy = upload(ctx, "dy", &dy);
        let tdb = upload(ctx, "dbias", &db0);
        let op = bias_grad(
            ctx,
            tdb.slice(db_off, n).unwrap(),
            tdy.slice(dy_off, dy.len() - dy_off).unwrap(),
            m,
            n,
            ld,
        )
        .unwrap();
        run(ctx, &[&op]);
        let got = download(ctx, &tdb);
        assert_close(
            &format!("bias_grad m={m} n={n} ld={ld}"),
            &got,
            &want,
            1e-4,
            1e-5,
            rng.seed,
        );
        assert_untouched(
            "bias_grad",
            &got[db_off + n..],
            &db0[db_off + n..],
            rng.seed,
        );
    }
}
