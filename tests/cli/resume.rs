//! Runs that continue and runs that are cut short: `--resume` equals an uninterrupted run,
//! interrupts leave only complete files, the same seed gives the same bytes, and `auto`
//! picks the fast backend.

use std::path::Path;
use std::process::{Command, Stdio};

use rand::{RngExt, SeedableRng};

use super::commands::{gpu_rnn, small_data, text};
use super::reliability::s;
use crate::common::gpu;

/// The run flags of these tests: dropout on, so that the dropout stream is resumed too.
fn run_args<'a>(tr: &'a str, te: &'a str, backend: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--backend",
        backend,
        "--data",
        tr,
        "--test",
        te,
        "--batch-size",
        "32",
        "--hidden",
        "16",
        "--embed",
        "8",
        "--seed",
        "3",
        "--dropout",
        "0.2",
    ]
}

/// metrics.csv without its seconds column.
fn metrics(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn two_epochs_then_resume_equals_four_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let mut backends = vec!["cpu"];
    if gpu("two_epochs_then_resume_equals_four_in_one_go").is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let (full, half) = (
            dir.path().join(format!("full-{backend}")),
            dir.path().join(format!("half-{backend}")),
        );
        let base = run_args(&tr, &te, backend);
        let (fs, hs) = (s(&full), s(&half));
        let mut a = base.clone();
        a.extend(["--epochs", "4", "--run-dir", &fs]);
        assert!(gpu_rnn(&a, &[]).status.success());
        let mut a = base.clone();
        a.extend(["--epochs", "2", "--run-dir", &hs]);
        assert!(gpu_rnn(&a, &[]).status.success());
        // Conflicting flags are refused; the run's own values are accepted.
        let o = gpu_rnn(
            &["train", "--resume", &hs, "--epochs", "4", "--lr", "0.01"],
            &[],
        );
        super::commands::fails_with(&o, "--lr 0.01 (the run: 0.001)");
        let o = gpu_rnn(
            &["train", "--resume", &hs, "--epochs", "4", "--hidden", "20"],
            &[],
        );
        super::commands::fails_with(&o, "--hidden 20 (run: 16)");
        let o = gpu_rnn(
            &[
                "train",
                "--backend",
                backend,
                "--resume",
                &hs,
                "--epochs",
                "4",
                "--seed",
                "3",
                "--data",
                &tr,
            ],
            &[],
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{backend}: {err}");
        assert!(
            out.contains("resuming after epoch 2 of 4")
                && out.contains("Epoch 3/4")
                && !out.contains("Epoch 2/4"),
            "{out}"
        );
        assert_eq!(metrics(&full), metrics(&half), "{backend}");
        for f in ["best.safetensors", "last.safetensors", "accuracy.svg"] {
            assert!(
                std::fs::read(full.join(f)).unwrap() == std::fs::read(half.join(f)).unwrap(),
                "{backend}: {f} differs"
            );
        }
        // last.safetensors is a plain checkpoint; the state file holds the rest.
        let last = gpu_rnn::checkpoint::load(&full.join("last.safetensors")).unwrap();
        assert_eq!(last.metadata["epoch"], "4");
        let state = full.join("train_state.safetensors");
        let meta = crate::common::read_metadata(&state);
        let (m, _) = crate::common::read_tensor(&state, "adam.m");
        assert_eq!((meta["epoch"].as_str(), m), ("4", vec![last.params.len()]));
        // A fresh run into a folder that holds a run would replace it.
        let mut a = base.clone();
        a.extend(["--epochs", "1", "--run-dir", &fs]);
        super::commands::fails_with(
            &gpu_rnn(&a, &[]),
            "already holds a run (train_state.safetensors); continue it with --resume",
        );
        let o = gpu_rnn(&["train", "--resume", &fs], &[]);
        super::commands::fails_with(&o, "has trained 4 epoch(s) of 4");
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let runs: Vec<_> = (0..2).map(|i| dir.path().join(format!("r{i}"))).collect();
    for r in &runs {
        let mut a = run_args(&tr, &te, "cpu");
        let rs = s(r);
        a.extend(["--epochs", "2", "--run-dir", &rs]);
        assert!(gpu_rnn(&a, &[]).status.success());
    }
    assert_eq!(metrics(&runs[0]), metrics(&runs[1]));
    for f in ["best.safetensors", "last.safetensors"] {
        assert!(
            std::fs::read(runs[0].join(f)).unwrap() == std::fs::read(runs[1].join(f)).unwrap(),
            "{f} differs"
        );
    }
}

/// Every file an interrupted run left is complete: checkpoints and the state load, the CSV
/// has whole rows, the plot is closed; and no temporary or lock file is left.
fn check_left_behind(run: &Path) {
    for entry in std::fs::read_dir(run).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains(".tmp-") && name != "run.lock",
            "left behind: {}",
            p.display()
        );
        match name.as_str() {
            "best.safetensors" | "last.safetensors" => {
                gpu_rnn::checkpoint::load(&p).unwrap();
            }
            "train_state.safetensors" => {
                // A whole safetensors file with the run's settings and the optimizer's state.
                let meta = crate::common::read_metadata(&p);
                assert!(
                    meta.contains_key("settings") && meta.contains_key("epoch"),
                    "{meta:?}"
                );
                crate::common::read_tensor(&p, "adam.m");
            }
            "metrics.csv" => {
                let m = std::fs::read_to_string(&p).unwrap();
                assert!(
                    m.ends_with('\n') && m.lines().skip(1).all(|l| l.split(',').count() == 4),
                    "{m}"
                );
            }
            "accuracy.svg" => assert!(
                std::fs::read_to_string(&p)
                    .unwrap()
                    .trim_end()
                    .ends_with("</svg>")
            ),
            other => panic!("unexpected file {other}"),
        }
    }
}

