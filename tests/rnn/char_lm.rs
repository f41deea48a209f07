//! The character language model against PyTorch (fixtures from
//! tests/fixtures/make_charlm_fixtures.py): the logits of a PyTorch-made LSTM, GRU and RNN
//! read as one carried stream, and 5 truncated-BPTT training steps, on both backends; and
//! the GPU against the CPU on random configurations with dropout.

use std::path::{Path, PathBuf};

use gpu_rnn::backend::Backend;
use gpu_rnn::checkpoint;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::data::text::{CharVocab, Streams};
use gpu_rnn::model::char_lm::CharLm;
use gpu_rnn::model::classifier::ClassifierConfig;
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::plan::CellKind;

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charlm")
        .join(name)
}

fn text_ids(vocab: &CharVocab) -> Vec<u32> {
    let text = std::fs::read_to_string(fixture("tiny.txt")).unwrap();
    vocab.encode(&text, "tiny.txt").unwrap()
}

fn backends(test: &str) -> Vec<Backend> {
    let mut b = vec![Backend::Cpu];
    if let Some(ctx) = gpu(test) {
        b.push(Backend::Gpu(ctx.clone()));
    }
    b
}

// A PyTorch-made model loads with its architecture inferred, and its logits over 300
// characters, read in chunks of 64 steps with the state carried between them (the last
// chunk shorter), are PyTorch's within 1e-4.
#[test]
fn char_lm_logits_match_torch() {
    for case in ["lstm_2l", "gru_1l", "rnn_tanh_2l"] {
        let ck = checkpoint::load(&fixture(&format!("torch_{case}.safetensors"))).unwrap();
        let chars = ck.chars.clone().expect("a charlm checkpoint");
        let ids = text_ids(&chars)[..299].to_vec();
        let (shape, want) = read_tensor(
            &fixture(&format!("torch_{case}.logits.safetensors")),
            "logits",
        );
        assert_eq!(shape, [299, chars.len()]);
        for backend in backends("char_lm_logits_match_torch") {
            let mut m =
                CharLm::new(ck.cfg.clone(), &backend, 64, 1, AdamConfig::default(), 0.0).unwrap();
            m.set_params(&ck.params).unwrap();
            let mut got = Vec::new();
            for chunk in ids.chunks(64) {
                got.extend(m.logits(chunk, 1, chunk.len()).unwrap());
            }
            let what = format!("{case} on {}", m.describe());
            assert_close(&what, &got, &want, 1e-4, 1e-4, 0);
        }
    }
}

