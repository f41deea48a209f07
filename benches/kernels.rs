//! `cargo bench`: the same measurements as `gpu-rnn bench`, so regressions show: every kernel at
//! the lecture model's shapes and at one large shape (GPU time from timestamp queries, median and
//! spread of 25 runs, and the CPU twin), then the lecture model's training and inference
//! throughput on each backend.
//!
//! `cargo bench -- gru matmul_vec4` keeps only the kernels whose names contain one of the words
//! (and skips the whole step); `-- --json` prints JSON lines.

use gpu_rnn::cli::BackendChoice;
use gpu_rnn::cli::bench::{BenchArgs, run};

fn main() {
    // cargo passes `--bench`; every other word is a kernel filter.
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let json = words.iter().any(|w| w == "--json");
    let kernels: Vec<String> = words.into_iter().filter(|w| !w.starts_with("--")).collect();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/names_train.csv.gz");
    let args = BenchArgs {
        backend: BackendChoice::Auto,
        adapter: None,
        kernels,
        no_kernels: false,
        step: false,
        runs: 25,
        batch_size: 256,
        data,
        batches: 8,
        synthetic: None,
        profile: false,
        charlm: false,
        text: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tinyshakespeare.txt"),
        sample_length: 2000,
        json,
    };
    if let Err(e) = run(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
