use gpu_rnn::cpu;
use gpu_rnn::ops::fill::fill;

use crate::common::*;

#[test]
fn fill_matches_cpu_and_stays_in_its_view() {
    let mut rng = TestRng::new("fill_matches_cpu_and_stays_in_its_view");
    let Some(ctx) = gpu("fill_matches_cpu_and_stays_in_its_view") else {
        return;
    };
    for _ in 0..6 {
        let len = rng.size(257) * (1 + rng.below(1000));
        let (off, after) = (rng.below(9), rng.below(9));
        let value = rng.uniform(1, -3.0, 3.0)[0];
        let init = rng.values(off + len + after);
        let mut want = init.clone();
        cpu::fill::fill(&mut want[off..off + len], value);
        let t = upload(ctx, "out", &init);
        let op = fill(ctx, t.slice(off, len).unwrap(), value).unwrap();
        run(ctx, &[&op]);
        assert_close(
            &format!("fill len={len} off={off}"),
            &download(ctx, &t),
            &want,
            0.0,
            0.0,
            rng.seed,
        );
    }
}
