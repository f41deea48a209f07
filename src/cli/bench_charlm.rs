//! `gpu-rnn bench --charlm`: the character language model's throughput on each backend,
//! the same model and batches as `gpu-rnn train --task charlm` (2-layer LSTM(256), E 64,
//! 32 streams × 100 steps of the text) and as benches/torch_charlm.py: training chars/s, and
//! sampling chars/s of `gpu-rnn sample`'s loop (batch 1, one carried step per character).

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;

use gpu_rnn::Result;
use gpu_rnn::backend::Backend;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::data::text::{CharVocab, Streams, read_text, split};
use gpu_rnn::model::char_lm::CharLm;
use gpu_rnn::model::classifier::ClassifierConfig;

/// One backend's figures.
#[derive(Clone, Debug)]
pub struct CharBench {
    pub backend: String,
    pub train_chars_per_s: f64,
    pub sample_chars_per_s: f64,
    /// Dispatches of one training step.
    pub dispatches: usize,
}

/// The benchmark's text: its training part (the first 90%) in 32 streams of 100 steps.
pub struct BenchText {
    pub vocab: usize,
    pub train: Vec<u32>,
    pub streams: Streams,
}

const B: usize = 32;
const S: usize = 100;

impl BenchText {
    pub fn read(path: &Path) -> Result<Self> {
        let raw = read_text(path)?;
        let vocab = CharVocab::build(&raw);
        let ids = vocab.encode(&raw, &path.display().to_string())?;
        let train = split(&ids, 0.1).0.to_vec();
        let streams = Streams::new(path, train.len(), B, S)?;
        Ok(Self {
            vocab: vocab.len(),
            train,
            streams,
        })
    }

    fn batch(&self, k: usize) -> (Vec<u32>, Vec<u32>) {
        self.streams.batch(&self.train, k % self.streams.batches())
    }

    /// The default model with seed-0 weights, for `s` steps of `b` streams.
    fn model(&self, backend: &Backend, (s, b): (usize, usize)) -> Result<(CharLm, Vec<f32>)> {
        let adam = AdamConfig {
            lr: 2e-3,
            ..AdamConfig::default()
        };
        let mut m = CharLm::new(
            ClassifierConfig::charlm(self.vocab),
            backend,
            s,
            b,
            adam,
            5.0,
        )?;
        let params = m.init_params(0)?;
        Ok((m, params))
    }
}

/// Time `batches` training steps (after 2 untimed ones, which build the programs) and
/// `sample_len` sampled characters on `backend`.
pub fn charlm_bench(
    backend: &Backend,
    text: &BenchText,
    batches: usize,
    sample_len: usize,
) -> Result<CharBench> {
    let (mut m, params) = text.model(backend, (S, B))?;
    for k in 0..2 {
        let (x, y) = text.batch(k);
        m.train_step(&x, &y, B, S)?;
    }
    let t0 = Instant::now();
    for k in 2..2 + batches {
        let (x, y) = text.batch(k);
        m.train_step(&x, &y, B, S)?;
    }
    let train_s = t0.elapsed().as_secs_f64();
    let dispatches = m.last_dispatches();

    let (mut g, _) = text.model(backend, (1, 1))?;
    g.set_params(&params)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut row = g.logits(&[0], 1, 1)?;
    let t0 = Instant::now();
    for _ in 0..sample_len {
        let id = crate::cli::lm::pick(&row, 1.0, text.vocab, &mut rng);
        row = g.logits(&[id], 1, 1)?;
    }
    let sample_s = t0.elapsed().as_secs_f64();
    Ok(CharBench {
        backend: m.describe(),
        train_chars_per_s: (batches * B * S) as f64 / train_s,
        sample_chars_per_s: sample_len as f64 / sample_s,
        dispatches,
    })
}

/// Each op of one training step timed alone (`--profile`), on the first batch.
fn profile(backend: &Backend, text: &BenchText, runs: usize, json: bool) -> Result<()> {
    let (mut m, _) = text.model(backend, (S, B))?;
    let (x, y) = text.batch(0);
    let ops = m.profile_step(&x, &y, (B, S), runs)?;
    let header = format!("language-model training step (S = {S}, B = {B})");
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
    let data = BenchText::read(text)?;
    for backend in backends {
        let r = charlm_bench(backend, &data, batches, sample_len)?;
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
            profile(backend, &data, runs, json)?;
        }
    }
    Ok(())
}
