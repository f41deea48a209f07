//! The names data of lecture 13: `name,label` CSV files (gzip or plain; quoted fields, CRLF,
//! commas inside quotes) or the PyTorch char-RNN tutorial's folder of per-class UTF-8 files
//! (`names/*.txt`, the class is the file stem).
//!
//! Names are folded as the tutorial's `unicodeToAscii` does: NFD, combining marks removed,
//! and only the tutorial's alphabet (ASCII letters and ` .,;'`) kept; every code is then an
//! ASCII code below the vocabulary of 128. Characters dropped by that last step are never
//! dropped silently: [`Folded::dropped`] lists each with its count and first place, and strict
//! mode makes the first one an error. Folding the tutorial folder this way gives exactly the
//! (name, country) pairs of the lecture's CSV files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::{Source, csv_message, data_error, io_error, read_maybe_gz};
use crate::Result;

/// The tutorial's `all_letters`: `string.ascii_letters + " .,;'"`.
pub fn in_alphabet(c: char) -> bool {
    c.is_ascii_alphabetic() || " .,;'".contains(c)
}

/// One labelled name, folded, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// The name, folded to the alphabet.
    pub name: String,
    /// The class: the CSV's label, or the tutorial file's stem.
    pub label: String,
    /// Where the name was read.
    pub source: Source,
}

/// A character folding removed, how often, and where it was first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Times it was dropped.
    pub count: usize,
    /// Where it was first dropped.
    pub first: Source,
}

/// Examples and the characters folding dropped from them.
#[derive(Clone, Debug, Default)]
pub struct Folded {
    /// Every example, in the order read.
    pub examples: Vec<Example>,
    /// Each dropped character, in character order.
    pub dropped: BTreeMap<char, Dropped>,
}

impl Folded {
    /// The warning line for a run, or None when nothing was dropped.
    pub fn warning(&self) -> Option<String> {
        if self.dropped.is_empty() {
            return None;
        }
        let items: Vec<String> = self
            .dropped
            .iter()
            .map(|(c, d)| {
                format!(
                    "{c:?} (U+{:04X}) ×{} first at {}",
                    *c as u32, d.count, d.first
                )
            })
            .collect();
        Some(format!(
            "warning: dropped characters outside the alphabet: {}",
            items.join(", ")
        ))
    }
}

/// Fold `raw` as training does, and list the characters dropped (each once, in order): what
/// `predict` uses for a name typed on the command line.
pub fn fold_text(raw: &str) -> (String, Vec<char>) {
    let mut dropped = Vec::new();
    let folded = raw
        .nfd()
        .filter(|&c| !is_combining_mark(c))
        .filter(|&c| {
            let keep = in_alphabet(c);
            if !keep && !dropped.contains(&c) {
                dropped.push(c);
            }
            keep
        })
        .collect();
    (folded, dropped)
}

/// Fold `raw` (NFD, no combining marks, alphabet only); a dropped character is recorded, or an
/// error in strict mode. An empty result is an error.
fn fold(
    raw: &str,
    src: &Source,
    strict: bool,
    dropped: &mut BTreeMap<char, Dropped>,
) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if in_alphabet(c) {
            out.push(c);
            continue;
        }
        if strict {
            return Err(data_error(
                &src.path,
                src.line,
                format!(
                    "character {c:?} (U+{:04X}) in {raw:?} is outside the alphabet (ASCII letters and \" .,;'\"); without --strict it is dropped",
                    c as u32
                ),
            ));
        }
        dropped
            .entry(c)
            .and_modify(|d| d.count += 1)
            .or_insert(Dropped {
                count: 1,
                first: src.clone(),
            });
    }
    if out.trim().is_empty() {
        return Err(data_error(
            &src.path,
            src.line,
            format!("the name {raw:?} is blank after folding to the alphabet"),
        ));
    }
    Ok(out)
}

/// 1-based line numbers from record start offsets, counted forward as records arrive. The csv
/// crate consumes only the `\r` of a CRLF terminator before returning a record (rust-csv issue
/// #395), so its `Position::line` lags and the next record's offset points at the leftover
/// `\n`: counting newlines up to and including the offset gives the right line for CRLF and LF
/// alike (a record never starts with a real newline; blank lines are skipped).
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Newlines in `bytes[..at]`.
    at: usize,
    newlines: u64,
}

impl LineCounter<'_> {
    fn line_at(&mut self, byte: u64) -> u64 {
        let end = (byte as usize + 1).min(self.bytes.len());
        let count = |s: &[u8]| s.iter().filter(|&&b| b == b'\n').count() as u64;
        if end < self.at {
            return 1 + count(&self.bytes[..end]);
        }
        self.newlines += count(&self.bytes[self.at..end]);
        self.at = end;
        1 + self.newlines
    }
}

