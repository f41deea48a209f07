//! PyTorch parity of the lecture model (fixtures from tests/fixtures/make_lecture_fixtures.py):
//! a checkpoint written by safetensors.torch.save_file gives PyTorch's logits, and a few Adam
//! steps from PyTorch's initial weights on the same batches give PyTorch's weights.

use std::path::{Path, PathBuf};

use gpu_rnn::backend::Backend;
use gpu_rnn::checkpoint;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::data::names;
use gpu_rnn::model::classifier::{Batch, Classifier};

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lecture")
        .join(name)
}

fn backends(test: &str) -> Vec<Backend> {
    let mut b = vec![Backend::Cpu];
    if let Some(ctx) = gpu(test) {
        b.push(Backend::Gpu(ctx.clone()));
    }
    b
}

fn read_f32(path: &Path, tensor: &str) -> (Vec<f32>, std::collections::HashMap<String, String>) {
    (read_tensor(path, tensor).1, read_metadata(path))
}

#[test]
fn pytorch_checkpoints_give_pytorch_logits() {
    let cases = [
        "gru_2l_bi",
        "lstm_1l_uni",
        "rnn_relu_2l_bi",
        "lstm_3l_bi",
        "rnn_tanh_2l_uni",
    ];
    for backend in backends("pytorch_checkpoints_give_pytorch_logits") {
        for case in cases {
            let ck = checkpoint::load(&fixture(&format!("torch_{case}.safetensors"))).unwrap();
            let (want, meta) = read_f32(
                &fixture(&format!("torch_{case}.logits.safetensors")),
                "logits",
            );
            let names: Vec<String> = serde_json::from_str(&meta["names"]).unwrap();
            let tokens: Vec<Vec<u32>> = names.iter().map(|n| names::tokens(n)).collect();
            let t = tokens.iter().map(Vec::len).max().unwrap();
            let mut m = Classifier::new(
                ck.cfg.clone(),
                &backend,
                t,
                tokens.len(),
                AdamConfig::default(),
                0.0,
            )
            .unwrap();
            m.set_params(&ck.params).unwrap();
            let got = m
                .logits(&Batch {
                    tokens,
                    targets: Vec::new(),
                })
                .unwrap();
            // The bar: PyTorch's logits within 1e-4.
            assert_close(
                &format!("{case} on {}", backend.describe()),
                &got,
                &want,
                1e-4,
                0.0,
                0,
            );
        }
        println!(
            "{}: {} PyTorch-made checkpoints give PyTorch's logits",
            backend.describe(),
            cases.len()
        );
    }
}

#[test]
fn training_matches_pytorch_from_the_same_weights() {
    let init = checkpoint::load(&fixture("train_init.safetensors")).unwrap();
    let fin = checkpoint::load(&fixture("train_final.safetensors")).unwrap();
    let losses: Vec<f32> = serde_json::from_str(&fin.metadata["losses"]).unwrap();
    let batch: usize = fin.metadata["batch_size"].parse().unwrap();
    let data = names::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/names_train.csv.gz"),
        true,
    )
    .unwrap();
    let targets = names::class_indices(&data.examples, &init.classes, "the checkpoint").unwrap();
    for backend in backends("training_matches_pytorch_from_the_same_weights") {
        let mut m = Classifier::new(
            init.cfg.clone(),
            &backend,
            19,
            batch,
            AdamConfig {
                lr: 1e-3,
                ..AdamConfig::default()
            },
            0.0,
        )
        .unwrap();
        m.set_params(&init.params).unwrap();
        let mut got = Vec::new();
        for (step, chunk) in data.examples.chunks(batch).take(losses.len()).enumerate() {
            let b = Batch {
                tokens: chunk.iter().map(|e| names::tokens(&e.name)).collect(),
                targets: targets[step * batch..step * batch + chunk.len()].to_vec(),
            };
            got.push(m.train_step(&b).unwrap());
        }
        let what = format!("{} Adam steps on {}", losses.len(), backend.describe());
        assert_close(&format!("{what}: losses"), &got, &losses, 1e-5, 1e-5, 0);
        // After 5 steps of lr 1e-3 the weights moved by up to 5e-3; agreeing to 1e-5 leaves a
        // wrong update (off by ~lr) no place to hide.
        assert_close(
            &format!("{what}: weights"),
            &m.params().unwrap(),
            &fin.params,
            1e-5,
            1e-4,
            0,
        );
        println!("{what}: losses and weights match PyTorch's");
    }
}
