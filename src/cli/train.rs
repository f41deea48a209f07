//! `gpu-rnn train`: the lecture-13 name classifier (by default on the bundled data), with a
//! metrics CSV, an accuracy plot and the best checkpoint in one run directory.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::BackendArgs;
use crate::atomic::write_atomic;
use crate::checkpoint;
use crate::cpu::adam::AdamConfig;
use crate::data::names::{self, Example};
use crate::model::classifier::{Batch, Classifier, ClassifierConfig};
use crate::model::plan::CellKind;
use crate::model::rnn::RnnConfig;
use crate::{Error, Result};

/// `--cell`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CellArg {
    Rnn,
    Gru,
    Lstm,
}

/// `--nonlinearity` (RNN cells).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Nonlinearity {
    Tanh,
    Relu,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training data: a `name,label` CSV (gzip or plain) or a folder of `Label.txt` files.
    #[arg(long, default_value = "data/names_train.csv.gz")]
    pub data: PathBuf,
    /// Test data, same formats.
    #[arg(long, default_value = "data/names_test.csv.gz")]
    pub test: PathBuf,
    /// Recurrent cell [default: gru].
    #[arg(long, value_enum)]
    pub cell: Option<CellArg>,
    /// Nonlinearity of an `rnn` cell [default: tanh].
    #[arg(long, value_enum)]
    pub nonlinearity: Option<Nonlinearity>,
    /// Recurrent layers [default: 2].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Hidden size [default: 100].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Embedding size [default: 100].
    #[arg(long)]
    pub embed: Option<usize>,
    /// Bidirectional recurrent layers (the default).
    #[arg(long, overrides_with = "no_bidirectional")]
    pub bidirectional: bool,
    /// One direction only.
    #[arg(long)]
    pub no_bidirectional: bool,
    /// Dropout between recurrent layers while training [default: 0].
    #[arg(long)]
    pub dropout: Option<f32>,
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Epochs. The lecture runs 100, but its test accuracy peaks around epoch 20 and only
    /// plateaus after, so 20 is the default.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Clip the global gradient norm to this (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub clip: f32,
    /// Seed of the initial weights, the shuffling and the dropout masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the data file's order instead of reshuffling every epoch.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Start from this checkpoint; its architecture is used (flags that disagree are errors).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Folder for metrics.csv, accuracy.svg and best.safetensors [default: runs/<date-time>].
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Where to write the best checkpoint [default: RUN_DIR/best.safetensors].
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Where to write the per-epoch metrics CSV [default: RUN_DIR/metrics.csv].
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Where to write the accuracy plot, SVG [default: RUN_DIR/accuracy.svg].
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Make a character outside the alphabet an error instead of dropping it.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub device: BackendArgs,
}

/// The architecture from the flags (lecture defaults), or from `--init` with conflicts
/// reported.
fn architecture(a: &TrainArgs, init: Option<&checkpoint::Checkpoint>) -> Result<ClassifierConfig> {
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
                    "--cell {} (checkpoint: {})",
                    x.torch_name(),
                    c.rnn.cell.torch_name()
                )
            }),
            relu.filter(|&x| x != c.rnn.relu).map(|x| {
                format!(
                    "--nonlinearity {} (checkpoint: {})",
                    if x { "relu" } else { "tanh" },
                    if c.rnn.relu { "relu" } else { "tanh" }
                )
            }),
            a.layers
                .filter(|&x| x != c.rnn.layers)
                .map(|x| format!("--layers {x} (checkpoint: {})", c.rnn.layers)),
            a.hidden
                .filter(|&x| x != c.rnn.hidden)
                .map(|x| format!("--hidden {x} (checkpoint: {})", c.rnn.hidden)),
            a.embed
                .filter(|&x| x != c.embed)
                .map(|x| format!("--embed {x} (checkpoint: {})", c.embed)),
            bidi.filter(|&x| x != c.rnn.bidirectional).map(|x| {
                format!(
                    "--{}bidirectional (checkpoint: {})",
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
                op: "train --init",
                message: format!(
                    "flags conflict with the checkpoint's architecture: {}",
                    conflicts.join(", ")
                ),
            });
        }
        let mut cfg = c.clone();
        cfg.rnn.dropout = a.dropout.unwrap_or(0.0);
        return Ok(cfg);
    }
    let mut cfg = ClassifierConfig::lecture();
    let embed = a.embed.unwrap_or(cfg.embed);
    let mut rnn = RnnConfig::new(
        cell.unwrap_or(CellKind::Gru),
        embed,
        a.hidden.unwrap_or(cfg.rnn.hidden),
    );
    rnn.layers = a.layers.unwrap_or(cfg.rnn.layers);
    rnn.bidirectional = bidi.unwrap_or(true);
    rnn.relu = relu.unwrap_or(false);
    rnn.dropout = a.dropout.unwrap_or(0.0);
    if relu.is_some() && rnn.cell != CellKind::Rnn {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "--nonlinearity applies only to --cell rnn".into(),
        });
    }
    if !(0.0..1.0).contains(&rnn.dropout) {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!("--dropout must be in [0, 1), got {}", rnn.dropout),
        });
    }
    if rnn.layers == 0 || rnn.hidden == 0 || embed == 0 {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "--layers, --hidden and --embed must be at least 1".into(),
        });
    }
    cfg.embed = embed;
    cfg.rnn = rnn;
    Ok(cfg)
}

