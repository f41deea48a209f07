//! Central differences on the CPU path: the analytic gradients of
//! L = Σ output ⊙ R + Σ h_n ⊙ S (+ Σ c_n ⊙ U) against (L(θ + ε) − L(θ − ε)) / 2ε for every
//! parameter, every input element and h0 (c0).

use gpu_rnn::backend::Backend;
use gpu_rnn::model::module::Rnn;
use gpu_rnn::model::plan::CellKind;
use gpu_rnn::model::rnn::RnnConfig;

use crate::common::*;

struct Problem {
    x: Vec<f32>,
    h0: Vec<f32>,
    c0: Option<Vec<f32>>,
    r: Vec<f32>,
    s: Vec<f32>,
    u: Option<Vec<f32>>,
    lens: Vec<usize>,
    t: usize,
    b: usize,
}

fn loss(m: &mut Rnn, p: &Problem) -> f64 {
    let o = m
        .forward(&p.x, p.t, p.b, Some(&p.lens), Some(&p.h0), p.c0.as_deref())
        .unwrap();
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| *x as f64 * *y as f64)
            .sum::<f64>()
    };
    dot(&o.output, &p.r)
        + dot(&o.h_n, &p.s)
        + o.c_n
            .as_ref()
            .map_or(0.0, |c| dot(c, p.u.as_ref().unwrap()))
}

// ε = 1e-2 in f32: truncation error O(ε²) ≈ 1e-4 for these O(1) second derivatives, rounding
// error ≈ 1e-7·|L| / ε ≈ 1e-5. A wrong gradient term is off by O(0.1) or more.
const EPS: f32 = 1e-2;
const ATOL: f32 = 2e-3;
const RTOL: f32 = 1e-2;

fn numeric(
    m: &mut Rnn,
    p: &mut Problem,
    get: impl Fn(&mut Problem) -> &mut Vec<f32>,
    n: usize,
) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x0 = get(p)[i];
            get(p)[i] = x0 + EPS;
            let lp = loss(m, p);
            get(p)[i] = x0 - EPS;
            let lm = loss(m, p);
            get(p)[i] = x0;
            ((lp - lm) / (2.0 * EPS as f64)) as f32
        })
        .collect()
}

fn gradcheck(name: &str, cell: CellKind, relu: bool) {
    let mut rng = TestRng::new(name);
    let mut cfg = RnnConfig::new(cell, 3, 4);
    cfg.layers = 2;
    cfg.bidirectional = true;
    cfg.relu = relu;
    let (t, b) = (4, 3);
    let l = cfg.layers * cfg.dirs();
    let lstm = cell == CellKind::Lstm;
    let mut p = Problem {
        x: rng.values(t * b * cfg.input_size),
        h0: rng.values(l * b * cfg.hidden),
        c0: lstm.then(|| rng.values(l * b * cfg.hidden)),
        r: rng.values(t * b * cfg.dirs() * cfg.hidden),
        s: rng.values(l * b * cfg.hidden),
        u: lstm.then(|| rng.values(l * b * cfg.hidden)),
        lens: vec![4, 2, 3],
        t,
        b,
    };
    let mut m = Rnn::new(cfg.clone(), &Backend::Cpu, t, b).unwrap();
    let mut theta = m.init_params(rng.seed).unwrap();
    if relu {
        // Keep pre-activations away from relu's kink, where differences are meaningless.
        for v in theta.iter_mut() {
            *v *= 2.0;
        }
        m.set_params(&theta).unwrap();
    }
    loss(&mut m, &p);
    let g = m.backward(&p.r, Some(&p.s), p.u.as_deref()).unwrap();

    let num_x = numeric(&mut m, &mut p, |p| &mut p.x, t * b * cfg.input_size);
    assert_close(&format!("{name}: dx"), &g.dx, &num_x, ATOL, RTOL, rng.seed);
    let num_h0 = numeric(&mut m, &mut p, |p| &mut p.h0, l * b * cfg.hidden);
    assert_close(
        &format!("{name}: dh0"),
        &g.dh0,
        &num_h0,
        ATOL,
        RTOL,
        rng.seed,
    );
    if lstm {
        let num_c0 = numeric(
            &mut m,
            &mut p,
            |p| p.c0.as_mut().unwrap(),
            l * b * cfg.hidden,
        );
        assert_close(
            &format!("{name}: dc0"),
            g.dc0.as_ref().unwrap(),
            &num_c0,
            ATOL,
            RTOL,
            rng.seed,
        );
    }
    for e in m.layout.entries.clone() {
        let num: Vec<f32> = (0..e.len())
            .map(|i| {
                let k = e.offset + i;
                let x0 = theta[k];
                theta[k] = x0 + EPS;
                m.set_params(&theta).unwrap();
                let lp = loss(&mut m, &p);
                theta[k] = x0 - EPS;
                m.set_params(&theta).unwrap();
                let lm = loss(&mut m, &p);
                theta[k] = x0;
                ((lp - lm) / (2.0 * EPS as f64)) as f32
            })
            .collect();
        m.set_params(&theta).unwrap();
        assert_close(
            &format!("{name}: d{}", e.name),
            &g.params[e.offset..e.offset + e.len()],
            &num,
            ATOL,
            RTOL,
            rng.seed,
        );
    }
}

#[test]
fn rnn_tanh_gradcheck_cpu() {
    gradcheck("rnn_tanh_gradcheck_cpu", CellKind::Rnn, false);
}

#[test]
fn rnn_relu_gradcheck_cpu() {
    gradcheck("rnn_relu_gradcheck_cpu", CellKind::Rnn, true);
}

#[test]
fn gru_gradcheck_cpu() {
    gradcheck("gru_gradcheck_cpu", CellKind::Gru, false);
}

#[test]
fn lstm_gradcheck_cpu() {
    gradcheck("lstm_gradcheck_cpu", CellKind::Lstm, false);
}
