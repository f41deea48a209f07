//! `gpu-rnn train`: the lecture-13 name classifier (by default on the bundled data), or
//! exercise 13-1's sentiment classifier of Rotten Tomatoes phrases (`--task sentiment`, or a
//! `.tsv` data file), with a metrics CSV, an accuracy plot and the best checkpoint in one run
//! directory.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::BackendArgs;
use crate::output::write_atomic;
use crate::checkpoint;
use crate::cpu::adam::AdamConfig;
use crate::data::names::{self, Example};
use crate::data::sentiment::{self, Vocab};
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

/// `--task`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskArg {
    /// Lecture 13: names (as ASCII codes) to one of 18 countries.
    Names,
    /// Exercise 13-1: Rotten Tomatoes phrases (as words) to 5 sentiment classes, validated on
    /// a held-out 20% of the sentences.
    Sentiment,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// What to learn [default: sentiment for a .tsv data file or a word checkpoint, else
    /// names].
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Training data: names as a `name,label` CSV (gzip or plain) or a folder of `Label.txt`
    /// files; phrases as the Kaggle TSV (PhraseId, SentenceId, Phrase, Sentiment)
    /// [default: data/names_train.csv.gz, or data/sentiment_train.tsv.gz].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Names task: test data, same formats [default: data/names_test.csv.gz].
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Sentiment task: the share of SentenceIds held out for validation (all phrases of a
    /// sentence stay on one side), drawn with --seed.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Sentiment task: words in fewer training sentences than this become <unk>.
    #[arg(long, default_value_t = 2)]
    pub min_count: usize,
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
    /// Dropout between recurrent layers while training [default: 0; sentiment 0.5].
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Dropout on the embedding's output while training (nn.Dropout after the Embedding)
    /// [default: 0; sentiment 0.5].
    #[arg(long)]
    pub embed_dropout: Option<f32>,
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
fn architecture(
    a: &TrainArgs,
    init: Option<&checkpoint::Checkpoint>,
    task: TaskArg,
) -> Result<ClassifierConfig> {
    // The phrases' sub-phrases are learnt by heart within three epochs without dropout.
    let default_dropout = match task {
        TaskArg::Names => 0.0,
        TaskArg::Sentiment => 0.5,
    };
    let dropout = a.dropout.unwrap_or(default_dropout);
    let embed_dropout = a.embed_dropout.unwrap_or(default_dropout);
    for (flag, p) in [("--dropout", dropout), ("--embed-dropout", embed_dropout)] {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::InvalidArgument {
                op: "train",
                message: format!("{flag} must be in [0, 1), got {p}"),
            });
        }
    }
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
        cfg.rnn.dropout = dropout;
        cfg.embed_dropout = embed_dropout;
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
    rnn.dropout = dropout;
    if relu.is_some() && rnn.cell != CellKind::Rnn {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "--nonlinearity applies only to --cell rnn".into(),
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
    cfg.embed_dropout = embed_dropout;
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

/// One task's data, ready to train on.
struct Prepared {
    task: TaskArg,
    train: Encoded,
    eval: Encoded,
    classes: Vec<String>,
    vocab: usize,
    /// Checkpoint metadata of the task (the vocabulary of a word model).
    metadata: Vec<(&'static str, String)>,
    /// What the data line prints.
    describe: String,
    /// "names" or "phrases"; "test" or "validation".
    unit: &'static str,
    eval_name: &'static str,
}

fn prepare_names(a: &TrainArgs, init: Option<&checkpoint::Checkpoint>) -> Result<Prepared> {
    let data = a
        .data
        .clone()
        .unwrap_or_else(|| "data/names_train.csv.gz".into());
    let test_path = a
        .test
        .clone()
        .unwrap_or_else(|| "data/names_test.csv.gz".into());
    let train = load_data(&data, a.strict)?;
    let test = load_data(&test_path, a.strict)?;
    let classes = match init {
        Some(ck) => ck.classes.clone(),
        None => names::classes(&train.examples),
    };
    let train = encode(&train.examples, &classes)?;
    let eval = encode(&test.examples, &classes)?;
    Ok(Prepared {
        task: TaskArg::Names,
        describe: format!(
            "{} training names from {}, {} test names from {}",
            train.tokens.len(),
            data.display(),
            eval.tokens.len(),
            test_path.display()
        ),
        train,
        eval,
        classes,
        // ASCII codes; a checkpoint (made by PyTorch, say) may have a larger embedding.
        vocab: init.map_or(128, |ck| ck.cfg.vocab),
        metadata: vec![("task", "names".into())],
        unit: "names",
        eval_name: "test",
    })
}

fn prepare_sentiment(a: &TrainArgs, init: Option<&checkpoint::Checkpoint>) -> Result<Prepared> {
    if a.test.is_some() {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "the sentiment task validates on a held-out part of --data (--val-fraction); \
                      score the unlabelled test file with `gpu-rnn eval`"
                .into(),
        });
    }
    if !(a.val_fraction > 0.0 && a.val_fraction < 1.0) {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!("--val-fraction must be in (0, 1), got {}", a.val_fraction),
        });
    }
    let data = a
        .data
        .clone()
        .unwrap_or_else(|| "data/sentiment_train.tsv.gz".into());
    let rows = sentiment::read(&data)?;
    if rows[0].label.is_none() {
        return Err(crate::data::data_error(
            &data,
            1,
            "no Sentiment column: training needs the labelled file (the test file is for \
             `gpu-rnn eval`)",
        ));
    }
    let (tr, va) = sentiment::split_by_sentence(&rows, a.val_fraction, a.seed);
    if tr.is_empty() || va.is_empty() {
        return Err(crate::data::data_error(
            &data,
            0,
            "too few sentences to hold out a validation part",
        ));
    }
    let vocab = match init {
        Some(ck) => ck.vocab.clone().ok_or_else(|| Error::InvalidArgument {
            op: "train --init",
            message: "the checkpoint has no vocabulary: it is a names model".into(),
        })?,
        None => {
            // Each sentence once (its longest phrase, the sentence itself): counted over every
            // phrase, a word would also be counted in each sub-phrase that repeats it, and
            // nearly every word would pass the minimum.
            let mut longest: std::collections::BTreeMap<u32, &str> = Default::default();
            for &i in &tr {
                let e = longest.entry(rows[i].sentence).or_default();
                if rows[i].text.len() > e.len() {
                    *e = &rows[i].text;
                }
            }
            Vocab::build(longest.into_values(), a.min_count)
        }
    };
    let encode_rows = |idx: &[usize]| Encoded {
        tokens: idx.iter().map(|&i| vocab.encode(&rows[i].text)).collect(),
        targets: idx
            .iter()
            .map(|&i| i32::from(rows[i].label.expect("a labelled file")))
            .collect(),
    };
    let (train, eval) = (encode_rows(&tr), encode_rows(&va));
    let sentences = |idx: &[usize]| {
        idx.iter()
            .map(|&i| rows[i].sentence)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    Ok(Prepared {
        task: TaskArg::Sentiment,
        describe: format!(
            "{} training phrases ({} sentences) and {} validation phrases ({} sentences, {:.0}% held out with seed {}) from {}; {} words in at least {} training sentences",
            train.tokens.len(),
            sentences(&tr),
            eval.tokens.len(),
            sentences(&va),
            100.0 * a.val_fraction,
            a.seed,
            data.display(),
            vocab.len() - 2,
            a.min_count
        ),
        train,
        eval,
        classes: sentiment::CLASSES.iter().map(|c| c.to_string()).collect(),
        vocab: vocab.len(),
        metadata: vec![
            ("task", "sentiment".into()),
            (
                "vocab",
                serde_json::to_string(&vocab.words).expect("a list of strings is JSON"),
            ),
        ],
        unit: "phrases",
        eval_name: "validation",
    })
}

