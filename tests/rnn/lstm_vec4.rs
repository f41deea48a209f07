//! The register-tiled LSTM forward kernel (lstm_cell_fwd_vec4), chosen automatically when H
//! and the weight offsets are multiples of 4: called directly for one step against the CPU
//! twin, and inside whole layers (forward and backward) against the CPU.

use gpu_rnn::ops::cell::{CellKernel, cell_fwd_with};
use gpu_rnn::plan::{CellFwd, CellKind};

use crate::common::*;
use crate::gpu_vs_cpu::check_with;

/// Whole layers with 4-aligned H (batches of 1, 3 and 17, unequal lengths): the forward
/// steps take the vec4 kernel, the backward the scalar one.
#[test]
fn lstm_cell_vec4_fwd_bwd_gpu_matches_cpu() {
    let mut rng = TestRng::new("lstm_cell_vec4_fwd_bwd_gpu_matches_cpu");
    for _ in 0..6 {
        let h = [4, 8, 100][rng.below(3)];
        check_with(&mut rng, CellKind::Lstm, Some(h));
    }
}

// One step of random shape (batches across and past the 4-row tiles, H not a multiple of 8,
// one or two directions, with and without b_hh, unequal lengths sorted or not, xw as rows or
// as a table read through ids): everything the step writes, and leaves, equals the twin's.
#[test]
fn lstm_cell_fwd_vec4_matches_cpu() {
    let mut rng = TestRng::new("lstm_cell_fwd_vec4_matches_cpu");
    let Some(ctx) = gpu("lstm_cell_fwd_vec4_matches_cpu") else {
        return;
    };
    for case in 0..12 {
        let b = [1, 5, 17, 40][rng.below(4)];
        let h = [4, 12, 16, 100][rng.below(4)];
        let (d, t) = (1 + rng.below(2), 1 + rng.below(6));
        let dims = gpu_rnn::cpu::cell::CellDims {
            b,
            h,
            d,
            t,
            s: rng.below(t),
            relu: false,
            has_bias: rng.coin(),
        };
        let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
        if rng.coin() {
            lens.sort_by(|x, y| y.cmp(x));
        }
        let gh = 4 * h;
        let w = rng.values(d * gh * h + d * gh); // W_hh (D, 4H, H) then b_hh (D, 4H)
        let ids: Option<Vec<u32>> = rng
            .coin()
            .then(|| (0..t * b).map(|_| rng.below(5) as u32).collect());
        let xw = rng.values(if ids.is_some() { 5 } else { t * b } * d * gh);
        let states = d * (t + 1) * b * h;
        let (hs0, cs0) = (rng.values(states), rng.values(states));
        let out0 = rng.values(t * b * d * h);
        let gates0 = rng.values(d * t * b * 4 * h);

        let (mut hs, mut cs) = (hs0.clone(), cs0.clone());
        let (mut out, mut gates) = (out0.clone(), gates0.clone());
        let (whh, bhh) = w.split_at(d * gh * h);
        let bhh = dims.has_bias.then_some(bhh);
        let xw_cpu = gpu_rnn::cpu::cell::Xw {
            data: &xw,
            ids: ids.as_deref(),
        };
        gpu_rnn::cpu::lstm_cell::lstm_cell_fwd(
            &mut hs, &mut cs, &mut out, &mut gates, xw_cpu, whh, bhh, &lens, &dims, 1,
        );

        let gw = upload(ctx, "w", &w);
        let (gx, gl) = (upload(ctx, "xw", &xw), upload(ctx, "lens", &lens));
        let gids = ids.as_ref().map(|ids| upload(ctx, "ids", ids));
        let (ghs, gcs) = (upload(ctx, "hs", &hs0), upload(ctx, "cs", &cs0));
        let (gout, ggates) = (upload(ctx, "out", &out0), upload(ctx, "gates", &gates0));
        let op = CellFwd {
            kind: CellKind::Lstm,
            dims,
            steps: 1,
            xw: gx.all(),
            ids: gids.as_ref().map(|g| g.all()),
            whh: gw.slice(0, d * gh * h).unwrap(),
            bhh: dims.has_bias.then(|| gw.slice(d * gh * h, d * gh).unwrap()),
            lens: gl.all(),
            hs: ghs.all(),
            cs: Some(gcs.all()),
            out: gout.all(),
            gates: Some(ggates.all()),
        };
        let dispatch = cell_fwd_with(ctx, CellKernel::Vec4, &op).expect("lstm_cell_fwd_vec4");
        run(ctx, &[&dispatch]);
        let what = format!(
            "case {case} {dims:?} gather {} lens {lens:?}",
            ids.is_some()
        );
        let (fa, fr) = (1e-5, 1e-4);
        for (name, got, want) in [
            ("hs", download(ctx, &ghs), &hs),
            ("cs", download(ctx, &gcs), &cs),
            ("out", download(ctx, &gout), &out),
            ("gates", download(ctx, &ggates), &gates),
        ] {
            assert_close(&format!("{what}: {name}"), &got, want, fa, fr, rng.seed);
        }
    }
}

