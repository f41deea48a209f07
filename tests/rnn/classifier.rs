//! The lecture-13 classifier as a whole: a training step on the GPU equals the CPU's, the
//! step of the lecture model stays within the dispatch budget, and the model learns.

use gpu_rnn::backend::Backend;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::model::classifier::{Batch, Classifier, ClassifierConfig};
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::plan::CellKind;

use crate::common::*;

fn random_batch(rng: &mut TestRng, b: usize, t: usize, vocab: usize, classes: usize) -> Batch {
    Batch {
        tokens: (0..b)
            .map(|_| {
                (0..1 + rng.below(t))
                    .map(|_| rng.below(vocab) as u32)
                    .collect()
            })
            .collect(),
        targets: (0..b).map(|_| rng.below(classes) as i32).collect(),
    }
}

#[test]
fn classifier_train_steps_gpu_match_cpu() {
    let mut rng = TestRng::new("classifier_train_steps_gpu_match_cpu");
    let Some(ctx) = gpu("classifier_train_steps_gpu_match_cpu") else {
        return;
    };
    // Vocabulary 30 takes the embedding-projection table, 200 the gathered embedding rows.
    for (cell, vocab) in [
        (CellKind::Rnn, 30),
        (CellKind::Gru, 30),
        (CellKind::Lstm, 30),
        (CellKind::Rnn, 200),
        (CellKind::Gru, 200),
        (CellKind::Lstm, 200),
    ] {
        let mut rnn = RnnConfig::new(cell, 9, [7, 37][rng.below(2)]);
        rnn.layers = 1 + rng.below(2);
        rnn.bidirectional = rng.coin();
        rnn.dropout = if rnn.layers > 1 && rng.coin() {
            0.2
        } else {
            0.0
        };
        // The word path also drops embedding rows (the same mask on both backends).
        let embed_dropout = if vocab == 200 && cell != CellKind::Rnn {
            0.25
        } else {
            0.0
        };
        let cfg = ClassifierConfig {
            vocab,
            embed: 9,
            rnn,
            classes: 5,
            embed_dropout,
        };
        let max_norm = if rng.coin() { 1.0 } else { 0.0 };
        let batches: Vec<Batch> = (0..3)
            .map(|_| random_batch(&mut rng, 17, 8, vocab, 5))
            .collect();
        let mut runs = Vec::new();
        let mut init = None;
        // Adam's first update is lr·g/(|g| + eps): for a gradient near eps it moves by up to
        // lr/4 per eps of difference in g. A gradient that is 0 but for rounding (-8.8e-9 on
        // the CPU, -9.7e-9 on lavapipe, at seed 11328904968009547216) then moves its weight
        // by 4.7e-4 against 4.9e-4, beyond any tolerance that catches a wrong update. With
        // eps = 1e-6 that sensitivity is 100 times smaller, and the rest of the step is
        // PyTorch's Adam as before.
        let adam = AdamConfig {
            eps: 1e-6,
            ..AdamConfig::default()
        };
        for backend in [Backend::Cpu, Backend::Gpu(ctx.clone())] {
            let mut m = Classifier::new(cfg.clone(), &backend, 8, 17, adam, max_norm).unwrap();
            m.set_seed(rng.seed as u32);
            match &init {
                None => init = Some(m.init_params(rng.seed).unwrap()),
                Some(p) => m.set_params(p).unwrap(),
            }
            let losses: Vec<f32> = batches.iter().map(|b| m.train_step(b).unwrap()).collect();
            let logits = m.logits(&batches[0]).unwrap();
            runs.push((losses, m.params().unwrap(), logits));
        }
        let what = format!("{cfg:?} max_norm={max_norm}");
        assert_close(
            &format!("{what}: losses"),
            &runs[1].0,
            &runs[0].0,
            1e-5,
            1e-4,
            rng.seed,
        );
        // After three Adam steps of lr 1e-3 the parameters move by up to 3e-3; the backends'
        // gradients agree to ~1e-6, so 1e-5 on the parameters leaves room without hiding a
        // wrong update (which moves them by ~lr).
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

// The two ways into layer 0 (a projected table of the vocabulary, or gathered embedding rows
// projected per token, chosen by vocabulary size against T·B) are the same function: equal
// losses, parameters and logits over three training steps from the same weights. f32 sums in
// different orders: 1e-5.
#[test]
fn classifier_table_and_row_inputs_agree() {
    let mut rng = TestRng::new("classifier_table_and_row_inputs_agree");
    let mut rnn = RnnConfig::new(CellKind::Gru, 9, 12);
    rnn.bidirectional = true;
    let cfg = ClassifierConfig {
        vocab: 40,
        embed: 9,
        rnn,
        classes: 5,
        embed_dropout: 0.0,
    };
    let batches: Vec<Batch> = (0..3)
        .map(|_| random_batch(&mut rng, 17, 8, 40, 5))
        .collect();
    let mut runs = Vec::new();
    let mut init = None;
    // 4·V = 160: above T·B = 8·17 (rows), within 8·20 (table).
    for b_max in [17, 20] {
        let mut m = Classifier::new(
            cfg.clone(),
            &Backend::Cpu,
            8,
            b_max,
            AdamConfig::default(),
            0.0,
        )
        .unwrap();
        match &init {
            None => init = Some(m.init_params(rng.seed).unwrap()),
            Some(p) => m.set_params(p).unwrap(),
        }
        let losses: Vec<f32> = batches.iter().map(|b| m.train_step(b).unwrap()).collect();
        let logits = m.logits(&batches[0]).unwrap();
        runs.push((losses, m.params().unwrap(), logits, m.buffer_bytes()));
    }
    assert_ne!(runs[0].3, runs[1].3, "both runs took the same input path");
    // Embedding dropout changes the training loss but not eval-mode logits of the same weights.
    let mut cfg_d = cfg.clone();
    cfg_d.embed_dropout = 0.5;
    let mut m = Classifier::new(cfg_d, &Backend::Cpu, 8, 20, AdamConfig::default(), 0.0).unwrap();
    m.set_params(init.as_ref().unwrap()).unwrap();
    let before = m.logits(&batches[0]).unwrap();
    let mut plain = Classifier::new(
        cfg.clone(),
        &Backend::Cpu,
        8,
        20,
        AdamConfig::default(),
        0.0,
    )
    .unwrap();
    plain.set_params(init.as_ref().unwrap()).unwrap();
    assert_close(
        "eval logits",
        &before,
        &plain.logits(&batches[0]).unwrap(),
        1e-6,
        1e-6,
        rng.seed,
    );
    let dropped_loss = m.train_step(&batches[0]).unwrap();
    assert!(
        (dropped_loss - runs[0].0[0]).abs() > 1e-4,
        "embedding dropout 0.5 left the loss at {dropped_loss}"
    );
    assert_close("losses", &runs[1].0, &runs[0].0, 1e-5, 1e-4, rng.seed);
    assert_close("params", &runs[1].1, &runs[0].1, 1e-5, 1e-4, rng.seed);
    assert_close("logits", &runs[1].2, &runs[0].2, 1e-5, 1e-4, rng.seed);
}

#[test]
fn lecture_model_training_step_dispatch_budget() {
    // The lecture model at its longest batch: T = 19 (the longest name), B = 256.
    let cfg = ClassifierConfig::lecture();
    let (t, b, l) = (19, 256, cfg.rnn.layers);
    let budget = 4 * t * l + 10 * l + 20;
    let mut rng = TestRng::new("lecture_model_training_step_dispatch_budget");
    let mut batch = random_batch(&mut rng, b, t, 128, 18);
    batch.tokens[0] = vec![65; t];
    let backend = match gpu("lecture_model_training_step_dispatch_budget") {
        Some(ctx) => Backend::Gpu(ctx.clone()),
        None => Backend::Cpu,
    };
    let mut m = Classifier::new(cfg, &backend, t, b, AdamConfig::default(), 0.0).unwrap();
    m.init_params(1).unwrap();
    let loss = m.train_step(&batch).unwrap();
    let n = m.last_dispatches();
    println!(
        "lecture model training step (T={t}, B={b}) on {}: {n} dispatches, budget {budget}, loss {loss}",
        m.describe()
    );
    assert!(
        n <= budget,
        "{n} dispatches, over the budget of 4·T·L + 10·L + 20 = {budget}"
    );
    assert!(
        loss.is_finite() && (loss - (18f32).ln()).abs() < 0.5,
        "first loss {loss} should be near ln 18"
    );
}

#[test]
fn classifier_learns_a_token_rule() {
    // The class is the first token mod 4: learnable only by carrying it through the sequence.
    let mut rng = TestRng::new("classifier_learns_a_token_rule");
    let mut rnn = RnnConfig::new(CellKind::Gru, 8, 16);
    rnn.bidirectional = true;
    let cfg = ClassifierConfig {
        vocab: 12,
        embed: 8,
        rnn,
        classes: 4,
        embed_dropout: 0.0,
    };
    let adam = AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    };
    let mut m = Classifier::new(cfg, &Backend::Cpu, 6, 32, adam, 0.0).unwrap();
    m.init_params(rng.seed).unwrap();
    let mut first = 0.0;
    let mut last = 0.0;
    for step in 0..150 {
        let mut batch = random_batch(&mut rng, 32, 6, 12, 4);
        batch.targets = batch.tokens.iter().map(|s| (s[0] % 4) as i32).collect();
        let loss = m.train_step(&batch).unwrap();
        if step == 0 {
            first = loss;
        }
        last = loss;
    }
    println!("token rule: loss {first} -> {last}");
    assert!(
        last < 0.3 * first,
        "loss went from {first} to {last} (seed {})",
        rng.seed
    );
}

// A model whose activations exceed what one buffer binding of the adapter can hold fails with
// Error::Limit naming the buffer and the limit, before it allocates anything.
#[test]
fn classifier_beyond_the_adapters_limits_is_a_clear_error() {
    let Some(ctx) = gpu("classifier_beyond_the_adapters_limits_is_a_clear_error") else {
        return;
    };
    let limit = ctx.limits.max_storage_buffer_binding_size;
    // The saved gates are (D, T, B, 4H) floats: pick B so they need more than the limit.
    let cfg = ClassifierConfig::lecture();
    let t = 19;
    let per_row = 2 * t * 4 * cfg.rnn.hidden * 4;
    let b = (limit as usize / per_row) + 1;
    let err = match Classifier::new(
        cfg,
        &Backend::Gpu(ctx.clone()),
        t,
        b,
        AdamConfig::default(),
        0.0,
    ) {
        Ok(_) => panic!("a batch of {b} should exceed the adapter's {limit}-byte bindings"),
        Err(e) => e.to_string(),
    };
    println!("B = {b}: {err}");
    assert!(
        err.contains("over the adapter's max_storage_buffer_binding_size") && err.contains("gates"),
        "{err}"
    );
}
