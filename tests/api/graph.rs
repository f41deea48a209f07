use std::path::{Path, PathBuf};

use gpu_rnn::backend::Backend;
use gpu_rnn::checkpoint;
use gpu_rnn::cpu::cross_entropy::Reduction;
use gpu_rnn::data::text::Streams;
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::model::task_graph::Head;
use gpu_rnn::nn::{EmbeddingConfig, Graph, LinearConfig, Model, Optim, Rows, Var};

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charlm")
        .join(name)
}

fn backends(test: &str) -> Vec<Backend> {
    let mut b = vec![Backend::Cpu];
    if let Some(ctx) = gpu(test) {
        b.push(Backend::Gpu(ctx.clone()));
    }
    b
}

fn targets(y: &[u32]) -> Vec<i64> {
    y.iter().map(|&c| i64::from(c)).collect()
}

// Five truncated-BPTT steps of PyTorch's fixture (B 16, S 16, Adam lr 2e-3, clip 5), built
// from the public layers, give PyTorch's losses and final weights on both backends.
#[test]
fn graph_tbptt_matches_torch() {
    let init = checkpoint::load(&fixture("tbptt_init.safetensors")).unwrap();
    let fin = checkpoint::load(&fixture("tbptt_final.safetensors")).unwrap();
    let want: Vec<f32> = serde_json::from_str(&fin.metadata["losses"]).unwrap();
    let text = std::fs::read_to_string(fixture("tiny.txt")).unwrap();
    let ids = init
        .chars
        .as_ref()
        .unwrap()
        .encode(&text, "tiny.txt")
        .unwrap();
    let streams = Streams::new(Path::new("tiny.txt"), ids.len(), 16, 16).unwrap();
    for backend in backends("graph_tbptt_matches_torch") {
        let (g, c) = init.cfg.graph(Head::Steps).unwrap();
        let names: Vec<String> = g.parameters().map(|(n, _)| n.to_string()).collect();
        let layout = init.cfg.layout();
        let want_names: Vec<&str> = layout.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names, want_names,
            "PyTorch's keys in the checkpoint's order"
        );
        let optim = Optim::adam(2e-3).clip(5.0);
        let mut m = Model::trainer(g, &backend, (16, 16), optim).unwrap();
        m.set_params(&init.params).unwrap();
        let losses: Vec<f32> = (0..5)
            .map(|k| {
                let (x, y) = streams.batch(&ids, k);
                m.write_ids(c.x, &x, (16, 16)).unwrap();
                m.write_targets(c.y, &targets(&y), (16, 16)).unwrap();
                m.train_step((16, 16)).unwrap();
                m.scalar(c.loss).unwrap()
            })
            .collect();
        let what = m.describe();
        assert_close(&format!("{what}: losses"), &losses, &want, 1e-5, 1e-5, 0);
        let params = m.params().unwrap();
        assert_close(
            &format!("{what}: weights"),
            &params,
            &fin.params,
            1e-5,
            1e-4,
            0,
        );
    }
}

/// Embedding(9, 4) → Linear(4, 3) → cross-entropy over B rows: an embedding that feeds no
/// recurrent layer, so it gathers rows and scatters their gradient itself.
fn bag_graph(ignore: Option<i32>) -> (Graph, Var, Var, Var) {
    let mut g = Graph::new();
    let (x, y) = (g.ids("x", Rows::Batch), g.targets("y", Rows::Batch));
    let emb = EmbeddingConfig::new(9, 4).init(&mut g, "emb").unwrap();
    let fc = LinearConfig::new(4, 3).init(&mut g, "fc").unwrap();
    let e = emb.forward(&mut g, x).unwrap();
    let logits = fc.forward(&mut g, e).unwrap();
    let loss = g.cross_entropy(logits, y, Reduction::Sum, ignore).unwrap();
    (g, x, y, loss)
}

