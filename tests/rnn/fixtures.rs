//! PyTorch parity: every fixture written by tests/fixtures/make_fixtures.py (torch.nn.RNN /
//! GRU / LSTM over pack_padded_sequence) is replayed on the CPU and on the GPU backend:
//! outputs, final states and every gradient must match PyTorch's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gpu_rnn::backend::Backend;
use gpu_rnn::model::module::Rnn;
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::plan::CellKind;

use crate::common::*;

struct Fixture {
    name: String,
    cfg: RnnConfig,
    t: usize,
    b: usize,
    lens: Vec<usize>,
    f32s: HashMap<String, Vec<f32>>,
}

impl Fixture {
    fn get(&self, k: &str) -> &[f32] {
        self.f32s
            .get(k)
            .unwrap_or_else(|| panic!("{}: no tensor {k}", self.name))
    }

    fn opt(&self, k: &str) -> Option<&[f32]> {
        self.f32s.get(k).map(|v| v.as_slice())
    }
}

fn load(path: &Path) -> Fixture {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().expect("fixture metadata");
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let m = |k: &str| {
        meta.get(k)
            .unwrap_or_else(|| panic!("{name}: metadata {k}"))
            .clone()
    };
    let n = |k: &str| m(k).parse::<usize>().unwrap();
    let flag = |k: &str| m(k) == "true";
    let cell = match m("cell").as_str() {
        "rnn" => CellKind::Rnn,
        "gru" => CellKind::Gru,
        "lstm" => CellKind::Lstm,
        other => panic!("{name}: cell {other}"),
    };
    let mut cfg = RnnConfig::new(cell, n("input_size"), n("hidden_size"));
    cfg.layers = n("num_layers");
    cfg.bidirectional = flag("bidirectional");
    cfg.batch_first = flag("batch_first");
    cfg.bias = flag("bias");
    cfg.relu = m("nonlinearity") == "relu";
    let mut f32s = HashMap::new();
    let mut lens = Vec::new();
    for (k, v) in st.tensors() {
        match v.dtype() {
            safetensors::Dtype::F32 => {
                f32s.insert(
                    k,
                    v.data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                );
            }
            safetensors::Dtype::I32 => {
                lens = v
                    .data()
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as usize)
                    .collect();
            }
            d => panic!("{name}: {k} has dtype {d:?}"),
        }
    }
    let t = n("T");
    let b = lens.len();
    Fixture {
        name,
        cfg,
        t,
        b,
        lens,
        f32s,
    }
}

fn fixtures() -> Vec<Fixture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rnn");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 12,
        "expected the committed fixtures in {}",
        dir.display()
    );
    paths.iter().map(|p| load(p)).collect()
}

/// Replay every fixture on `backend`; returns how many were checked.
fn replay(backend: &Backend) -> usize {
    let all = fixtures();
    for f in &all {
        let mut m = Rnn::new(f.cfg.clone(), backend, f.t, f.b).unwrap();
        m.poison().unwrap();
        // PyTorch's parameters, by name, into the flat layout.
        let mut flat = vec![f32::NAN; m.layout.len];
        for e in &m.layout.entries {
            let src = f.get(&e.name);
            assert_eq!(src.len(), e.len(), "{}: {} size", f.name, e.name);
            flat[e.offset..e.offset + e.len()].copy_from_slice(src);
        }
        m.set_params(&flat).unwrap();
        let out = m
            .forward(
                f.get("x"),
                f.t,
                f.b,
                Some(&f.lens),
                Some(f.get("h0")),
                f.opt("c0"),
            )
            .unwrap();
        let g = m
            .backward(f.get("R"), Some(f.get("S")), f.opt("U"))
            .unwrap();

        let what = |k: &str| format!("{} on {}: {k}", f.name, backend.describe());
        // The tolerances: forward 1e-5 absolute / 1e-4 relative, gradients 1e-4 / 1e-3.
        let (fa, fr, ga, gr) = (1e-5, 1e-4, 1e-4, 1e-3);
        assert_close(&what("output"), &out.output, f.get("output"), fa, fr, 0);
        assert_close(&what("h_n"), &out.h_n, f.get("h_n"), fa, fr, 0);
        if let Some(c_n) = &out.c_n {
            assert_close(&what("c_n"), c_n, f.get("c_n"), fa, fr, 0);
        }
        assert_close(&what("grad.x"), &g.dx, f.get("grad.x"), ga, gr, 0);
        assert_close(&what("grad.h0"), &g.dh0, f.get("grad.h0"), ga, gr, 0);
        if let Some(dc0) = &g.dc0 {
            assert_close(&what("grad.c0"), dc0, f.get("grad.c0"), ga, gr, 0);
        }
        for e in &m.layout.entries {
            let got = &g.params[e.offset..e.offset + e.len()];
            assert_close(
                &what(&format!("grad.{}", e.name)),
                got,
                f.get(&format!("grad.{}", e.name)),
                ga,
                gr,
                0,
            );
        }
    }
    all.len()
}

#[test]
fn cpu_matches_pytorch_fixtures() {
    let n = replay(&Backend::Cpu);
    println!("cpu: {n} PyTorch fixture cases checked (outputs, h_n, c_n and every gradient)");
}

#[test]
fn gpu_matches_pytorch_fixtures() {
    let Some(ctx) = gpu("gpu_matches_pytorch_fixtures") else {
        return;
    };
    let n = replay(&Backend::Gpu(ctx.clone()));
    println!("gpu: {n} PyTorch fixture cases checked (outputs, h_n, c_n and every gradient)");
}