#[test]
fn interrupts_leave_only_complete_files() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let seed: u64 = rand::random();
    println!("interrupts_leave_only_complete_files: seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..24 {
        let run = dir.path().join(format!("run{i}"));
        let rs = s(&run);
        let mut a = run_args(&tr, &te, "cpu");
        a.extend(["--epochs", "1000", "--run-dir", &rs]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_gpu-rnn"))
            .args(&a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng.random_range(20..400)));
        let sig = if i % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(sig), "run {i}: {status:?}");
        if run.exists() {
            check_left_behind(&run);
        }
    }
}

#[test]
fn auto_prefers_the_cpu_backend_over_a_cpu_emulated_gpu() {
    let Some(ctx) = gpu("auto_prefers_the_cpu_backend_over_a_cpu_emulated_gpu") else {
        return;
    };
    let all_cpu = gpu_rnn::gpu::GpuContext::adapters()
        .unwrap()
        .iter()
        .all(|a| a.device_type == wgpu::DeviceType::Cpu);
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let run = s(&dir.path().join("r"));
    let mut a = run_args(&tr, &te, "auto");
    a.extend(["--epochs", "1", "--run-dir", &run]);
    // Without XDG_RUNTIME_DIR, as in CI: the loader's warnings must not reach the user.
    let o = Command::new(env!("CARGO_BIN_EXE_gpu-rnn"))
        .args(&a)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
    let first = out.lines().next().unwrap();
    if all_cpu {
        assert!(
            first.starts_with("backend: cpu (--backend auto: the only adapter wgpu finds, "),
            "{first}"
        );
        assert!(first.contains(&ctx.adapter.name), "{first}");
    } else {
        assert!(first.starts_with("backend: gpu"), "{first}");
    }
    // --backend gpu still takes the emulated one.
    let o = gpu_rnn(
        &["demo", "hello", "--variant", "rnn", "--backend", "gpu"],
        &[],
    );
    assert!(
        text(&o).0.starts_with("backend: gpu, adapter "),
        "{}",
        text(&o).0
    );
}