// The gradients of a graph without a recurrent layer, with a summed loss and an ignore
// index, against central differences of the model's own loss in f64-sized steps.
#[test]
fn graph_gradients_match_central_differences() {
    let mut rng = TestRng::new("graph_gradients_match_central_differences");
    let b = 6;
    let ids: Vec<u32> = (0..b).map(|_| rng.below(9) as u32).collect();
    let ys: Vec<i64> = vec![0, 2, -100, 1, 2, -100];
    let (g, x, y, loss) = bag_graph(Some(-100));
    let mut m = Model::trainer(g, &Backend::Cpu, (1, b), Optim::adam(1e-3)).unwrap();
    m.init(rng.seed).unwrap();
    m.write_ids(x, &ids, (1, b)).unwrap();
    m.write_targets(y, &ys, (1, b)).unwrap();
    m.forward_train((1, b)).unwrap();
    m.backward().unwrap();
    let grads = m.grads().unwrap();
    let p = m.params().unwrap();
    let (g2, x2, y2, loss2) = bag_graph(Some(-100));
    let mut probe = Model::new(g2, &Backend::Cpu, (1, b)).unwrap();
    probe.write_ids(x2, &ids, (1, b)).unwrap();
    probe.write_targets(y2, &ys, (1, b)).unwrap();
    let mut at = |q: &[f32]| {
        probe.set_params(q).unwrap();
        probe.forward((1, b)).unwrap();
        f64::from(probe.scalar(loss2).unwrap())
    };
    let used: Vec<usize> = (0..p.len())
        .filter(|&i| i >= 36 || ids.contains(&((i / 4) as u32)))
        .collect();
    for &i in &used {
        let h = 1e-2f32;
        let (mut up, mut down) = (p.clone(), p.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (at(&up) - at(&down)) / (2.0 * f64::from(h));
        assert!(
            (fd - f64::from(grads[i])).abs() < 2e-3 + 1e-2 * fd.abs(),
            "parameter {i}: gradient {} against {fd} (seed {})",
            grads[i],
            rng.seed
        );
    }
    // Rows of the embedding no id uses get no gradient.
    assert!(
        (0..36)
            .filter(|i| !used.contains(i))
            .all(|i| grads[i] == 0.0)
    );
    let _ = loss;
}

/// x (T, B, 3) → LSTM(3, 5) from h0, c0 → Linear(5, 2) at every step, with no loss; x, h0
/// and c0 require gradients.
struct Seeded {
    g: Graph,
    x: Var,
    y: Var,
    rnn: gpu_rnn::RnnOut,
}

fn seeded_graph() -> Seeded {
    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 3);
    g.requires_grad(x).unwrap();
    let rnn = RnnConfig::lstm(3, 5).init(&mut g, "lstm").unwrap();
    let out = rnn.forward(&mut g, x).unwrap();
    g.requires_grad(out.h0).unwrap();
    g.requires_grad(out.c0.unwrap()).unwrap();
    let y = LinearConfig::new(5, 2)
        .init(&mut g, "fc")
        .unwrap()
        .forward(&mut g, out.output)
        .unwrap();
    Seeded { g, x, y, rnn: out }
}