/// `[Xm Ys]`, as the lecture's `time_since`.
pub fn elapsed(start: Instant) -> String {
    let s = start.elapsed().as_secs();
    format!("[{}m {}s]", s / 60, s % 60)
}

/// Encoded examples.
pub struct Encoded {
    pub tokens: Vec<Vec<u32>>,
    pub targets: Vec<i32>,
}

pub fn encode(examples: &[Example], classes: &[String]) -> Result<Encoded> {
    Ok(Encoded {
        tokens: examples.iter().map(|e| names::tokens(&e.name)).collect(),
        targets: names::class_indices(examples, classes)?,
    })
}

/// Logits (N, C) of every example, in order, in batches of `b_max`.
pub fn predict_all(model: &mut Classifier, tokens: &[Vec<u32>], b_max: usize) -> Result<Vec<f32>> {
    let mut logits = Vec::with_capacity(tokens.len() * model.cfg.classes);
    for chunk in tokens.chunks(b_max) {
        logits.extend(model.logits(&Batch {
            tokens: chunk.to_vec(),
            targets: Vec::new(),
        })?);
    }
    Ok(logits)
}

/// Index of the largest logit of each row (the first on ties, as torch.max).
pub fn argmax_rows(logits: &[f32], c: usize) -> Vec<usize> {
    logits
        .chunks_exact(c)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(0, |best, (i, &x)| if x > r[best] { i } else { best })
        })
        .collect()
}

fn load_data(path: &Path, strict: bool) -> Result<names::Folded> {
    let d = names::read(path, strict)?;
    if let Some(w) = d.warning() {
        println!("{w}");
    }
    Ok(d)
}

