//! The CPU runtime runs a layer's consecutive steps as one call of the twins (`*_cell_fwd`,
//! `*_cell_bwd` with n steps): every buffer must come out bit for bit as from one call per
//! step, for every cell, one or two directions, runs that start mid-sequence,
//! lengths sorted or not, and xw as (T, B) rows or as a table read through token ids.

use gpu_rnn::cpu::cell::{CellDims, Xw};
use gpu_rnn::cpu::{gru_cell, lstm_cell, rnn_cell};
use gpu_rnn::plan::CellKind;

use crate::common::*;

/// A layer's buffers, filled with random values (the inputs) or garbage (the outputs).
#[derive(Clone)]
struct Layer {
    dims: CellDims,
    lens: Vec<u32>,
    /// (V, D·G·H) table rows read through `ids (T, B)`, or (T, B, D·G·H) without.
    xw: Vec<f32>,
    ids: Option<Vec<u32>>,
    whh: Vec<f32>,
    bhh: Vec<f32>,
    hs: Vec<f32>,
    cs: Vec<f32>,
    out: Vec<f32>,
    gates: Vec<f32>,
    dout: Vec<f32>,
    dhn: Vec<f32>,
    dcn: Vec<f32>,
    dxw: Vec<f32>,
    dhh: Vec<f32>,
    carry: Vec<f32>,
    dc_carry: Vec<f32>,
}

fn draw_layer(rng: &mut TestRng, cell: CellKind) -> Layer {
    let (b, h) = ([1, 9, 40][rng.below(3)], [3, 16, 37][rng.below(3)]);
    let (d, t) = (1 + rng.below(2), 1 + rng.below(7));
    let dims = CellDims {
        b,
        h,
        d,
        t,
        s: 0,
        relu: cell == CellKind::Rnn && rng.coin(),
        has_bias: rng.coin(),
    };
    let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
    if rng.coin() {
        lens.sort_by(|x, y| y.cmp(x));
    }
    let gh = cell.gates() * h;
    let (gather, vocab) = (rng.coin(), 1 + rng.below(6));
    let states = d * (t + 1) * b * h;
    Layer {
        dims,
        lens,
        xw: rng.values(if gather { vocab } else { t * b } * d * gh),
        ids: gather.then(|| (0..t * b).map(|_| rng.below(vocab) as u32).collect()),
        whh: rng.values(d * gh * h),
        bhh: rng.values(d * gh),
        hs: rng.values(states),
        cs: rng.values(states),
        out: rng.values(t * b * d * h),
        gates: rng.values(d * t * b * 4 * h),
        dout: rng.values(t * b * d * h),
        dhn: rng.values(d * b * h),
        dcn: rng.values(d * b * h),
        dxw: rng.values(t * b * d * gh),
        dhh: rng.values(d * t * b * gh),
        carry: rng.values(d * b * h),
        dc_carry: rng.values(d * b * h),
    }
}

/// Forward steps `dims.s ..` as one run of `n` (`n = 0`: the same steps one call each).
fn forward(cell: CellKind, l: &mut Layer, dims: CellDims, n: usize) {
    let bhh = dims.has_bias.then_some(&l.bhh[..]);
    let xw = Xw {
        data: &l.xw,
        ids: l.ids.as_deref(),
    };
    let calls: Vec<(CellDims, usize)> = if n == 0 {
        (dims.s..dims.t).map(|s| (dims.at(s), 1)).collect()
    } else {
        vec![(dims, n)]
    };
    for (dims, n) in calls {
        match cell {
            CellKind::Rnn => {
                rnn_cell::rnn_cell_fwd(&mut l.hs, &mut l.out, xw, &l.whh, bhh, &l.lens, &dims, n)
            }
            CellKind::Gru => gru_cell::gru_cell_fwd(
                &mut l.hs,
                &mut l.out,
                &mut l.gates,
                xw,
                &l.whh,
                bhh,
                &l.lens,
                &dims,
                n,
            ),
            CellKind::Lstm => lstm_cell::lstm_cell_fwd(
                &mut l.hs,
                &mut l.cs,
                &mut l.out,
                &mut l.gates,
                xw,
                &l.whh,
                bhh,
                &l.lens,
                &dims,
                n,
            ),
        }
    }
}