/// One epoch's batches of indices into `lens`. Names: `order` cut in order. With `bucket`
/// (phrases, 1 to 52 words): windows of 50 batches sorted by length, cut, then the batches
/// shuffled, so that each batch holds sequences of similar length and pads little.
fn epoch_batches(
    order: &[usize],
    lens: &[usize],
    size: usize,
    bucket: bool,
    rng: &mut rand::rngs::StdRng,
) -> Vec<Vec<usize>> {
    if !bucket {
        return order.chunks(size).map(<[usize]>::to_vec).collect();
    }
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks(size * 50) {
        let mut w = window.to_vec();
        w.sort_by_key(|&i| lens[i]);
        batches.extend(w.chunks(size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

pub fn encode(examples: &[Example], classes: &[String]) -> Result<Encoded> {
    Ok(Encoded {
        tokens: examples.iter().map(|e| names::tokens(&e.name)).collect(),
        targets: names::class_indices(examples, classes)?,
    })
}

/// Logits (N, C) of every example, in order, in batches of `b_max` (of similar lengths: each
/// row's logits do not depend on its batch).
pub fn predict_all(model: &mut Classifier, tokens: &[Vec<u32>], b_max: usize) -> Result<Vec<f32>> {
    let c = model.cfg.classes;
    let mut by_len: Vec<usize> = (0..tokens.len()).collect();
    by_len.sort_by_key(|&i| tokens[i].len());
    let mut logits = vec![0f32; tokens.len() * c];
    for chunk in by_len.chunks(b_max) {
        let rows = model.logits(&Batch {
            tokens: chunk.iter().map(|&i| tokens[i].clone()).collect(),
            targets: Vec::new(),
        })?;
        for (&i, row) in chunk.iter().zip(rows.chunks_exact(c)) {
            logits[i * c..(i + 1) * c].copy_from_slice(row);
        }
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
    if a.batch_size == 0 || a.epochs == 0 {
        return Err(Error::InvalidArgument {
            op: "train",
            message: "--batch-size and --epochs must be at least 1".into(),
        });
    }
    let task = match (a.task, &init) {
        (Some(t), _) => t,
        (None, Some(ck)) if ck.vocab.is_some() => TaskArg::Sentiment,
        (None, _) if a.data.as_deref().is_some_and(sentiment::is_tsv) => TaskArg::Sentiment,
        _ => TaskArg::Names,
    };
    let p = match task {
        TaskArg::Names => {
            if init.as_ref().is_some_and(|ck| ck.vocab.is_some()) {
                return Err(Error::InvalidArgument {
                    op: "train --init",
                    message: "the checkpoint is a word model: use --task sentiment".into(),
                });
            }
            prepare_names(&a, init.as_ref())?
        }
        TaskArg::Sentiment => prepare_sentiment(&a, init.as_ref())?,
    };
    let (tr, te, classes) = (&p.train, &p.eval, &p.classes);
    let mut cfg = architecture(&a, init.as_ref(), task)?;
    cfg.classes = classes.len();
    cfg.vocab = p.vocab;
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
        match (cfg.embed_dropout > 0.0, cfg.rnn.dropout > 0.0) {
            (false, false) => String::new(),
            (e, r) => format!(
                "{}{}",
                if e {
                    format!(", embedding dropout {}", cfg.embed_dropout)
                } else {
                    String::new()
                },
                if r {
                    format!(", dropout {}", cfg.rnn.dropout)
                } else {
                    String::new()
                }
            ),
        },
        cfg.fc_in(),
        cfg.classes,
        model.layout.len
    );
    println!(
        "data: {}, {} classes; batch {}, Adam lr {}, {} epochs",
        p.describe,
        classes.len(),
        a.batch_size,
        a.lr,
        a.epochs
    );
    println!("run: {}", run_dir.display());

    let start = Instant::now();
    let mut order: Vec<usize> = (0..tr.tokens.len()).collect();
    let lens: Vec<usize> = tr.tokens.iter().map(Vec::len).collect();
    let bucket = p.task == TaskArg::Sentiment;
    let mut csv = String::from("epoch,loss,accuracy,seconds\n");
    let mut history = Vec::new();
    let mut best = -1.0;
    let tty = std::io::stdout().is_terminal();
    for epoch in 1..=a.epochs {
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            a.seed.wrapping_mul(0x9e37_79b9).wrapping_add(epoch as u64),
        );
        if !a.no_shuffle {
            order.shuffle(&mut rng);
        }
        let batches = epoch_batches(
            &order,
            &lens,
            a.batch_size,
            bucket && !a.no_shuffle,
            &mut rng,
        );
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(order.len() as u64),
                indicatif::ProgressDrawTarget::stdout(),
            );
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} {prefix}, {elapsed} elapsed, eta {eta}",
                )
                .expect("valid template"),
            );
            b.set_message(format!("epoch {epoch}/{}", a.epochs));
            b.set_prefix(p.unit);
            b
        });
        let t0 = Instant::now();
        let mut total = 0.0f64;
        for chunk in &batches {
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
        let eval_name = p.eval_name;
        let correct = argmax_rows(&logits, cfg.classes)
            .iter()
            .zip(&te.targets)
            .filter(|&(&p, &t)| p as i32 == t)
            .count();
        let acc = 100.0 * correct as f64 / te.targets.len() as f64;
        println!(
            "{} Epoch {epoch}/{}: loss {loss:.4}, {eval_name} accuracy {correct}/{} ({acc:.2}%), {:.0} {}/s",
            elapsed(start),
            a.epochs,
            te.targets.len(),
            order.len() as f64 / train_secs,
            p.unit
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
            let mut meta = vec![
                ("epoch", epoch.to_string()),
                (
                    if p.task == TaskArg::Names {
                        "test_accuracy"
                    } else {
                        "validation_accuracy"
                    },
                    format!("{acc:.4}"),
                ),
                ("seed", a.seed.to_string()),
            ];
            meta.extend(p.metadata.iter().cloned());
            checkpoint::save(&save, &cfg, classes, &params, &meta)?;
        }
    }
    let best_epoch = history
        .iter()
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(0, |b| b.0);
    println!(
        "best {} accuracy {best:.2}% at epoch {best_epoch}; checkpoint {}, metrics {}, plot {}",
        p.eval_name,
        save.display(),
        metrics.display(),
        plot.display()
    );
    Ok(())
}
