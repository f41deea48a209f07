//! The `gpu-rnn` command line.

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gpu-rnn",
    version,
    about = "Train recurrent neural networks with WGSL compute shaders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the adapters wgpu sees and open the one gpu-rnn would use.
    Adapters {
        /// Pick an adapter by a substring of its name (also GPU_RNN_ADAPTER).
        #[arg(long)]
        adapter: Option<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Adapters { adapter } => {
            for a in gpu_rnn::gpu::GpuContext::adapters() {
                println!("found: {a}");
            }
            let ctx = gpu_rnn::gpu::GpuContext::new(adapter.as_deref())?;
            println!("chosen: {}", ctx.adapter);
        }
    }
    Ok(())
}
