//! Every program in `examples/` runs on both backends and succeeds: each asserts its own
//! result (a predicted string, a validation loss, equal outputs) and exits non-zero if it
//! does not hold. `cargo test` builds the examples beside this test.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/NAME`, beside this test's `target/<profile>/deps/`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    dir.join("examples").join(name)
}

/// Run example `name` on `backend`; returns its stdout, after checking it succeeded.
fn run(name: &str, backend: &str) -> String {
    let path = example(name);
    let out = Command::new(&path)
        .arg(backend)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo test builds the examples)", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} on {backend}: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("XDG_RUNTIME_DIR"),
        "{name} on {backend} shows the loader's warnings:\n{stderr}"
    );
    println!("{name} on {backend}:\n{stdout}");
    stdout
}

/// The backends to run on: the CPU, and the GPU where there is one.
fn backends(test: &str) -> Vec<&'static str> {
    let mut b = vec!["cpu"];
    if common::gpu(test).is_some() {
        b.push("gpu");
    }
    b
}

#[test]
fn example_hello_learns_ohlol() {
    for backend in backends("example_hello_learns_ohlol") {
        assert!(run("hello", backend).contains("predicted ohlol"));
    }
}

#[test]
fn example_sine_predicts_the_wave() {
    for backend in backends("example_sine_predicts_the_wave") {
        assert!(run("sine", backend).contains("validation MSE"));
    }
}

#[test]
fn example_lecture12_prints_pytorchs_shapes() {
    for backend in backends("example_lecture12_prints_pytorchs_shapes") {
        let out = run("lecture12", backend);
        assert!(
            out.contains("input size [1, 4], hidden size [1, 2]"),
            "{out}"
        );
        assert!(
            out.contains("bidirectional: output [5, 1, 4], h_n [2, 1, 2]"),
            "{out}"
        );
    }
}

/// The text after `loss ` in `out`'s line that holds `marker`: "1.5377".
fn loss_after(out: &str, marker: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{out}"));
    let at = line.find("loss ").expect("a loss on the line") + 5;
    line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect()
}

// The lecture-13 classifier written with the public API trains its first epoch exactly as
// `gpu-rnn train --epochs 1` does with the same seed: the same loss to 4 decimals.
#[test]
fn example_names_matches_gpu_rnn_train() {
    for backend in backends("example_names_matches_gpu_rnn_train") {
        let example = run("names", backend);
        let dir = tempfile::tempdir().unwrap();
        let cli = Command::new(env!("CARGO_BIN_EXE_gpu-rnn"))
            .args([
                "train",
                "--epochs",
                "1",
                "--seed",
                "0",
                "--backend",
                backend,
            ])
            .arg("--run-dir")
            .arg(dir.path().join("run"))
            .output()
            .unwrap();
        let cli_out = String::from_utf8_lossy(&cli.stdout);
        assert!(cli.status.success(), "gpu-rnn train: {cli_out}");
        assert_eq!(
            loss_after(&example, "epoch 1:"),
            loss_after(&cli_out, "Epoch 1/1:"),
            "on {backend}:\n{example}\n{cli_out}"
        );
    }
}
