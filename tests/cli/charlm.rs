//! `gpu-rnn train --task charlm`, `eval` and `sample` as a user runs them, on the committed
//! 4,000-byte excerpt of tiny-shakespeare and a small model.

use std::path::Path;

use crate::commands::{fails_with, gpu_rnn, text};
use crate::common::*;

const TINY: &str = "tests/fixtures/charlm/tiny.txt";

/// A small language model's training flags, into `dir`.
fn small(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--data",
        TINY,
        "--hidden",
        "24",
        "--embed",
        "8",
        "--batch-size",
        "4",
        "--seq-len",
        "25",
        "--eval-every",
        "20",
        "--run-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(dir.to_string_lossy().into_owned());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run(args: &[String]) -> (String, String) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = gpu_rnn(&refs, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}: {err}");
    (out, err)
}

// A .txt file selects the task; the report lines carry nats/char and bpc; the run directory
// holds the metrics, the loss plot, the best checkpoint (task charlm, the vocabulary as a
// JSON array of characters) and what --resume needs.
#[test]
fn charlm_trains_reports_and_writes_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let (out, _) = run(&small(&run_dir, &["--epochs", "2", "--backend", "cpu"]));
    assert!(
        out.contains("-> LSTM(24, 2 layer(s)) -> Linear(24, "),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("] Epoch ")).collect();
    // 3,600 training characters: 899 per stream, 35 batches an epoch: steps 20, 35, 40, 60
    // and 70.
    assert_eq!(lines.len(), 5, "{out}");
    for l in &lines {
        let at = l.find("val loss ").unwrap() + 9;
        let rest = &l[at..];
        let nats: f64 = rest.split(' ').next().unwrap().parse().unwrap();
        let bpc = rest.split('(').nth(1).unwrap().split(' ').next().unwrap();
        assert!(rest.starts_with(&format!("{nats:.4} nats/char (")), "{l}");
        assert!((bpc.parse::<f64>().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-3);
        assert!(l.contains("chars/s"), "{l}");
    }
    assert!(lines[1].contains("Epoch 1/2:"), "{}", lines[1]);
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("step,epoch,train_loss,val_loss,val_bpc,chars_per_s,seconds\n"));
    assert_eq!(csv.lines().count(), 6, "{csv}");
    let svg = std::fs::read_to_string(run_dir.join("loss.svg")).unwrap();
    assert!(
        svg.contains("validation") && svg.contains("step"),
        "no legend or axis"
    );
    let meta = read_metadata(&run_dir.join("best.safetensors"));
    assert_eq!(meta["task"], "charlm");
    let vocab: Vec<String> = serde_json::from_str(&meta["vocab"]).unwrap();
    let text = std::fs::read_to_string(TINY).unwrap();
    let mut want: Vec<char> = text.chars().collect();
    want.sort();
    want.dedup();
    assert_eq!(
        vocab,
        want.iter().map(|c| c.to_string()).collect::<Vec<_>>()
    );
    assert!(!meta.contains_key("classes"));
    let best: f64 = meta["val_loss"].parse().unwrap();
    let vals: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    assert!((best - vals.iter().cloned().fold(f64::INFINITY, f64::min)).abs() < 1e-6);
    assert!(
        run_dir.join("last.safetensors").exists()
            && run_dir.join("train_state.safetensors").exists()
    );
}

// One epoch, then --resume to two, gives the same model as two epochs in one run.
#[test]
fn charlm_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&small(&a, &["--epochs", "2", "--backend", "cpu"]));
    run(&small(&b, &["--epochs", "1", "--backend", "cpu"]));
    let (out, _) = run(&[
        "train".into(),
        "--resume".into(),
        b.to_string_lossy().into_owned(),
        "--epochs".into(),
        "2".into(),
        "--backend".into(),
        "cpu".into(),
    ]);
    assert!(out.contains("resuming after epoch 1 of 2"), "{out}");
    let read = |d: &Path| std::fs::read(d.join("last.safetensors")).unwrap();
    assert!(read(&a) == read(&b), "resumed weights differ");
    let csv = |d: &Path| -> Vec<String> {
        let s = std::fs::read_to_string(d.join("metrics.csv")).unwrap();
        // Without the seconds and chars/s columns.
        s.lines()
            .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(csv(&a), csv(&b));
}

