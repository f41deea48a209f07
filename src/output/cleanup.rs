//! Files that must not outlive the process: temporary files of atomic writes and a run's
//! lock file. They are registered while they exist; on SIGINT, SIGTERM or SIGHUP a handler
//! thread ([`install`]) waits for any write in progress to finish, removes them, and ends the
//! process by the signal's default action, so the shell sees the conventional status (130 for
//! Ctrl-C).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The registry, held: while a `Guard` lives, a signal's clean-up waits.
pub struct Guard(MutexGuard<'static, Vec<PathBuf>>);

impl Guard {
    /// Remove `path` if the process is interrupted.
    pub fn register(&mut self, path: &Path) {
        self.0.push(path.to_path_buf());
    }

    /// `path` is gone or has become an output of its own.
    pub fn unregister(&mut self, path: &Path) {
        self.0.retain(|p| p != path);
    }
}

/// Hold the registry (a panic elsewhere does not poison it for good).
pub fn lock() -> Guard {
    Guard(LIVE.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Remove every registered file now.
fn remove_all(guard: &mut Guard) {
    for p in guard.0.drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// Whether `sig` is ignored, as `nohup` leaves SIGHUP and a shell's `cmd &` leaves SIGINT:
/// such a signal stays ignored.
#[cfg(unix)]
fn ignored(sig: i32) -> bool {
    // SAFETY: a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Install the signal handler thread (once; later calls do nothing). The binary calls this
/// first thing; a library user who wants the same behaviour calls it too. Signals the
/// process inherited as ignored are left alone.
#[cfg(unix)]
pub fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let wanted: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
        .into_iter()
        .filter(|&s| !ignored(s))
        .collect();
    let mut signals = signal_hook::iterator::Signals::new(wanted)?;
    std::thread::Builder::new()
        .name("gpu-rnn-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Held until the process ends: no new temporary file can appear.
                let mut guard = lock();
                remove_all(&mut guard);
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        })?;
    let _ = INSTALLED.set(());
    Ok(())
}

#[cfg(not(unix))]
pub fn install() -> std::io::Result<()> {
    Ok(())
}