pub fn run(a: TrainArgs) -> Result<()> {
    let backend = a.device.open()?;
    let init = a.init.as_deref().map(checkpoint::load).transpose()?;
    let cfg = architecture(&a, init.as_ref())?;
    if a.batch_size == 0 || a.epochs == 0 {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "--batch-size and --epochs must be at least 1".into(),
        });
    }
    let train = load_data(&a.data, a.strict)?;
    let test = load_data(&a.test, a.strict)?;
    let classes = match &init {
        Some(ck) => ck.classes.clone(),
        None => names::classes(&train.examples),
    };
    let mut cfg = cfg;
    cfg.classes = classes.len();
    let tr = encode(&train.examples, &classes)?;
    let te = encode(&test.examples, &classes)?;
    let t_max = tr
        .tokens
        .iter()
        .chain(&te.tokens)
        .map(Vec::len)
        .max()
        .unwrap_or(1);

    let run_dir = a.run_dir.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string())
    });
    let save = a
        .save
        .clone()
        .unwrap_or_else(|| run_dir.join("best.safetensors"));
    let metrics = a
        .metrics
        .clone()
        .unwrap_or_else(|| run_dir.join("metrics.csv"));
    let plot = a
        .plot
        .clone()
        .unwrap_or_else(|| run_dir.join("accuracy.svg"));

    let adam = AdamConfig {
        lr: a.lr,
        ..AdamConfig::default()
    };
    let mut model = Classifier::new(cfg.clone(), &backend, t_max, a.batch_size, adam, a.clip)?;
    match &init {
        Some(ck) => model.set_params(&ck.params)?,
        None => {
            model.init_params(a.seed)?;
        }
    }
    model.set_seed(a.seed as u32);
    println!(
        "model: Embedding({}, {}) -> {}({}, {} layer(s){}{}) -> Linear({}, {}); {} parameters",
        cfg.vocab,
        cfg.embed,
        cfg.rnn.cell.torch_name().to_uppercase(),
        cfg.rnn.hidden,
        cfg.rnn.layers,
        if cfg.rnn.bidirectional {
            ", bidirectional"
        } else {
            ""
        },
        if cfg.rnn.dropout > 0.0 {
            format!(", dropout {}", cfg.rnn.dropout)
        } else {
            String::new()
        },
        cfg.fc_in(),
        cfg.classes,
        model.layout.len
    );
    println!(
        "data: {} training names from {}, {} test names from {}, {} classes; batch {}, Adam lr {}, {} epochs",
        tr.tokens.len(),
        a.data.display(),
        te.tokens.len(),
        a.test.display(),
        classes.len(),
        a.batch_size,
        a.lr,
        a.epochs
    );
    println!("run: {}", run_dir.display());

    let start = Instant::now();
    let mut order: Vec<usize> = (0..tr.tokens.len()).collect();
    let mut csv = String::from("epoch,loss,accuracy,seconds\n");
    let mut history = Vec::new();
    let mut best = -1.0;
    let tty = std::io::stdout().is_terminal();
    for epoch in 1..=a.epochs {
        if !a.no_shuffle {
            let mut rng = rand::rngs::StdRng::seed_from_u64(
                a.seed.wrapping_mul(0x9e37_79b9).wrapping_add(epoch as u64),
            );
            order.shuffle(&mut rng);
        }
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(order.len() as u64),
                indicatif::ProgressDrawTarget::stdout(),
            );
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} names, {elapsed} elapsed, eta {eta}",
                )
                .expect("valid template"),
            );
            b.set_message(format!("epoch {epoch}/{}", a.epochs));
            b
        });
        let t0 = Instant::now();
        let mut total = 0.0f64;
        for chunk in order.chunks(a.batch_size) {
            let batch = Batch {
                tokens: chunk.iter().map(|&i| tr.tokens[i].clone()).collect(),
                targets: chunk.iter().map(|&i| tr.targets[i]).collect(),
            };
            let loss = model.train_step(&batch)?;
            if !loss.is_finite() {
                return Err(Error::InvalidArgument {
                    op: "train",
                    message: format!(
                        "the loss became {loss} in epoch {epoch}; try a smaller --lr or --clip"
                    ),
                });
            }
            total += loss as f64 * chunk.len() as f64;
            if let Some(b) = &bar {
                b.inc(chunk.len() as u64);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let train_secs = t0.elapsed().as_secs_f64();
        let loss = total / order.len() as f64;
        let logits = predict_all(&mut model, &te.tokens, a.batch_size)?;
        let correct = argmax_rows(&logits, cfg.classes)
            .iter()
            .zip(&te.targets)
            .filter(|&(&p, &t)| p as i32 == t)
            .count();
        let acc = 100.0 * correct as f64 / te.targets.len() as f64;
        println!(
            "{} Epoch {epoch}/{}: loss {loss:.4}, test accuracy {correct}/{} ({acc:.2}%), {:.0} names/s",
            elapsed(start),
            a.epochs,
            te.targets.len(),
            order.len() as f64 / train_secs
        );
        csv.push_str(&format!(
            "{epoch},{loss:.6},{acc:.4},{:.3}\n",
            start.elapsed().as_secs_f64()
        ));
        write_atomic(&metrics, csv.as_bytes())?;
        history.push((epoch, acc));
        super::plot::accuracy_svg(
            &plot,
            &format!(
                "{} on {}",
                cfg.rnn.cell.torch_name().to_uppercase(),
                model.describe()
            ),
            &history,
        )?;
        if acc > best {
            best = acc;
            let params = model.params()?;
            checkpoint::save(
                &save,
                &cfg,
                &classes,
                &params,
                &[
                    ("epoch", epoch.to_string()),
                    ("test_accuracy", format!("{acc:.4}")),
                    ("seed", a.seed.to_string()),
                ],
            )?;
        }
    }
    let best_epoch = history
        .iter()
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(0, |b| b.0);
    println!(
        "best test accuracy {best:.2}% at epoch {best_epoch}; checkpoint {}, metrics {}, plot {}",
        save.display(),
        metrics.display(),
        plot.display()
    );
    Ok(())
}
