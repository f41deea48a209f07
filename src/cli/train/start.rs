//! How a run starts: fresh (its task from the flags or the checkpoint, a new run directory)
//! or resumed (the settings and progress of a run directory), and its outputs claimed.

use std::path::{Path, PathBuf};

use super::*;

/// What a run starts from: its settings, its folder, the checkpoint it takes its
/// architecture (and weights) from, and for `--resume` the progress so far.
pub(super) struct Start {
    pub(super) settings: Settings,
    pub(super) run_dir: PathBuf,
    pub(super) out: Outputs,
    pub(super) init: Option<checkpoint::Checkpoint>,
    pub(super) resumed: Option<RunState>,
    /// A resumed run holds its folder from before it reads the state.
    pub(super) lock: Option<RunLock>,
}

/// A `.txt` data file: a language model's text.
pub(super) fn is_text(path: &Path) -> bool {
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

pub(super) fn fresh(a: &TrainArgs) -> Result<Start> {
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

pub(super) fn resume(a: &TrainArgs, dir: &Path) -> Result<Start> {
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
pub(super) fn claim_outputs(start: &Start, held: Option<RunLock>) -> Result<RunLock> {
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
