//! `gpu-rnn eval` (accuracy, per-class accuracy, confusion matrix, optional logits file; for
//! the unlabelled sentiment test file, a Kaggle submission) and `gpu-rnn predict` (top 3
//! countries of each name, or all 5 sentiment probabilities of each phrase).

use std::path::PathBuf;

use clap::Args;

use super::BackendArgs;
use super::train::{argmax_rows, encode, predict_all};
use crate::cli::train::{check_len, encode_phrases};
use gpu_rnn::checkpoint;
use gpu_rnn::data::{names, sentiment};
use gpu_rnn::model::classifier::Classifier;
use gpu_rnn::output::check::{Named, check_outputs};
use gpu_rnn::output::write_atomic;
use gpu_rnn::{Error, Result};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A checkpoint written by `gpu-rnn train` or by safetensors.torch.save_file.
    #[arg(long)]
    pub model: PathBuf,
    /// Names: a labelled `name,label` CSV (gzip or plain) or a folder of `Label.txt` files
    /// [default: data/names_test.csv.gz]. Phrases (a word checkpoint): the Kaggle TSV, with or
    /// without the Sentiment column [default: data/sentiment_test.tsv.gz]. A language model:
    /// a UTF-8 text, read as one stream from a zero state.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write the predictions as a Kaggle submission CSV, `PhraseId,Sentiment` (sentiment task;
    /// the default for an unlabelled file is submission.csv).
    #[arg(long)]
    pub submission: Option<PathBuf>,
    /// Write the logits as one f32 tensor `logits` (N, C), rows in the data file's order; for
    /// a language model (N − 1, V) of a text of N characters, row i predicting character i + 1.
    #[arg(long)]
    pub logits: Option<PathBuf>,
    /// Names per inference batch (at most the number of rows).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// The longest sequence accepted, in tokens; a longer one is an error naming its line.
    #[arg(long, default_value_t = super::train::DEFAULT_MAX_LEN)]
    pub max_len: usize,
    /// Make a character outside the alphabet an error instead of dropping it.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub device: BackendArgs,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A checkpoint written by `gpu-rnn train` or by safetensors.torch.save_file.
    #[arg(long)]
    pub model: PathBuf,
    /// Names to classify, or phrases for a sentiment checkpoint.
    #[arg(required = true, value_name = "TEXT")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub device: BackendArgs,
}

/// A command-line text longer than the default `--max-len` is an error naming it.
fn check_text_len(texts: &[String], tokens: &[Vec<u32>]) -> Result<()> {
    let max = super::train::DEFAULT_MAX_LEN;
    match texts.iter().zip(tokens).find(|(_, t)| t.len() > max) {
        Some((text, t)) => Err(Error::InvalidArgument {
            op: "predict",
            message: format!(
                "the text starting {:?} has {} tokens, over the longest accepted, {max}",
                text.chars().take(20).collect::<String>(),
                t.len()
            ),
        }),
        None => Ok(()),
    }
}

/// Load a checkpoint into a classifier for inference of up to `b_max` sequences of `t_max`
/// tokens.
fn open(
    ck: &checkpoint::Checkpoint,
    device: &BackendArgs,
    t_max: usize,
    b_max: usize,
) -> Result<Classifier> {
    let backend = device.open()?;
    let mut m = Classifier::inference(ck.cfg.clone(), &backend, t_max.max(1), b_max.max(1))?;
    m.set_params(&ck.params)?;
    Ok(m)
}