#[test]
fn resume_follows_a_moved_run_and_refuses_what_does_not_belong() {
    let dir = tempfile::tempdir().unwrap();
    let (_, te) = small_data(dir.path());
    let (orig, _) = small_data(dir.path());
    let tr = s(&dir.path().join("mine.csv"));
    std::fs::copy(&orig, &tr).unwrap();
    let run = |name: &str| dir.path().join(name);
    let train = |epochs: &str, to: &Path| {
        let mut a = run_args(&tr, &te, "cpu");
        let to = s(to);
        a.extend(["--epochs", epochs, "--run-dir", &to]);
        assert!(gpu_rnn(&a, &[]).status.success());
    };
    train("1", &run("a"));
    train("2", &run("b"));
    // A moved run resumes into its new folder.
    std::fs::rename(run("a"), run("moved")).unwrap();
    let o = gpu_rnn(
        &["train", "--resume", &s(&run("moved")), "--epochs", "2"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(!run("a").exists() && run("moved/metrics.csv").exists());
    assert_eq!(metrics(&run("moved")), metrics(&run("b")));
    // A last checkpoint from another epoch than the state.
    std::fs::copy(run("b/last.safetensors"), run("moved/last.safetensors")).unwrap();
    std::fs::copy(
        run("b/train_state.safetensors"),
        run("moved/train_state.safetensors"),
    )
    .unwrap();
    std::fs::copy(run("b/last.safetensors"), run("stale.safetensors")).unwrap();
    train("1", &run("c"));
    std::fs::copy(run("stale.safetensors"), run("c/last.safetensors")).unwrap();
    let o = gpu_rnn(&["train", "--resume", &s(&run("c")), "--epochs", "3"], &[]);
    super::commands::fails_with(
        &o,
        "is from epoch 2, but train_state.safetensors is after epoch 1",
    );
    // Data with the same number of rows but other contents.
    let text_now = std::fs::read_to_string(&tr).unwrap();
    std::fs::write(&tr, text_now.replacen("Adsit", "Adsyt", 1)).unwrap();
    let o = gpu_rnn(&["train", "--resume", &s(&run("b")), "--epochs", "3"], &[]);
    super::commands::fails_with(&o, "the data changed since the run began");
}

/// A signal the run was started with ignored (`nohup` ignores SIGHUP) stays ignored.
#[test]
fn an_ignored_hangup_stays_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let rs = s(&dir.path().join("r"));
    let mut a = run_args(&tr, &te, "cpu");
    a.extend(["--epochs", "1000", "--run-dir", &rs]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gpu-rnn"));
    cmd.args(&a).stdout(Stdio::null()).stderr(Stdio::null());
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        })
    };
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended a run that ignores it"
    );
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    check_left_behind(&dir.path().join("r"));
}

