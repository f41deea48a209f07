use gpu_rnn::backend::Backend;
use gpu_rnn::model::module::Rnn;
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::plan::CellKind;

use crate::common::*;

/// A random configuration covering every cell, 1–3 layers, both directions, batch_first,
/// bias on and off, and hidden sizes 1, 7, 37, 100.
fn draw_config(rng: &mut TestRng, cell: CellKind) -> RnnConfig {
    let mut cfg = RnnConfig::new(
        cell,
        [1, 5, 17][rng.below(3)],
        [1, 7, 37, 100][rng.below(4)],
    );
    cfg.layers = 1 + rng.below(3);
    cfg.bidirectional = rng.coin();
    cfg.batch_first = rng.coin();
    cfg.bias = rng.below(4) != 0;
    cfg.relu = cell == CellKind::Rnn && rng.coin();
    // Dropout between layers in training: both backends must draw the same masks.
    cfg.dropout = if rng.coin() { 0.3 } else { 0.0 };
    cfg
}

/// Forward and backward of one random batch on both backends; everything must agree.
fn check(rng: &mut TestRng, cell: CellKind) {
    check_with(rng, cell, None);
}

/// [`check`] with the hidden size fixed.
pub(crate) fn check_with(rng: &mut TestRng, cell: CellKind, hidden: Option<usize>) {
    let Some(ctx) = gpu(&format!("{cell:?} gpu vs cpu")) else {
        return;
    };
    let mut cfg = draw_config(rng, cell);
    if let Some(h) = hidden {
        cfg.hidden = h;
    }
    let (t, b) = (1 + rng.below(9), [1, 3, 17][rng.below(3)]);
    let lens: Vec<usize> = (0..b).map(|_| 1 + rng.below(t)).collect();
    let (l, dh) = (cfg.layers * cfg.dirs(), cfg.dirs() * cfg.hidden);
    let x = rng.values(t * b * cfg.input_size);
    let h0 = rng.values(l * b * cfg.hidden);
    let c0 = (cell == CellKind::Lstm).then(|| rng.values(l * b * cfg.hidden));
    let dout = rng.values(t * b * dh);
    let dhn = rng.values(l * b * cfg.hidden);
    let dcn = (cell == CellKind::Lstm).then(|| rng.values(l * b * cfg.hidden));
    let what = format!("{cfg:?} T={t} B={b} lens={lens:?}");

    let mut results = Vec::new();
    let mut params = None;
    for backend in [Backend::Cpu, Backend::Gpu(ctx.clone())] {
        let mut m = Rnn::new(cfg.clone(), &backend, t, b).unwrap();
        m.set_seed(rng.seed as u32);
        m.poison().unwrap();
        match &params {
            None => params = Some(m.init_params(rng.seed).unwrap()),
            Some(p) => m.set_params(p).unwrap(),
        }
        let out = m
            .forward(&x, t, b, Some(&lens), Some(&h0), c0.as_deref())
            .unwrap();
        let grads = m.backward(&dout, Some(&dhn), dcn.as_deref()).unwrap();
        results.push((out, grads));
    }
    let ((co, cg), (go, gg)) = (&results[0], &results[1]);
    // Forward: the 1e-5 absolute / 1e-4 relative. Gradients: 1e-4 / 1e-3.
    let (fa, fr, ga, gr) = (1e-5, 1e-4, 1e-4, 1e-3);
    assert_close(
        &format!("{what}: output"),
        &go.output,
        &co.output,
        fa,
        fr,
        rng.seed,
    );
    assert_close(&format!("{what}: h_n"), &go.h_n, &co.h_n, fa, fr, rng.seed);
    if let (Some(g), Some(c)) = (&go.c_n, &co.c_n) {
        assert_close(&format!("{what}: c_n"), g, c, fa, fr, rng.seed);
    }
    assert_close(&format!("{what}: dx"), &gg.dx, &cg.dx, ga, gr, rng.seed);
    assert_close(&format!("{what}: dh0"), &gg.dh0, &cg.dh0, ga, gr, rng.seed);
    if let (Some(g), Some(c)) = (&gg.dc0, &cg.dc0) {
        assert_close(&format!("{what}: dc0"), g, c, ga, gr, rng.seed);
    }
    assert_close(
        &format!("{what}: parameter grads"),
        &gg.params,
        &cg.params,
        ga,
        gr,
        rng.seed,
    );
}

#[test]
fn rnn_cell_fwd_bwd_gpu_matches_cpu() {
    let mut rng = TestRng::new("rnn_cell_fwd_bwd_gpu_matches_cpu");
    for _ in 0..6 {
        check(&mut rng, CellKind::Rnn);
    }
}

