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

// A padded bias_grad's CPU twin sums only each step's real rows; with the padding rows
// zero, as a recurrent layer leaves them, that must equal the whole column sum. The same f64
// sums, skipping exact zeros: equal to the last bit.
#[test]
fn bias_grad_padded_equals_whole_sum() {
    let mut rng = TestRng::new("bias_grad_padded_equals_whole_sum");
    for rev in [false, true] {
        let (t, b, n) = (1 + rng.below(9), rng.size(40), rng.size(65));
        let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
        lens[0] = t as u32;
        let ld = n + rng.below(3);
        let mut dy = rng.values(t * b * ld);
        let mut rows = Vec::new();
        for i in 0..t {
            let time = if rev { t - 1 - i } else { i };
            rows.push(cpu::cell::active_rows(&lens, time));
            for (j, &l) in lens.iter().enumerate() {
                if l as usize <= time {
                    dy[(i * b + j) * ld..(i * b + j) * ld + n].fill(0.0);
                }
            }
        }
        let db0 = rng.values(n);
        let mut want = db0.clone();
        cpu::bias_grad::bias_grad(&mut want, &dy, t * b, n, ld);
        let mut got = db0.clone();
        cpu::bias_grad::bias_grad_padded(&mut got, &dy, n, ld, b, &rows);
        assert_eq!(got, want, "seed {}", rng.seed);
    }
}