/// `--lr-schedule`: the rate of each epoch as PyTorch's schedulers give it, and a cosine run
/// resumed halfway equals one in a single go (T_max fixed by `--lr-t-max`).
#[test]
fn lr_schedules_step_per_epoch_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let run = |name: &str| s(&dir.path().join(name));
    let (one, half) = (run("one"), run("half"));
    let mut a = run_args(&tr, &te, "cpu");
    a.extend([
        "--lr",
        "0.01",
        "--lr-schedule",
        "cosine",
        "--epochs",
        "4",
        "--run-dir",
        &one,
    ]);
    let o = gpu_rnn(&a, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for lr in [
        "lr 1.0000e-2",
        "lr 8.5355e-3",
        "lr 5.0000e-3",
        "lr 1.4645e-3",
    ] {
        assert!(out.contains(lr), "{lr} missing: {out}");
    }
    let mut a = run_args(&tr, &te, "cpu");
    a.extend([
        "--lr",
        "0.01",
        "--lr-schedule",
        "cosine",
        "--lr-t-max",
        "4",
        "--epochs",
        "2",
        "--run-dir",
        &half,
    ]);
    assert!(gpu_rnn(&a, &[]).status.success());
    let o = gpu_rnn(&["train", "--resume", &half, "--epochs", "4"], &[]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(metrics(Path::new(&one)), metrics(Path::new(&half)));
    let bytes = |d: &str| std::fs::read(Path::new(d).join("last.safetensors")).unwrap();
    assert!(bytes(&one) == bytes(&half), "cosine resume differs");
    let mut a = run_args(&tr, &te, "cpu");
    let step = run("step");
    a.extend([
        "--lr-schedule",
        "step",
        "--lr-step-size",
        "2",
        "--lr-gamma",
        "0.5",
        "--epochs",
        "3",
        "--run-dir",
        &step,
    ]);
    let (out, _) = text(&gpu_rnn(&a, &[]));
    assert!(out.contains("(×0.5 every 2 epochs)"), "{out}");
    let lrs: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split(", lr ").nth(1)?.split(',').next())
        .collect();
    assert_eq!(lrs, ["1.0000e-3", "1.0000e-3", "5.0000e-4"]);
    for (flags, want) in [
        (
            vec!["--lr-gamma", "0.5"],
            "--lr-step-size and --lr-gamma for --lr-schedule step",
        ),
        (
            vec!["--lr-schedule", "step", "--lr-gamma", "nan"],
            "--lr-gamma: expected a finite factor above 0",
        ),
        (
            vec!["--lr-schedule", "cosine", "--lr-min", "1"],
            "--lr-min: expected a finite rate from 0 to --lr",
        ),
    ] {
        let mut a = vec!["train", "--data", &tr];
        a.extend(flags);
        super::commands::fails_with(&gpu_rnn(&a, &[]), want);
    }
}

// --optimizer sgd (with momentum and Nesterov) and adamw train, a run resumes with its own
// optimizer and momentum buffer exactly, a flag of another optimizer is refused, and so is a
// change of optimizer on resume.
#[test]
fn optimizers_train_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let sgd = [
        "--optimizer",
        "sgd",
        "--lr",
        "0.2",
        "--momentum",
        "0.9",
        "--nesterov",
    ];
    let (full, half) = (dir.path().join("full"), dir.path().join("half"));
    let (fs, hs) = (s(&full), s(&half));
    let mut a = run_args(&tr, &te, "cpu");
    a.extend(sgd);
    a.extend(["--epochs", "3", "--run-dir", &fs]);
    assert!(gpu_rnn(&a, &[]).status.success());
    let mut a = run_args(&tr, &te, "cpu");
    a.extend(sgd);
    a.extend(["--epochs", "2", "--run-dir", &hs]);
    assert!(gpu_rnn(&a, &[]).status.success());
    let o = gpu_rnn(
        &[
            "train",
            "--resume",
            &hs,
            "--epochs",
            "3",
            "--optimizer",
            "adam",
        ],
        &[],
    );
    super::commands::fails_with(&o, "--optimizer \"adam\" (the run: \"sgd\")");
    let o = gpu_rnn(&["train", "--resume", &hs, "--epochs", "3"], &[]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(metrics(&full), metrics(&half));

    let mut a = run_args(&tr, &te, "cpu");
    let adamw = dir.path().join("adamw");
    let aw = s(&adamw);
    a.extend([
        "--optimizer",
        "adamw",
        "--weight-decay",
        "0.05",
        "--epochs",
        "1",
        "--run-dir",
        &aw,
    ]);
    assert!(
        gpu_rnn(&a, &[]).status.success(),
        "{}",
        text(&gpu_rnn(&a, &[])).1
    );

    for (flags, want) in [
        (
            &["--momentum", "0.9"][..],
            "--momentum: is for --optimizer sgd",
        ),
        (
            &["--optimizer", "sgd", "--nesterov"][..],
            "--nesterov: Nesterov momentum needs --momentum above 0",
        ),
        (
            &["--weight-decay", "-1"][..],
            "--weight-decay: expected a finite value ≥ 0, got -1",
        ),
    ] {
        let mut a = vec!["train", "--data", &tr, "--test", &te];
        a.extend(flags);
        super::commands::fails_with(&gpu_rnn(&a, &[]), want);
    }
}