#[test]
fn gru_cell_fwd_bwd_gpu_matches_cpu() {
    let mut rng = TestRng::new("gru_cell_fwd_bwd_gpu_matches_cpu");
    for _ in 0..6 {
        check(&mut rng, CellKind::Gru);
    }
}

#[test]
fn lstm_cell_fwd_bwd_gpu_matches_cpu() {
    let mut rng = TestRng::new("lstm_cell_fwd_bwd_gpu_matches_cpu");
    for _ in 0..6 {
        check(&mut rng, CellKind::Lstm);
    }
}

/// Lecture 12's loop, `h = cell(x_t, h)` T times, equals one forward over the sequence, for
/// every cell on both backends.
#[test]
fn step_api_matches_whole_sequence_forward() {
    let mut rng = TestRng::new("step_api_matches_whole_sequence_forward");
    let mut backends = vec![Backend::Cpu];
    if let Some(ctx) = gpu("step_api_matches_whole_sequence_forward") {
        backends.push(Backend::Gpu(ctx.clone()));
    }
    for backend in &backends {
        for cell in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
            let mut cfg = RnnConfig::new(cell, 4, 4); // RNNCell(4, 4) as in the 'hello' example
            cfg.layers = 1 + rng.below(2);
            let (t, b) = (5, 1 + rng.below(3));
            let mut m = Rnn::new(cfg.clone(), backend, t, b).unwrap();
            m.init_params(rng.seed).unwrap();
            let x = rng.values(t * b * 4);
            let n = cfg.layers * b * 4;
            let whole = m.forward(&x, t, b, None, None, None).unwrap();
            let (mut h, mut c) = (
                vec![0f32; n],
                (cell == CellKind::Lstm).then(|| vec![0f32; n]),
            );
            let mut outs = Vec::new();
            for s in 0..t {
                let (h2, c2) = m
                    .step(&x[s * b * 4..(s + 1) * b * 4], b, &h, c.as_deref())
                    .unwrap();
                outs.extend_from_slice(&h2[(cfg.layers - 1) * b * 4..]);
                (h, c) = (h2, c2);
            }
            let what = format!("{cell:?} {} layers on {}", cfg.layers, backend.describe());
            assert_close(
                &format!("{what}: stepped outputs"),
                &outs,
                &whole.output,
                1e-6,
                1e-5,
                rng.seed,
            );
            assert_close(
                &format!("{what}: stepped h"),
                &h,
                &whole.h_n,
                1e-6,
                1e-5,
                rng.seed,
            );
        }
    }
}

/// The register-tiled GRU kernels (gru_cell_{fwd,bwd}_vec4), chosen automatically when H and
/// the weight offsets are multiples of 4: such H with batches of 1, 3 and 17 (not multiples of
/// the 4-row tile) and unequal lengths, against the CPU twins.
#[test]
fn gru_cell_vec4_fwd_bwd_gpu_matches_cpu() {
    let mut rng = TestRng::new("gru_cell_vec4_fwd_bwd_gpu_matches_cpu");
    for _ in 0..6 {
        let h = [4, 8, 100][rng.below(3)];
        check_with(&mut rng, CellKind::Gru, Some(h));
    }
    // The layouts those configurations produce do take the vec4 path.
    let mut cfg = RnnConfig::new(CellKind::Gru, 5, 8);
    cfg.layers = 3;
    cfg.bidirectional = true;
    let mut layout = gpu_rnn::model::params::ParamLayout::default();
    cfg.push_params(&mut layout, "");
    for k in 0..3 {
        let offs = [
            layout.get(&format!("weight_hh_l{k}")).unwrap().offset,
            layout.get(&format!("bias_hh_l{k}")).unwrap().offset,
        ];
        assert!(
            gpu_rnn::ops::cell::vec4_eligible(CellKind::Gru, false, (2, 8), &offs),
            "layer {k}: {offs:?}"
        );
    }
}

/// The GRU kernels for 4-aligned operands this device runs: vec4, and subgroup where it has
/// subgroups (lavapipe must).
fn aligned_gru_kernels(ctx: &gpu_rnn::gpu::GpuContext) -> Vec<gpu_rnn::ops::cell::CellKernel> {
    use gpu_rnn::ops::cell::CellKernel;
    let mut kernels = vec![CellKernel::Vec4];
    if subgroups(ctx) {
        kernels.push(CellKernel::Subgroup);
    }
    kernels
}

