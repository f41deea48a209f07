//! `gpu-rnn train`: the lecture-13 name classifier (by default on the bundled data), or
//! exercise 13-1's sentiment classifier of Rotten Tomatoes phrases (`--task sentiment`, or a
//! `.tsv` data file), with a metrics CSV, an accuracy plot, the best and the last checkpoint
//! and the resume state in one run directory.
//!
//! Nothing is trained before everything is checked: the flags' ranges, the checkpoint, every
//! output path (writable, not an input, not another output) and the run directory's lock.

mod architecture;
mod charlm;
mod optim_args;
mod prepare;
mod ranges;
mod settings;
mod start;
mod state;

pub use prepare::{argmax_rows, check_len, encode, encode_phrases, predict_all};
pub use settings::{DEFAULT_MAX_LEN, Outputs, Settings, TaskArg, TrainArgs};
pub use state::{LAST_FILE, RunState, STATE_FILE, fingerprint};

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use architecture::architecture;
use gpu_rnn::checkpoint;
use gpu_rnn::data::sentiment;
use gpu_rnn::model::classifier::{Batch, Classifier, ClassifierConfig};
use gpu_rnn::model::schedule::LrSchedule;
use gpu_rnn::nn::OptimState;
use gpu_rnn::output::check::{Named, check_outputs};
use gpu_rnn::output::lock::RunLock;
use gpu_rnn::{Error, Result};
use prepare::Prepared;
use start::{Start, claim_outputs, fresh, resume};

/// `[Xm Ys]`, as the lecture's `time_since`.
pub fn elapsed(secs: f64) -> String {
    let s = secs as u64;
    format!("[{}m {}s]", s / 60, s % 60)
}

fn describe_model(cfg: &ClassifierConfig, params: usize) -> String {
    let mut extras = String::new();
    if cfg.rnn.bidirectional {
        extras.push_str(", bidirectional");
    }
    if cfg.embed_dropout > 0.0 {
        extras.push_str(&format!(", embedding dropout {}", cfg.embed_dropout));
    }
    if cfg.rnn.dropout > 0.0 {
        extras.push_str(&format!(", dropout {}", cfg.rnn.dropout));
    }
    format!(
        "model: Embedding({}, {}) -> {}({}, {} layer(s){extras}) -> Linear({}, {}); {params} parameters",
        cfg.vocab,
        cfg.embed,
        cfg.rnn.cell.torch_name().to_uppercase(),
        cfg.rnn.hidden,
        cfg.rnn.layers,
        cfg.fc_in(),
        cfg.classes,
    )
}

/// Sequences per batch: `--batch-size`, at most the training set, so that buffers are sized
/// by the data.
fn batch(s: &Settings, p: &Prepared) -> usize {
    s.batch_size.min(p.train.tokens.len()).max(1)
}

/// The model on the backend, with its weights (and for a resumed run, Adam's state).
fn build_model(a: &TrainArgs, start: &Start, p: &Prepared) -> Result<Classifier> {
    let s = &start.settings;
    let source = if start.resumed.is_some() {
        "run"
    } else {
        "checkpoint"
    };
    let mut cfg = architecture(a, s, start.init.as_ref(), source)?;
    cfg.classes = p.classes.len();
    cfg.vocab = p.vocab;
    let t_max = p
        .train
        .tokens
        .iter()
        .chain(&p.eval.tokens)
        .map(Vec::len)
        .max()
        .unwrap_or(1);
    let b_max = batch(s, p);
    let backend = a.device.open()?;
    let method = s.optim.method(s.lr);
    let mut model = Classifier::new(cfg, &backend, t_max, b_max, method, s.clip)?;
    match (&start.init, &start.resumed) {
        (Some(ck), resumed) => {
            model.set_params(&ck.params)?;
            if let Some(r) = resumed {
                model.set_optimizer_state(&r.optim_state())?;
            }
        }
        (None, _) => {
            model.init_params(s.seed)?;
        }
    }
    model.set_seed(s.seed as u32);
    Ok(model)
}

/// The running state of the epoch loop.
struct Progress {
    epoch: usize,
    order: Vec<usize>,
    history: Vec<(usize, f64)>,
    best: f64,
    csv: String,
    elapsed0: f64,
    data: u64,
}

