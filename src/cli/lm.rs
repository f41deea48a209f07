//! The language model's commands: `gpu-rnn eval` of a charlm checkpoint (the loss of a text
//! read as one stream from a zero state, and optionally its logits), and `gpu-rnn sample`
//! (text generated one character at a time with the state carried, streamed to stdout).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use rand::{RngExt, SeedableRng};

use super::BackendArgs;
use gpu_rnn::checkpoint::{self, Checkpoint};
use gpu_rnn::data::text::{CharVocab, read_text};
use gpu_rnn::model::char_lm::CharLm;
use gpu_rnn::output::check::{Named, check_outputs};
use gpu_rnn::{Error, Result};

/// Steps per chunk when a text runs through the model: the state carries between chunks.
const CHUNK: usize = 256;

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A language-model checkpoint (`gpu-rnn train --task charlm`, or PyTorch's with
    /// `task` = `charlm` and `vocab` metadata).
    #[arg(long)]
    pub model: PathBuf,
    /// Text the model reads first; it is echoed, then continued [default: a newline].
    #[arg(long)]
    pub prime: Option<String>,
    /// Characters to generate after the prime.
    #[arg(long, default_value_t = 500)]
    pub length: usize,
    /// Divides the logits before the softmax: below 1 is more conservative, above 1 more
    /// varied; 0 takes the most likely character every time.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub temperature: f64,
    /// Sample from the k most likely characters only.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Seed of the sampling: the same seed gives the same text on the same backend.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub device: BackendArgs,
}

fn invalid(op: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op,
        message: message.into(),
    }
}

/// The checkpoint's characters, or an error: it is a classifier.
fn chars_of<'a>(ck: &'a Checkpoint, path: &Path) -> Result<&'a CharVocab> {
    ck.chars.as_ref().ok_or_else(|| Error::Checkpoint {
        path: path.to_path_buf(),
        message: "is a classifier, not a character language model (its metadata has no task \
                  \"charlm\")"
            .into(),
    })
}

/// The model for `t_max` steps of one stream, with the checkpoint's weights.
fn open(ck: &Checkpoint, backend: &gpu_rnn::backend::Backend, t_max: usize) -> Result<CharLm> {
    let mut m = CharLm::inference(ck.cfg.clone(), backend, t_max.max(1), 1)?;
    m.set_params(&ck.params)?;
    Ok(m)
}

/// `ln Σ exp(row)`, in f64.
fn log_sum_exp(row: &[f32]) -> f64 {
    let mx = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
    mx + row.iter().map(|&x| (x as f64 - mx).exp()).sum::<f64>().ln()
}

/// `gpu-rnn eval` of a language model: the mean loss over the N − 1 predictions of a text
/// of N characters read as one stream, and with `logits` the (N − 1, V) logits.
/// `--logits` checked against the inputs (`--model`, `--data`) before any work.
fn check_eval_outputs(model: &Path, data: &Path, logits: Option<&Path>) -> Result<()> {
    let outputs: Vec<Named> = logits
        .map(|path| Named {
            flag: "--logits",
            path,
        })
        .into_iter()
        .collect();
    let inputs = [
        Named {
            flag: "--model",
            path: model,
        },
        Named {
            flag: "--data",
            path: data,
        },
    ];
    check_outputs(&outputs, &inputs)
}

pub fn eval(
    ck: &Checkpoint,
    (model, data): (&Path, Option<&Path>),
    logits: Option<&Path>,
    device: &BackendArgs,
) -> Result<()> {
    let vocab = chars_of(ck, model)?;
    let data = data.ok_or_else(|| {
        invalid(
            "--data",
            "a language model is evaluated on a text: give --data FILE.txt",
        )
    })?;
    check_eval_outputs(model, data, logits)?;
    let text = read_text(data)?;
    let ids = vocab.encode(&text, &data.display().to_string())?;
    if ids.len() < 2 {
        return Err(gpu_rnn::data::data_error(
            data,
            0,
            format!(
                "has {} character(s); a language model needs 2 or more to predict one",
                ids.len()
            ),
        ));
    }
    let (n, v) = (ids.len() - 1, vocab.len());
    if logits.is_some() {
        gpu_rnn::memory::check(
            &format!("the logits ({n}, {v})"),
            4.0 * (n as f64) * (v as f64),
            "; evaluate a shorter text",
        )?;
    }
    let backend = device.open()?;
    let mut m = open(ck, &backend, CHUNK.min(n))?;
    let mut all = Vec::with_capacity(if logits.is_some() { n * v } else { 0 });
    let mut nll = 0.0f64;
    for (k, x) in ids[..n].chunks(CHUNK).enumerate() {
        let rows = m.logits(x, 1, x.len())?;
        for (i, row) in rows.chunks_exact(v).enumerate() {
            let target = ids[k * CHUNK + i + 1] as usize;
            nll += log_sum_exp(row) - row[target] as f64;
        }
        if logits.is_some() {
            all.extend_from_slice(&rows);
        }
    }
    let loss = nll / n as f64;
    println!(
        "{}: {n} predictions as one stream from a zero state: loss {loss:.4} nats/char ({:.3} bpc)",
        data.display(),
        loss / std::f64::consts::LN_2
    );
    if let Some(out) = logits {
        let bytes = checkpoint::file::serialize(
            &[checkpoint::file::Tensor::f32("logits", vec![n, v], &all)],
            &Default::default(),
        );
        gpu_rnn::output::write_atomic(out, &bytes)?;
        println!("logits ({n}, {v}) written to {}", out.display());
    }
    Ok(())
}

