//! `gpu-rnn train`'s flags: parsed ([`TrainArgs`], every flag optional so that a resumed run
//! can tell what was given), checked for range before any work starts, and resolved into the
//! run's [`Settings`], which a run directory keeps so that `--resume` continues with them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::cli::BackendArgs;
use crate::cli::train::optim_args::{OptimArgs, OptimSettings};
use crate::cli::train::ranges::{Numbers, in_range, invalid};
use gpu_rnn::Result;
use gpu_rnn::model::schedule::LrSchedule;

/// `--cell`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellArg {
    Rnn,
    Gru,
    Lstm,
}

/// `--nonlinearity` (RNN cells).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    Tanh,
    Relu,
}

/// `--task`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskArg {
    /// Lecture 13: names (as ASCII codes) to one of 18 countries.
    Names,
    /// Exercise 13-1: Rotten Tomatoes phrases (as words) to 5 sentiment classes, validated on
    /// a held-out 20% of the sentences.
    Sentiment,
    /// A character-level language model of a UTF-8 text (karpathy/char-rnn): the next
    /// character at every step, trained by truncated BPTT, validated on the text's last 10%.
    Charlm,
}

/// `--lr-schedule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleArg {
    /// The same rate every epoch.
    Constant,
    /// CosineAnnealingLR(T_max = --lr-t-max, eta_min = --lr-min), stepped every epoch.
    Cosine,
    /// StepLR(step_size = --lr-step-size, gamma = --lr-gamma), stepped every epoch.
    Step,
}

/// Adam's learning rate unless `--lr` says otherwise (PyTorch's default).
pub const DEFAULT_LR: f64 = 1e-3;

/// The language model's rate: char-rnn's 2e-3.
pub const CHARLM_LR: f64 = 2e-3;

/// The longest sequence accepted by default, in tokens (characters of a name, words of a
/// phrase): the data sets' longest are 19 and 52.
pub const DEFAULT_MAX_LEN: usize = 1000;

