//! The `gpu-rnn` command line: argument types and one module per subcommand.

pub mod bench;
pub mod bench_charlm;
pub mod demo;
pub mod eval;
pub mod kernel_bench;
pub mod lm;
pub mod plot;
pub mod train;

use std::sync::Arc;

use clap::{Args, ValueEnum};

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
    match choice {
        BackendChoice::Cpu => Ok((Backend::Cpu, "backend: cpu (--backend cpu)".into())),
        BackendChoice::Gpu => {
            let ctx = GpuContext::new(adapter)?;
            let line = format!("backend: gpu, adapter {} (--backend gpu)", ctx.adapter);
            Ok((Backend::Gpu(Arc::new(ctx)), line))
        }
        BackendChoice::Auto => auto_backend(adapter),
    }
}

/// `--backend auto`: a real GPU when wgpu finds one; the native CPU backend when it finds
/// none, or only CPU emulations of one (lavapipe, SwiftShader, WARP), which train several
/// times slower than it. `--adapter` (or `GPU_RNN_ADAPTER`) asks for a GPU by name.
fn auto_backend(adapter: Option<&str>) -> Result<(Backend, String)> {
    let named =
        adapter.is_some() || std::env::var(crate::gpu::ADAPTER_ENV).is_ok_and(|s| !s.is_empty());
    if !named {
        let found = GpuContext::adapters()?;
        if !found.is_empty() && found.iter().all(|a| a.device_type == wgpu::DeviceType::Cpu) {
            let names: Vec<&str> = found.iter().map(|a| a.name.as_str()).collect();
            return Ok((
                Backend::Cpu,
                format!(
                    "backend: cpu (--backend auto: {} wgpu finds, {}, {} a GPU on the CPU, \
                     where the native CPU backend is faster; --backend gpu uses it)",
                    if names.len() == 1 {
                        "the only adapter"
                    } else {
                        "every adapter"
                    },
                    names.join(", "),
                    if names.len() == 1 {
                        "emulates"
                    } else {
                        "emulate"
                    }
                ),
            ));
        }
    }
    match GpuContext::new(adapter) {
        Ok(ctx) => {
            let line = format!(
                "backend: gpu, adapter {} (--backend auto found a GPU)",
                ctx.adapter
            );
            Ok((Backend::Gpu(Arc::new(ctx)), line))
        }
        Err(e @ (Error::AdapterNotFound { .. } | Error::InvalidArgument { .. })) => Err(e),
        Err(e) => Ok((
            Backend::Cpu,
            format!(
                "backend: cpu (--backend auto: {})",
                first_line(&e.to_string())
            ),
        )),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
