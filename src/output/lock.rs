//! A run directory belongs to one run at a time: [`RunLock`] holds an exclusive `flock` on
//! `RUN_DIR/run.lock`, which also records the process id for messages. A second run into the
//! same folder fails, naming the first one's pid. The kernel drops the lock when its process
//! ends, however it ends (SIGKILL, a reboot), so a lock file left behind is simply taken over.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::{cleanup, io_err, refuse};
use crate::Result;

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = "run.lock";

/// Holds a run directory; removes its lock file when dropped (or on a signal).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    _file: std::fs::File,
}

/// Try to take an exclusive lock on `f` without waiting.
#[cfg(unix)]
fn try_lock(f: &std::fs::File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this function borrows.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn try_lock(_: &std::fs::File) -> std::io::Result<bool> {
    Ok(true)
}

/// Whether `f` is still the file at `path` (a run that ended may have removed it meanwhile).
#[cfg(unix)]
fn still_there(f: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_there(_: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

impl RunLock {
    /// Create `dir` if needed and take it; `flag` names the option in messages.
    pub fn acquire(dir: &Path, flag: &str) -> Result<Self> {
        if let Ok(m) = std::fs::metadata(dir)
            && !m.is_dir()
        {
            return Err(refuse(
                dir,
                format!("{flag} names an existing file; expected a folder (created if missing)"),
            ));
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(LOCK_FILE);
        loop {
            let mut guard = cleanup::lock();
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_err(&path))?;
            if !try_lock(&f).map_err(io_err(&path))? {
                let mut pid = String::new();
                let _ = f.read_to_string(&mut pid);
                return Err(refuse(
                    dir,
                    format!(
                        "{flag} is in use by another gpu-rnn run, process {} (lock file {}); \
                         wait for it to end or pick another folder",
                        pid.trim(),
                        path.display()
                    ),
                ));
            }
            if !still_there(&f, &path) {
                continue; // locked a file its owner had just removed: try the new one
            }
            guard.register(&path);
            let written = f
                .set_len(0)
                .and_then(|()| f.rewind())
                .and_then(|()| writeln!(f, "{}", std::process::id()));
            if let Err(e) = written {
                guard.unregister(&path);
                return Err(io_err(&path)(e));
            }
            return Ok(Self { path, _file: f });
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked; the lock itself goes with the file handle.
        let mut guard = cleanup::lock();
        // Only our own file: a run started after this folder moved may own the path now.
        if still_there(&self._file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
        guard.unregister(&self.path);
    }
}
