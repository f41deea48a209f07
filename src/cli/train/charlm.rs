//! `gpu-rnn train --task charlm`: a character language model of a UTF-8 text, trained as
//! karpathy/char-rnn trains it. B streams read the training text side by side, S steps a
//! batch, the state carried from batch to batch (truncated BPTT) and reset every epoch; the
//! validation loss, over the text's last `--val-fraction`, every `--eval-every` steps and at
//! the end of each epoch; `best.safetensors` at the lowest validation loss so far.
//!
//! The run directory is a classifier run's: `metrics.csv` (one row per evaluation), the loss
//! plot, the best and the last checkpoint, and the resume state after each epoch.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use super::settings::{Settings, TrainArgs};
use super::state::{LAST_FILE, RunState, STATE_FILE, fingerprint};
use super::{Start, architecture, claim_outputs, describe_model, elapsed, progress_bar};
use gpu_rnn::checkpoint::{self, CHARLM};
use gpu_rnn::data::data_error;
use gpu_rnn::data::text::{CharVocab, Streams, read_text, split};
use gpu_rnn::model::char_lm::CharLm;
use gpu_rnn::output::lock::RunLock;
use gpu_rnn::{Error, Result};

/// `ln 2`: nats per bit.
const LN_2: f64 = std::f64::consts::LN_2;

const HEADER: &str = "step,epoch,train_loss,val_loss,val_bpc,chars_per_s,seconds\n";

/// The text, encoded and laid out in streams.
struct Text {
    vocab: CharVocab,
    train: Vec<u32>,
    val: Vec<u32>,
    streams: Streams,
    /// (B, S) of the validation batches.
    val_shape: (usize, usize),
    data: u64,
}

/// Read and encode `--data`: with the checkpoint's vocabulary when there is one, else the
/// sorted characters of the file.
fn prepare(s: &Settings, init: Option<&checkpoint::Checkpoint>) -> Result<Text> {
    let path = &s.data;
    let text = read_text(path)?;
    let vocab = match init.and_then(|ck| ck.chars.clone()) {
        Some(v) => v,
        None => CharVocab::build(&text),
    };
    let ids = vocab.encode(&text, &path.display().to_string())?;
    let (train, val) = split(&ids, s.val_fraction);
    let streams = Streams::new(path, train.len(), s.batch_size, s.seq_len)?;
    if val.len() < 2 {
        return Err(data_error(
            path,
            0,
            format!(
                "the validation part (the last {} of {} characters) has {}; it needs at least \
                 2: use a larger --val-fraction or more text",
                s.val_fraction,
                ids.len(),
                val.len()
            ),
        ));
    }
    // Validation streams: as many of B as hold S steps, else one stream of what there is.
    let vb = (val.len() - 1) / s.seq_len;
    let val_shape = if vb == 0 {
        (1, val.len() - 1)
    } else {
        (vb.min(s.batch_size), s.seq_len)
    };
    let data = fingerprint([(std::slice::from_ref(&ids), &[][..])]);
    Ok(Text {
        vocab,
        train: train.to_vec(),
        val: val.to_vec(),
        streams,
        val_shape,
        data,
    })
}

