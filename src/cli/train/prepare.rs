//! A training run's data: read, checked (at least two classes, every sequence within
//! `--max-len`, a vocabulary with words in it) and encoded as token ids, before any model is
//! built.

use std::path::Path;

use rand::seq::SliceRandom;

use super::settings::{Settings, TaskArg};
use gpu_rnn::checkpoint::Checkpoint;
use gpu_rnn::data::names::{self, Example};
use gpu_rnn::data::sentiment::{self, Vocab};
use gpu_rnn::data::{Source, data_error};
use gpu_rnn::model::classifier::{Batch, Classifier};
use gpu_rnn::{Error, Result};

/// Encoded examples.
pub struct Encoded {
    pub tokens: Vec<Vec<u32>>,
    pub targets: Vec<i32>,
}

/// One task's data, ready to train on.
pub struct Prepared {
    pub train: Encoded,
    pub eval: Encoded,
    pub classes: Vec<String>,
    pub vocab: usize,
    /// Checkpoint metadata of the task (the vocabulary of a word model).
    pub metadata: Vec<(&'static str, String)>,
    /// What the data line prints.
    pub describe: String,
    /// "names" or "phrases"; "test" or "validation".
    pub unit: &'static str,
    pub eval_name: &'static str,
}

/// A sequence over `--max-len` is an error naming its place.
pub fn check_len(src: &Source, len: usize, max_len: usize, unit: &str) -> Result<()> {
    if len > max_len {
        return Err(data_error(
            &src.path,
            src.line,
            format!("{len} {unit}, over --max-len {max_len} (raise it to train on this sequence)"),
        ));
    }
    Ok(())
}

/// Two classes at least: a training set of one trains to loss 0 and learns nothing.
fn check_classes(path: &Path, classes: &[String]) -> Result<()> {
    if classes.len() < 2 {
        return Err(data_error(
            path,
            0,
            format!(
                "the training data has {} class(es) ({}); a classifier needs at least 2",
                classes.len(),
                classes.join(", ")
            ),
        ));
    }
    Ok(())
}

fn load_names(path: &Path, s: &Settings) -> Result<names::Folded> {
    let d = names::read(path, s.strict)?;
    if let Some(w) = d.warning() {
        println!("{w}");
    }
    for e in &d.examples {
        check_len(&e.source, e.name.len(), s.max_len, "characters")?;
    }
    Ok(d)
}

pub fn prepare_names(s: &Settings, init: Option<&Checkpoint>) -> Result<Prepared> {
    let test_path = s.test.clone().expect("the names task has a test file");
    let train = load_names(&s.data, s)?;
    let test = load_names(&test_path, s)?;
    let (classes, origin) = match (init, &s.init) {
        (Some(ck), Some(p)) => (
            ck.classes.clone(),
            format!("the checkpoint {}", p.display()),
        ),
        _ => (names::classes(&train.examples), "the training data".into()),
    };
    check_classes(&s.data, &names::classes(&train.examples))?;
    let train = encode(&train.examples, &classes, &origin)?;
    let eval = encode(&test.examples, &classes, &origin)?;
    Ok(Prepared {
        describe: format!(
            "{} training names from {}, {} test names from {}",
            train.tokens.len(),
            s.data.display(),
            eval.tokens.len(),
            test_path.display()
        ),
        train,
        eval,
        classes,
        // ASCII codes; a checkpoint (made by PyTorch, say) may have a larger embedding.
        vocab: init.map_or(128, |ck| ck.cfg.vocab),
        metadata: vec![("task", "names".into())],
        unit: "names",
        eval_name: "test",
    })
}

/// Each sentence once (its longest phrase, the sentence itself): counted over every phrase, a
/// word would also be counted in each sub-phrase that repeats it, and nearly every word would
/// pass the minimum.
fn build_vocab(rows: &[sentiment::Phrase], tr: &[usize], s: &Settings) -> Result<Vocab> {
    let mut longest: std::collections::BTreeMap<u32, &str> = Default::default();
    for &i in tr {
        let e = longest.entry(rows[i].sentence).or_default();
        if rows[i].text.len() > e.len() {
            *e = &rows[i].text;
        }
    }
    let vocab = Vocab::build(longest.into_values(), s.min_count);
    if vocab.len() <= 2 {
        return Err(Error::InvalidArgument {
            op: "--min-count",
            message: format!(
                "no word of {} is in {} training sentences or more: the vocabulary would be empty",
                s.data.display(),
                s.min_count
            ),
        });
    }
    Ok(vocab)
}

/// The training and validation rows of `rows`, whole sentences held out; an error unless
/// both are non-empty and training has 2 or more classes.
fn split_sentiment(s: &Settings, rows: &[sentiment::Phrase]) -> Result<(Vec<usize>, Vec<usize>)> {
    let data = &s.data;
    let (tr, va) = sentiment::split_by_sentence(rows, s.val_fraction, s.seed);
    if tr.is_empty() || va.is_empty() {
        return Err(data_error(
            data,
            0,
            "too few sentences to hold out a validation part",
        ));
    }
    let labels: std::collections::BTreeSet<u8> = tr.iter().filter_map(|&i| rows[i].label).collect();
    if labels.len() < 2 {
        return Err(data_error(
            data,
            0,
            format!(
                "the training part has {} sentiment class(es); a classifier needs at least 2",
                labels.len()
            ),
        ));
    }
    Ok((tr, va))
}

pub fn prepare_sentiment(s: &Settings, init: Option<&Checkpoint>) -> Result<Prepared> {
    if s.test.is_some() {
        return Err(Error::InvalidArgument {
            op: "--test",
            message: "the sentiment task validates on a held-out part of --data (--val-fraction); \
                      score the unlabelled test file with `gpu-rnn eval`"
                .into(),
        });
    }
    let data = &s.data;
    let rows = sentiment::read(data)?;
    if rows[0].label.is_none() {
        return Err(data_error(
            data,
            1,
            "no Sentiment column: training needs the labelled file (the test file is for \
             `gpu-rnn eval`)",
        ));
    }
    let (tr, va) = split_sentiment(s, &rows)?;
    let vocab = match init {
        Some(ck) => ck.vocab.clone().expect("checked: a word model"),
        None => build_vocab(&rows, &tr, s)?,
    };
    let tokens = encode_phrases(data, &rows, &vocab, s.max_len)?;
    let encode_rows = |idx: &[usize]| Encoded {
        tokens: idx.iter().map(|&i| tokens[i].clone()).collect(),
        targets: idx
            .iter()
            .map(|&i| i32::from(rows[i].label.expect("a labelled file")))
            .collect(),
    };
    let (train, eval) = (encode_rows(&tr), encode_rows(&va));
    let sentences = |idx: &[usize]| {
        idx.iter()
            .map(|&i| rows[i].sentence)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    Ok(Prepared {
        describe: format!(
            "{} training phrases ({} sentences) and {} validation phrases ({} sentences, {:.0}% held out with seed {}) from {}; {} words in at least {} training sentences",
            train.tokens.len(),
            sentences(&tr),
            eval.tokens.len(),
            sentences(&va),
            100.0 * s.val_fraction,
            s.seed,
            data.display(),
            vocab.len() - 2,
            s.min_count
        ),
        train,
        eval,
        classes: sentiment::CLASSES.iter().map(|c| c.to_string()).collect(),
        vocab: vocab.len(),
        metadata: vec![
            ("task", "sentiment".into()),
            (
                "vocab",
                serde_json::to_string(&vocab.words).expect("a list of strings is JSON"),
            ),
        ],
        unit: "phrases",
        eval_name: "validation",
    })
}

/// Word ids of every phrase of `path`; one over `max_len` words is an error naming its line.
pub fn encode_phrases(
    path: &Path,
    rows: &[sentiment::Phrase],
    vocab: &Vocab,
    max_len: usize,
) -> Result<Vec<Vec<u32>>> {
    rows.iter()
        .map(|r| {
            let t = vocab.encode(&r.text);
            let src = Source {
                path: path.to_path_buf(),
                line: r.line,
            };
            check_len(&src, t.len(), max_len, "words")?;
            Ok(t)
        })
        .collect()
}

/// The task's data.
pub fn prepare(s: &Settings, init: Option<&Checkpoint>) -> Result<Prepared> {
    match s.task {
        TaskArg::Names => prepare_names(s, init),
        TaskArg::Sentiment => prepare_sentiment(s, init),
        TaskArg::Charlm => Err(Error::InvalidArgument {
            op: "train",
            message: "the language model reads its text in cli::train::charlm".into(),
        }),
    }
}

/// One epoch's batches of indices into `lens`. Names: `order` cut in order. With `bucket`
/// (phrases, 1 to 52 words): windows of 50 batches sorted by length, cut, then the batches
/// shuffled, so that each batch holds sequences of similar length and pads little.
pub fn epoch_batches(
    order: &[usize],
    lens: &[usize],
    size: usize,
    bucket: bool,
    rng: &mut rand::rngs::StdRng,
) -> Vec<Vec<usize>> {
    if !bucket {
        return order.chunks(size).map(<[usize]>::to_vec).collect();
    }
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks(size * 50) {
        let mut w = window.to_vec();
        w.sort_by_key(|&i| lens[i]);
        batches.extend(w.chunks(size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Names as token ids and class indices (`origin`: where `classes` came from, for messages).
pub fn encode(examples: &[Example], classes: &[String], origin: &str) -> Result<Encoded> {
    Ok(Encoded {
        tokens: examples.iter().map(|e| names::tokens(&e.name)).collect(),
        targets: names::class_indices(examples, classes, origin)?,
    })
}

/// Logits (N, C) of every example, in order, in batches of `b_max` (of similar lengths: each
/// row's logits do not depend on its batch).
pub fn predict_all(model: &mut Classifier, tokens: &[Vec<u32>], b_max: usize) -> Result<Vec<f32>> {
    let c = model.cfg.classes;
    let mut by_len: Vec<usize> = (0..tokens.len()).collect();
    by_len.sort_by_key(|&i| tokens[i].len());
    let mut logits = vec![0f32; tokens.len() * c];
    for chunk in by_len.chunks(b_max) {
        let rows = model.logits(&Batch {
            tokens: chunk.iter().map(|&i| tokens[i].clone()).collect(),
            targets: Vec::new(),
        })?;
        for (&i, row) in chunk.iter().zip(rows.chunks_exact(c)) {
            logits[i * c..(i + 1) * c].copy_from_slice(row);
        }
    }
    Ok(logits)
}

/// Index of the largest logit of each row (the first on ties, as torch.max).
pub fn argmax_rows(logits: &[f32], c: usize) -> Vec<usize> {
    logits
        .chunks_exact(c)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(0, |best, (i, &x)| if x > r[best] { i } else { best })
        })
        .collect()
}
