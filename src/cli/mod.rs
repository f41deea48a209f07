//! The `gpu-rnn` command line: argument types and one module per subcommand.

pub mod bench;
pub mod bench_charlm;
pub mod demo;
pub mod eval;
pub mod kernel_bench;
pub mod lm;
pub mod plot;
pub mod train;

use clap::{Args, ValueEnum};

use gpu_rnn::Result;
use gpu_rnn::backend::{Backend, Choice};

/// `--backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The GPU when wgpu finds an adapter, otherwise the CPU.
    Auto,
    Gpu,
    Cpu,
}

/// `--backend` and `--adapter`, shared by the commands that run one model.
#[derive(Args, Clone, Debug)]
pub struct BackendArgs {
    /// auto: the GPU when wgpu finds an adapter, otherwise the CPU (the first line of output
    /// says which, and why).
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick a GPU adapter by a substring of its name (also GPU_RNN_ADAPTER).
    #[arg(long)]
    pub adapter: Option<String>,
}

impl BackendArgs {
    /// Open the backend and print the line saying which one it is.
    pub fn open(&self) -> Result<Backend> {
        let (backend, line) = open_backend(self.backend, self.adapter.as_deref())?;
        println!("{line}");
        Ok(backend)
    }
}

/// Resolve `--backend` (and `--adapter`) to a backend, with a line saying which and why.
pub fn open_backend(choice: BackendChoice, adapter: Option<&str>) -> Result<(Backend, String)> {
    let choice = match choice {
        BackendChoice::Auto => Choice::Auto,
        BackendChoice::Gpu => Choice::Gpu,
        BackendChoice::Cpu => Choice::Cpu,
    };
    Backend::open(choice, adapter)
}