// One backward step of one direction called directly (the last step, from the carries that
// hold dh_n and dc_n as the plan leaves them, or an earlier one, from the next step's dxw),
// batches across and past the 4-row tiles, unequal lengths: dxw, carry and dc_carry equal the
// twin's, and the twin's dhh equals its dxw (what lets the kernel write dxw alone).
#[test]
fn lstm_cell_bwd_vec4_matches_cpu() {
    use gpu_rnn::ops::cell::cell_bwd_with;
    use gpu_rnn::plan::CellBwd;
    let mut rng = TestRng::new("lstm_cell_bwd_vec4_matches_cpu");
    let Some(ctx) = gpu("lstm_cell_bwd_vec4_matches_cpu") else {
        return;
    };
    for case in 0..12 {
        let b = [1, 5, 17, 40][rng.below(4)];
        let h = [4, 12, 16, 100][rng.below(4)];
        let t = 1 + rng.below(6);
        let dims = gpu_rnn::cpu::cell::CellDims {
            b,
            h,
            d: 1,
            t,
            s: if rng.coin() { t - 1 } else { rng.below(t) },
            relu: false,
            has_bias: false,
        };
        let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
        if rng.coin() {
            lens.sort_by(|x, y| y.cmp(x));
        }
        let gh = 4 * h;
        let whh = rng.values(gh * h);
        let dout = rng.values(t * b * h);
        let (dhn, dcn) = (rng.values(b * h), rng.values(b * h));
        let cs = rng.values((t + 1) * b * h);
        let gates = rng.uniform(t * b * gh, 0.05, 0.95);
        let mut dxw0 = rng.values(t * b * gh);
        let first = dims.s + 1 == t;
        // Rows that ended by step s + 1 hold zeros there, as that step wrote them.
        if !first {
            for (j, &l) in lens.iter().enumerate() {
                if l as usize <= dims.s + 1 {
                    let at = ((dims.s + 1) * b + j) * gh;
                    dxw0[at..at + gh].fill(0.0);
                }
            }
        }
        // At the last step the plan has copied dh_n and dc_n into the carries.
        let (carry0, dcc0) = if first {
            (dhn.clone(), dcn.clone())
        } else {
            (rng.values(b * h), rng.values(b * h))
        };
        let (mut dxw, mut dhh) = (dxw0.clone(), dxw0.clone());
        let (mut carry, mut dcc) = (carry0.clone(), dcc0.clone());
        gpu_rnn::cpu::lstm_cell::lstm_cell_bwd(
            &mut dxw, &mut dhh, &mut carry, &mut dcc, &dout, &dhn, &dcn, &whh, &lens, &cs, &gates,
            &dims, 1,
        );
        assert_eq!(dxw, dhh, "case {case}: the twin's dxw and dhh differ");

        let g = |name, x: &[f32]| upload(ctx, name, x);
        let (gw, gdout, gl) = (g("w", &whh), g("dout", &dout), upload(ctx, "lens", &lens));
        let (gdhn, gdcn, gcs, ggates) = (
            g("dhn", &dhn),
            g("dcn", &dcn),
            g("cs", &cs),
            g("gates", &gates),
        );
        let (gdxw, gdhh) = (g("dxw", &dxw0), g("dhh", &dxw0));
        let (gcarry, gdcc) = (g("carry", &carry0), g("dc_carry", &dcc0));
        let hs = g("hs", &vec![0.0; (t + 1) * b * h]);
        let op = CellBwd {
            kind: CellKind::Lstm,
            dims,
            steps: 1,
            dout: gdout.all(),
            dhn: gdhn.all(),
            dcn: Some(gdcn.all()),
            whh: gw.all(),
            lens: gl.all(),
            hs: hs.all(),
            cs: Some(gcs.all()),
            gates: Some(ggates.all()),
            dxw: gdxw.all(),
            dhh: gdhh.all(),
            carry: gcarry.all(),
            dc_carry: Some(gdcc.all()),
        };
        let dispatch = cell_bwd_with(ctx, CellKernel::Vec4, &op).expect("lstm_cell_bwd_vec4");
        run(ctx, &[&dispatch]);
        let what = format!("case {case} {dims:?} lens {lens:?}");
        for (name, got, want) in [
            ("dxw", download(ctx, &gdxw), &dxw),
            ("carry", download(ctx, &gcarry), &carry),
            ("dc_carry", download(ctx, &gdcc), &dcc),
        ] {
            assert_close(&format!("{what}: {name}"), &got, want, 1e-5, 1e-4, rng.seed);
        }
    }
}