// The flags' docs are their --help text, where `<unk>` and `<date-time>` are words, not HTML.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Args, Debug, Serialize)]
pub struct TrainArgs {
    /// What to learn [default: sentiment for a .tsv data file or a word checkpoint, charlm
    /// for a .txt file or a language-model checkpoint, else names].
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Training data: names as a `name,label` CSV (gzip or plain) or a folder of `Label.txt`
    /// files; phrases as the Kaggle TSV (PhraseId, SentenceId, Phrase, Sentiment); charlm:
    /// any UTF-8 text [default: data/names_train.csv.gz, data/sentiment_train.tsv.gz or
    /// data/tinyshakespeare.txt].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Names task: test data, same formats [default: data/names_test.csv.gz].
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Sentiment: the share of SentenceIds held out for validation (all phrases of a sentence
    /// stay on one side), drawn with --seed [default: 0.2]. Charlm: the share of the text, at
    /// its end, that validates [default: 0.1].
    #[arg(long, allow_hyphen_values = true)]
    pub val_fraction: Option<f64>,
    /// Sentiment task: words in fewer training sentences than this become <unk> [default: 2].
    #[arg(long)]
    pub min_count: Option<usize>,
    /// Recurrent cell [default: gru; charlm lstm].
    #[arg(long, value_enum)]
    pub cell: Option<CellArg>,
    /// Nonlinearity of an `rnn` cell [default: tanh].
    #[arg(long, value_enum)]
    pub nonlinearity: Option<Nonlinearity>,
    /// Recurrent layers [default: 2].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Hidden size [default: 100; charlm 256].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Embedding size [default: 100; charlm 64].
    #[arg(long)]
    pub embed: Option<usize>,
    /// Bidirectional recurrent layers (the default, except for charlm, which cannot read the
    /// future).
    #[arg(long, overrides_with = "no_bidirectional")]
    #[serde(skip)]
    pub bidirectional: bool,
    /// One direction only.
    #[arg(long)]
    #[serde(skip)]
    pub no_bidirectional: bool,
    /// Dropout between recurrent layers while training [default: 0; sentiment 0.5].
    #[arg(long, allow_hyphen_values = true)]
    pub dropout: Option<f32>,
    /// Dropout on the embedding's output while training (nn.Dropout after the Embedding)
    /// [default: 0; sentiment 0.5].
    #[arg(long, allow_hyphen_values = true)]
    pub embed_dropout: Option<f32>,
    /// Sequences per batch, at most the number of training examples [default: 256]; charlm:
    /// parallel streams through the text [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs in all (with --resume: the run's total, so far plus more). The lecture runs
    /// 100, but its test accuracy peaks around epoch 20 and only plateaus after [default: 20;
    /// charlm 3].
    #[arg(long)]
    #[serde(skip)]
    pub epochs: Option<usize>,
    /// Adam's learning rate, finite and above 0 [default: 0.001; charlm 0.002].
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// How the learning rate changes from epoch to epoch, as PyTorch's schedulers stepped once
    /// per epoch [default: constant].
    #[arg(long, value_enum)]
    pub lr_schedule: Option<ScheduleArg>,
    /// Cosine: the epochs of one half cosine, T_max [default: --epochs].
    #[arg(long)]
    pub lr_t_max: Option<usize>,
    /// Cosine: the rate it ends at, eta_min [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub lr_min: Option<f64>,
    /// Step: epochs between decays, step_size [default: 10].
    #[arg(long)]
    pub lr_step_size: Option<usize>,
    /// Step: the factor of each decay, gamma [default: 0.1].
    #[arg(long, allow_hyphen_values = true)]
    pub lr_gamma: Option<f64>,
    /// Clip the global gradient norm to this; 0 = off [default: 0; charlm 5].
    #[arg(long, allow_hyphen_values = true)]
    pub clip: Option<f32>,
    /// Charlm: steps of truncated BPTT per batch; the state carries on to the next batch
    /// [default: 100].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Charlm: also report and evaluate on the validation text every N training steps
    /// (0: at the end of each epoch only) [default: 100].
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Seed of the initial weights, the shuffling and the dropout masks [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Keep the data file's order instead of reshuffling every epoch.
    #[arg(long)]
    pub no_shuffle: bool,
    /// The longest sequence accepted, in tokens (characters of a name, words of a phrase);
    /// a longer one is an error naming its line, not a truncation [default: 1000].
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Start from this checkpoint; its architecture is used (flags that disagree are errors).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continue the run in this folder (interrupted or finished) where its last epoch ended,
    /// with its settings; --epochs is the new total. A flag that disagrees is an error.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["run_dir", "init"])]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Folder for metrics.csv, accuracy.svg (charlm: loss.svg), best.safetensors,
    /// last.safetensors and the resume state [default: runs/<date-time>].
    #[arg(long)]
    #[serde(skip)]
    pub run_dir: Option<PathBuf>,
    /// Where to write the best checkpoint [default: RUN_DIR/best.safetensors].
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Where to write the per-epoch metrics CSV [default: RUN_DIR/metrics.csv].
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Where to write the accuracy plot (charlm: the loss plot): .svg or .png
    /// [default: RUN_DIR/accuracy.svg, or RUN_DIR/loss.svg].
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Make a character outside the alphabet an error instead of dropping it.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub optim: OptimArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub device: BackendArgs,
}

/// A run's settings, every default filled in and every given path absolute: what `--resume`
/// reuses.
/// The architecture is that of the run's checkpoint, not stored here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub task: TaskArg,
    pub data: PathBuf,
    pub test: Option<PathBuf>,
    pub val_fraction: f64,
    pub min_count: usize,
    pub dropout: f32,
    pub embed_dropout: f32,
    pub batch_size: usize,
    pub epochs: usize,
    pub lr: f64,
    pub lr_schedule: ScheduleArg,
    pub lr_t_max: usize,
    pub lr_min: f64,
    pub lr_step_size: usize,
    pub lr_gamma: f64,
    pub clip: f32,
    /// Charlm: S and the validation interval (0 for other tasks).
    #[serde(default)]
    pub seq_len: usize,
    #[serde(default)]
    pub eval_every: usize,
    pub seed: u64,
    pub no_shuffle: bool,
    pub max_len: usize,
    pub init: Option<PathBuf>,
    /// Outputs given by flag; `None` is the default file in the run directory, wherever that
    /// directory is by the time the run resumes.
    pub save: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    pub strict: bool,
    #[serde(flatten, default)]
    pub optim: OptimSettings,
}

/// A run's three outputs, resolved.
#[derive(Clone, Debug)]
pub struct Outputs {
    pub save: PathBuf,
    pub metrics: PathBuf,
    pub plot: PathBuf,
}

impl TrainArgs {
    /// Every numeric flag's range, before any file is read.
    pub fn check_ranges(&self) -> Result<()> {
        Numbers {
            lr: self.lr,
            clip: self.clip,
            val_fraction: self.val_fraction,
            dropout: self.dropout,
            embed_dropout: self.embed_dropout,
            batch_size: self.batch_size,
            epochs: self.epochs,
            min_count: self.min_count,
            max_len: self.max_len,
            lr_t_max: self.lr_t_max,
            lr_min: self.lr_min,
            lr_step_size: self.lr_step_size,
            lr_gamma: self.lr_gamma,
            seq_len: self.seq_len,
        }
        .check()?;
        self.check_schedule()?;
        self.optim.check()?;
        in_range("--layers", self.layers, 4096)?;
        in_range("--hidden", self.hidden, 1 << 20)?;
        in_range("--embed", self.embed, 1 << 20)?;
        if let Some(p) = &self.plot {
            crate::cli::plot::check_extension(p, "--plot")?;
        }
        let paths = [
            ("--data", &self.data),
            ("--test", &self.test),
            ("--init", &self.init),
            ("--resume", &self.resume),
            ("--run-dir", &self.run_dir),
            ("--save", &self.save),
            ("--metrics", &self.metrics),
            ("--plot", &self.plot),
        ];
        for (flag, p) in paths {
            if let Some(p) = p
                && p.to_str().is_none()
            {
                return Err(invalid(
                    flag,
                    format!(
                        "{}: expected a path in UTF-8 (a run records its paths as text)",
                        p.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Only the flags of `task`: a flag that would be ignored is an error.
    pub fn check_task_flags(&self, task: TaskArg) -> Result<()> {
        let charlm = task == TaskArg::Charlm;
        let given = [
            ("--test", self.test.is_some(), !charlm),
            (
                "--min-count",
                self.min_count.is_some(),
                task == TaskArg::Sentiment,
            ),
            ("--strict", self.strict, !charlm),
            ("--no-shuffle", self.no_shuffle, !charlm),
            ("--max-len", self.max_len.is_some(), !charlm),
            ("--bidirectional", self.bidirectional, !charlm),
            ("--seq-len", self.seq_len.is_some(), charlm),
            ("--eval-every", self.eval_every.is_some(), charlm),
        ];
        match given.iter().find(|(_, given, applies)| *given && !applies) {
            Some((flag, ..)) if charlm && *flag == "--bidirectional" => Err(invalid(
                "--bidirectional",
                "a language model predicts the next character, so it cannot read the text \
                 backwards: --task charlm is unidirectional",
            )),
            Some((flag, ..)) => Err(invalid(
                flag,
                format!(
                    "does not apply to --task {}",
                    clap::ValueEnum::to_possible_value(&task)
                        .map_or("?".into(), |v| v.get_name().to_string())
                ),
            )),
            None => Ok(()),
        }
    }

    /// Only the chosen schedule's flags.
    fn check_schedule(&self) -> Result<()> {
        let which = self.lr_schedule.unwrap_or(ScheduleArg::Constant);
        let cosine = self.lr_t_max.is_some() || self.lr_min.is_some();
        let step = self.lr_step_size.is_some() || self.lr_gamma.is_some();
        if (cosine && which != ScheduleArg::Cosine) || (step && which != ScheduleArg::Step) {
            return Err(invalid(
                "--lr-schedule",
                "--lr-t-max and --lr-min are for --lr-schedule cosine, --lr-step-size and \
                 --lr-gamma for --lr-schedule step",
            ));
        }
        Ok(())
    }

    /// The flags given on the command line that a run's settings also hold, as JSON values
    /// by setting name (paths made absolute).
    pub fn given(&self) -> BTreeMap<String, serde_json::Value> {
        let json = serde_json::to_value(self).expect("flags are JSON");
        let mut given: BTreeMap<String, serde_json::Value> = json
            .as_object()
            .expect("a struct is an object")
            .iter()
            .filter(|(_, v)| !v.is_null() && *v != &serde_json::Value::Bool(false))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for key in ["data", "test", "init", "save", "metrics", "plot"] {
            if let Some(serde_json::Value::String(p)) = given.get(key) {
                let abs = absolute(Path::new(p));
                given.insert(key.into(), serde_json::json!(abs));
            }
        }
        given
    }
}

/// `path` made absolute against the current folder (not resolving links).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Settings {
    /// Defaults filled in for `task`, outputs placed in `run_dir`.
    pub fn resolve(a: &TrainArgs, task: TaskArg) -> Self {
        let charlm = task == TaskArg::Charlm;
        let (data, test, dropout) = match task {
            TaskArg::Names => (
                "data/names_train.csv.gz",
                Some(
                    a.test
                        .clone()
                        .unwrap_or_else(|| "data/names_test.csv.gz".into()),
                ),
                0.0,
            ),
            // The phrases' sub-phrases are learnt by heart within three epochs without dropout.
            TaskArg::Sentiment => ("data/sentiment_train.tsv.gz", a.test.clone(), 0.5),
            TaskArg::Charlm => ("data/tinyshakespeare.txt", None, 0.0),
        };
        // Charlm: char-rnn's recipe at a size that trains in minutes on two cores (README).
        let pick = |names: usize, lm: usize| if charlm { lm } else { names };
        let epochs = a.epochs.unwrap_or(pick(20, 3));
        Self {
            task,
            data: absolute(&a.data.clone().unwrap_or_else(|| data.into())),
            test: test.map(|t| absolute(&t)),
            val_fraction: a.val_fraction.unwrap_or(if charlm { 0.1 } else { 0.2 }),
            min_count: a.min_count.unwrap_or(2),
            dropout: a.dropout.unwrap_or(dropout),
            embed_dropout: a.embed_dropout.unwrap_or(dropout),
            batch_size: a.batch_size.unwrap_or(pick(256, 32)),
            epochs,
            lr: a.lr.unwrap_or(if charlm { CHARLM_LR } else { DEFAULT_LR }),
            lr_schedule: a.lr_schedule.unwrap_or(ScheduleArg::Constant),
            lr_t_max: a.lr_t_max.unwrap_or(epochs),
            lr_min: a.lr_min.unwrap_or(0.0),
            lr_step_size: a.lr_step_size.unwrap_or(10),
            lr_gamma: a.lr_gamma.unwrap_or(0.1),
            clip: a.clip.unwrap_or(if charlm { 5.0 } else { 0.0 }),
            seq_len: if charlm { a.seq_len.unwrap_or(100) } else { 0 },
            eval_every: if charlm {
                a.eval_every.unwrap_or(100)
            } else {
                0
            },
            seed: a.seed.unwrap_or(0),
            no_shuffle: a.no_shuffle,
            max_len: a.max_len.unwrap_or(DEFAULT_MAX_LEN),
            init: a.init.as_deref().map(absolute),
            save: a.save.as_deref().map(absolute),
            metrics: a.metrics.as_deref().map(absolute),
            plot: a.plot.as_deref().map(absolute),
            strict: a.strict,
            optim: a.optim.resolve(),
        }
    }

    /// The same ranges as the flags', for settings read back from a run directory.
    pub fn check(&self) -> Result<()> {
        Numbers {
            lr: Some(self.lr),
            clip: Some(self.clip),
            val_fraction: Some(self.val_fraction),
            dropout: Some(self.dropout),
            embed_dropout: Some(self.embed_dropout),
            batch_size: Some(self.batch_size),
            epochs: Some(self.epochs),
            min_count: Some(self.min_count),
            max_len: Some(self.max_len),
            lr_t_max: Some(self.lr_t_max),
            lr_min: Some(self.lr_min),
            lr_step_size: Some(self.lr_step_size),
            lr_gamma: Some(self.lr_gamma),
            seq_len: (self.task == TaskArg::Charlm).then_some(self.seq_len),
        }
        .check()?;
        self.optim.check()?;
        if self.task == TaskArg::Names && self.test.is_none() {
            return Err(invalid("--test", "a names run needs its test file"));
        }
        Ok(())
    }

    /// The learning-rate schedule.
    pub fn schedule(&self) -> LrSchedule {
        match self.lr_schedule {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Cosine => LrSchedule::Cosine {
                t_max: self.lr_t_max,
                eta_min: self.lr_min,
            },
            ScheduleArg::Step => LrSchedule::Step {
                step_size: self.lr_step_size,
                gamma: self.lr_gamma,
            },
        }
    }

    /// The outputs, the defaults inside `run_dir`.
    pub fn outputs(&self, run_dir: &Path) -> Outputs {
        let pick =
            |p: &Option<PathBuf>, name: &str| p.clone().unwrap_or_else(|| run_dir.join(name));
        Outputs {
            save: pick(&self.save, "best.safetensors"),
            metrics: pick(&self.metrics, "metrics.csv"),
            plot: pick(
                &self.plot,
                if self.task == TaskArg::Charlm {
                    "loss.svg"
                } else {
                    "accuracy.svg"
                },
            ),
        }
    }

    /// The flags of `a` that disagree with these settings, as `--flag given (the run: saved)`.
    /// The architecture's flags are checked against the run's checkpoint instead.
    pub fn conflicts(&self, a: &TrainArgs) -> Vec<String> {
        let saved = serde_json::to_value(self).expect("settings are JSON");
        a.given()
            .into_iter()
            .filter_map(|(k, v)| {
                let s = saved.get(&k)?;
                let was = match s {
                    serde_json::Value::Null => "not given".to_string(),
                    s => s.to_string(),
                };
                (*s != v).then(|| format!("--{} {v} (the run: {was})", k.replace('_', "-")))
            })
            .collect()
    }
}