/// One GRU step to check: batches across several 32-row blocks and past them, H of 4 to 100
/// (multiples of 4, some not of 8), one or two directions, often the last step, with or
/// without b_hh, and unequal lengths, sorted or not.
fn draw_gru_step(rng: &mut TestRng) -> (gpu_rnn::cpu::cell::CellDims, Vec<u32>) {
    let b = [1, 17, 40, 70, 256][rng.below(5)];
    let h = [4, 8, 12, 16, 100][rng.below(5)];
    let (d, t) = (1 + rng.below(2), 1 + rng.below(6));
    let dims = gpu_rnn::cpu::cell::CellDims {
        b,
        h,
        d,
        t,
        s: if rng.coin() { t - 1 } else { rng.below(t) },
        relu: false,
        has_bias: rng.coin(),
    };
    let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
    if rng.coin() {
        lens.sort_by(|x, y| y.cmp(x));
    }
    (dims, lens)
}

/// Each GRU forward kernel for 4-aligned operands, called directly for one step: the vec4
/// kernel, and the subgroup kernel where the device has subgroups (lavapipe does). Batches
/// across several 32-row blocks and past them, H not a multiple of 8, unequal lengths sorted
/// or not, both directions, with and without b_hh, xw as rows or as a table read through ids.
/// Everything the step writes (and leaves) must equal the CPU twin's.
#[test]
fn gru_cell_fwd_aligned_kernels_match_cpu() {
    use gpu_rnn::ops::cell::cell_fwd_with;
    use gpu_rnn::plan::CellFwd;
    let mut rng = TestRng::new("gru_cell_fwd_aligned_kernels_match_cpu");
    let Some(ctx) = gpu("gru_cell_fwd_aligned_kernels_match_cpu") else {
        return;
    };
    for kernel in aligned_gru_kernels(ctx) {
        for case in 0..10 {
            let (dims, lens) = draw_gru_step(&mut rng);
            let (b, h, d, t) = (dims.b, dims.h, dims.d, dims.t);
            let gh = 3 * h;
            let w = rng.values(d * gh * h + d * gh); // W_hh (D, 3H, H) then b_hh (D, 3H)
            // xw as (T, B) rows, or as a table of 5 rows read through token ids.
            let ids: Option<Vec<u32>> = rng
                .coin()
                .then(|| (0..t * b).map(|_| rng.below(5) as u32).collect());
            let xw = rng.values(if ids.is_some() { 5 } else { t * b } * d * gh);
            let hs0 = rng.values(d * (t + 1) * b * h);
            let out0 = rng.values(t * b * d * h);
            let gates0 = rng.values(d * t * b * 4 * h);

            let (mut hs, mut out, mut gates) = (hs0.clone(), out0.clone(), gates0.clone());
            let (whh, bhh) = w.split_at(d * gh * h);
            let bhh = dims.has_bias.then_some(bhh);
            let xw_cpu = gpu_rnn::cpu::cell::Xw {
                data: &xw,
                ids: ids.as_deref(),
            };
            gpu_rnn::cpu::gru_cell::gru_cell_fwd(
                &mut hs, &mut out, &mut gates, xw_cpu, whh, bhh, &lens, &dims, 1,
            );

            let gw = upload(ctx, "w", &w);
            let (gx, gl) = (upload(ctx, "xw", &xw), upload(ctx, "lens", &lens));
            let gids = ids.as_ref().map(|ids| upload(ctx, "ids", ids));
            let (ghs, gout) = (upload(ctx, "hs", &hs0), upload(ctx, "out", &out0));
            let ggates = upload(ctx, "gates", &gates0);
            let op = CellFwd {
                kind: CellKind::Gru,
                dims,
                steps: 1,
                xw: gx.all(),
                ids: gids.as_ref().map(|g| g.all()),
                whh: gw.slice(0, d * gh * h).unwrap(),
                bhh: dims.has_bias.then(|| gw.slice(d * gh * h, d * gh).unwrap()),
                lens: gl.all(),
                hs: ghs.all(),
                cs: None,
                out: gout.all(),
                gates: Some(ggates.all()),
            };
            let dispatch = cell_fwd_with(ctx, kernel, &op).expect("cell_fwd");
            run(ctx, &[&dispatch]);
            let gather = ids.is_some();
            let what = format!("{kernel:?} case {case} {dims:?} gather {gather} lens {lens:?}");
            let (fa, fr) = (1e-5, 1e-4);
            assert_close(
                &format!("{what}: hs"),
                &download(ctx, &ghs),
                &hs,
                fa,
                fr,
                rng.seed,
            );
            assert_close(
                &format!("{what}: out"),
                &download(ctx, &gout),
                &out,
                fa,
                fr,
                rng.seed,
            );
            let got = download(ctx, &ggates);
            assert_close(&format!("{what}: gates"), &got, &gates, fa, fr, rng.seed);
        }
    }
}

