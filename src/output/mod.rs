//! Output files that never destroy what they replace.
//!
//! - A regular file (or a path with nothing there yet) is replaced atomically: a temporary
//!   file in the same folder, written, synced, then renamed over the target, so a reader or a
//!   crash never sees half a checkpoint, metrics file or plot.
//! - A symbolic link is followed: the file it finally names is written, and the link stays.
//! - A character device (`/dev/null`, `/dev/full`) is written through; a FIFO, a socket, a
//!   block device or a folder is refused. None of them is ever replaced.
//! - A write error (a full disk, an I/O error) is an error naming the path.
//!
//! Temporary files are registered with [`cleanup`] while they exist, so that SIGINT or SIGTERM
//! removes them before the process ends ([`cleanup::install`]). [`check::check_outputs`]
//! vets every output path before a run starts, and [`lock::RunLock`] gives a run directory to
//! one run at a time.

pub mod check;
pub mod cleanup;
pub mod lock;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_path_buf(),
        error: e,
    }
}

fn refuse(path: &Path, message: impl Into<String>) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Follow symbolic links from `path` to the path they finally name, which need not exist yet.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p).map_err(io_err(&p))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(refuse(path, "too many levels of symbolic links"))
}

/// What writing to a path does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A regular file, or nothing yet: replaced atomically.
    File(PathBuf),
    /// A character device: written through.
    Device(PathBuf),
}

#[cfg(unix)]
fn is_char_device(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_: &std::fs::Metadata) -> bool {
    false
}

/// What kind of file other than a regular file or a device `m` is, for messages.
fn kind(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if m.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// Where a write to `path` goes, or why it is refused. The kind of file comes from the
/// kernel (which follows every link, `/dev/stdout` → `/proc/self/fd/1` → a pipe included);
/// only a regular file, or nothing yet, is resolved by text, for the rename.
pub fn target(path: &Path) -> Result<Target> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::File(resolve(path)?)),
        Err(e) => Err(io_err(path)(e)),
        Ok(m) if m.is_file() => Ok(Target::File(resolve(path)?)),
        Ok(m) if is_char_device(&m) => Ok(Target::Device(path.to_path_buf())),
        Ok(m) => Err(refuse(
            path,
            format!(
                "is {}; gpu-rnn writes regular files (replaced atomically) and character \
                 devices such as /dev/null, and never replaces anything else",
                kind(&m)
            ),
        )),
    }
}

/// The folder a regular file at `real` lives in (`.` for a bare name).
fn folder(real: &Path) -> &Path {
    match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The temporary file an atomic write of `real` goes through.
fn temp_path(real: &Path) -> PathBuf {
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    folder(real).join(format!(".{name}.tmp-{}", std::process::id()))
}

/// A new, empty temporary file at `tmp`. A leftover there (of a process with the same pid) or
/// a planted link is removed first, never followed.
fn create_temp(tmp: &Path) -> std::io::Result<std::fs::File> {
    let _ = std::fs::remove_file(tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
}

/// Write `bytes` to `path` (see the module doc), creating the parent folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_group(&[(path, bytes)])
}

/// Write several files as one unit: every regular file is written and synced to its
/// temporary file first, then all are renamed into place, and a signal that arrives meanwhile
/// takes effect only after the last rename, so the files never disagree with each other (a
/// run's checkpoint and its optimizer state, say). Devices are written last, outside that
/// unit, so that a blocked device never holds up Ctrl-C.
pub fn write_group(files: &[(&Path, &[u8])]) -> Result<()> {
    let targets = files
        .iter()
        .map(|(p, _)| target(p))
        .collect::<Result<Vec<_>>>()?;
    {
        let mut guard = cleanup::lock();
        let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
        let mut result = Ok(());
        for (t, (_, bytes)) in targets.iter().zip(files) {
            if let Target::File(real) = t {
                match stage(&mut guard, real, bytes) {
                    Ok(tmp) => staged.push((tmp, real)),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        if result.is_ok() {
            result = staged
                .iter()
                .try_for_each(|(tmp, real)| std::fs::rename(tmp, real).map_err(io_err(real)));
        }
        for (tmp, _) in &staged {
            if result.is_err() {
                let _ = std::fs::remove_file(tmp);
            }
            guard.unregister(tmp);
        }
        result?;
    }
    for (t, (_, bytes)) in targets.iter().zip(files) {
        if let Target::Device(dev) = t {
            write_device(dev, bytes)?;
        }
    }
    Ok(())
}

fn write_device(dev: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(io_err(dev))?;
    f.write_all(bytes)
        .and_then(|()| f.flush())
        .map_err(io_err(dev))
}

/// Write `bytes` to a new temporary file beside `real` and sync it; returns its path,
/// registered for removal on a signal. On an error the temporary file is gone.
fn stage(guard: &mut cleanup::Guard, real: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = folder(real);
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = temp_path(real);
    guard.register(&tmp);
    let written = (|| {
        let mut f = create_temp(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(m) = std::fs::metadata(real) {
            f.set_permissions(m.permissions())?;
        }
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        guard.unregister(&tmp);
        return Err(io_err(real)(e));
    }
    Ok(tmp)
}
