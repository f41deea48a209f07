//! Issue 12's defects, each as a user hits it: outputs that must not replace what they name,
//! flags and inputs checked before any work, bounded memory, and one clear message each.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::commands::{fails_with, gpu_rnn, small_data, text};

pub(crate) use super::inputs::checkpoint_with;

/// A small, fast training run on `train`/`test` (CPU backend) with extra flags.
/// `extra` may override the size flags.
pub(crate) fn train(train: &str, test: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--backend",
        "cpu",
        "--data",
        train,
        "--test",
        test,
        "--epochs",
        "1",
    ];
    for (flag, value) in [("--batch-size", "64"), ("--hidden", "8"), ("--embed", "4")] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    gpu_rnn(&args, &[])
}

pub(crate) fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Fails before the first epoch: no epoch line was printed.
#[track_caller]
pub(crate) fn refused_before_training(o: &Output, want: &str) {
    fails_with(o, want);
    let (out, _) = text(o);
    assert!(!out.contains("Epoch"), "trained before refusing: {out}");
}

/// A device node made in `dir` (mknod needs root); None, with a line saying so, otherwise.
pub(crate) fn mknod(dir: &Path, name: &str, major: u32, minor: u32) -> Option<PathBuf> {
    let path = dir.join(name);
    let dev = libc::makedev(major, minor);
    let c = std::ffi::CString::new(path.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: a valid C string and plain integers.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, dev) };
    if r != 0 {
        println!(
            "skipped the {name} case: mknod needs root ({})",
            std::io::Error::last_os_error()
        );
        return None;
    }
    Some(path)
}

#[cfg(unix)]
fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

#[test]
fn outputs_write_through_devices_and_links_and_never_replace_them() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    // A device is written through, and stays a device.
    if let Some(null) = mknod(dir.path(), "null", 1, 3) {
        // The plot names the device through a link ending in .svg; metrics name it directly.
        let link = dir.path().join("plot.svg");
        std::os::unix::fs::symlink(&null, &link).unwrap();
        let o = train(
            &tr,
            &te,
            &[
                "--run-dir",
                &s(&dir.path().join("r2")),
                "--plot",
                &s(&link),
                "--metrics",
                &s(&null),
            ],
        );
        assert!(o.status.success(), "{}", text(&o).1);
        assert!(is_char_device(&null), "the device was replaced");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    // A full device fails the run, naming it.
    if let Some(full) = mknod(dir.path(), "full", 1, 7) {
        let o = train(
            &tr,
            &te,
            &[
                "--run-dir",
                &s(&dir.path().join("r3")),
                "--metrics",
                &s(&full),
            ],
        );
        fails_with(&o, &format!("{}: No space left on device", s(&full)));
        assert!(is_char_device(&full));
    }
    // A link to a regular file: the file is replaced, the link stays a link.
    let real = dir.path().join("real.csv");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = train(
        &tr,
        &te,
        &[
            "--run-dir",
            &s(&dir.path().join("r4")),
            "--metrics",
            &s(&link),
        ],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .starts_with("epoch,loss")
    );
    // A FIFO is refused before training, and stays a FIFO.
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let o = train(
        &tr,
        &te,
        &[
            "--run-dir",
            &s(&dir.path().join("r5")),
            "--metrics",
            &s(&fifo),
        ],
    );
    refused_before_training(&o, "is a FIFO");
    assert!(!std::fs::symlink_metadata(&fifo).unwrap().is_file());
}

