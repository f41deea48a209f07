//! The host memory budget: a plan, a checkpoint or a data set that would need more is refused
//! before anything is allocated, with the bytes it needs, instead of aborting the process with
//! "memory allocation of N bytes failed".

use crate::{Error, Result};

/// Overrides the budget, in bytes (tests use it; so may a user sharing a machine).
pub const BUDGET_ENV: &str = "GPU_RNN_MEMORY_BUDGET";

/// The budget in bytes: `GPU_RNN_MEMORY_BUDGET` if set, else the memory the kernel reports
/// available (`MemAvailable` in /proc/meminfo), else 8 GiB.
pub fn budget() -> u64 {
    if let Some(b) = std::env::var(BUDGET_ENV)
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return b;
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(8 << 30)
}

/// `bytes` as MiB or GiB, for messages.
pub fn human(bytes: f64) -> String {
    if bytes >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
    }
}

/// Fail unless `bytes` (a float, so that absurd sizes do not overflow) fit the budget.
pub fn check(what: &str, bytes: f64, hint: &str) -> Result<()> {
    if let Ok(v) = std::env::var(BUDGET_ENV)
        && v.trim().parse::<u64>().is_err()
    {
        return Err(Error::InvalidArgument {
            op: BUDGET_ENV,
            message: format!("{v:?} is not a whole number of bytes"),
        });
    }
    let budget = budget();
    if bytes > budget as f64 {
        return Err(Error::Memory {
            what: what.to_string(),
            bytes,
            budget,
            hint: hint.to_string(),
        });
    }
    Ok(())
}