// eval reads the text as one stream and writes (N − 1, V) logits; sample echoes the prime,
// continues it, is the same for the same seed and puts nothing but the text on stdout.
#[test]
fn charlm_eval_and_sample() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut backends = vec!["cpu"];
    if gpu("charlm_eval_and_sample").is_some() {
        backends.push("gpu");
    }
    run(&small(&run_dir, &["--epochs", "1", "--backend", "cpu"]));
    let best = run_dir
        .join("best.safetensors")
        .to_string_lossy()
        .into_owned();
    let logits = dir.path().join("logits.safetensors");
    for backend in &backends {
        let l = logits.to_string_lossy().into_owned();
        let args = [
            "eval",
            "--model",
            &best,
            "--data",
            TINY,
            "--logits",
            &l,
            "--backend",
            backend,
        ];
        let o = gpu_rnn(&args, &[]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(
            out.contains("3999 predictions as one stream from a zero state: loss "),
            "{out}"
        );
        let vocab =
            serde_json::from_str::<Vec<String>>(&read_metadata(Path::new(&best))["vocab"]).unwrap();
        assert_eq!(read_tensor(&logits, "logits").0, [3999, vocab.len()]);

        let sample = |seed: &str, extra: &[&str]| {
            let mut args = vec![
                "sample", "--model", &best, "--prime", "ROMEO:", "--length", "80",
            ];
            args.extend(["--seed", seed, "--backend", backend]);
            args.extend(extra);
            let o = gpu_rnn(&args, &[]);
            let (out, err) = text(&o);
            assert!(o.status.success(), "{err}");
            assert!(err.starts_with("backend: "), "{err}");
            out
        };
        let (a, b, c) = (sample("1", &[]), sample("1", &[]), sample("2", &[]));
        assert!(a.starts_with("ROMEO:"), "{a}");
        assert_eq!(a.chars().count(), "ROMEO:".len() + 80 + 1, "{a:?}");
        assert_eq!(a, b, "{backend}: same seed, other text");
        assert_ne!(a, c, "{backend}: other seed, same text");
        let greedy = sample("1", &["--temperature", "0"]);
        assert_eq!(
            greedy,
            sample("2", &["--temperature", "0"]),
            "argmax ignores the seed"
        );
        let top1 = sample("3", &["--top-k", "1"]);
        assert_eq!(greedy, top1, "top-k 1 is the argmax");
    }
}