/// The model on the backend, with its weights (and for a resumed run, Adam's state).
fn build(a: &TrainArgs, start: &Start, text: &Text) -> Result<CharLm> {
    let s = &start.settings;
    let source = if start.resumed.is_some() {
        "run"
    } else {
        "checkpoint"
    };
    let mut cfg = architecture(a, s, start.init.as_ref(), source)?;
    cfg.vocab = text.vocab.len();
    cfg.classes = cfg.vocab;
    let backend = a.device.open()?;
    let method = s.optim.method(s.lr);
    let mut model = CharLm::new(cfg, &backend, s.seq_len, s.batch_size, method, s.clip)?;
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

/// The mean loss per character over the validation streams, from a zero state; the training
/// state is kept aside and restored.
fn validate(model: &mut CharLm, text: &Text) -> Result<f64> {
    let kept = model.state()?;
    model.reset_state();
    let (b, s) = text.val_shape;
    let streams = Streams {
        b,
        s,
        len: (text.val.len() - 1) / b,
    };
    let mut total = 0.0;
    for k in 0..streams.batches() {
        let (x, y) = streams.batch(&text.val, k);
        total += model.loss(&x, &y, b, s)? as f64;
    }
    model.set_state(kept.as_ref())?;
    Ok(total / streams.batches() as f64)
}

/// (step, loss) points of a plot's series.
type Points = Vec<(usize, f64)>;

/// The run's progress: what the resume state holds.
struct Progress {
    epoch: usize,
    step: u64,
    best: f64,
    csv: String,
    elapsed0: f64,
    /// Loss sum and batches since the last report; characters and training seconds too.
    window: (f64, usize, usize, f64),
}

impl Progress {
    fn new(text: &Text, resumed: Option<&RunState>) -> Result<Self> {
        let Some(r) = resumed else {
            return Ok(Self {
                epoch: 0,
                step: 0,
                best: f64::INFINITY,
                csv: HEADER.to_string(),
                elapsed0: 0.0,
                window: (0.0, 0, 0, 0.0),
            });
        };
        if r.data != text.data {
            return Err(Error::InvalidArgument {
                op: "--resume",
                message: "the text changed since the run began".into(),
            });
        }
        Ok(Self {
            epoch: r.epoch,
            step: r.step,
            best: r.best,
            csv: r.metrics.clone(),
            elapsed0: r.elapsed,
            window: (0.0, 0, 0, 0.0),
        })
    }

    /// (step, train loss) and (step, validation loss) of every row of the metrics.
    fn points(&self) -> (Points, Points) {
        let rows = self.csv.lines().skip(1).filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((
                f.first()?.parse().ok()?,
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
            ))
        });
        rows.map(|(s, t, v): (usize, f64, f64)| ((s, t), (s, v)))
            .unzip()
    }
}

/// The metrics, the plot and, when the loss improved, the best checkpoint; at the end of an
/// epoch also the last checkpoint and the resume state: one group of files.
fn write_outputs(
    model: &mut CharLm,
    start: &Start,
    text: &Text,
    pr: &Progress,
    (val, improved, epoch_end): (f64, bool, bool),
    secs: f64,
) -> Result<()> {
    let (s, o) = (&start.settings, &start.out);
    let title = format!(
        "{} on {}",
        model.cfg.rnn.cell.torch_name().to_uppercase(),
        model.describe()
    );
    let format = crate::cli::plot::check_extension(&o.plot, "--plot")?;
    let (train_pts, val_pts) = pr.points();
    let plot = crate::cli::plot::loss_plot(format, &title, &train_pts, &val_pts)?;
    let mut files: Vec<(&Path, Vec<u8>)> = vec![(&o.metrics, pr.csv.clone().into_bytes())];
    files.push((&o.plot, plot));
    let chars: Vec<String> = text.vocab.chars().iter().map(|c| c.to_string()).collect();
    let meta = [
        ("task", CHARLM.to_string()),
        ("epoch", pr.epoch.to_string()),
        ("step", pr.step.to_string()),
        ("val_loss", format!("{val:.6}")),
        ("seed", s.seed.to_string()),
    ];
    let params = model.params()?;
    let cfg = &model.cfg;
    if improved {
        files.push((
            &o.save,
            checkpoint::to_bytes(&o.save, cfg, &chars, &params, &meta)?,
        ));
    }
    let (last_path, state_path) = (
        start.run_dir.join(LAST_FILE),
        start.run_dir.join(STATE_FILE),
    );
    if epoch_end {
        files.push((
            &last_path,
            checkpoint::to_bytes(&last_path, cfg, &chars, &params, &meta)?,
        ));
        let gpu_rnn::nn::OptimState { m, v, step } = model.optimizer_state()?;
        let state = RunState {
            settings: s.clone(),
            epoch: pr.epoch,
            step,
            m,
            v,
            order: Vec::new(),
            history: Vec::new(),
            best: pr.best,
            metrics: pr.csv.clone(),
            elapsed: secs,
            data: text.data,
        };
        files.push((&state_path, state.to_bytes()));
    }
    let files: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (*p, &b[..])).collect();
    gpu_rnn::output::write_group(&files)
}