/// A quoted field that runs past the end of its line (names never hold a line break) or to
/// the end of the file: an unterminated quote. The error names the line where it opened.
/// Quotes follow RFC 4180: a field that starts with `"` is quoted, `""` inside it is one
/// quote, and a quote elsewhere is an ordinary character.
fn check_quotes(path: &Path, bytes: &[u8]) -> Result<()> {
    let (mut line, mut opened) = (1u64, None::<u64>);
    let mut field_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match opened {
            Some(at) => match b {
                b'"' if bytes.get(i + 1) == Some(&b'"') => i += 1,
                b'"' => opened = None,
                b'\n' | b'\r' => {
                    return Err(data_error(
                        path,
                        at,
                        "a quoted field opens here and runs past the end of the line: an \
                         unterminated quote",
                    ));
                }
                _ => {}
            },
            None if b == b'"' && field_start => opened = Some(line),
            None => {}
        }
        if b == b'\n' {
            line += 1;
        }
        field_start = opened.is_none() && matches!(b, b',' | b'\n' | b'\r');
        i += 1;
    }
    match opened {
        Some(at) => Err(data_error(
            path,
            at,
            "a quoted field opens here and is never closed: an unterminated quote",
        )),
        None => Ok(()),
    }
}

/// Read a CSV of `name,label` rows (gzip or plain, no header).
pub fn read_csv(path: &Path, strict: bool) -> Result<Folded> {
    let bytes = read_maybe_gz(path)?;
    check_quotes(path, &bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..]);
    let mut lines = LineCounter {
        bytes: &bytes,
        at: 0,
        newlines: 0,
    };
    let mut folded = Folded::default();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
            data_error(path, line, format!("malformed CSV: {}", csv_message(&e)))
        })?;
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.len() != 2 {
            return Err(data_error(
                path,
                line,
                format!("expected 2 fields (name,label), found {}", record.len()),
            ));
        }
        let src = Source {
            path: path.to_path_buf(),
            line,
        };
        let label = record[1].trim();
        if label.is_empty() {
            return Err(data_error(path, line, "the label is empty"));
        }
        let name = fold(&record[0], &src, strict, &mut folded.dropped)?;
        folded.examples.push(Example {
            name,
            label: label.to_string(),
            source: src,
        });
    }
    if folded.examples.is_empty() {
        return Err(data_error(path, 0, "no rows"));
    }
    Ok(folded)
}

/// Read the tutorial's folder: one `Label.txt` per class, one UTF-8 name per line.
pub fn read_folder(dir: &Path, strict: bool) -> Result<Folded> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(data_error(
            dir,
            0,
            "no .txt files (expected one Label.txt per class)",
        ));
    }
    let mut folded = Folded::default();
    for file in files {
        let label = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&file).map_err(|e| io_error(&file, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            data_error(&file, line, "not valid UTF-8")
        })?;
        let before = folded.examples.len();
        for (i, raw) in text.lines().enumerate() {
            let src = Source {
                path: file.clone(),
                line: i as u64 + 1,
            };
            if raw.trim().is_empty() {
                return Err(data_error(
                    &file,
                    src.line,
                    "empty line (expected one name per line)",
                ));
            }
            let name = fold(raw, &src, strict, &mut folded.dropped)?;
            folded.examples.push(Example {
                name,
                label: label.clone(),
                source: src,
            });
        }
        if folded.examples.len() == before {
            return Err(data_error(
                &file,
                0,
                "has no names (expected one name per line; the file's name is the class)",
            ));
        }
    }
    Ok(folded)
}

/// A CSV file or a tutorial folder, by what `path` is.
pub fn read(path: &Path, strict: bool) -> Result<Folded> {
    if path.is_dir() {
        read_folder(path, strict)
    } else {
        read_csv(path, strict)
    }
}

/// Class names in index order (sorted, as the lecture does), from the training examples.
pub fn classes(train: &[Example]) -> Vec<String> {
    let mut c: Vec<String> = train.iter().map(|e| e.label.clone()).collect();
    c.sort();
    c.dedup();
    c
}

/// Each example's class index; a label not in `classes` is an error naming its place and
/// `origin`, where the classes came from ("the training data", "the checkpoint X").
pub fn class_indices(examples: &[Example], classes: &[String], origin: &str) -> Result<Vec<i32>> {
    examples
        .iter()
        .map(|e| {
            classes
                .iter()
                .position(|c| *c == e.label)
                .map(|i| i as i32)
                .ok_or_else(|| {
                    data_error(
                        &e.source.path,
                        e.source.line,
                        format!(
                            "label {:?} is not a class of {origin} (known: {})",
                            e.label,
                            classes.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

/// A folded name as token ids: its ASCII codes.
pub fn tokens(name: &str) -> Vec<u32> {
    name.bytes().map(u32::from).collect()
}
