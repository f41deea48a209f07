//! Plain text for a character-level language model, as karpathy/char-rnn and nanoGPT read it:
//! any UTF-8 file; the vocabulary is the sorted set of its characters (Unicode scalar
//! values); the split is contiguous (the first part trains, the rest validates); and a batch
//! is `B` parallel streams, each a contiguous slice of the training text, read `S` steps at a
//! time so that a stream's hidden state can carry from one batch to the next (truncated
//! BPTT).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::{data_error, read_maybe_gz};
use crate::{Error, Result};

/// A text file's contents; anything that is not UTF-8 is an error giving the byte offset.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = read_maybe_gz(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() as u64;
        data_error(path, line, format!("not valid UTF-8 at byte offset {at}"))
    })
}

/// Character ids: the characters in id order, sorted by code point when built from text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharVocab {
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

impl CharVocab {
    /// The sorted set of the characters of `text`.
    pub fn build(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect::<BTreeSet<_>>().into_iter().collect();
        Self::from_chars(chars).expect("a set has no repeats")
    }

    /// A vocabulary from its characters in id order (as a checkpoint stores it); a character
    /// listed twice is an error.
    pub fn from_chars(chars: Vec<char>) -> Result<Self> {
        let mut index = HashMap::with_capacity(chars.len());
        for (i, &c) in chars.iter().enumerate() {
            if index.insert(c, i as u32).is_some() {
                return Err(Error::InvalidArgument {
                    op: "vocabulary",
                    message: format!("the character {c:?} appears twice"),
                });
            }
        }
        Ok(Self { chars, index })
    }

    /// V.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether V is 0.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The ids of `text`; a character outside the vocabulary is an error naming it and its
    /// byte offset in `text` (`origin` says where the text came from).
    pub fn encode(&self, text: &str, origin: &str) -> Result<Vec<u32>> {
        text.char_indices()
            .map(|(at, c)| {
                self.index.get(&c).copied().ok_or_else(|| Error::InvalidArgument {
                    op: "vocabulary",
                    message: format!(
                        "{origin}: the character {c:?} (U+{:04X}) at byte offset {at} is not in the \
                         vocabulary of {} characters",
                        c as u32,
                        self.len()
                    ),
                })
            })
            .collect()
    }

    /// The text of `ids` (each below V).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().map(|&i| self.chars[i as usize]).collect()
    }
}

/// The first `⌊N·(1 − val_fraction)⌋` ids for training, the rest for validation, both
/// contiguous: nanoGPT's `data[:int(n*0.9)]` split, the validation part the end of the text.
pub fn split(ids: &[u32], val_fraction: f64) -> (&[u32], &[u32]) {
    let n_train = ((ids.len() as f64) * (1.0 - val_fraction)) as usize;
    ids.split_at(n_train.min(ids.len()))
}

/// The batches of one epoch: `b` streams over the training ids, `s` steps per batch.
/// Stream j starts at `j·len` with `len = (N − 1) / b`; batch k holds, for every stream,
/// inputs `ids[j·len + k·s ..][..s]` and the next characters as targets, so batch k + 1
/// continues each stream exactly where batch k ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streams {
    /// B, S, and the characters of each stream.
    pub b: usize,
    /// S: steps per batch.
    pub s: usize,
    /// Characters per stream: `(N − 1) / B`.
    pub len: usize,
}

impl Streams {
    /// The layout for `n` training characters, or an error giving the lengths when they are
    /// too few for one batch.
    pub fn new(path: &Path, n: usize, b: usize, s: usize) -> Result<Self> {
        let len = n.saturating_sub(1) / b.max(1);
        if b == 0 || s == 0 || len < s {
            return Err(data_error(
                path,
                0,
                format!(
                    "the training part has {n} characters; {b} streams of {s} steps need at \
                     least {} (B·S + 1): use a smaller --batch-size or --seq-len, or more text",
                    b.saturating_mul(s).saturating_add(1)
                ),
            ));
        }
        Ok(Self { b, s, len })
    }

    /// Batches per epoch: whole windows of S steps in every stream.
    pub fn batches(&self) -> usize {
        self.len / self.s
    }

    /// Batch k as (inputs, targets), each (B, S) row-major: row j is stream j.
    pub fn batch(&self, ids: &[u32], k: usize) -> (Vec<u32>, Vec<u32>) {
        let (mut x, mut y) = (
            Vec::with_capacity(self.b * self.s),
            Vec::with_capacity(self.b * self.s),
        );
        for j in 0..self.b {
            let at = j * self.len + k * self.s;
            x.extend_from_slice(&ids[at..at + self.s]);
            y.extend_from_slice(&ids[at + 1..at + self.s + 1]);
        }
        (x, y)
    }
}