#[test]
fn outputs_are_checked_before_the_first_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let run = |name: &str| s(&dir.path().join(name));
    // An output that is a folder, or inside a file.
    let o = train(
        &tr,
        &te,
        &["--run-dir", &run("a"), "--save", &s(dir.path())],
    );
    refused_before_training(&o, "is a folder");
    let o = train(
        &tr,
        &te,
        &[
            "--run-dir",
            &run("b"),
            "--save",
            &format!("{}/x.safetensors", s(&file)),
        ],
    );
    refused_before_training(&o, "--save");
    // --run-dir naming a regular file: one message, said once.
    let o = train(&tr, &te, &["--run-dir", &s(&file)]);
    refused_before_training(&o, "--run-dir names an existing file; expected a folder");
    assert_eq!(
        text(&o).1.matches("File exists").count(),
        0,
        "{}",
        text(&o).1
    );
    // An output that is an input; two outputs that are one file.
    let before = std::fs::read(&tr).unwrap();
    let o = train(&tr, &te, &["--run-dir", &run("c"), "--metrics", &tr]);
    refused_before_training(&o, "would overwrite the input --data");
    assert_eq!(
        std::fs::read(&tr).unwrap(),
        before,
        "the training data changed"
    );
    let x = run("x.out");
    let o = train(
        &tr,
        &te,
        &["--run-dir", &run("d"), "--metrics", &x, "--save", &x],
    );
    refused_before_training(&o, "is the same file as --save");
    // An unknown plot extension.
    let o = train(&tr, &te, &["--run-dir", &run("e"), "--plot", &run("p.jpg")]);
    refused_before_training(&o, "expected a .svg or .png file");
}

#[test]
fn plot_format_follows_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let png = dir.path().join("a.png");
    let o = train(
        &tr,
        &te,
        &["--run-dir", &s(&dir.path().join("r")), "--plot", &s(&png)],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(
        std::fs::read(&png)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );
    let svg = std::fs::read_to_string(dir.path().join("r/accuracy.svg"));
    assert!(svg.is_err(), "--plot given: no default plot");
    let svg = dir.path().join("b.svg");
    let o = train(
        &tr,
        &te,
        &["--run-dir", &s(&dir.path().join("r2")), "--plot", &s(&svg)],
    );
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
}

#[test]
fn a_run_directory_belongs_to_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    // A live process holds the lock: this test, as a run would.
    let me = std::process::id();
    let held = std::fs::File::create(run.join("run.lock")).unwrap();
    std::fs::write(run.join("run.lock"), format!("{me}\n")).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let o = train(&tr, &te, &["--run-dir", &s(&run)]);
    refused_before_training(&o, &format!("in use by another gpu-rnn run, process {me}"));
    // An output may not be the lock file.
    drop(held);
    let lock = s(&run.join("run.lock"));
    let o = train(&tr, &te, &["--run-dir", &s(&run), "--metrics", &lock]);
    refused_before_training(&o, "would overwrite the input --run-dir (its lock file)");
    // A lock file left by a run that is gone (no process holds it) is taken over, and
    // removed at the end.
    std::fs::write(run.join("run.lock"), format!("{me}\n")).unwrap();
    let o = train(&tr, &te, &["--run-dir", &s(&run)]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(!run.join("run.lock").exists());
}