impl Progress {
    fn new(p: &Prepared, resumed: Option<&RunState>) -> Result<Self> {
        let n = p.train.tokens.len();
        let data = fingerprint([
            (&p.train.tokens[..], &p.train.targets[..]),
            (&p.eval.tokens[..], &p.eval.targets[..]),
        ]);
        let Some(r) = resumed else {
            return Ok(Self {
                epoch: 0,
                order: (0..n).collect(),
                history: Vec::new(),
                best: -1.0,
                csv: String::from("epoch,loss,accuracy,seconds\n"),
                elapsed0: 0.0,
                data,
            });
        };
        if r.data != data || r.order.len() != n || r.order.iter().any(|&i| i as usize >= n) {
            return Err(Error::InvalidArgument {
                op: "--resume",
                message: format!(
                    "the data changed since the run began ({} training examples then, {n} now, \
                     or the same count with other contents)",
                    r.order.len()
                ),
            });
        }
        Ok(Self {
            epoch: r.epoch,
            order: r.order.iter().map(|&i| i as usize).collect(),
            history: r.history.clone(),
            best: r.best,
            csv: r.metrics.clone(),
            elapsed0: r.elapsed,
            data,
        })
    }
}

fn progress_bar(n: usize, epoch: usize, epochs: usize, unit: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::with_draw_target(
        Some(n as u64),
        indicatif::ProgressDrawTarget::stdout(),
    );
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} {prefix}, {elapsed} elapsed, eta {eta}",
        )
        .expect("valid template"),
    );
    b.set_message(format!("epoch {epoch}/{epochs}"));
    b.set_prefix(unit.to_string());
    b
}

/// One epoch of training; returns the mean loss per example.
fn train_epoch(
    model: &mut Classifier,
    s: &Settings,
    p: &Prepared,
    pr: &mut Progress,
) -> Result<f64> {
    let epoch = pr.epoch;
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        s.seed.wrapping_mul(0x9e37_79b9).wrapping_add(epoch as u64),
    );
    if !s.no_shuffle {
        pr.order.shuffle(&mut rng);
    }
    let tr = &p.train;
    let lens: Vec<usize> = tr.tokens.iter().map(Vec::len).collect();
    let bucket = s.task == TaskArg::Sentiment && !s.no_shuffle;
    let b = batch(s, p);
    model.set_lr(s.schedule().lr(s.lr, epoch - 1))?;
    let batches = prepare::epoch_batches(&pr.order, &lens, b, bucket, &mut rng);
    let bar = std::io::stdout()
        .is_terminal()
        .then(|| progress_bar(pr.order.len(), epoch, s.epochs, p.unit));
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
    Ok(total / pr.order.len() as f64)
}

/// This epoch's outputs, written as one unit: metrics, plot, the best checkpoint when it
/// improved, the last checkpoint and the resume state.
fn write_epoch(
    model: &mut Classifier,
    start: &Start,
    p: &Prepared,
    pr: &Progress,
    improved: bool,
    elapsed: f64,
) -> Result<()> {
    let s = &start.settings;
    let title = format!(
        "{} on {}",
        model.cfg.rnn.cell.torch_name().to_uppercase(),
        model.describe()
    );
    let o = &start.out;
    let format = crate::cli::plot::check_extension(&o.plot, "--plot")?;
    let y_label = format!("{} accuracy", p.eval_name);
    let plot = crate::cli::plot::accuracy_plot(format, &title, &y_label, &pr.history)?;
    let params = model.params()?;
    let acc = pr.history.last().map_or(0.0, |h| h.1);
    let mut meta = vec![
        ("epoch", pr.epoch.to_string()),
        (
            if s.task == TaskArg::Names {
                "test_accuracy"
            } else {
                "validation_accuracy"
            },
            format!("{acc:.4}"),
        ),
        ("seed", s.seed.to_string()),
    ];
    meta.extend(p.metadata.iter().cloned());
    let (cfg, classes) = (&model.cfg, &p.classes);
    let last_path = start.run_dir.join(LAST_FILE);
    let last = checkpoint::to_bytes(&last_path, cfg, classes, &params, &meta)?;
    let best = improved
        .then(|| checkpoint::to_bytes(&o.save, cfg, classes, &params, &meta))
        .transpose()?;
    let OptimState { m, v, step } = model.optimizer_state()?;
    let state = RunState {
        settings: s.clone(),
        epoch: pr.epoch,
        step,
        m,
        v,
        order: pr.order.iter().map(|&i| i as u32).collect(),
        history: pr.history.clone(),
        best: pr.best,
        metrics: pr.csv.clone(),
        elapsed,
        data: pr.data,
    }
    .to_bytes();
    let state_path = start.run_dir.join(STATE_FILE);
    let mut files: Vec<(&Path, &[u8])> = vec![
        (&o.metrics, pr.csv.as_bytes()),
        (&o.plot, &plot),
        (&last_path, &last),
        (&state_path, &state),
    ];
    if let Some(b) = &best {
        files.insert(2, (&o.save, b));
    }
    gpu_rnn::output::write_group(&files)
}

