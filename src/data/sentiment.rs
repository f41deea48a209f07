//! Exercise 13-1: the Rotten Tomatoes phrases (Kaggle's "Sentiment Analysis on Movie Reviews").
//! Reading the TSV files, word tokens, the vocabulary, and the validation split by sentence.
//!
//! The files are tab-separated with LF endings and a header, `PhraseId SentenceId Phrase
//! Sentiment` for training and `PhraseId SentenceId Phrase` for the unlabelled test set. Quotes
//! are ordinary characters. The phrases are already tokenized (Penn Treebank style: `does n't`,
//! `it 's`, `-lrb-`), so [`words`] mostly splits on spaces; it also splits free text the same
//! way, for `gpu-rnn predict`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::{csv_message, data_error, read_maybe_gz};
use crate::{Error, Result};

/// The five labels, in index order.
pub const CLASSES: [&str; 5] = [
    "negative",
    "somewhat negative",
    "neutral",
    "somewhat positive",
    "positive",
];

/// Vocabulary ids 0 and 1.
pub const PAD: &str = "<pad>";
/// Id 1: every word not in the vocabulary.
pub const UNK: &str = "<unk>";

/// One row of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrase {
    /// PhraseId.
    pub id: u32,
    /// SentenceId: the phrases of one sentence share it.
    pub sentence: u32,
    /// The phrase, as in the file (already tokenized).
    pub text: String,
    /// 0..=4; `None` in the unlabelled test file.
    pub label: Option<u8>,
    /// Line in the file (the header is line 1).
    pub line: u64,
}

/// Whether `path` names a TSV file (`.tsv` or `.tsv.gz`): how `train` and `eval` tell the
/// sentiment task from the names.
pub fn is_tsv(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".tsv") || name.ends_with(".tsv.gz")
}

/// Whether the header is the training file's (with Sentiment) or the test file's.
fn labelled_header(path: &Path, columns: &[&str]) -> Result<bool> {
    match columns {
        ["PhraseId", "SentenceId", "Phrase", "Sentiment"] => Ok(true),
        ["PhraseId", "SentenceId", "Phrase"] => Ok(false),
        _ => Err(data_error(
            path,
            1,
            format!(
                "expected the header PhraseId<TAB>SentenceId<TAB>Phrase[<TAB>Sentiment], found {:?}",
                columns.join("<TAB>")
            ),
        )),
    }
}

/// Read a phrase file (gzip or plain), labelled (4 columns) or not (3), as its header says.
pub fn read(path: &Path) -> Result<Vec<Phrase>> {
    let bytes = read_maybe_gz(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .quoting(false)
        .has_headers(true)
        .flexible(true)
        .from_reader(&bytes[..]);
    let header = reader
        .headers()
        .map_err(|e| data_error(path, 1, format!("unreadable header: {e}")))?
        .clone();
    let columns: Vec<&str> = header.iter().collect();
    let labelled = labelled_header(path, &columns)?;
    let want = if labelled { 4 } else { 3 };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            data_error(path, line, format!("malformed TSV: {}", csv_message(&e)))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != want {
            return Err(data_error(
                path,
                line,
                format!(
                    "expected {want} tab-separated fields ({}), found {}",
                    columns.join(", "),
                    record.len()
                ),
            ));
        }
        let number = |i: usize, what: &str| -> Result<u32> {
            record[i].trim().parse().map_err(|_| {
                data_error(
                    path,
                    line,
                    format!("{what} must be a whole number, found {:?}", &record[i]),
                )
            })
        };
        let label = if labelled {
            match record[3].trim().parse::<u8>() {
                Ok(l) if l <= 4 => Some(l),
                _ => {
                    return Err(data_error(
                        path,
                        line,
                        format!("Sentiment must be 0 to 4, found {:?}", &record[3]),
                    ));
                }
            }
        } else {
            None
        };
        rows.push(Phrase {
            id: number(0, "PhraseId")?,
            sentence: number(1, "SentenceId")?,
            text: record[2].to_string(),
            label,
            line,
        });
    }
    if rows.is_empty() {
        return Err(data_error(path, 0, "no rows after the header"));
    }
    Ok(rows)
}

/// Characters split off a word as tokens of their own.
fn is_punct(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | '!' | '?' | ';' | ':' | '"' | '(' | ')' | '[' | ']' | '{' | '}' | '`'
    )
}

