//! `cargo bench`: the same measurements as `gpu-rnn bench`, so regressions show: every kernel at
//! the lecture model's shapes and at one large shape (GPU time from timestamp queries, median and
//! spread of 25 runs, and the CPU twin), then the lecture model's training and inference
//! throughput on each backend. It runs the `gpu-rnn` binary that cargo builds beside it.
//!
//! `cargo bench -- gru matmul_vec4` keeps only the kernels whose names contain one of the words
//! (and skips the whole step); `-- --json` prints JSON lines.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    // cargo passes `--bench`; every other word is a kernel filter.
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gpu-rnn"));
    cmd.current_dir(root)
        .args(["bench", "--runs", "25", "--batches", "8"]);
    for w in &words {
        match w.as_str() {
            "--json" => cmd.arg("--json"),
            kernel => cmd.args(["--kernel", kernel]),
        };
    }
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("error: gpu-rnn bench exited with {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: could not run gpu-rnn bench: {e}");
            ExitCode::FAILURE
        }
    }
}