/// Evaluate, print the report line, add the metrics row; returns (val loss, improved).
fn report(
    model: &mut CharLm,
    s: &Settings,
    text: &Text,
    pr: &mut Progress,
    (secs, place): (f64, &str),
    bar: Option<&indicatif::ProgressBar>,
) -> Result<(f64, bool)> {
    let val = validate(model, text)?;
    let (sum, n, chars, train_secs) = std::mem::replace(&mut pr.window, (0.0, 0, 0, 0.0));
    let train = sum / n.max(1) as f64;
    let rate = chars as f64 / train_secs.max(1e-9);
    let line = format!(
        "{} Epoch {}/{}{place}: train loss {train:.4} nats/char ({:.3} bpc), val loss {val:.4} \
         nats/char ({:.3} bpc), {rate:.0} chars/s",
        elapsed(secs),
        pr.epoch,
        s.epochs,
        train / LN_2,
        val / LN_2
    );
    match bar {
        Some(b) => b.suspend(|| println!("{line}")),
        None => println!("{line}"),
    }
    pr.csv.push_str(&format!(
        "{},{},{train:.6},{val:.6},{:.6},{rate:.1},{secs:.3}\n",
        pr.step,
        pr.epoch,
        val / LN_2
    ));
    let improved = val < pr.best;
    if improved {
        pr.best = val;
    }
    Ok((val, improved))
}

/// One epoch: every batch of the streams from a zero state, with the reports it reaches.
fn epoch(
    model: &mut CharLm,
    start: &Start,
    text: &Text,
    pr: &mut Progress,
    clock: (Instant, f64),
) -> Result<()> {
    let s = &start.settings;
    let (b, sl) = (s.batch_size, s.seq_len);
    model.set_lr(s.schedule().lr(s.lr, pr.epoch - 1))?;
    model.reset_state();
    let n = text.streams.batches();
    let bar = std::io::stdout()
        .is_terminal()
        .then(|| progress_bar(n, pr.epoch, s.epochs, "batches"));
    for k in 0..n {
        let t0 = Instant::now();
        let (x, y) = text.streams.batch(&text.train, k);
        let loss = model.train_step(&x, &y, b, sl)?;
        if !loss.is_finite() {
            return Err(Error::InvalidArgument {
                op: "train",
                message: format!(
                    "the loss became {loss} in epoch {}; try a smaller --lr or --clip",
                    pr.epoch
                ),
            });
        }
        pr.step += 1;
        let w = &mut pr.window;
        *w = (
            w.0 + loss as f64,
            w.1 + 1,
            w.2 + b * sl,
            w.3 + t0.elapsed().as_secs_f64(),
        );
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        let every = s.eval_every as u64;
        let epoch_end = k + 1 == n;
        if epoch_end || (every > 0 && pr.step.is_multiple_of(every)) {
            let secs = clock.1 + clock.0.elapsed().as_secs_f64();
            let place = match epoch_end {
                true => String::new(),
                false => format!(", step {}/{n}", k + 1),
            };
            let (val, improved) = report(model, s, text, pr, (secs, &place), bar.as_ref())?;
            write_outputs(model, start, text, pr, (val, improved, epoch_end), secs)?;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}

/// Train the language model of `start` (its lock `held` when resuming).
pub(super) fn run(a: &TrainArgs, start: Start, held: Option<RunLock>) -> Result<()> {
    let s = &start.settings;
    let text = prepare(s, start.init.as_ref())?;
    let _lock = claim_outputs(&start, held)?;
    let mut model = build(a, &start, &text)?;
    println!("{}", describe_model(&model.cfg, model.layout().len));
    let (vb, vs) = text.val_shape;
    println!(
        "data: {} training and {} validation characters of {}, {} in the vocabulary; {} streams \
         × {} steps ({} batches an epoch; validation {vb} × {vs}), {}, clip {}, {} epochs",
        text.train.len(),
        text.val.len(),
        s.data.display(),
        text.vocab.len(),
        s.batch_size,
        s.seq_len,
        text.streams.batches(),
        s.optim.describe(s.lr),
        s.clip,
        s.epochs
    );
    println!("run: {}", start.run_dir.display());
    let mut pr = Progress::new(&text, start.resumed.as_ref())?;
    if pr.epoch > 0 {
        println!("resuming after epoch {} of {}", pr.epoch, s.epochs);
    }
    let clock = (Instant::now(), pr.elapsed0);
    while pr.epoch < s.epochs {
        pr.epoch += 1;
        epoch(&mut model, &start, &text, &mut pr, clock)?;
    }
    println!(
        "best val loss {:.4} nats/char ({:.3} bpc); checkpoint {}, metrics {}, plot {}",
        pr.best,
        pr.best / LN_2,
        start.out.save.display(),
        start.out.metrics.display(),
        start.out.plot.display()
    );
    Ok(())
}