/// The same for the GRU backward kernels: one step, the last (from dh_n) or an earlier one
/// (from dhh of the next step and the carry).
#[test]
fn gru_cell_bwd_aligned_kernels_match_cpu() {
    use gpu_rnn::cpu::cell::CellDims;
    use gpu_rnn::ops::cell::cell_bwd_with;
    use gpu_rnn::plan::CellBwd;
    let mut rng = TestRng::new("gru_cell_bwd_aligned_kernels_match_cpu");
    let Some(ctx) = gpu("gru_cell_bwd_aligned_kernels_match_cpu") else {
        return;
    };
    for kernel in aligned_gru_kernels(ctx) {
        for case in 0..10 {
            let (dims, lens) = draw_gru_step(&mut rng);
            let dims = gpu_rnn::cpu::cell::CellDims {
                has_bias: false,
                ..dims
            };
            let (b, h, d, t) = (dims.b, dims.h, dims.d, dims.t);
            let gh = 3 * h;
            let whh = rng.values(d * gh * h);
            let dout = rng.values(t * b * d * h);
            let dhn = rng.values(d * b * h);
            let hs = rng.values(d * (t + 1) * b * h);
            // As the forward pass leaves them: finished rows' gates unwritten (NaN here, which
            // would show if a kernel read them).
            let mut gates = rng.uniform(d * t * b * 4 * h, 0.05, 0.95);
            for (i, row) in gates.chunks_mut(4 * h).enumerate() {
                let (dir, step, row_b) = (i / (t * b), (i / b) % t, i % b);
                if dims.at(step).time(dir) >= lens[row_b] as usize {
                    row.fill(f32::NAN);
                }
            }
            let dxw0 = rng.values(t * b * d * gh);
            // As a backward pass leaves it: dhh of step s + 1 is zero in rows not running then.
            let mut dhh0 = rng.values(d * t * b * gh);
            if dims.s + 1 < t {
                let next = CellDims {
                    s: dims.s + 1,
                    ..dims
                };
                for dir in 0..d {
                    for (row, &len) in lens.iter().enumerate() {
                        if next.time(dir) >= len as usize {
                            let at = next.step_row(dir, dims.s + 1, row, gh);
                            dhh0[at..at + gh].fill(0.0);
                        }
                    }
                }
            }
            let carry0 = rng.values(d * b * h);

            let (mut dxw, mut dhh, mut carry) = (dxw0.clone(), dhh0.clone(), carry0.clone());
            gpu_rnn::cpu::gru_cell::gru_cell_bwd(
                &mut dxw, &mut dhh, &mut carry, &dout, &dhn, &whh, &lens, &hs, &gates, &dims, 1,
            );

            let (gw, gl) = (upload(ctx, "whh", &whh), upload(ctx, "lens", &lens));
            let (gdout, gdhn) = (upload(ctx, "dout", &dout), upload(ctx, "dhn", &dhn));
            let (ghs, ggates) = (upload(ctx, "hs", &hs), upload(ctx, "gates", &gates));
            let (gdxw, gdhh) = (upload(ctx, "dxw", &dxw0), upload(ctx, "dhh", &dhh0));
            let gcarry = upload(ctx, "carry", &carry0);
            let op = CellBwd {
                kind: CellKind::Gru,
                dims,
                steps: 1,
                dout: gdout.all(),
                dhn: gdhn.all(),
                dcn: None,
                whh: gw.all(),
                lens: gl.all(),
                hs: ghs.all(),
                cs: None,
                gates: Some(ggates.all()),
                dxw: gdxw.all(),
                dhh: gdhh.all(),
                carry: gcarry.all(),
                dc_carry: None,
            };
            let dispatch = cell_bwd_with(ctx, kernel, &op).expect("cell_bwd");
            run(ctx, &[&dispatch]);
            let what = format!("{kernel:?} case {case} {dims:?} lens {lens:?}");
            let (ga, gr) = (1e-5, 1e-4);
            assert_close(
                &format!("{what}: dxw"),
                &download(ctx, &gdxw),
                &dxw,
                ga,
                gr,
                rng.seed,
            );
            assert_close(
                &format!("{what}: dhh"),
                &download(ctx, &gdhh),
                &dhh,
                ga,
                gr,
                rng.seed,
            );
            let got = download(ctx, &gcarry);
            assert_close(&format!("{what}: carry"), &got, &carry, ga, gr, rng.seed);
        }
    }
}
