//! `--optimizer`, `--momentum`, `--nesterov` and `--weight-decay`: the flags, their checks
//! and what a run records of them.

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::cpu::sgd::SgdConfig;
use gpu_rnn::model::optim::Method;
use gpu_rnn::{Error, Result};

/// `--optimizer`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerArg {
    /// torch.optim.Adam.
    #[default]
    Adam,
    /// torch.optim.AdamW: weight decay applied to the weights, not the gradient.
    Adamw,
    /// torch.optim.SGD, with --momentum and --nesterov.
    Sgd,
}

/// The optimizer's flags, as given.
#[derive(Args, Clone, Debug, Default, Serialize, Deserialize)]
pub struct OptimArgs {
    /// The optimizer [default: adam].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// SGD: the momentum factor [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub momentum: Option<f64>,
    /// SGD: Nesterov momentum (needs --momentum above 0).
    #[arg(long)]
    pub nesterov: bool,
    /// Adam and SGD: an L2 penalty on the gradient; AdamW: the decoupled decay
    /// [default: 0; adamw 0.01].
    #[arg(long, allow_hyphen_values = true)]
    pub weight_decay: Option<f64>,
}

/// What a run records of the optimizer (runs saved before these flags existed used Adam).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimSettings {
    pub optimizer: OptimizerArg,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

fn invalid(flag: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op: flag,
        message: message.into(),
    }
}

impl OptimArgs {
    /// Ranges, and only the chosen optimizer's flags.
    pub fn check(&self) -> Result<()> {
        let sgd = self.optimizer == Some(OptimizerArg::Sgd);
        for (flag, value) in [
            ("--momentum", self.momentum),
            ("--weight-decay", self.weight_decay),
        ] {
            if let Some(x) = value
                && !(x.is_finite() && x >= 0.0)
            {
                return Err(invalid(
                    flag,
                    format!("expected a finite value ≥ 0, got {x}"),
                ));
            }
        }
        if !sgd && (self.momentum.is_some() || self.nesterov) {
            let flag = if self.nesterov {
                "--nesterov"
            } else {
                "--momentum"
            };
            return Err(invalid(flag, "is for --optimizer sgd"));
        }
        if self.nesterov && self.momentum.unwrap_or(0.0) <= 0.0 {
            return Err(invalid(
                "--nesterov",
                "Nesterov momentum needs --momentum above 0",
            ));
        }
        Ok(())
    }

    /// Defaults filled in.
    pub fn resolve(&self) -> OptimSettings {
        let optimizer = self.optimizer.unwrap_or_default();
        let decay = if optimizer == OptimizerArg::Adamw {
            0.01
        } else {
            0.0
        };
        OptimSettings {
            optimizer,
            momentum: self.momentum.unwrap_or(0.0),
            nesterov: self.nesterov,
            weight_decay: self.weight_decay.unwrap_or(decay),
        }
    }
}

impl OptimSettings {
    /// The same checks as the flags', for settings read back from a run.
    pub fn check(&self) -> Result<()> {
        OptimArgs {
            optimizer: Some(self.optimizer),
            momentum: (self.optimizer == OptimizerArg::Sgd).then_some(self.momentum),
            nesterov: self.nesterov,
            weight_decay: Some(self.weight_decay),
        }
        .check()
    }

    /// "Adam lr 0.001", "SGD lr 0.1 (momentum 0.9, Nesterov)": for the run's header line.
    pub fn describe(&self, lr: f64) -> String {
        let name = match self.optimizer {
            OptimizerArg::Adam => "Adam",
            OptimizerArg::Adamw => "AdamW",
            OptimizerArg::Sgd => "SGD",
        };
        let mut extra = Vec::new();
        if self.momentum > 0.0 {
            extra.push(format!("momentum {}", self.momentum));
        }
        if self.nesterov {
            extra.push("Nesterov".to_string());
        }
        if self.weight_decay > 0.0 {
            extra.push(format!("weight decay {}", self.weight_decay));
        }
        match extra.is_empty() {
            true => format!("{name} lr {lr}"),
            false => format!("{name} lr {lr} ({})", extra.join(", ")),
        }
    }

    /// The update at learning rate `lr`, PyTorch's other defaults.
    pub fn method(&self, lr: f64) -> Method {
        match self.optimizer {
            OptimizerArg::Adam | OptimizerArg::Adamw => Method::Adam(AdamConfig {
                lr,
                weight_decay: self.weight_decay,
                decoupled: self.optimizer == OptimizerArg::Adamw,
                ..AdamConfig::default()
            }),
            OptimizerArg::Sgd => Method::Sgd(SgdConfig {
                momentum: self.momentum,
                nesterov: self.nesterov,
                weight_decay: self.weight_decay,
                ..SgdConfig::new(lr)
            }),
        }
    }
}
