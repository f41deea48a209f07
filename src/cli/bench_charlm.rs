//! `gpu-rnn bench --charlm`: the character language model's throughput on each backend,
//! the same model and batches as `gpu-rnn train --task charlm` (2-layer LSTM(256), E 64,
//! 32 streams × 100 steps of the text) and as benches/torch_charlm.py: training chars/s, and
//! sampling chars/s of `gpu-rnn sample`'s loop (batch 1, one carried step per character).

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;

use crate::Result;
use crate::backend::Backend;
use crate::cpu::adam::AdamConfig;
use crate::data::text::{CharVocab, Streams, read_text, split};
use crate::model::char_lm::CharLm;
use crate::model::classifier::ClassifierConfig;

/// One backend's figures.
#[derive(Clone, Debug)]
pub struct CharBench {
    pub backend: String,
    pub train_chars_per_s: f64,
    pub sample_chars_per_s: f64,
    /// Dispatches of one training step.
    pub dispatches: usize,
}

/// Time `batches` training steps (after 2 untimed ones, which build the programs) and
/// `sample_len` sampled characters on `backend`.
pub fn charlm_bench(
    backend: &Backend,
    text: &Path,
    batches: usize,
    sample_len: usize,
) -> Result<CharBench> {
    let raw = read_text(text)?;
    let vocab = CharVocab::build(&raw);
    let ids = vocab.encode(&raw, &text.display().to_string())?;
    let (train, _) = split(&ids, 0.1);
    let (b, s) = (32, 100);
    let streams = Streams::new(text, train.len(), b, s)?;
    let cfg = ClassifierConfig::charlm(vocab.len());
    let adam = AdamConfig {
        lr: 2e-3,
        ..AdamConfig::default()
    };
    let mut m = CharLm::new(cfg.clone(), backend, s, b, adam, 5.0)?;
    let params = m.init_params(0)?;
    let n = streams.batches();
    for k in 0..2 {
        let (x, y) = streams.batch(train, k % n);
        m.train_step(&x, &y, b, s)?;
    }
    let t0 = Instant::now();
    for k in 2..2 + batches {
        let (x, y) = streams.batch(train, k % n);
        m.train_step(&x, &y, b, s)?;
    }
    let train_s = t0.elapsed().as_secs_f64();
    let dispatches = m.last_dispatches();

    let mut g = CharLm::new(cfg, backend, 1, 1, AdamConfig::default(), 0.0)?;
    g.set_params(&params)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut row = g.logits(&[0], 1, 1)?;
    let t0 = Instant::now();
    for _ in 0..sample_len {
        let id = crate::cli::lm::pick(&row, 1.0, vocab.len(), &mut rng);
        row = g.logits(&[id], 1, 1)?;
    }
    let sample_s = t0.elapsed().as_secs_f64();
    Ok(CharBench {
        backend: m.describe(),
        train_chars_per_s: (batches * b * s) as f64 / train_s,
        sample_chars_per_s: sample_len as f64 / sample_s,
        dispatches,
    })
}

/// Each op of one training step timed alone (`--profile`), on the model's own batch.
fn profile(backend: &Backend, text: &Path, runs: usize, json: bool) -> Result<()> {
    let raw = read_text(text)?;
    let vocab = CharVocab::build(&raw);
    let ids = vocab.encode(&raw, &text.display().to_string())?;
    let (b, s) = (32, 100);
    let streams = Streams::new(text, ids.len(), b, s)?;
    let mut m = CharLm::new(
        ClassifierConfig::charlm(vocab.len()),
        backend,
        s,
        b,
        AdamConfig::default(),
        5.0,
    )?;
    m.init_params(0)?;
    let (x, y) = streams.batch(&ids, 0);
    let ops = m.profile_step(&x, &y, (b, s), runs)?;
    let header = format!("language-model training step (S = {s}, B = {b})");
    super::bench::print_profile(&ops, &header, &m.describe(), (true, runs), json);
    Ok(())
}

/// The table (or JSON lines) of every backend, and with `profile_runs` each op's time.
pub fn charlm_table(
    backends: &[Backend],
    text: &Path,
    (batches, sample_len): (usize, usize),
    profile_runs: Option<usize>,
    json: bool,
) -> Result<()> {
    if !json {
        println!(
            "char model: Embedding(V, 64) -> LSTM(256, 2 layers) -> Linear(256, V); 32 streams × 100 \
             steps of {}, {batches} timed batches; sampling {sample_len} characters, batch 1",
            text.display()
        );
    }
    for backend in backends {
        let r = charlm_bench(backend, text, batches, sample_len)?;
        if json {
            let obj = serde_json::json!({
                "kind": "charlm",
                "backend": r.backend,
                "batches": batches,
                "train_chars_per_s": r.train_chars_per_s,
                "sample_chars_per_s": r.sample_chars_per_s,
                "dispatches": r.dispatches,
            });
            println!("{obj}");
        } else {
            println!(
                "{:<60} train {:>8.0} chars/s ({} dispatches a step)   sample {:>8.0} chars/s",
                r.backend, r.train_chars_per_s, r.dispatches, r.sample_chars_per_s
            );
        }
    }
    if let Some(runs) = profile_runs {
        for backend in backends {
            profile(backend, text, runs, json)?;
        }
    }
    Ok(())
}