/// Penn Treebank's names for brackets, as the data writes them.
fn bracket(token: &str) -> &str {
    match token {
        "(" => "-lrb-",
        ")" => "-rrb-",
        "[" => "-lsb-",
        "]" => "-rsb-",
        "{" => "-lcb-",
        "}" => "-rcb-",
        t => t,
    }
}

/// Lower-cased word tokens the way the data is tokenized: split on whitespace, punctuation at
/// either end of a word split off, and contractions split (`doesn't` → `does n't`, `it's` →
/// `it 's`). Already tokenized text comes back as its words, lower-cased, except that a
/// trailing period is split off abbreviations too (`mr.` → `mr .`), in training and in
/// prediction alike.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let word = raw.to_lowercase();
        if word.chars().all(is_punct) {
            out.push(bracket(&word).to_string());
            continue;
        }
        let mut w = word.as_str();
        while let Some(c) = w.chars().next().filter(|&c| is_punct(c)) {
            out.push(bracket(&c.to_string()).to_string());
            w = &w[c.len_utf8()..];
        }
        let mut trailing = Vec::new();
        while let Some(c) = w.chars().last().filter(|&c| is_punct(c)) {
            trailing.push(bracket(&c.to_string()).to_string());
            w = &w[..w.len() - c.len_utf8()];
        }
        let suffix = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"]
            .into_iter()
            .find(|s| w.len() > s.len() && w.ends_with(s));
        match suffix {
            Some(s) => {
                out.push(w[..w.len() - s.len()].to_string());
                out.push(s.to_string());
            }
            None => out.push(w.to_string()),
        }
        out.extend(trailing.into_iter().rev());
    }
    out
}

/// Word ids: 0 is `<pad>`, 1 is `<unk>` (every word not in the vocabulary), then the words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    /// The words in id order, `<pad>` and `<unk>` first.
    pub words: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// The words of `texts` seen at least `min_count` times, most frequent first (ties in
    /// alphabetical order, so the ids depend only on the texts). `train` passes one text per
    /// sentence.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>, min_count: usize) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for w in words(text) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut kept: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(w, c)| *c >= min_count.max(1) && w != PAD && w != UNK)
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let all = [PAD.to_string(), UNK.to_string()]
            .into_iter()
            .chain(kept.into_iter().map(|(w, _)| w))
            .collect();
        Self::from_words(all).expect("built with <pad> and <unk> first and no repeats")
    }

    /// A vocabulary from its words in id order (as a checkpoint stores it).
    pub fn from_words(words: Vec<String>) -> Result<Self> {
        if words.len() < 2 || words[0] != PAD || words[1] != UNK {
            return Err(Error::InvalidArgument {
                op: "vocabulary",
                message: format!("must start with {PAD} and {UNK}"),
            });
        }
        let mut index = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            if index.insert(w.clone(), i as u32).is_some() {
                return Err(Error::InvalidArgument {
                    op: "vocabulary",
                    message: format!("the word {w:?} appears twice"),
                });
            }
        }
        Ok(Self { words, index })
    }

    /// V: the number of ids, `<pad>` and `<unk>` included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether it holds no words (never: it starts with `<pad>` and `<unk>`).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of a (lower-cased) word: 1 (`<unk>`) when unknown.
    pub fn id(&self, word: &str) -> u32 {
        self.index.get(word).copied().unwrap_or(1)
    }

    /// Token ids of a text; a text without words (the data has a phrase that is one space)
    /// is the single token `<unk>`, since a sequence may not be empty.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let ids: Vec<u32> = words(text).iter().map(|w| self.id(w)).collect();
        if ids.is_empty() { vec![1] } else { ids }
    }
}

/// Row indices of the training and validation halves: `fraction` of the distinct SentenceIds,
/// drawn with `seed`, go to validation with all their phrases, so no sentence is in both.
pub fn split_by_sentence(rows: &[Phrase], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut sentences: Vec<u32> = rows
        .iter()
        .map(|r| r.sentence)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    sentences.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let held = ((sentences.len() as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
    let val: BTreeSet<u32> = sentences[..held].iter().copied().collect();
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (i, r) in rows.iter().enumerate() {
        if val.contains(&r.sentence) {
            valid.push(i);
        } else {
            train.push(i);
        }
    }
    (train, valid)
}