/// Backward steps `dims.s` down to 0 as one run (`n = 0`: one call each).
fn backward(cell: CellKind, l: &mut Layer, dims: CellDims, n: usize) {
    let calls: Vec<(CellDims, usize)> = if n == 0 {
        (0..=dims.s).rev().map(|s| (dims.at(s), 1)).collect()
    } else {
        vec![(dims, n)]
    };
    for (dims, n) in calls {
        match cell {
            CellKind::Rnn => rnn_cell::rnn_cell_bwd(
                &mut l.dxw,
                &mut l.dhh,
                &mut l.carry,
                &l.dout,
                &l.dhn,
                &l.whh,
                &l.lens,
                &l.hs,
                &dims,
                n,
            ),
            CellKind::Gru => gru_cell::gru_cell_bwd(
                &mut l.dxw,
                &mut l.dhh,
                &mut l.carry,
                &l.dout,
                &l.dhn,
                &l.whh,
                &l.lens,
                &l.hs,
                &l.gates,
                &dims,
                n,
            ),
            CellKind::Lstm => lstm_cell::lstm_cell_bwd(
                &mut l.dxw,
                &mut l.dhh,
                &mut l.carry,
                &mut l.dc_carry,
                &l.dout,
                &l.dhn,
                &l.dcn,
                &l.whh,
                &l.lens,
                &l.cs,
                &l.gates,
                &dims,
                n,
            ),
        }
    }
}

/// The layer with a table's rows copied out into a (T, B, D·G·H) xw.
fn copied_out(cell: CellKind, mut l: Layer) -> Layer {
    if let Some(ids) = l.ids.take() {
        let width = l.dims.d * cell.gates() * l.dims.h;
        let rows = ids.iter().map(|&i| i as usize * width);
        l.xw = rows.flat_map(|x| l.xw[x..x + width].to_vec()).collect();
    }
    l
}

fn same(what: &str, got: &[f32], want: &[f32], seed: u64) {
    let first = got
        .iter()
        .zip(want)
        .position(|(g, w)| g.to_bits() != w.to_bits());
    assert!(
        first.is_none(),
        "{what}: element {} is {} after one run, {} step by step (seed {seed})",
        first.unwrap_or(0),
        got[first.unwrap_or(0)],
        want[first.unwrap_or(0)],
    );
}

#[test]
fn cell_runs_equal_their_steps_one_by_one() {
    let mut rng = TestRng::new("cell_runs_equal_their_steps_one_by_one");
    for cell in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        for case in 0..12 {
            let layer = draw_layer(&mut rng, cell);
            let t = layer.dims.t;
            // The whole forward pass, or its last steps only.
            let first = if rng.coin() { 0 } else { rng.below(t) };
            let dims = layer.dims.at(first);
            let what = format!("{cell:?} case {case} {dims:?} lens {:?}", layer.lens);

            let (mut run, mut steps) = (layer.clone(), layer.clone());
            forward(cell, &mut run, dims, t - first);
            forward(cell, &mut steps, dims, 0);
            // A table read through ids, against its rows copied out in (T, B) order.
            let mut copied = copied_out(cell, layer);
            forward(cell, &mut copied, dims, t - first);
            for (name, want) in [("step by step", &steps), ("copied rows", &copied)] {
                let what = format!("{what} against {name}");
                same(&format!("{what}: hs"), &run.hs, &want.hs, rng.seed);
                same(&format!("{what}: cs"), &run.cs, &want.cs, rng.seed);
                same(&format!("{what}: out"), &run.out, &want.out, rng.seed);
                same(&format!("{what}: gates"), &run.gates, &want.gates, rng.seed);
            }

            // Backward from the last step, or from an earlier one, down to step 0.
            let last = if rng.coin() { t - 1 } else { rng.below(t) };
            let dims = dims.at(last);
            backward(cell, &mut run, dims, last + 1);
            backward(cell, &mut steps, dims, 0);
            same(&format!("{what}: dxw"), &run.dxw, &steps.dxw, rng.seed);
            same(&format!("{what}: dhh"), &run.dhh, &steps.dhh, rng.seed);
            same(
                &format!("{what}: carry"),
                &run.carry,
                &steps.carry,
                rng.seed,
            );
            let (got, want) = (&run.dc_carry, &steps.dc_carry);
            same(&format!("{what}: dc_carry"), got, want, rng.seed);
        }
    }
}
