//! The model `gpu-rnn train` builds: the lecture's architecture with the flags applied, or
//! the architecture of `--init`'s checkpoint (or a resumed run's), where a flag that
//! disagrees is an error naming both values.

use super::settings::{CellArg, Nonlinearity, Settings, TaskArg, TrainArgs};
use gpu_rnn::checkpoint;
use gpu_rnn::model::classifier::ClassifierConfig;
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::plan::CellKind;
use gpu_rnn::{Error, Result};

/// The architecture from the flags (lecture defaults), or from `--init` with conflicts
/// reported.
/// `source` names where `init` came from in messages ("checkpoint", "run").
pub(super) fn architecture(
    a: &TrainArgs,
    s: &Settings,
    init: Option<&checkpoint::Checkpoint>,
    source: &str,
) -> Result<ClassifierConfig> {
    let (dropout, embed_dropout) = (s.dropout, s.embed_dropout);
    let bidi = if a.no_bidirectional {
        Some(false)
    } else if a.bidirectional {
        Some(true)
    } else {
        None
    };
    let cell = a.cell.map(|c| match c {
        CellArg::Rnn => CellKind::Rnn,
        CellArg::Gru => CellKind::Gru,
        CellArg::Lstm => CellKind::Lstm,
    });
    let relu = a.nonlinearity.map(|n| n == Nonlinearity::Relu);
    if let Some(ck) = init {
        let c = &ck.cfg;
        let conflicts: Vec<String> = [
            cell.filter(|&x| x != c.rnn.cell).map(|x| {
                format!(
                    "--cell {} ({source}: {})",
                    x.torch_name(),
                    c.rnn.cell.torch_name()
                )
            }),
            relu.filter(|&x| x != c.rnn.relu).map(|x| {
                format!(
                    "--nonlinearity {} ({source}: {})",
                    if x { "relu" } else { "tanh" },
                    if c.rnn.relu { "relu" } else { "tanh" }
                )
            }),
            a.layers
                .filter(|&x| x != c.rnn.layers)
                .map(|x| format!("--layers {x} ({source}: {})", c.rnn.layers)),
            a.hidden
                .filter(|&x| x != c.rnn.hidden)
                .map(|x| format!("--hidden {x} ({source}: {})", c.rnn.hidden)),
            a.embed
                .filter(|&x| x != c.embed)
                .map(|x| format!("--embed {x} ({source}: {})", c.embed)),
            bidi.filter(|&x| x != c.rnn.bidirectional).map(|x| {
                format!(
                    "--{}bidirectional ({source}: {})",
                    if x { "" } else { "no-" },
                    c.rnn.bidirectional
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !conflicts.is_empty() {
            return Err(Error::InvalidArgument {
                op: "train",
                message: format!(
                    "flags conflict with the {source}'s architecture: {}",
                    conflicts.join(", ")
                ),
            });
        }
        let mut cfg = c.clone();
        cfg.rnn.dropout = dropout;
        cfg.embed_dropout = embed_dropout;
        return Ok(cfg);
    }
    // The vocabulary and classes come from the data.
    let mut cfg = match s.task {
        TaskArg::Charlm => ClassifierConfig::charlm(0),
        _ => ClassifierConfig::lecture(),
    };
    let embed = a.embed.unwrap_or(cfg.embed);
    let mut rnn = RnnConfig::new(
        cell.unwrap_or(cfg.rnn.cell),
        embed,
        a.hidden.unwrap_or(cfg.rnn.hidden),
    );
    rnn.layers = a.layers.unwrap_or(cfg.rnn.layers);
    rnn.bidirectional = bidi.unwrap_or(cfg.rnn.bidirectional);
    rnn.relu = relu.unwrap_or(false);
    rnn.dropout = dropout;
    if relu.is_some() && rnn.cell != CellKind::Rnn {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "--nonlinearity applies only to --cell rnn".into(),
        });
    }
    cfg.embed = embed;
    cfg.rnn = rnn;
    cfg.embed_dropout = embed_dropout;
    Ok(cfg)
}
