//! The range rules of the numeric train flags, shared by the flags as given and the
//! settings a run reads back.

use gpu_rnn::{Error, Result};

pub(super) fn invalid(flag: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op: flag,
        message: message.into(),
    }
}

/// The sizes a flag may take: at least 1, and no more than `max`.
pub(super) fn in_range(flag: &'static str, value: Option<usize>, max: usize) -> Result<()> {
    match value {
        Some(v) if v == 0 || v > max => Err(invalid(
            flag,
            format!("expected a whole number from 1 to {max}, got {v}"),
        )),
        _ => Ok(()),
    }
}

/// A probability in [0, 1).
fn probability(flag: &'static str, p: Option<f32>) -> Result<()> {
    match p {
        Some(p) if !(0.0..1.0).contains(&p) => Err(invalid(
            flag,
            format!("expected a value in [0, 1), got {p}"),
        )),
        _ => Ok(()),
    }
}

/// The numeric settings, given as flags or read back from a run: one set of range rules
/// for both (`None`: not given, nothing to check).
pub(super) struct Numbers {
    pub(super) lr: Option<f64>,
    pub(super) clip: Option<f32>,
    pub(super) val_fraction: Option<f64>,
    pub(super) dropout: Option<f32>,
    pub(super) embed_dropout: Option<f32>,
    pub(super) batch_size: Option<usize>,
    pub(super) epochs: Option<usize>,
    pub(super) min_count: Option<usize>,
    pub(super) max_len: Option<usize>,
    pub(super) lr_t_max: Option<usize>,
    pub(super) lr_min: Option<f64>,
    pub(super) lr_step_size: Option<usize>,
    pub(super) lr_gamma: Option<f64>,
    pub(super) seq_len: Option<usize>,
}

impl Numbers {
    pub(super) fn check(&self) -> Result<()> {
        if let Some(lr) = self.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return Err(invalid(
                "--lr",
                format!("expected a finite learning rate above 0, got {lr}"),
            ));
        }
        if let Some(c) = self.clip
            && !(c.is_finite() && c >= 0.0)
        {
            return Err(invalid(
                "--clip",
                format!("expected a finite norm of 0 (off) or more, got {c}"),
            ));
        }
        if let Some(f) = self.val_fraction
            && !(f > 0.0 && f < 1.0)
        {
            return Err(invalid(
                "--val-fraction",
                format!("expected a share in (0, 1), got {f}"),
            ));
        }
        probability("--dropout", self.dropout)?;
        probability("--embed-dropout", self.embed_dropout)?;
        if let Some(g) = self.lr_gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(invalid(
                "--lr-gamma",
                format!("expected a finite factor above 0, got {g}"),
            ));
        }
        if let Some(m) = self.lr_min
            // Without --lr the task's default rate is not known yet: the resolved settings
            // check it again.
            && !(m.is_finite() && m >= 0.0 && m <= self.lr.unwrap_or(f64::INFINITY))
        {
            return Err(invalid(
                "--lr-min",
                format!("expected a finite rate from 0 to --lr, got {m}"),
            ));
        }
        in_range("--batch-size", self.batch_size, usize::MAX)?;
        in_range("--epochs", self.epochs, 1_000_000)?;
        in_range("--min-count", self.min_count, usize::MAX)?;
        in_range("--max-len", self.max_len, 1 << 20)?;
        in_range("--lr-t-max", self.lr_t_max, 1_000_000)?;
        in_range("--seq-len", self.seq_len, 1 << 20)?;
        in_range("--lr-step-size", self.lr_step_size, 1_000_000)
    }
}
