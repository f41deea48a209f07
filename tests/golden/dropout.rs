use gpu_rnn::cpu;
use gpu_rnn::ops::dropout::dropout;

use crate::common::*;

#[test]
fn dropout_matches_cpu_bit_for_bit() {
    let mut rng = TestRng::new("dropout_matches_cpu_bit_for_bit");
    let Some(ctx) = gpu("dropout_matches_cpu_bit_for_bit") else {
        return;
    };
    for _ in 0..6 {
        let n = rng.size(257) * (1 + rng.below(400));
        let p = [0.1f32, 0.3, 0.5, 0.9][rng.below(4)];
        let state = [rng.below(1 << 30) as u32, rng.below(1000) as u32];
        let salt = rng.below(4) as u32;
        let x = rng.values(n);
        let mut want = vec![0f32; n];
        cpu::dropout::dropout(&mut want, &x, state, salt, p);
        let (tx, tr) = (upload(ctx, "x", &x), upload(ctx, "rng", &state));
        let out = poisoned(ctx, "out", &[n + GUARD]);
        let op = dropout(ctx, out.all(), tx.all(), tr.all(), salt, p).unwrap();
        run(ctx, &[&op]);
        let got = download(ctx, &out);
        // Same integer hash, same single multiply: identical to the bit.
        assert_close(
            &format!("dropout n={n} p={p}"),
            &got[..n],
            &want,
            0.0,
            0.0,
            rng.seed,
        );
        assert_untouched("dropout", &got[n..], &[f32::NAN; GUARD], rng.seed);
    }
}

#[test]
fn dropout_mask_keeps_one_minus_p_and_changes_every_step() {
    let n = 200_000;
    let x = vec![1f32; n];
    let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
    for p in [0.2f32, 0.5] {
        cpu::dropout::dropout(&mut a, &x, [7, 1], 0, p);
        cpu::dropout::dropout(&mut b, &x, [7, 2], 0, p);
        let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        // Binomial standard deviation at n = 2e5 is ~0.001; 0.01 is ten of them.
        assert!((kept - (1.0 - p as f64)).abs() < 0.01, "p={p}: kept {kept}");
        assert!(
            a.iter()
                .all(|&v| v == 0.0 || (v - 1.0 / (1.0 - p)).abs() < 1e-6),
            "kept values are scaled by 1/(1−p)"
        );
        let same = a.iter().zip(&b).filter(|(u, v)| u == v).count() as f64 / n as f64;
        let chance = (1.0 - p as f64).powi(2) + (p as f64).powi(2);
        assert!(
            (same - chance).abs() < 0.01,
            "p={p}: masks of two steps agree on {same}, chance is {chance}"
        );
    }
}
