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
mod state;

pub use prepare::{argmax_rows, check_len, encode, encode_phrases, predict_all};
pub use settings::{DEFAULT_MAX_LEN, Outputs, Settings, TaskArg, TrainArgs};
pub use state::{LAST_FILE, RunState, STATE_FILE, fingerprint};

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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

/// `[Xm Ys]`, as the lecture's `time_since`.
pub fn elapsed(secs: f64) -> String {
    let s = secs as u64;
    format!("[{}m {}s]", s / 60, s % 60)
}

/// What a run starts from: its settings, its folder, the checkpoint it takes its
/// architecture (and weights) from, and for `--resume` the progress so far.
struct Start {
    settings: Settings,
    run_dir: PathBuf,
    out: Outputs,
    init: Option<checkpoint::Checkpoint>,
    resumed: Option<RunState>,
    /// A resumed run holds its folder from before it reads the state.
    lock: Option<RunLock>,
}

/// A `.txt` data file: a language model's text.
fn is_text(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}

/// The task a fresh run learns: `--task`, else the checkpoint's, else a `.tsv` or `.txt`
/// file's.
fn task_of(a: &TrainArgs, init: Option<&checkpoint::Checkpoint>) -> Result<TaskArg> {
    let task = match (a.task, init) {
        (Some(t), _) => t,
        (None, Some(ck)) => task_of_checkpoint(ck),
        (None, _) if a.data.as_deref().is_some_and(sentiment::is_tsv) => TaskArg::Sentiment,
        (None, _) if a.data.as_deref().is_some_and(is_text) => TaskArg::Charlm,
        _ => TaskArg::Names,
    };
    check_task(task, init)?;
    a.check_task_flags(task)?;
    Ok(task)
}

fn task_of_checkpoint(ck: &checkpoint::Checkpoint) -> TaskArg {
    match (&ck.chars, &ck.vocab) {
        (Some(_), _) => TaskArg::Charlm,
        (None, Some(_)) => TaskArg::Sentiment,
        (None, None) => TaskArg::Names,
    }
}

/// The task and the checkpoint's kind of model agree.
fn check_task(task: TaskArg, init: Option<&checkpoint::Checkpoint>) -> Result<()> {
    let Some(ck) = init else { return Ok(()) };
    let (what, flag) = match task_of_checkpoint(ck) {
        TaskArg::Names => ("a names model (it has no vocabulary)", "names"),
        TaskArg::Sentiment => ("a word model (sentiment)", "sentiment"),
        TaskArg::Charlm => ("a character language model", "charlm"),
    };
    if task_of_checkpoint(ck) == task {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        op: "--init",
        message: format!("the checkpoint is {what}; use --task {flag}"),
    })
}

/// `runs/<date-time>`, with `-2`, `-3`, … for runs started in the same second.
fn default_run_dir() -> PathBuf {
    let base = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    (1..)
        .map(|k| match k {
            1 => PathBuf::from("runs").join(&base),
            k => PathBuf::from("runs").join(format!("{base}-{k}")),
        })
        .find(|p| !p.exists())
        .expect("some name is free")
}

fn fresh(a: &TrainArgs) -> Result<Start> {
    let init = a.init.as_deref().map(checkpoint::load).transpose()?;
    let task = task_of(a, init.as_ref())?;
    let run_dir = a.run_dir.clone().unwrap_or_else(default_run_dir);
    let settings = Settings::resolve(a, task);
    settings.check()?;
    Ok(Start {
        out: settings.outputs(&run_dir),
        settings,
        run_dir,
        init,
        resumed: None,
        lock: None,
    })
}

fn resume(a: &TrainArgs, dir: &Path) -> Result<Start> {
    let lock = RunLock::acquire(dir, "--resume")?;
    let state = RunState::load(dir)?;
    state.settings.check().map_err(|e| Error::Checkpoint {
        path: dir.join(STATE_FILE),
        message: format!("its settings are damaged: {e}"),
    })?;
    let conflicts = state.settings.conflicts(a);
    if !conflicts.is_empty() {
        return Err(Error::InvalidArgument {
            op: "--resume",
            message: format!(
                "flags conflict with the run's settings: {}",
                conflicts.join(", ")
            ),
        });
    }
    let mut settings = state.settings.clone();
    settings.epochs = a.epochs.unwrap_or(settings.epochs);
    if settings.epochs <= state.epoch {
        return Err(Error::InvalidArgument {
            op: "--resume",
            message: format!(
                "the run in {} has trained {} epoch(s) of {}; pass --epochs with a larger total",
                dir.display(),
                state.epoch,
                settings.epochs
            ),
        });
    }
    let last = dir.join(LAST_FILE);
    let init = checkpoint::load(&last)?;
    check_task(settings.task, Some(&init))?;
    if init.metadata.get("epoch") != Some(&state.epoch.to_string()) {
        return Err(Error::Checkpoint {
            path: last,
            message: format!(
                "is from epoch {}, but {STATE_FILE} is after epoch {}: the two files do not \
                 belong together",
                init.metadata.get("epoch").map_or("?", String::as_str),
                state.epoch
            ),
        });
    }
    Ok(Start {
        out: settings.outputs(dir),
        settings,
        run_dir: dir.to_path_buf(),
        init: Some(init),
        resumed: Some(state),
        lock: Some(lock),
    })
}

/// Every output checked against the others and the inputs, then the run directory taken.
fn claim_outputs(start: &Start, held: Option<RunLock>) -> Result<RunLock> {
    let (s, o, run_dir) = (&start.settings, &start.out, &start.run_dir);
    let (last, state) = (run_dir.join(LAST_FILE), run_dir.join(STATE_FILE));
    let outputs = [
        Named {
            flag: "--save",
            path: &o.save,
        },
        Named {
            flag: "--metrics",
            path: &o.metrics,
        },
        Named {
            flag: "--plot",
            path: &o.plot,
        },
        Named {
            flag: "--run-dir",
            path: &last,
        },
        Named {
            flag: "--run-dir",
            path: &state,
        },
    ];
    let mut inputs = vec![Named {
        flag: "--data",
        path: &s.data,
    }];
    if let Some(t) = &s.test {
        inputs.push(Named {
            flag: "--test",
            path: t,
        });
    }
    if let Some(i) = &s.init {
        inputs.push(Named {
            flag: "--init",
            path: i,
        });
    }
    let lock = match held {
        Some(l) => l,
        None => {
            let l = RunLock::acquire(run_dir, "--run-dir")?;
            if state.exists() {
                return Err(Error::Output {
                    path: run_dir.clone(),
                    message: format!(
                        "--run-dir already holds a run ({STATE_FILE}); continue it with \
                         --resume {}, or pick another --run-dir",
                        run_dir.display()
                    ),
                });
            }
            l
        }
    };
    inputs.push(Named {
        flag: "--run-dir (its lock file)",
        path: lock.path(),
    });
    check_outputs(&outputs, &inputs)?;
    Ok(lock)
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
    println!("{}", describe_model(&model.cfg, model.layout.len));
    println!(
        "data: {}, {} classes; batch {}, {}{}, {} epochs",
        p.describe,
        p.classes.len(),
        batch(s, &p),
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
        let logits = predict_all(&mut model, &p.eval.tokens, batch(s, &p))?;
        let te = &p.eval;
        let correct = argmax_rows(&logits, model.cfg.classes)
            .iter()
            .zip(&te.targets)
            .filter(|&(&p, &t)| p as i32 == t)
            .count();
        let acc = 100.0 * correct as f64 / te.targets.len() as f64;
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
            te.targets.len(),
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