pub fn run(a: TrainArgs) -> Result<()> {
    a.check_ranges()?;
    let mut start = match &a.resume {
        Some(dir) => resume(&a, dir)?,
        None => fresh(&a)?,
    };
    let held = start.lock.take();
    if start.settings.task == TaskArg::Charlm {
        return charlm::run(&a, start, held);
    }
    let s = &start.settings;
    let p = prepare::prepare(s, start.init.as_ref())?;
    let _lock = claim_outputs(&start, held)?;
    let mut model = build_model(&a, &start, &p)?;
    print_header(&model, &start, &p);
    let mut pr = Progress::new(&p, start.resumed.as_ref())?;
    if pr.epoch > 0 {
        println!("resuming after epoch {} of {}", pr.epoch, s.epochs);
    }
    let clock = Instant::now();
    while pr.epoch < s.epochs {
        pr.epoch += 1;
        let t0 = Instant::now();
        let loss = train_epoch(&mut model, s, &p, &mut pr)?;
        let train_secs = t0.elapsed().as_secs_f64();
        let (correct, acc) = evaluate(&mut model, s, &p)?;
        let secs = pr.elapsed0 + clock.elapsed().as_secs_f64();
        let lr = match s.schedule() {
            LrSchedule::Constant => String::new(),
            sched => format!(", lr {:.4e}", sched.lr(s.lr, pr.epoch - 1)),
        };
        println!(
            "{} Epoch {}/{}: loss {loss:.4}{lr}, {} accuracy {correct}/{} ({acc:.2}%), {:.0} {}/s",
            elapsed(secs),
            pr.epoch,
            s.epochs,
            p.eval_name,
            p.eval.targets.len(),
            pr.order.len() as f64 / train_secs,
            p.unit
        );
        pr.csv
            .push_str(&format!("{},{loss:.6},{acc:.4},{secs:.3}\n", pr.epoch));
        pr.history.push((pr.epoch, acc));
        let improved = acc > pr.best;
        if improved {
            pr.best = acc;
        }
        write_epoch(&mut model, &start, &p, &pr, improved, secs)?;
    }
    let best_epoch = pr
        .history
        .iter()
        .max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.cmp(&x.0)))
        .map_or(0, |b| b.0);
    println!(
        "best {} accuracy {:.2}% at epoch {best_epoch}; checkpoint {}, metrics {}, plot {}",
        p.eval_name,
        pr.best,
        start.out.save.display(),
        start.out.metrics.display(),
        start.out.plot.display()
    );
    Ok(())
}

/// The model, the data, the optimizer and the run directory, before the first epoch.
fn print_header(model: &Classifier, start: &Start, p: &Prepared) {
    let s = &start.settings;
    println!("{}", describe_model(&model.cfg, model.layout().len));
    println!(
        "data: {}, {} classes; batch {}, {}{}, {} epochs",
        p.describe,
        p.classes.len(),
        batch(s, p),
        s.optim.describe(s.lr),
        match s.schedule() {
            LrSchedule::Constant => String::new(),
            LrSchedule::Cosine { t_max, eta_min } => {
                format!(" (cosine to {eta_min} over {t_max} epochs)")
            }
            LrSchedule::Step { step_size, gamma } => {
                format!(" (×{gamma} every {step_size} epochs)")
            }
        },
        s.epochs
    );
    println!("run: {}", start.run_dir.display());
}

/// The evaluation set's correct predictions and accuracy in percent.
fn evaluate(model: &mut Classifier, s: &Settings, p: &Prepared) -> Result<(usize, f64)> {
    let logits = predict_all(model, &p.eval.tokens, batch(s, p))?;
    let te = &p.eval;
    let correct = argmax_rows(&logits, model.cfg.classes)
        .iter()
        .zip(&te.targets)
        .filter(|&(&p, &t)| p as i32 == t)
        .count();
    Ok((correct, 100.0 * correct as f64 / te.targets.len() as f64))
}
