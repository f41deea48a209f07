//! Every output path is vetted before a run does any work: it can be written (its folder
//! exists or can be made, and a file can be created there), it is not a folder or a FIFO, it
//! is not one of the run's inputs (nor inside an input folder), and no two outputs name the
//! same file. A run then never loses an epoch of training to a bad `--save`.

use std::path::{Path, PathBuf};

use super::{Target, folder, target};
use crate::{Error, Result};

/// An output or input path with the flag it came from.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    /// The command-line flag, as messages name it (e.g. `--save`, `--data`).
    pub flag: &'static str,
    /// The path as given.
    pub path: &'a Path,
}

fn bad(flag: &'static str, path: &Path, message: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        op: flag,
        message: format!("{}: {message}", path.display()),
    }
}

/// A file's identity: (device, inode) where it exists, else its absolute path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// The absolute form of `real` (its folder canonicalized; the folder exists by now).
fn absolute(real: &Path) -> PathBuf {
    let dir = std::fs::canonicalize(folder(real)).unwrap_or_else(|_| folder(real).to_path_buf());
    match real.file_name() {
        Some(n) => dir.join(n),
        None => dir,
    }
}

fn identity(real: &Path) -> Identity {
    match std::fs::metadata(real).ok().as_ref().and_then(inode) {
        Some((d, i)) => Identity::Inode(d, i),
        None => Identity::Path(absolute(real)),
    }
}

/// Check that `out` can be written; returns where it goes.
fn writable(out: Named) -> Result<Target> {
    let t = target(out.path).map_err(|e| match e {
        Error::Output { message, .. } => bad(out.flag, out.path, message),
        Error::Io { error, .. } => bad(out.flag, out.path, error),
        e => e,
    })?;
    match &t {
        Target::Device(real) => {
            std::fs::OpenOptions::new()
                .write(true)
                .open(real)
                .map_err(|e| bad(out.flag, out.path, format!("cannot be written: {e}")))?;
        }
        Target::File(real) => {
            let dir = folder(real);
            std::fs::create_dir_all(dir).map_err(|e| {
                bad(
                    out.flag,
                    out.path,
                    format!("cannot create its folder {}: {e}", dir.display()),
                )
            })?;
            let probe = super::temp_path(real);
            let mut guard = super::cleanup::lock();
            guard.register(&probe);
            let made = super::create_temp(&probe);
            let _ = std::fs::remove_file(&probe);
            guard.unregister(&probe);
            made.map_err(|e| {
                bad(
                    out.flag,
                    out.path,
                    format!("its folder {} is not writable: {e}", dir.display()),
                )
            })?;
        }
    }
    Ok(t)
}

/// Check `outputs` against each other and against `inputs` (files or folders; missing ones
/// are skipped: their readers report them).
pub fn check_outputs(outputs: &[Named], inputs: &[Named]) -> Result<()> {
    let mut seen: Vec<(Named, Identity)> = Vec::new();
    for &out in outputs {
        let Target::File(real) = writable(out)? else {
            continue; // devices may be shared: /dev/null for two outputs is fine
        };
        let id = identity(&real);
        if let Some((first, _)) = seen.iter().find(|(_, other)| *other == id) {
            return Err(bad(
                out.flag,
                out.path,
                format!(
                    "is the same file as {} {}; each output needs its own file",
                    first.flag,
                    first.path.display()
                ),
            ));
        }
        for &input in inputs {
            let Ok(m) = std::fs::metadata(input.path) else {
                continue;
            };
            let clash = if m.is_dir() {
                std::fs::canonicalize(input.path).is_ok_and(|d| absolute(&real).starts_with(d))
            } else {
                identity(input.path) == id
            };
            if clash {
                return Err(bad(
                    out.flag,
                    out.path,
                    format!(
                        "would overwrite the input {} {}; an output may not replace an input",
                        input.flag,
                        input.path.display()
                    ),
                ));
            }
        }
        seen.push((out, id));
    }
    Ok(())
}