// torch.autograd.backward([y, h_n], [R, S]) through a Linear on an LSTM's packed outputs:
// the parameters', x's, h0's and c0's gradients (Model::with_grads, backward_from, grad_of)
// against central differences of L = Σ y·R + Σ h_n·S, c_n's gradient left out (zero).
#[test]
fn graph_backward_from_gives_input_and_state_grads() {
    let mut rng = TestRng::new("graph_backward_from_gives_input_and_state_grads");
    let (t, b) = (4, 3);
    let lens = [4, 2, 3];
    let n = Seeded::inputs(&mut rng, t, b);
    let (r, s) = (rng.values(t * b * 2), rng.values(b * 5));
    let c = seeded_graph();
    let mut m = Model::with_grads(c.g, &Backend::Cpu, (t, b)).unwrap();
    m.init(rng.seed).unwrap();
    let p = m.params().unwrap();
    n.write(&mut m, &c.rnn, c.x, (t, b), &lens);
    m.forward_train((t, b)).unwrap();
    m.backward_from(&[(c.y, &r), (c.rnn.h_n, &s)]).unwrap();
    let got = [
        m.grads().unwrap(),
        m.grad_of(c.x).unwrap(),
        m.grad_of(c.rnn.h0).unwrap(),
        m.grad_of(c.rnn.c0.unwrap()).unwrap(),
    ];
    // What it refuses: seeding a value a layer reads, the gradient of an input without
    // requires_grad, gradients of an inference model, and graphs whose input gradients it
    // could not form (an MSE target; an input two layers read, whose gradients would need
    // summing).
    let err = m.backward_from(&[(c.rnn.output, &r)]).unwrap_err();
    assert!(
        err.to_string().contains("not an output that nothing reads"),
        "{err}"
    );
    assert!(
        Model::new(seeded_graph().g, &Backend::Cpu, (t, b))
            .unwrap()
            .grads()
            .is_err()
    );
    let mut g = Graph::new();
    let (x, target) = (g.input("x", Rows::Batch, 2), g.input("t", Rows::Batch, 3));
    let y = LinearConfig::new(2, 3)
        .init(&mut g, "fc")
        .unwrap()
        .forward(&mut g, x)
        .unwrap();
    g.mse(y, target, Reduction::Mean).unwrap();
    let mut plain = Model::with_grads(g.clone(), &Backend::Cpu, (1, 2)).unwrap();
    plain.forward_train((1, 2)).unwrap();
    plain.backward().unwrap();
    let err = plain.grad_of(x).unwrap_err().to_string();
    assert!(err.contains("requires_grad"), "{err}");
    let mut to_target = g.clone();
    to_target.requires_grad(target).unwrap();
    let err = Model::with_grads(to_target, &Backend::Cpu, (1, 2))
        .err()
        .unwrap();
    assert!(err.to_string().contains("MSE target"), "{err}");
    let mut twice = g.clone();
    twice.requires_grad(x).unwrap();
    LinearConfig::new(2, 3)
        .init(&mut twice, "fc2")
        .unwrap()
        .forward(&mut twice, x)
        .unwrap();
    let err = Model::with_grads(twice, &Backend::Cpu, (1, 2))
        .err()
        .unwrap();
    assert!(err.to_string().contains("read by 2 layers"), "{err}");

    let probe_graph = seeded_graph();
    let mut probe = Model::new(probe_graph.g, &Backend::Cpu, (t, b)).unwrap();
    let mut loss = |q: &[f32], inputs: &SeededInputs| {
        probe.set_params(q).unwrap();
        inputs.write(&mut probe, &probe_graph.rnn, probe_graph.x, (t, b), &lens);
        probe.forward((t, b)).unwrap();
        let dot = |a: &[f32], b: &[f32]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum()
        };
        dot(&probe.read(probe_graph.y).unwrap(), &r)
            + dot(&probe.read(probe_graph.rnn.h_n).unwrap(), &s)
    };
    let h = 1e-2f32;
    for (what, k) in [("params", 0), ("x", 1), ("h0", 2), ("c0", 3)] {
        for i in 0..got[k].len() {
            let (mut q_up, mut q_down) = (p.clone(), p.clone());
            let (mut up, mut down) = (n.clone(), n.clone());
            match k {
                0 => (q_up[i] += h, q_down[i] -= h),
                _ => (up.vals[k - 1][i] += h, down.vals[k - 1][i] -= h),
            };
            let fd = (loss(&q_up, &up) - loss(&q_down, &down)) / (2.0 * f64::from(h));
            let g = f64::from(got[k][i]);
            assert!(
                (fd - g).abs() < 2e-3 + 1e-2 * fd.abs(),
                "{what}[{i}]: gradient {g} against {fd} (seed {})",
                rng.seed
            );
        }
    }
}

impl Seeded {
    /// x, h0 and c0 drawn at random, as a clonable bundle.
    fn inputs(rng: &mut TestRng, t: usize, b: usize) -> SeededInputs {
        SeededInputs {
            vals: [rng.values(t * b * 3), rng.values(b * 5), rng.values(b * 5)],
        }
    }
}

#[derive(Clone)]
struct SeededInputs {
    vals: [Vec<f32>; 3],
}

impl SeededInputs {
    fn write(
        &self,
        m: &mut Model,
        rnn: &gpu_rnn::RnnOut,
        x: Var,
        shape: (usize, usize),
        lens: &[usize],
    ) {
        m.write(x, &self.vals[0], shape).unwrap();
        m.write(rnn.h0, &self.vals[1], shape).unwrap();
        m.write(rnn.c0.unwrap(), &self.vals[2], shape).unwrap();
        m.set_lengths(Some(lens));
    }
}