/// The next character: the most likely at temperature 0, else a draw from
/// softmax(logits / T) over the `top_k` most likely.
pub fn pick(row: &[f32], temperature: f64, top_k: usize, rng: &mut rand::rngs::StdRng) -> u32 {
    let best = |a: &usize, b: &usize| row[*a].total_cmp(&row[*b]).then(b.cmp(a));
    if temperature == 0.0 {
        return (0..row.len()).max_by(best).unwrap_or(0) as u32;
    }
    let mut ids: Vec<usize> = (0..row.len()).collect();
    if top_k < row.len() {
        ids.sort_by(|a, b| best(b, a));
        ids.truncate(top_k);
    }
    let mx = ids
        .iter()
        .map(|&i| row[i])
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let weights: Vec<f64> = ids
        .iter()
        .map(|&i| ((row[i] as f64 - mx) / temperature).exp())
        .collect();
    let mut u = rng.random_range(0.0..weights.iter().sum::<f64>());
    for (&i, &w) in ids.iter().zip(&weights) {
        if u < w {
            return i as u32;
        }
        u -= w;
    }
    *ids.last().unwrap_or(&0) as u32
}

fn check_sample(a: &SampleArgs) -> Result<()> {
    if !(a.temperature.is_finite() && a.temperature >= 0.0) {
        return Err(invalid(
            "--temperature",
            format!(
                "expected a finite value of 0 (the most likely) or more, got {}",
                a.temperature
            ),
        ));
    }
    if a.top_k == Some(0) {
        return Err(invalid(
            "--top-k",
            "expected 1 or more characters to sample from, got 0",
        ));
    }
    if a.length > 100_000_000 {
        return Err(invalid(
            "--length",
            format!("expected at most 100000000, got {}", a.length),
        ));
    }
    Ok(())
}

/// Write and flush; `false` once the reader has gone (a closed pipe ends the sample).
fn emit(out: &mut impl Write, text: &str) -> Result<bool> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::Io {
            path: "stdout".into(),
            error: e,
        }),
    }
}

/// `gpu-rnn sample`.
pub fn sample(a: SampleArgs) -> Result<()> {
    check_sample(&a)?;
    let ck = checkpoint::load(&a.model)?;
    let vocab = chars_of(&ck, &a.model)?;
    let prime = match &a.prime {
        Some(p) if p.is_empty() => return Err(invalid("--prime", "expected some text, got none")),
        Some(p) => p.clone(),
        None if vocab.chars().contains(&'\n') => "\n".to_string(),
        None => vocab.chars()[0].to_string(),
    };
    let ids = vocab.encode(&prime, "--prime")?;
    let (backend, line) = super::open_backend(a.device.backend, a.device.adapter.as_deref())?;
    eprintln!("{line}");
    let mut m = open(&ck, &backend, CHUNK.min(ids.len()))?;
    let v = vocab.len();
    let mut last = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        last = m.logits(chunk, 1, chunk.len())?;
    }
    let mut row = last[last.len() - v..].to_vec();
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    let top_k = a.top_k.unwrap_or(v);
    let mut out = std::io::stdout().lock();
    if !emit(&mut out, &prime)? {
        return Ok(());
    }
    let mut buf = [0u8; 4];
    for k in 0..a.length {
        let id = pick(&row, a.temperature, top_k, &mut rng);
        let c = vocab.chars()[id as usize];
        if !emit(&mut out, c.encode_utf8(&mut buf))? {
            return Ok(());
        }
        if k + 1 < a.length {
            row = m.logits(&[id], 1, 1)?;
        }
    }
    emit(&mut out, "\n")?;
    Ok(())
}