// Five truncated-BPTT steps (B 16, S 16, Adam lr 2e-3, clip 5, the state carried without
// gradient) from PyTorch's initial weights give PyTorch's losses and final weights.
#[test]
fn char_lm_tbptt_matches_torch() {
    let init = checkpoint::load(&fixture("tbptt_init.safetensors")).unwrap();
    let fin = checkpoint::load(&fixture("tbptt_final.safetensors")).unwrap();
    let want: Vec<f32> = serde_json::from_str(&fin.metadata["losses"]).unwrap();
    let ids = text_ids(init.chars.as_ref().unwrap());
    let streams = Streams::new(Path::new("tiny.txt"), ids.len(), 16, 16).unwrap();
    for backend in backends("char_lm_tbptt_matches_torch") {
        let adam = AdamConfig {
            lr: 2e-3,
            ..AdamConfig::default()
        };
        let mut m = CharLm::new(init.cfg.clone(), &backend, 16, 16, adam, 5.0).unwrap();
        m.set_params(&init.params).unwrap();
        let losses: Vec<f32> = (0..5)
            .map(|k| {
                let (x, y) = streams.batch(&ids, k);
                m.train_step(&x, &y, 16, 16).unwrap()
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

// Without the carry the same steps give other losses: the test above sees the state.
#[test]
fn char_lm_reset_state_starts_from_zeros() {
    let init = checkpoint::load(&fixture("torch_lstm_2l.safetensors")).unwrap();
    let ids = text_ids(init.chars.as_ref().unwrap());
    let mut m = CharLm::new(
        init.cfg.clone(),
        &Backend::Cpu,
        32,
        2,
        AdamConfig::default(),
        0.0,
    )
    .unwrap();
    m.set_params(&init.params).unwrap();
    let (x, y) = (&ids[..64], &ids[1..65]);
    let first = m.loss(x, y, 2, 32).unwrap();
    let carried = m.loss(x, y, 2, 32).unwrap();
    m.reset_state();
    let again = m.loss(x, y, 2, 32).unwrap();
    assert_eq!(first, again);
    assert_ne!(first, carried);
    let state = m.state().unwrap().expect("a carried state");
    assert_eq!((state.b, state.h.len()), (2, 2 * 2 * 12));
    m.set_state(Some(&state)).unwrap();
    let restored = m.loss(x, y, 2, 32).unwrap();
    m.set_state(Some(&state)).unwrap();
    assert_eq!(restored, m.loss(x, y, 2, 32).unwrap());
}

// Random cells, layer counts and dropout (between layers, on the embedding: then layer 0
// projects rows instead of reading the table): three carried training steps and the logits
// after them agree between the GPU and the CPU.
#[test]
fn char_lm_gpu_matches_cpu() {
    let mut rng = TestRng::new("char_lm_gpu_matches_cpu");
    let Some(ctx) = gpu("char_lm_gpu_matches_cpu") else {
        return;
    };
    for cell in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        let mut rnn = RnnConfig::new(cell, 6, [8, 33][rng.below(2)]);
        rnn.layers = 1 + rng.below(2);
        rnn.dropout = if rnn.layers > 1 && rng.coin() {
            0.2
        } else {
            0.0
        };
        let vocab = 11;
        let cfg = ClassifierConfig {
            vocab,
            embed: 6,
            rnn,
            classes: vocab,
            embed_dropout: if rng.coin() { 0.25 } else { 0.0 },
        };
        let (b, s) = (3, 9);
        let batches: Vec<(Vec<u32>, Vec<u32>)> = (0..3)
            .map(|_| {
                let ids: Vec<u32> = (0..b * s + 1).map(|_| rng.below(vocab) as u32).collect();
                (ids[..b * s].to_vec(), ids[1..].to_vec())
            })
            .collect();
        let mut runs = Vec::new();
        let mut init = None;
        // eps = 1e-6: Adam's update of a gradient near eps is ill-conditioned (see
        // classifier_train_steps_gpu_match_cpu).
        let adam = AdamConfig {
            eps: 1e-6,
            ..AdamConfig::default()
        };
        for backend in [Backend::Cpu, Backend::Gpu(ctx.clone())] {
            let mut m = CharLm::new(cfg.clone(), &backend, s, b, adam, 1.0).unwrap();
            m.set_seed(rng.seed as u32);
            match &init {
                None => init = Some(m.init_params(rng.seed).unwrap()),
                Some(p) => m.set_params(p).unwrap(),
            }
            let losses: Vec<f32> = batches
                .iter()
                .map(|(x, y)| m.train_step(x, y, b, s).unwrap())
                .collect();
            let logits = m.logits(&batches[0].0, b, s).unwrap();
            runs.push((losses, m.params().unwrap(), logits));
        }
        let what = format!("{cfg:?}");
        assert_close(
            &format!("{what}: losses"),
            &runs[1].0,
            &runs[0].0,
            1e-5,
            1e-4,
            rng.seed,
        );
        assert_close(
            &format!("{what}: params"),
            &runs[1].1,
            &runs[0].1,
            1e-5,
            1e-4,
            rng.seed,
        );
        assert_close(
            &format!("{what}: logits"),
            &runs[1].2,
            &runs[0].2,
            1e-5,
            1e-4,
            rng.seed,
        );
    }
}

// An inference model (CharLm::inference, as `gpu-rnn eval` and `sample` open one) gives the
// trainer's logits and losses from the same weights in less memory, and refuses to train.
#[test]
fn char_lm_inference_allocates_no_training_state() {
    let ck = checkpoint::load(&fixture("torch_lstm_2l.safetensors")).unwrap();
    let ids = text_ids(ck.chars.as_ref().unwrap());
    let (x, y) = (&ids[..64], &ids[1..65]);
    let mut trainer = CharLm::new(
        ck.cfg.clone(),
        &Backend::Cpu,
        32,
        2,
        AdamConfig::default(),
        0.0,
    )
    .unwrap();
    let mut inference = CharLm::inference(ck.cfg.clone(), &Backend::Cpu, 32, 2).unwrap();
    trainer.set_params(&ck.params).unwrap();
    inference.set_params(&ck.params).unwrap();
    assert_eq!(
        inference.loss(x, y, 2, 32).unwrap(),
        trainer.loss(x, y, 2, 32).unwrap()
    );
    assert_eq!(
        inference.logits(x, 2, 32).unwrap(),
        trainer.logits(x, 2, 32).unwrap()
    );
    // Parameters, gradients and Adam's two moments: the trainer holds 3·P more.
    let p = 4 * ck.params.len();
    assert!(inference.buffer_bytes() + 3 * p <= trainer.buffer_bytes());
    let err = inference.train_step(x, y, 2, 32).unwrap_err().to_string();
    assert!(err.contains("Model::trainer"), "{err}");
}
