//! The `gpu-rnn` command line: argument types and one module per subcommand.

pub mod bench;
pub mod demo;
pub mod eval;
pub mod plot;
pub mod train;

use std::sync::Arc;

use clap::ValueEnum;

use crate::backend::Backend;
use crate::gpu::GpuContext;
use crate::{Error, Result};

/// `--backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The GPU when wgpu finds an adapter, otherwise the CPU.
    Auto,
    Gpu,
    Cpu,
}

/// Resolve `--backend` (and `--adapter`) to a backend, with a line saying which and why.
pub fn open_backend(choice: BackendChoice, adapter: Option<&str>) -> Result<(Backend, String)> {
    match choice {
        BackendChoice::Cpu => Ok((Backend::Cpu, "backend: cpu (--backend cpu)".into())),
        BackendChoice::Gpu => {
            let ctx = GpuContext::new(adapter)?;
            let line = format!("backend: gpu, adapter {} (--backend gpu)", ctx.adapter);
            Ok((Backend::Gpu(Arc::new(ctx)), line))
        }
        BackendChoice::Auto => match GpuContext::new(adapter) {
            Ok(ctx) => {
                let line = format!(
                    "backend: gpu, adapter {} (--backend auto found an adapter)",
                    ctx.adapter
                );
                Ok((Backend::Gpu(Arc::new(ctx)), line))
            }
            Err(e @ Error::AdapterNotFound { .. }) => Err(e),
            Err(e) => Ok((
                Backend::Cpu,
                format!(
                    "backend: cpu (--backend auto: {})",
                    first_line(&e.to_string())
                ),
            )),
        },
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
