//! The `gpu-rnn` binary as a user runs it: exit codes, messages, and the files it writes.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

pub(crate) fn gpu_rnn(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gpu-rnn"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run gpu-rnn")
}

pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A failure is one clear message and a non-zero exit, never a panic.
#[track_caller]
pub(crate) fn fails_with(o: &Output, want: &str) {
    let (out, err) = text(o);
    assert!(!o.status.success(), "expected failure; stdout: {out}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    assert!(err.contains(want), "expected {want:?} in stderr: {err}");
}

/// Small files: every 45th row of the lecture's training data (the file is grouped by
/// class), and every 90th as the "test" set, a subset so that every label is known.
pub(crate) fn small_data(dir: &Path) -> (String, String) {
    let bytes = gpu_rnn::data::read_maybe_gz(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/names_train.csv.gz"),
    )
    .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let rows: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let pick = |k: usize| {
        rows.iter()
            .step_by(k)
            .copied()
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let (train, test) = (pick(45), pick(90));
    let (tp, ep) = (dir.join("train.csv"), dir.join("test.csv"));
    std::fs::write(&tp, train).unwrap();
    std::fs::write(&ep, test).unwrap();
    (
        tp.to_string_lossy().into_owned(),
        ep.to_string_lossy().into_owned(),
    )
}

#[test]
fn demo_hello_reaches_ohlol_in_every_variant() {
    let mut backends = vec!["cpu"];
    if gpu("demo_hello_reaches_ohlol_in_every_variant").is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let o = gpu_rnn(&["demo", "hello", "--backend", backend], &[]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{backend}: {err}");
        let last: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("Epoch [15/15]"))
            .collect();
        assert_eq!(last.len(), 3, "{out}");
        assert!(
            last.iter()
                .all(|l| l.starts_with("Predicted string: ohlol, Epoch [15/15] loss=")),
            "{backend}: {out}"
        );
    }
}

#[test]
fn train_eval_predict_on_a_small_file() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = small_data(dir.path());
    let run = dir.path().join("run");
    let run_s = run.to_string_lossy().into_owned();
    let args = [
        "train",
        "--data",
        &train,
        "--test",
        &test,
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--hidden",
        "16",
        "--embed",
        "8",
        "--backend",
        "cpu",
        "--run-dir",
        &run_s,
        "--seed",
        "3",
    ];
    let o = gpu_rnn(&args, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.lines().next().unwrap().starts_with("backend: cpu"),
        "the first line says which backend: {out}"
    );
    assert!(
        out.contains("Epoch 2/2") && out.contains("names/s") && out.contains("test accuracy"),
        "{out}"
    );
    for f in ["metrics.csv", "accuracy.svg", "best.safetensors"] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().next(), Some("epoch,loss,accuracy,seconds"));
    assert_eq!(metrics.lines().count(), 3);

    // Same seed and backend, same metrics (all but the seconds column).
    let run2 = dir.path().join("run2").to_string_lossy().into_owned();
    let mut args2 = args.to_vec();
    let at = args2.len() - 3;
    args2[at] = &run2;
    assert!(gpu_rnn(&args2, &[]).status.success());
    let cols = |s: &str| {
        s.lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cols(&metrics),
        cols(&std::fs::read_to_string(dir.path().join("run2/metrics.csv")).unwrap())
    );

    let model = run.join("best.safetensors").to_string_lossy().into_owned();
    let logits = dir
        .path()
        .join("logits.safetensors")
        .to_string_lossy()
        .into_owned();
    let o = gpu_rnn(
        &[
            "eval",
            "--model",
            &model,
            "--data",
            &test,
            "--backend",
            "cpu",
            "--logits",
            &logits,
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("accuracy")
            && out.contains("per-class accuracy")
            && out.contains("confusion matrix"),
        "{out}"
    );
    let bytes = std::fs::read(&logits).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.names(), vec!["logits"]);
    let classes = gpu_rnn::checkpoint::load(Path::new(&model))
        .unwrap()
        .classes
        .len();
    assert_eq!(
        st.tensor("logits").unwrap().shape(),
        &[13374usize.div_ceil(90), classes]
    );

    let o = gpu_rnn(
        &[
            "predict",
            "--model",
            &model,
            "--backend",
            "cpu",
            "Nakamura",
            "Dostoevsky",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Nakamura: ") && l.matches('%').count() == 3),
        "{out}"
    );

    // --init takes the architecture from the file; a conflicting flag is an error.
    let o = gpu_rnn(
        &[
            "train",
            "--init",
            &model,
            "--hidden",
            "50",
            "--data",
            &train,
            "--test",
            &test,
            "--backend",
            "cpu",
            "--epochs",
            "1",
        ],
        &[],
    );
    fails_with(&o, "--hidden 50 (checkpoint: 16)");
    let run3 = dir.path().join("run3").to_string_lossy().into_owned();
    let o = gpu_rnn(
        &[
            "train",
            "--init",
            &model,
            "--data",
            &train,
            "--test",
            &test,
            "--backend",
            "cpu",
            "--epochs",
            "1",
            "--run-dir",
            &run3,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o).1);
}