fn softmax(row: &[f32]) -> Vec<f64> {
    let mx = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
    let e: Vec<f64> = row.iter().map(|&x| (x as f64 - mx).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// The outputs of `eval`, checked before any work: not an input, not each other.
fn check_eval_outputs(
    a: &EvalArgs,
    data: &std::path::Path,
    submission: Option<&PathBuf>,
) -> Result<()> {
    let mut outputs = Vec::new();
    if let Some(p) = &a.logits {
        outputs.push(Named {
            flag: "--logits",
            path: p,
        });
    }
    if let Some(p) = submission {
        outputs.push(Named {
            flag: "--submission",
            path: p,
        });
    }
    let inputs = [
        Named {
            flag: "--model",
            path: &a.model,
        },
        Named {
            flag: "--data",
            path: data,
        },
    ];
    check_outputs(&outputs, &inputs)
}

pub fn eval(a: EvalArgs) -> Result<()> {
    if a.batch_size == 0 || a.max_len == 0 {
        return Err(Error::InvalidArgument {
            op: "eval",
            message: "--batch-size and --max-len must be at least 1".into(),
        });
    }
    let ck = checkpoint::load(&a.model)?;
    if ck.chars.is_some() {
        if a.submission.is_some() || a.strict {
            return Err(Error::InvalidArgument {
                op: "eval",
                message: "--submission and --strict are for classifiers; this checkpoint is a \
                          language model"
                    .into(),
            });
        }
        let paths = (a.model.as_path(), a.data.as_deref());
        return super::lm::eval(&ck, paths, a.logits.as_deref(), &a.device);
    }
    if let Some(vocab) = &ck.vocab {
        return eval_phrases(&a, &ck, vocab);
    }
    if a.submission.is_some() {
        return Err(Error::InvalidArgument {
            op: "eval",
            message: "--submission is for a sentiment checkpoint; this one classifies names".into(),
        });
    }
    let path = a
        .data
        .clone()
        .unwrap_or_else(|| "data/names_test.csv.gz".into());
    check_eval_outputs(&a, &path, None)?;
    let data = names::read(&path, a.strict)?;
    if let Some(w) = data.warning() {
        println!("{w}");
    }
    for e in &data.examples {
        check_len(&e.source, e.name.len(), a.max_len, "characters")?;
    }
    let t_max = data
        .examples
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(1);
    let origin = format!("the checkpoint {}", a.model.display());
    let enc = encode(&data.examples, &ck.classes, &origin)?;
    let b = a.batch_size.min(enc.tokens.len());
    let mut m = open(&ck, &a.device, t_max, b)?;
    let logits = predict_all(&mut m, &enc.tokens, b)?;
    report(&path, &ck.classes, &logits, &enc.targets)?;
    if let Some(out) = &a.logits {
        write_logits(out, &logits, ck.classes.len())?;
    }
    Ok(())
}

/// Sentiment: accuracy on a labelled TSV, and/or the Kaggle submission.
fn eval_phrases(a: &EvalArgs, ck: &checkpoint::Checkpoint, vocab: &sentiment::Vocab) -> Result<()> {
    let path = a
        .data
        .clone()
        .unwrap_or_else(|| "data/sentiment_test.tsv.gz".into());
    let rows = sentiment::read(&path)?;
    let labelled = rows[0].label.is_some();
    let submission = a
        .submission
        .clone()
        .or_else(|| (!labelled).then(|| PathBuf::from("submission.csv")));
    check_eval_outputs(a, &path, submission.as_ref())?;
    let tokens = encode_phrases(&path, &rows, vocab, a.max_len)?;
    let t_max = tokens.iter().map(Vec::len).max().unwrap_or(1);
    let b = a.batch_size.min(tokens.len());
    let mut m = open(ck, &a.device, t_max, b)?;
    let logits = predict_all(&mut m, &tokens, b)?;
    let c = ck.classes.len();
    if labelled {
        if let Some(r) = rows
            .iter()
            .find(|r| r.label.is_some_and(|l| usize::from(l) >= c))
        {
            return Err(gpu_rnn::data::data_error(
                &path,
                r.line,
                format!("label {:?} but the checkpoint has {c} classes", r.label),
            ));
        }
        let targets: Vec<i32> = rows
            .iter()
            .map(|r| i32::from(r.label.expect("a labelled file")))
            .collect();
        report(&path, &ck.classes, &logits, &targets)?;
    }
    if let Some(out) = submission {
        let mut csv = String::from("PhraseId,Sentiment\n");
        for (r, p) in rows.iter().zip(argmax_rows(&logits, c)) {
            csv.push_str(&format!("{},{p}\n", r.id));
        }
        write_atomic(&out, csv.as_bytes())?;
        println!(
            "{}: {} phrases classified; submission written to {}",
            path.display(),
            rows.len(),
            out.display()
        );
    }
    if let Some(out) = &a.logits {
        write_logits(out, &logits, c)?;
    }
    Ok(())
}

/// Accuracy, per-class accuracy and the confusion matrix of `logits` against `targets`.
fn report(
    path: &std::path::Path,
    classes: &[String],
    logits: &[f32],
    targets: &[i32],
) -> Result<()> {
    let c = classes.len();
    let pred = argmax_rows(logits, c);
    let mut confusion = vec![vec![0usize; c]; c];
    for (&p, &t) in pred.iter().zip(targets) {
        confusion[t as usize][p] += 1;
    }
    let correct: usize = (0..c).map(|i| confusion[i][i]).sum();
    let n = targets.len();
    println!(
        "{}: accuracy {correct}/{n} ({:.2}%)",
        path.display(),
        100.0 * correct as f64 / n as f64
    );
    let w = classes.iter().map(String::len).max().unwrap_or(5).max(5);
    println!("\nper-class accuracy:");
    for (i, name) in classes.iter().enumerate() {
        let total: usize = confusion[i].iter().sum();
        let pct = if total > 0 {
            format!("{:6.2}%", 100.0 * confusion[i][i] as f64 / total as f64)
        } else {
            "     -".into()
        };
        println!("  {name:<w$} {:>5}/{:<5} {pct}", confusion[i][i], total);
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted, in the order above):");
    for (i, name) in classes.iter().enumerate() {
        let cells: Vec<String> = confusion[i].iter().map(|x| format!("{x:>5}")).collect();
        println!("  {name:<w$} {}", cells.join(""));
    }
    Ok(())
}

/// The logits as one f32 safetensors tensor `logits` (N, C).
fn write_logits(path: &std::path::Path, logits: &[f32], c: usize) -> Result<()> {
    let n = logits.len() / c;
    let out = checkpoint::file::serialize(
        &[checkpoint::file::Tensor::f32("logits", vec![n, c], logits)],
        &Default::default(),
    );
    write_atomic(path, &out)?;
    println!("\nlogits ({n}, {c}) written to {}", path.display());
    Ok(())
}

pub fn predict(a: PredictArgs) -> Result<()> {
    let ck = checkpoint::load(&a.model)?;
    if let Some(vocab) = &ck.vocab {
        let tokens: Vec<Vec<u32>> = a.names.iter().map(|t| vocab.encode(t)).collect();
        check_text_len(&a.names, &tokens)?;
        let t_max = tokens.iter().map(Vec::len).max().unwrap_or(1);
        let mut m = open(&ck, &a.device, t_max, tokens.len())?;
        let logits = predict_all(&mut m, &tokens, tokens.len())?;
        for (text, row) in a.names.iter().zip(logits.chunks_exact(ck.classes.len())) {
            let p = softmax(row);
            let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
            let all: Vec<String> = ck
                .classes
                .iter()
                .zip(&p)
                .map(|(c, p)| format!("{c} {:.1}%", 100.0 * p))
                .collect();
            println!("{text:?}: {} -> {}", all.join(", "), ck.classes[best]);
        }
        return Ok(());
    }
    let mut tokens = Vec::new();
    for raw in &a.names {
        let (folded, dropped) = names::fold_text(raw);
        if !dropped.is_empty() {
            let list: Vec<String> = dropped
                .iter()
                .map(|c| format!("{c:?} (U+{:04X})", *c as u32))
                .collect();
            eprintln!(
                "warning: dropped characters outside the alphabet from {raw:?}: {}",
                list.join(", ")
            );
        }
        if folded.trim().is_empty() {
            return Err(Error::InvalidArgument {
                op: "predict",
                message: format!(
                    "{raw:?} has no letters of the alphabet (ASCII letters and \" .,;'\")"
                ),
            });
        }
        tokens.push(names::tokens(&folded));
    }
    check_text_len(&a.names, &tokens)?;
    let t_max = tokens.iter().map(Vec::len).max().unwrap_or(1);
    let mut m = open(&ck, &a.device, t_max, tokens.len())?;
    let classes = &ck.classes;
    let logits = predict_all(&mut m, &tokens, tokens.len())?;
    for (raw, row) in a.names.iter().zip(logits.chunks_exact(classes.len())) {
        let p = softmax(row);
        let mut idx: Vec<usize> = (0..p.len()).collect();
        idx.sort_by(|&x, &y| p[y].total_cmp(&p[x]));
        let top: Vec<String> = idx
            .iter()
            .take(3)
            .map(|&i| format!("{} {:.1}%", classes[i], 100.0 * p[i]))
            .collect();
        println!("{raw}: {}", top.join(", "));
    }
    Ok(())
}
