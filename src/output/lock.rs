//! A run directory belongs to one run at a time: [`RunLock`] creates `RUN_DIR/run.lock`
//! holding the process id, and a second run into the same folder fails, naming the first
//! one's pid. A lock left by a process that no longer exists (killed with SIGKILL, say) is
//! taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{cleanup, io_err, refuse};
use crate::Result;

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = "run.lock";

/// Holds a run directory; removes its lock file when dropped (or on a signal).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

#[cfg(unix)]
fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_: i32) -> bool {
    true
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
        for _ in 0..3 {
            let mut guard = cleanup::lock();
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    guard.register(&path);
                    writeln!(f, "{}", std::process::id()).map_err(io_err(&path))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<i32>() {
                        Ok(pid) if alive(pid) => {
                            return Err(refuse(
                                dir,
                                format!(
                                    "{flag} is in use by another gpu-rnn run, process {pid} \
                                     (lock file {}); wait for it to end or pick another folder",
                                    path.display()
                                ),
                            ));
                        }
                        // A stale lock (or one being written this instant: try again).
                        _ => {
                            drop(guard);
                            if text.trim().is_empty() {
                                std::thread::sleep(std::time::Duration::from_millis(50));
                                if std::fs::read_to_string(&path).is_ok_and(|t| !t.is_empty()) {
                                    continue;
                                }
                            }
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Err(refuse(
            dir,
            format!("{flag}: could not take the lock file {}", path.display()),
        ))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let mut guard = cleanup::lock();
        let _ = std::fs::remove_file(&self.path);
        guard.unregister(&self.path);
    }
}
