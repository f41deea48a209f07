//! The `gpu-rnn` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
    /// Train a name classifier (the lecture-13 model on the bundled data by default), the
    /// sentiment classifier, or a character language model (--task charlm).
    Train(Box<cli::train::TrainArgs>),
    /// Accuracy, per-class accuracy and confusion matrix of a classifier on labelled data, or
    /// a language model's loss on a text.
    Eval(cli::eval::EvalArgs),
    /// The 3 most likely classes of each name.
    Predict(cli::eval::PredictArgs),
    /// Generate text from a character language model, one character at a time.
    Sample(cli::lm::SampleArgs),
    /// Lecture 12's 'hello' -> 'ohlol' examples (`demo hello --variant cell|rnn|embedding`).
    Demo(cli::demo::DemoArgs),
    /// List the adapters wgpu sees and open the one gpu-rnn would use.
    Adapters {
        /// Pick an adapter by a substring of its name (also GPU_RNN_ADAPTER).
        #[arg(long)]
        adapter: Option<String>,
    },
    /// Benchmark every kernel (GPU time from timestamp queries, the CPU twin's time) and the
    /// lecture model's training and inference names/s on each backend.
    Bench(cli::bench::BenchArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => cli::train::run(*args)?,
        Command::Eval(args) => cli::eval::eval(args)?,
        Command::Predict(args) => cli::eval::predict(args)?,
        Command::Sample(args) => cli::lm::sample(args)?,
        Command::Demo(args) => cli::demo::run(args)?,
        Command::Adapters { adapter } => {
            for a in GpuContext::adapters()? {
                println!("found: {a}");
            }
            let ctx = GpuContext::new(adapter.as_deref())?;
            println!("chosen: {}", ctx.adapter);
        }
        Command::Bench(args) => cli::bench::run(args)?,
    }
    Ok(())
}

/// The error and its causes, each said once: a cause whose text the message above it already
/// includes (an OS error inside `path: error`) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text = format!("{text}: {c}");
        }
    }
    text
}

fn main() -> ExitCode {
    // SAFETY: no other thread has started yet.
    unsafe { gpu_rnn::gpu::quiet_loader() };
    if let Err(e) = gpu_rnn::output::cleanup::install() {
        eprintln!("error: could not install the SIGINT/SIGTERM handler: {e}");
        return ExitCode::FAILURE;
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}