// What a model refuses, with a message that names the value, the index or the tensor.
#[test]
fn graph_errors_are_clear() {
    let (g, x, y, _) = bag_graph(None);
    let mut m = Model::new(g, &Backend::Cpu, (1, 4)).unwrap();
    let err = m
        .write_ids(x, &[0, 1, 9, 2], (1, 4))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x[2] is 9") && err.contains("9 embeddings"),
        "{err}"
    );
    let err = m
        .write_targets(y, &[0, 3, 0, 0], (1, 4))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("y[1] is 3") && err.contains("3 classes"),
        "{err}"
    );
    let err = m.write_ids(x, &[0, 1], (1, 4)).unwrap_err().to_string();
    assert!(err.contains("4 values"), "{err}");
    let err = m.train_step((1, 4)).unwrap_err().to_string();
    assert!(err.contains("Model::trainer"), "{err}");
    let err = m.forward((1, 5)).unwrap_err().to_string();
    assert!(err.contains("B = 5"), "{err}");

    // A value two layers read cannot be trained (its gradient would need a sum).
    let mut g = Graph::new();
    let x = g.input("x", Rows::Batch, 3);
    let y = g.targets("y", Rows::Batch);
    let fc = LinearConfig::new(3, 3).init(&mut g, "fc").unwrap();
    let h = fc.forward(&mut g, x).unwrap();
    let a = LinearConfig::new(3, 2)
        .init(&mut g, "a")
        .unwrap()
        .forward(&mut g, h)
        .unwrap();
    LinearConfig::new(3, 2)
        .init(&mut g, "b")
        .unwrap()
        .forward(&mut g, h)
        .unwrap();
    g.cross_entropy(a, y, Reduction::Mean, None).unwrap();
    let err = Model::trainer(g, &Backend::Cpu, (1, 2), Optim::adam(1e-3))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("fc.out is read by 2 layers"), "{err}");

    let mut g = Graph::new();
    assert!(LinearConfig::new(3, 3).init(&mut g, "fc").is_ok());
    let err = LinearConfig::new(3, 3)
        .init(&mut g, "fc")
        .unwrap_err()
        .to_string();
    assert!(err.contains("taken"), "{err}");
    let err = LinearConfig::new(3, 3)
        .init(&mut g, "enc.fc")
        .unwrap_err()
        .to_string();
    assert!(err.contains("dots"), "{err}");

    // A recurrent layer's h0 (which no node lists as read) written for B = 4, then a run
    // of B = 2 without the losses: refused as forward refuses it, not read with B = 4's rows.
    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 3);
    let out = RnnConfig::gru(3, 4)
        .num_layers(2)
        .init(&mut g, "gru")
        .unwrap()
        .forward(&mut g, x)
        .unwrap();
    let mut m = Model::new(g, &Backend::Cpu, (2, 4)).unwrap();
    m.write(out.h0, &[0.5; 2 * 4 * 4], (2, 4)).unwrap();
    m.write(x, &[0.5; 2 * 2 * 3], (2, 2)).unwrap();
    let err = m.predict((2, 2)).unwrap_err().to_string();
    assert!(err.contains("gru.h0 was written for"), "{err}");

    // Inputs written for one batch shape and run at another; backward after a step.
    let (g, x, y, _) = bag_graph(None);
    let mut m = Model::trainer(g, &Backend::Cpu, (1, 4), Optim::adam(1e-3)).unwrap();
    m.write_ids(x, &[0, 1, 2, 3], (1, 4)).unwrap();
    m.write_targets(y, &[0, 1, 2, 0], (1, 4)).unwrap();
    let err = m.train_step((1, 3)).unwrap_err().to_string();
    assert!(
        err.contains("x was written for T = 1, B = 4; this run is T = 1, B = 3"),
        "{err}"
    );
    m.train_step((1, 4)).unwrap();
    let err = m.backward().unwrap_err().to_string();
    assert!(err.contains("forward_train first"), "{err}");
    assert!(m.set_lr(f64::NAN).is_err());

    // A loss on an input runs (its kernel has a gradient buffer to write); a trained graph
    // may not read a loss; state indices must be distinct.
    let mut g = Graph::new();
    let (x, t) = (g.input("x", Rows::Batch, 3), g.input("t", Rows::Batch, 3));
    let l = g.mse(x, t, Reduction::Mean).unwrap();
    let mut m = Model::new(g, &Backend::Cpu, (1, 2)).unwrap();
    m.write(x, &[1.0; 6], (1, 2)).unwrap();
    m.forward((1, 2)).unwrap();
    assert_eq!(m.scalar(l).unwrap(), 1.0);
    let mut g = Graph::new();
    let (x, t) = (g.input("x", Rows::Batch, 3), g.input("t", Rows::Batch, 1));
    let fc = LinearConfig::new(3, 1).init(&mut g, "fc").unwrap();
    let p = fc.forward(&mut g, x).unwrap();
    let l = g.mse(p, t, Reduction::Mean).unwrap();
    let again = LinearConfig::new(1, 1).init(&mut g, "again").unwrap();
    let (q, u) = (
        again.forward(&mut g, l).unwrap(),
        g.input("u", Rows::Fixed(1), 1),
    );
    g.mse(q, u, Reduction::Mean).unwrap();
    let err = Model::trainer(g, &Backend::Cpu, (1, 2), Optim::adam(1e-3))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("is a loss; a trained graph may not read it"),
        "{err}"
    );
    let mut g = Graph::new();
    let h = g.input("h", Rows::States(2), 4);
    let err = g.cat_states(h, &[1, 1]).unwrap_err().to_string();
    assert!(err.contains("distinct"), "{err}");
    // Targets nothing classifies only need to be indices.
    let mut g = Graph::new();
    let y = g.targets("y", Rows::Batch);
    let mut m = Model::new(g, &Backend::Cpu, (1, 2)).unwrap();
    m.write_targets(y, &[0, 7], (1, 2)).unwrap();
    assert!(m.write_targets(y, &[0, -3], (1, 2)).is_err());
}

