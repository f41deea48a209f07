use gpu_rnn::cpu;
use gpu_rnn::cpu::embedding::TokenRows;
use gpu_rnn::ops::embedding::{embedding_bwd, embedding_fwd};

use crate::common::*;

fn draw_ids(rng: &mut TestRng, n: usize, v: usize) -> Vec<u32> {
    (0..n).map(|_| rng.below(v) as u32).collect()
}

#[test]
fn embedding_fwd_matches_cpu() {
    let mut rng = TestRng::new("embedding_fwd_matches_cpu");
    let Some(ctx) = gpu("embedding_fwd_matches_cpu") else {
        return;
    };
    for case in 0..6 {
        let (n, v, e) = (rng.size(257), rng.size(257), rng.size(257));
        let w_off = if case % 2 == 1 { rng.below(9) } else { 0 };
        let weight = rng.values(w_off + v * e);
        let ids = draw_ids(&mut rng, n, v);
        let mut want = vec![0f32; n * e];
        cpu::embedding::embedding_fwd(&mut want, &ids, &weight[w_off..], e);

        let tw = upload(ctx, "weight", &weight);
        let tids = upload(ctx, "ids", &ids);
        let tout = poisoned(ctx, "out", &[n * e + GUARD]);
        let op = embedding_fwd(
            ctx,
            tout.all(),
            tids.all(),
            tw.slice(w_off, v * e).unwrap(),
            e,
        )
        .unwrap();
        run(ctx, &[&op]);
        let got = download(ctx, &tout);
        // A gather copies values: exact.
        let what = format!("embedding_fwd n={n} v={v} e={e}");
        assert_close(&what, &got[..n * e], &want, 0.0, 0.0, rng.seed);
        assert_untouched(&what, &got[n * e..], &[f32::NAN; GUARD], rng.seed);
    }
}

#[test]
fn embedding_bwd_matches_cpu_and_is_deterministic() {
    let mut rng = TestRng::new("embedding_bwd_matches_cpu_and_is_deterministic");
    let Some(ctx) = gpu("embedding_bwd_matches_cpu") else {
        return;
    };
    for case in 0..6 {
        // Few ids over many tokens, so rows are summed many times over.
        let (n, v, e) = (rng.size(257) * 3, rng.size(17), rng.size(257));
        let dw_off = if case % 2 == 1 { rng.below(9) } else { 0 };
        let ids = draw_ids(&mut rng, n, v);
        let dout = rng.values(n * e);
        let dw0 = rng.values(dw_off + v * e + GUARD); // parameter gradients accumulate
        let rows = TokenRows::new(&ids, v).unwrap();
        let mut want = dw0.clone();
        cpu::embedding::embedding_bwd(
            &mut want[dw_off..][..v * e],
            &dout,
            &rows.offsets,
            &rows.rows,
            e,
        );
        assert_eq!(
            want,
            summed_by_id(&dw0, dw_off, &dout, &ids, e),
            "the twin against the ids"
        );

        let toff = upload(ctx, "offsets", &rows.offsets);
        let trows = upload(ctx, "rows", &rows.rows);
        let tdout = upload(ctx, "dout", &dout);
        let mut results = Vec::new();
        for _ in 0..2 {
            let tdw = upload(ctx, "dweight", &dw0);
            let op = embedding_bwd(
                ctx,
                tdw.slice(dw_off, v * e).unwrap(),
                tdout.all(),
                toff.all(),
                trows.all(),
                e,
            )
            .unwrap();
            run(ctx, &[&op]);
            results.push(download(ctx, &tdw));
        }
        let what = format!("embedding_bwd n={n} v={v} e={e}");
        // Same summation order on both sides; the tolerance only allows for FMA contraction.
        assert_close(&what, &results[0], &want, 1e-6, 1e-6, rng.seed);
        assert_untouched(
            &what,
            &results[0][dw_off + v * e..],
            &dw0[dw_off + v * e..],
            rng.seed,
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&results[0]),
            bits(&results[1]),
            "{what}: two runs differ (seed {})",
            rng.seed
        );
    }
}

#[test]
fn token_rows_groups_positions_by_id_in_order() {
    let rows = TokenRows::new(&[2, 0, 2, 1, 0], 4).unwrap();
    assert_eq!(rows.offsets, vec![0, 2, 3, 5, 5]);
    assert_eq!(rows.rows, vec![1, 4, 3, 0, 2]);
    let err = TokenRows::new(&[0, 4], 4).unwrap_err().to_string();
    assert!(err.contains("token 1 has id 4"), "{err}");
}

/// `dw0` with `Σ_{n: ids[n] = v} dout[n]` added to row v (at `off`), each id's rows summed in
/// increasing n first: embedding_bwd from the ids themselves.
fn summed_by_id(dw0: &[f32], off: usize, dout: &[f32], ids: &[u32], e: usize) -> Vec<f32> {
    let mut sums = vec![0f32; dw0.len()];
    for (row, &id) in dout.chunks_exact(e).zip(ids) {
        for (s, &g) in sums[off + id as usize * e..][..e].iter_mut().zip(row) {
            *s += g;
        }
    }
    dw0.iter().zip(&sums).map(|(w, s)| w + s).collect()
}