#[test]
fn bad_input_gets_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "Adsit,Czech\nA,B,C\n").unwrap();
    let bad = bad.to_string_lossy().into_owned();
    fails_with(
        &gpu_rnn(
            &["train", "--backend", "cpu", "--data", "no/such/file.csv"],
            &[],
        ),
        "no/such/file.csv",
    );
    fails_with(
        &gpu_rnn(&["train", "--backend", "cpu", "--data", &bad], &[]),
        "bad.csv:2: expected 2 fields",
    );
    fails_with(
        &gpu_rnn(&["eval", "--backend", "cpu", "--model", &bad], &[]),
        "not a safetensors file",
    );
    fails_with(
        &gpu_rnn(
            &[
                "predict",
                "--backend",
                "cpu",
                "--model",
                "missing.safetensors",
                "Smith",
            ],
            &[],
        ),
        "missing.safetensors",
    );
    // --backend gpu with no adapter says how to get a driver; auto falls back to the CPU.
    let none = [("WGPU_BACKEND", "metal")];
    fails_with(
        &gpu_rnn(&["demo", "hello", "--backend", "gpu"], &none),
        "mesa-vulkan-drivers",
    );
    let o = gpu_rnn(&["demo", "hello", "--variant", "embedding"], &none);
    let (out, _) = text(&o);
    assert!(
        o.status.success() && out.starts_with("backend: cpu (--backend auto: no GPU adapter"),
        "{out}"
    );
}

// `gpu-rnn bench`: the kernel filter, JSON lines with the GPU's timestamp-query times (when
// there is an adapter) and the CPU twin's, and the whole step's throughput and buffer bytes.
#[test]
fn bench_times_filtered_kernels_and_the_step() {
    let has_gpu = gpu("bench_times_filtered_kernels_and_the_step").is_some();
    let backend = if has_gpu { "gpu" } else { "cpu" };
    let o = gpu_rnn(
        &[
            "bench",
            "--backend",
            backend,
            "--kernel",
            "adam",
            "--kernel",
            "cross_entropy",
            "--step",
            "--runs",
            "4",
            "--batches",
            "1",
            "--profile",
            "--json",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "bench failed: {err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let kernels: Vec<_> = lines.iter().filter(|v| v["kind"] == "kernel").collect();
    // adam and cross_entropy, each at the lecture's and the large shape; nothing else.
    assert_eq!(kernels.len(), 4, "{out}");
    for k in &kernels {
        let name = k["kernel"].as_str().unwrap();
        assert!(name == "adam" || name == "cross_entropy", "{name}");
        assert!(k["cpu_ms"].as_f64().unwrap() > 0.0, "{k}");
        assert_eq!(k["unit"], "GB/s");
        if has_gpu {
            let (lo, mid, hi) = (
                k["gpu_min_ms"].as_f64().unwrap(),
                k["gpu_median_ms"].as_f64().unwrap(),
                k["gpu_max_ms"].as_f64().unwrap(),
            );
            assert!(0.0 < lo && lo <= mid && mid <= hi, "{k}");
            assert_eq!(k["gpu_runs"], 4);
            assert!(k["gpu_rate"].as_f64().unwrap() > 0.0, "{k}");
        }
    }
    let steps: Vec<_> = lines.iter().filter(|v| v["kind"] == "step").collect();
    assert_eq!(steps.len(), 1, "{out}");
    let s = steps[0];
    assert!(s["train_names_per_s"].as_f64().unwrap() > 0.0, "{s}");
    assert!(s["infer_names_per_s"].as_f64().unwrap() > 0.0, "{s}");
    assert!(s["dispatches"].as_u64().unwrap() > 0, "{s}");
    // Parameters, gradients and two Adam moments alone are 4 × 318,818 floats.
    assert!(s["buffer_bytes"].as_u64().unwrap() > 4 * 4 * 318_818, "{s}");
    // --profile: every op of the step timed alone, by label; two layers' cells per step.
    let profile: Vec<_> = lines
        .iter()
        .filter(|v| v["kind"] == "profile" && v["phase"] == "train")
        .collect();
    let inference: Vec<_> = lines
        .iter()
        .filter(|v| v["kind"] == "profile" && v["phase"] == "inference")
        .collect();
    // Inference runs the forward cells and no optimizer.
    assert!(inference.iter().any(|v| v["op"] == "gru_cell_fwd"), "{out}");
    assert!(
        !inference
            .iter()
            .any(|v| v["op"] == "adam" || v["op"] == "gru_cell_bwd")
    );
    let t = s["mean_t"].as_f64().unwrap() as u64;
    let count = |op: &str| -> u64 {
        let line = profile.iter().find(|v| v["op"] == op);
        line.unwrap_or_else(|| panic!("no {op} in {out}"))["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count("gru_cell_fwd"), 2 * t, "{out}");
    assert_eq!(count("gru_cell_bwd"), 2 * t, "{out}");
    assert_eq!(count("adam"), 1, "{out}");
    assert!(
        profile
            .iter()
            .any(|v| v["op"].as_str().unwrap().starts_with("matmul NT"))
    );
    let share: f64 = profile.iter().map(|v| v["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9, "{share}");
    assert!(
        profile.iter().all(|v| v["ms"].as_f64().unwrap() > 0.0),
        "{out}"
    );

    fails_with(
        &gpu_rnn(&["bench", "--backend", "cpu", "--kernel", "nonesuch"], &[]),
        "no kernel matches",
    );
    fails_with(
        &gpu_rnn(&["bench", "--backend", "cpu", "--runs", "5000"], &[]),
        "--runs must be 1 to 2048",
    );
}