// Saved parameters load back into the same graph; a file of another graph is refused with
// the tensor it lacks, has in another shape, or has over.
#[test]
fn graph_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let (g, ..) = bag_graph(None);
    let mut m = Model::new(g, &Backend::Cpu, (1, 2)).unwrap();
    m.init(3).unwrap();
    m.save(&path).unwrap();
    let (g, ..) = bag_graph(None);
    let mut back = Model::new(g, &Backend::Cpu, (1, 2)).unwrap();
    back.load(&path).unwrap();
    assert_eq!(back.params().unwrap(), m.params().unwrap());
    let names: Vec<String> = back
        .state_dict()
        .unwrap()
        .into_iter()
        .map(|(n, ..)| n)
        .collect();
    assert_eq!(names, ["emb.weight", "fc.weight", "fc.bias"]);

    let other = |vocab: usize, extra: bool| {
        let mut g = Graph::new();
        let x = g.ids("x", Rows::Batch);
        let e = EmbeddingConfig::new(vocab, 4)
            .init(&mut g, "emb")
            .unwrap()
            .forward(&mut g, x)
            .unwrap();
        LinearConfig::new(4, 3)
            .init(&mut g, "fc")
            .unwrap()
            .forward(&mut g, e)
            .unwrap();
        if extra {
            LinearConfig::new(4, 3).init(&mut g, "head").unwrap();
        }
        Model::new(g, &Backend::Cpu, (1, 2)).unwrap()
    };
    let err = other(8, false).load(&path).unwrap_err().to_string();
    assert!(
        err.contains("emb.weight") && err.contains("[9, 4]"),
        "{err}"
    );
    let err = other(9, true).load(&path).unwrap_err().to_string();
    assert!(err.contains("missing tensor head.weight"), "{err}");
}

