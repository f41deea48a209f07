//! The `gpu-rnn` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use gpu_rnn::backend::Backend;
use gpu_rnn::cli::{self, BackendChoice};
use gpu_rnn::gpu::GpuContext;

#[derive(Parser)]
#[command(
    name = "gpu-rnn",
    version,
    about = "Train recurrent neural networks with handwritten WGSL compute shaders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a name classifier (the lecture-13 model on the bundled data by default).
    Train(cli::train::TrainArgs),
    /// Accuracy, per-class accuracy and confusion matrix of a checkpoint on labelled names.
    Eval(cli::eval::EvalArgs),
    /// The 3 most likely classes of each name.
    Predict(cli::eval::PredictArgs),
    /// Lecture 12's 'hello' -> 'ohlol' examples (`demo hello --variant cell|rnn|embedding`).
    Demo(cli::demo::DemoArgs),
    /// List the adapters wgpu sees and open the one gpu-rnn would use.
    Adapters {
        /// Pick an adapter by a substring of its name (also GPU_RNN_ADAPTER).
        #[arg(long)]
        adapter: Option<String>,
    },
    /// Measure the lecture model: training and inference names/s and dispatches per step, on
    /// batches of real training names (or a synthetic T = 19 batch with --synthetic).
    Bench {
        /// Which backends to measure: auto measures the GPU (if any) and the CPU.
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Pick an adapter by a substring of its name (also GPU_RNN_ADAPTER).
        #[arg(long)]
        adapter: Option<String>,
        /// Names per batch.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Training names to batch (shuffled with a fixed seed).
        #[arg(long, default_value = "data/names_train.csv.gz")]
        data: std::path::PathBuf,
        /// Batches to time.
        #[arg(long, default_value_t = 8)]
        batches: usize,
        /// Time a synthetic batch whose longest name has this many characters instead, repeated
        /// --batches times (the worst case of the lecture's data is 19).
        #[arg(long)]
        synthetic: Option<usize>,
        /// Print one JSON object per backend instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => cli::train::run(args)?,
        Command::Eval(args) => cli::eval::eval(args)?,
        Command::Predict(args) => cli::eval::predict(args)?,
        Command::Demo(args) => cli::demo::run(args)?,
        Command::Adapters { adapter } => {
            for a in GpuContext::adapters() {
                println!("found: {a}");
            }
            let ctx = GpuContext::new(adapter.as_deref())?;
            println!("chosen: {}", ctx.adapter);
        }
        Command::Bench {
            backend,
            adapter,
            batch_size,
            data,
            batches,
            synthetic,
            json,
        } => {
            let mut backends = Vec::new();
            match backend {
                BackendChoice::Cpu => backends.push(Backend::Cpu),
                BackendChoice::Gpu => {
                    backends.push(cli::open_backend(BackendChoice::Gpu, adapter.as_deref())?.0)
                }
                BackendChoice::Auto => {
                    let (b, line) = cli::open_backend(BackendChoice::Auto, adapter.as_deref())?;
                    if !json {
                        println!("{line}");
                    }
                    if matches!(b, Backend::Gpu(_)) {
                        backends.push(b);
                    }
                    backends.push(Backend::Cpu);
                }
            }
            let (set, what) = match synthetic {
                Some(t) => (
                    vec![cli::bench::lecture_like_batch(batch_size, t.max(1)); batches.max(1)],
                    format!("a synthetic batch of {batch_size}, T = {t}"),
                ),
                None => (
                    cli::bench::lecture_data_batches(&data, batch_size, batches.max(1))?,
                    format!(
                        "{} shuffled batches of {batch_size} names from {}",
                        batches.max(1),
                        data.display()
                    ),
                ),
            };
            let mean_t = set.iter().map(|b| b.steps()).sum::<usize>() as f64 / set.len() as f64;
            if !json {
                println!(
                    "lecture model: Embedding(128,100) -> GRU(100, 2 layers, bidirectional) -> Linear(200,18); {what} (mean T {mean_t:.1})"
                );
            }
            for b in &backends {
                let r = cli::bench::lecture_step(b, &set)?;
                if json {
                    let obj = serde_json::json!({
                        "backend": r.backend,
                        "batches": r.steps,
                        "names": r.names,
                        "mean_t": mean_t,
                        "train_names_per_s": r.train_per_s(),
                        "infer_names_per_s": r.infer_per_s(),
                        "step_ms": r.step_s() * 1e3,
                        "dispatches": r.dispatches,
                    });
                    println!("{obj}");
                    continue;
                }
                println!(
                    "{:<60} train {:>8.1} names/s ({:>7.1} ms/step, up to {} dispatches)   inference {:>8.1} names/s",
                    r.backend,
                    r.train_per_s(),
                    r.step_s() * 1e3,
                    r.dispatches,
                    r.infer_per_s(),
                );
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