// Bad input: one message naming the flag, the character or the lengths, before any work.
#[test]
fn charlm_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let o = gpu_rnn(
        &[
            "train",
            "--data",
            TINY,
            "--bidirectional",
            "--run-dir",
            &d("r1").to_string_lossy(),
        ],
        &[],
    );
    fails_with(&o, "cannot read the text backwards");
    let o = gpu_rnn(
        &["train", "--task", "charlm", "--data", TINY, "--test", TINY],
        &[],
    );
    fails_with(&o, "--test: does not apply to --task charlm");
    let o = gpu_rnn(&["train", "--data", TINY, "--seq-len", "0"], &[]);
    fails_with(&o, "--seq-len: expected a whole number from 1");
    // --lr-min is bounded by the task's default rate, 2e-3 here.
    let o = gpu_rnn(
        &[
            "train",
            "--data",
            TINY,
            "--lr-schedule",
            "cosine",
            "--lr-min",
            "0.003",
        ],
        &[],
    );
    fails_with(
        &o,
        "--lr-min: expected a finite rate from 0 to --lr, got 0.003",
    );
    let o = gpu_rnn(&["train", "--task", "names", "--seq-len", "10"], &[]);
    fails_with(&o, "--seq-len: does not apply to --task names");
    std::fs::write(d("latin1.txt"), b"caf\xe9 au lait\n").unwrap();
    let o = gpu_rnn(
        &[
            "train",
            "--data",
            &d("latin1.txt").to_string_lossy(),
            "--run-dir",
            &d("r2").to_string_lossy(),
        ],
        &[],
    );
    fails_with(&o, "not valid UTF-8 at byte offset 3");
    std::fs::write(d("short.txt"), "To be, or not to be\n").unwrap();
    let o = gpu_rnn(
        &[
            "train",
            "--data",
            &d("short.txt").to_string_lossy(),
            "--run-dir",
            &d("r3").to_string_lossy(),
        ],
        &[],
    );
    fails_with(&o, "32 streams of 100 steps need at least 3201");
    assert!(!d("r3").join("metrics.csv").exists());

    let run_dir = d("run");
    run(&small(&run_dir, &["--epochs", "1", "--backend", "cpu"]));
    let best = run_dir
        .join("best.safetensors")
        .to_string_lossy()
        .into_owned();
    let o = gpu_rnn(&["sample", "--model", &best, "--temperature", "-1"], &[]);
    fails_with(&o, "--temperature: expected a finite value of 0");
    let o = gpu_rnn(&["sample", "--model", &best, "--top-k", "0"], &[]);
    fails_with(&o, "--top-k");
    let o = gpu_rnn(
        &[
            "sample",
            "--model",
            &best,
            "--prime",
            "Zebra",
            "--backend",
            "cpu",
        ],
        &[],
    );
    fails_with(
        &o,
        "--prime: the character 'Z' (U+005A) at byte offset 0 is not in the vocabulary",
    );
    std::fs::write(d("other.txt"), "Zebras\n").unwrap();
    let o = gpu_rnn(
        &[
            "eval",
            "--model",
            &best,
            "--data",
            &d("other.txt").to_string_lossy(),
            "--backend",
            "cpu",
        ],
        &[],
    );
    fails_with(
        &o,
        "the character 'Z' (U+005A) at byte offset 0 is not in the vocabulary",
    );
    let o = gpu_rnn(&["eval", "--model", &best, "--backend", "cpu"], &[]);
    fails_with(&o, "give --data FILE.txt");
    let classifier = "tests/fixtures/lecture/torch_gru_2l_bi.safetensors";
    let o = gpu_rnn(&["sample", "--model", classifier], &[]);
    fails_with(&o, "not a character language model");
    let o = gpu_rnn(&["train", "--init", &best, "--task", "names"], &[]);
    fails_with(
        &o,
        "the checkpoint is a character language model; use --task charlm",
    );
}

// A PyTorch-made language model evaluates from the command line to PyTorch's logits.
#[test]
fn charlm_eval_of_a_torch_model_matches_torch() {
    let dir = tempfile::tempdir().unwrap();
    let prefix: String = std::fs::read_to_string(TINY)
        .unwrap()
        .chars()
        .take(300)
        .collect();
    let data = dir.path().join("prefix.txt");
    std::fs::write(&data, &prefix).unwrap();
    let out = dir.path().join("logits.safetensors");
    let o = gpu_rnn(
        &[
            "eval",
            "--model",
            "tests/fixtures/charlm/torch_gru_1l.safetensors",
            "--data",
            &data.to_string_lossy(),
            "--logits",
            &out.to_string_lossy(),
            "--backend",
            "cpu",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let read = |p: &Path| read_tensor(p, "logits").1;
    let want = read(Path::new(
        "tests/fixtures/charlm/torch_gru_1l.logits.safetensors",
    ));
    assert_close("eval --logits", &read(&out), &want, 1e-4, 1e-4, 0);
}