// An LSTMCell stepped by hand over T steps is nn.LSTM over the sequence: with the same
// parameters (the cell's keys lack `_l0`, in the same order) the same final state, loss and
// gradients, on both backends.
#[test]
fn graph_cell_steps_match_the_layer() {
    use gpu_rnn::nn::CellConfig;
    let mut rng = TestRng::new("graph_cell_steps_match_the_layer");
    let (t, b, i, h) = (4, 3, 5, 6);
    let xs = rng.values(t * b * i);
    let ys: Vec<i64> = (0..b).map(|_| rng.below(3) as i64).collect();
    for backend in backends("graph_cell_steps_match_the_layer") {
        // By hand: h, c = cell(x_t, (h, c)) for each step, then Linear(h) → cross-entropy.
        let mut g = Graph::new();
        let cell = CellConfig::lstm_cell(i, h).init(&mut g, "cell").unwrap();
        let fc = LinearConfig::new(h, 3).init(&mut g, "fc").unwrap();
        let steps: Vec<Var> = (0..t)
            .map(|k| g.input(&format!("x{k}"), Rows::Batch, i))
            .collect();
        let (mut hv, mut cv) = (g.input("h0", Rows::Batch, h), g.input("c0", Rows::Batch, h));
        for &x in &steps {
            let out = cell.forward(&mut g, x, hv, Some(cv)).unwrap();
            (hv, cv) = (out.h, out.c.unwrap());
        }
        let y = g.targets("y", Rows::Batch);
        let logits = fc.forward(&mut g, hv).unwrap();
        let loss = g.cross_entropy(logits, y, Reduction::Mean, None).unwrap();
        let mut by_hand = Model::trainer(g, &backend, (1, b), Optim::adam(1e-3)).unwrap();
        by_hand.init(rng.seed).unwrap();
        for (k, &x) in steps.iter().enumerate() {
            by_hand
                .write(x, &xs[k * b * i..(k + 1) * b * i], (1, b))
                .unwrap();
        }
        by_hand.write_targets(y, &ys, (1, b)).unwrap();
        by_hand.forward_train((1, b)).unwrap();
        by_hand.backward().unwrap();
        assert_eq!(by_hand.dims(hv).unwrap(), [b, h]);
        assert_eq!(by_hand.dims(loss).unwrap(), Vec::<usize>::new());

        // The layer: nn.LSTM(i, h) → Linear(h_n) → cross-entropy.
        let mut g = Graph::new();
        let lstm = RnnConfig::lstm(i, h).init(&mut g, "lstm").unwrap();
        let fc2 = LinearConfig::new(h, 3).init(&mut g, "fc").unwrap();
        let x = g.input("x", Rows::Steps, i);
        let y2 = g.targets("y", Rows::Batch);
        let out = lstm.forward(&mut g, x).unwrap();
        let logits2 = fc2.forward(&mut g, out.h_n).unwrap();
        let loss2 = g.cross_entropy(logits2, y2, Reduction::Mean, None).unwrap();
        let mut layer = Model::trainer(g, &backend, (t, b), Optim::adam(1e-3)).unwrap();
        layer.set_params(&by_hand.params().unwrap()).unwrap();
        layer.write(x, &xs, (t, b)).unwrap();
        layer.write_targets(y2, &ys, (t, b)).unwrap();
        layer.forward_train((t, b)).unwrap();
        layer.backward().unwrap();
        assert_eq!(layer.dims(out.h_n).unwrap(), [1, b, h]);
        assert_eq!(layer.dims(out.output).unwrap(), [t, b, h]);

        let what = format!("on {}", layer.describe());
        let (got, want) = (by_hand.read(hv).unwrap(), layer.read(out.h_n).unwrap());
        assert_close(&format!("h {what}"), &got, &want, 1e-6, 1e-5, rng.seed);
        let (got, want) = (by_hand.scalar(loss).unwrap(), layer.scalar(loss2).unwrap());
        assert_close(
            &format!("loss {what}"),
            &[got],
            &[want],
            1e-6,
            1e-5,
            rng.seed,
        );
        let (got, want) = (by_hand.grads().unwrap(), layer.grads().unwrap());
        assert_close(&format!("grads {what}"), &got, &want, 1e-6, 1e-4, rng.seed);
    }
}

// Every optimizer trains a graph on both backends, and the backends agree step for step.
#[test]
fn graph_trains_with_each_optimizer() {
    let mut rng = TestRng::new("graph_trains_with_each_optimizer");
    let b = 8;
    let ids: Vec<u32> = (0..b).map(|_| rng.below(9) as u32).collect();
    let ys: Vec<i64> = ids.iter().map(|&i| i64::from(i % 3)).collect();
    for optim in [
        Optim::adam(0.05),
        Optim::adamw(0.05).clip(1.0),
        Optim::sgd(0.5, 0.0, false),
        Optim::sgd(0.2, 0.9, true).clip(2.0),
    ] {
        let mut runs = Vec::new();
        for backend in backends("graph_trains_with_each_optimizer") {
            let (g, x, y, loss) = bag_graph(None);
            let mut m = Model::trainer(g, &backend, (1, b), optim).unwrap();
            m.init(5).unwrap();
            m.write_ids(x, &ids, (1, b)).unwrap();
            m.write_targets(y, &ys, (1, b)).unwrap();
            let losses: Vec<f32> = (0..20)
                .map(|_| {
                    m.train_step((1, b)).unwrap();
                    m.scalar(loss).unwrap()
                })
                .collect();
            assert!(losses[19] < 0.5 * losses[0], "{optim:?}: {losses:?}");
            runs.push((losses, m.params().unwrap()));
        }
        if let [cpu, gpu] = &runs[..] {
            assert_close(
                &format!("{optim:?} losses"),
                &gpu.0,
                &cpu.0,
                1e-5,
                1e-4,
                rng.seed,
            );
            assert_close(
                &format!("{optim:?} params"),
                &gpu.1,
                &cpu.1,
                1e-5,
                1e-4,
                rng.seed,
            );
        }
    }
    let (g, ..) = bag_graph(None);
    let bad = Optim::new(gpu_rnn::cpu::sgd::SgdConfig {
        nesterov: true,
        ..gpu_rnn::cpu::sgd::SgdConfig::new(0.1)
    });
    let err = Model::trainer(g, &Backend::Cpu, (1, 2), bad)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("Nesterov needs momentum"), "{err}");
}