#[test]
fn flags_are_checked_for_range_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let run = s(&dir.path().join("r"));
    for (flag, value, want) in [
        (
            "--lr",
            "nan",
            "--lr: expected a finite learning rate above 0, got NaN",
        ),
        (
            "--lr",
            "inf",
            "--lr: expected a finite learning rate above 0, got inf",
        ),
        (
            "--lr",
            "-1",
            "--lr: expected a finite learning rate above 0, got -1",
        ),
        ("--clip", "-1", "--clip: expected a finite norm"),
        ("--clip", "nan", "--clip: expected a finite norm"),
        (
            "--val-fraction",
            "-0.5",
            "--val-fraction: expected a share in (0, 1), got -0.5",
        ),
        ("--dropout", "1", "--dropout: expected a value in [0, 1)"),
        (
            "--max-len",
            "0",
            "--max-len: expected a whole number from 1",
        ),
        (
            "--layers",
            "100000000",
            "--layers: expected a whole number from 1 to 4096",
        ),
    ] {
        let o = train(&tr, &te, &["--run-dir", &run, flag, value]);
        refused_before_training(&o, want);
    }
    // Before reading (and so before tokenizing) any data: the data file does not exist.
    let o = gpu_rnn(
        &[
            "train",
            "--task",
            "sentiment",
            "--data",
            "no/such.tsv",
            "--lr",
            "nan",
        ],
        &[],
    );
    fails_with(&o, "--lr");
    // A model too large for memory is refused with the bytes it needs, before allocating.
    let o = train(&tr, &te, &["--run-dir", &run, "--hidden", "100000"]);
    refused_before_training(&o, "bytes");
    fails_with(&o, "over the memory budget");
    // A huge batch is clamped to the data, in train and eval.
    let o = train(&tr, &te, &["--run-dir", &run, "--batch-size", "1000000000"]);
    assert!(o.status.success(), "{}", text(&o).1);
    let o = gpu_rnn(
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            &format!("{run}/best.safetensors"),
            "--data",
            &te,
            "--batch-size",
            "1000000000",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    for (n, want) in [("0", "--synthetic 1 to"), ("100000000", "--synthetic 1 to")] {
        let o = gpu_rnn(
            &[
                "bench",
                "--backend",
                "cpu",
                "--no-kernels",
                "--synthetic",
                n,
            ],
            &[],
        );
        fails_with(&o, want);
    }
    let o = gpu_rnn(
        &[
            "bench",
            "--backend",
            "cpu",
            "--no-kernels",
            "--batches",
            "1",
            "--batch-size",
            "1000000000",
            "--data",
            &tr,
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("1 shuffled batch(es) of up to 298 names"),
        "{out}"
    );
}

#[test]
fn messages_name_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = small_data(dir.path());
    let o = gpu_rnn(
        &["train", "--backend", "cpu", "--data", "no/such/file.csv"],
        &[],
    );
    fails_with(
        &o,
        "no/such/file.csv: No such file or directory (os error 2)",
    );
    assert_eq!(
        text(&o).1.matches("os error 2").count(),
        1,
        "{}",
        text(&o).1
    );
    fails_with(
        &gpu_rnn(&["adapters"], &[("WGPU_BACKEND", "bogus")]),
        "WGPU_BACKEND: \"bogus\" names \"bogus\", which is not a wgpu backend",
    );
    // --init of the other task, and classes that lack a label of the data.
    let run = s(&dir.path().join("r"));
    let o = train(&tr, &te, &["--run-dir", &run]);
    assert!(o.status.success());
    let names_model = format!("{run}/best.safetensors");
    let o = gpu_rnn(
        &[
            "train",
            "--backend",
            "cpu",
            "--task",
            "sentiment",
            "--init",
            &names_model,
            "--run-dir",
            &s(&dir.path().join("r2")),
        ],
        &[],
    );
    fails_with(&o, "--init: the checkpoint is a names model");
    assert!(!text(&o).1.contains("val-fraction"));
    let two = checkpoint_with(
        dir.path(),
        "two.safetensors",
        &["Czech", "Dutch"],
        &[],
        |_| (),
    );
    let o = train(
        &tr,
        &te,
        &[
            "--run-dir",
            &s(&dir.path().join("r3")),
            "--init",
            &two,
            "--hidden",
            "100",
            "--embed",
            "100",
        ],
    );
    fails_with(&o, "is not a class of the checkpoint");
    // predict says which characters it drops, as train does.
    let o = gpu_rnn(
        &[
            "predict",
            "--backend",
            "cpu",
            "--model",
            &names_model,
            "Smith-Jones2",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("warning: dropped characters outside the alphabet from \"Smith-Jones2\": '-' (U+002D), '2' (U+0032)"), "{err}");
    assert!(
        out.starts_with("backend: cpu") && out.contains("Smith-Jones2: "),
        "{out}"
    );
}
