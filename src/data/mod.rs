//! Reading data sets: the lecture's names (CSV or the char-RNN tutorial's folder) and the
//! Rotten Tomatoes phrases (TSV), with every problem reported as the file, the line and what
//! was expected.

pub mod names;
pub mod sentiment;
pub mod text;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Where a row came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The data file.
    pub path: PathBuf,
    /// 1-based line in it.
    pub line: u64,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// The error for line `line` of the data file `path`: the message names both.
pub fn data_error(path: &Path, line: u64, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        error: source,
    }
}

/// The most bytes a data file may hold (after gunzipping): far above every data set gpu-rnn
/// trains on, and a clear error instead of running out of memory on `/dev/zero`.
pub const MAX_DATA_BYTES: u64 = 512 << 20;

/// Read all of `r` unless it holds more than `limit` bytes.
pub(crate) fn read_limited(r: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    r.take(limit + 1).read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

/// The bytes of a file, gunzipped when it starts with gzip's magic number; more than
/// [`MAX_DATA_BYTES`] is an error.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let too_big = || {
        data_error(
            path,
            0,
            format!(
                "holds more than {} MiB, the most gpu-rnn reads as a data file",
                MAX_DATA_BYTES >> 20
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let raw = read_limited(file, MAX_DATA_BYTES)
        .map_err(|e| io_error(path, e))?
        .ok_or_else(too_big)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        read_limited(flate2::read::MultiGzDecoder::new(&raw[..]), MAX_DATA_BYTES)
            .map_err(|e| data_error(path, 0, format!("not a valid gzip file: {e}")))?
            .ok_or_else(too_big)
    } else {
        Ok(raw)
    }
}

/// A csv error as a message without the csv crate's own position (the caller adds the line).
pub(crate) fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("not valid UTF-8 (field {})", err.field() + 1)
        }
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => e.to_string(),
    }
}
