//! Learning-rate schedules with PyTorch's semantics, stepped once per epoch as
//! `scheduler.step()` usually is: [`LrSchedule::lr`] of epoch index `e` is the rate PyTorch's
//! scheduler gives after `e` calls to `step()` (`last_epoch = e`), so the first epoch trains
//! at `e = 0`, the base rate.

/// `torch.optim.lr_scheduler`'s constant rate, `CosineAnnealingLR` or `StepLR`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// `CosineAnnealingLR(T_max, eta_min)`: `eta_min + (base − eta_min)·(1 + cos(π·e/T_max))/2`,
    /// the closed form that PyTorch's recursive update follows (also past `T_max`, where the
    /// rate climbs back).
    Cosine {
        /// Epochs of the half cosine.
        t_max: usize,
        /// The rate it ends at.
        eta_min: f64,
    },
    /// `StepLR(step_size, gamma)`: `base · gamma^⌊e / step_size⌋`.
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// The factor of each decay.
        gamma: f64,
    },
}

impl LrSchedule {
    /// The learning rate at epoch index `e` (from 0) for a base rate `base`.
    pub fn lr(&self, base: f64, e: usize) -> f64 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine { t_max, eta_min } => {
                let phase = std::f64::consts::PI * e as f64 / t_max.max(1) as f64;
                eta_min + (base - eta_min) * (1.0 + phase.cos()) / 2.0
            }
            LrSchedule::Step { step_size, gamma } => {
                base * gamma.powi((e / step_size.max(1)) as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    fn rates(s: LrSchedule, base: f64, n: usize) -> Vec<f64> {
        (0..n).map(|e| s.lr(base, e)).collect()
    }

    #[track_caller]
    fn close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-12 + 1e-9 * w.abs(),
                "{got:?} against {want:?}"
            );
        }
    }

    // The values PyTorch 2's schedulers print for `scheduler.get_last_lr()` after each
    // `step()`, from an SGD optimizer at the base rate.
    #[test]
    fn step_lr_follows_torch() {
        let s = LrSchedule::Step {
            step_size: 2,
            gamma: 0.5,
        };
        close(&rates(s, 0.1, 6), &[0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
        let s = LrSchedule::Step {
            step_size: 1,
            gamma: 0.1,
        };
        close(&rates(s, 1.0, 3), &[1.0, 0.1, 0.01]);
    }

    #[test]
    fn cosine_lr_follows_torch() {
        let s = LrSchedule::Cosine {
            t_max: 4,
            eta_min: 0.0,
        };
        close(
            &rates(s, 1.0, 9),
            &[
                1.0,
                0.853_553_390_593_273_7,
                0.5,
                0.146_446_609_406_726_3,
                0.0,
                0.146_446_609_406_726_3,
                0.5,
                0.853_553_390_593_273_7,
                1.0,
            ],
        );
        let s = LrSchedule::Cosine {
            t_max: 2,
            eta_min: 0.01,
        };
        close(&rates(s, 0.1, 3), &[0.1, 0.055, 0.01]);
    }

    #[test]
    fn constant_is_the_base_rate() {
        close(&rates(LrSchedule::Constant, 2e-3, 3), &[2e-3; 3]);
    }
}
