//! The two ways to run a plan: [`CpuRuntime`] (the CPU twins) and [`GpuRuntime`] (the WGSL
//! kernels). Both hold the plan's buffers and run its programs op by op, in the same order.

mod cpu;
mod gpu;

pub use cpu::CpuRuntime;
pub use gpu::GpuRuntime;

use std::sync::Arc;

use crate::gpu::GpuContext;
use crate::plan::{BufId, Op, Program, View};
use crate::{Error, Result};

/// Which kernel of a family runs an op: the one the op picks for its shapes, or a forced
/// variant (the kernel benchmarks time each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The kernel the op picks for its shapes (what a plan's run uses).
    Auto,
    /// The plain kernels (matmul.wgsl, the cells' one invocation per (row, unit)): any shape
    /// and offsets.
    Scalar,
    /// vec4 loads (matmul, and the GRU and LSTM cells); needs dimensions and offsets that are
    /// multiples of 4.
    Vec4,
    /// Workgroup-shared tiles (matmul only; cells run their default kernel).
    Tiled,
    /// Operands shared through subgroup shuffles (matmul and the GRU cells).
    Subgroup,
}

/// What a model needs from a backend: buffers it can fill and read, and programs it can run.
pub trait Runtime {
    /// "cpu", or the GPU adapter's description.
    fn describe(&self) -> String;
    /// Write `data` into `buf` from element `offset` (on the GPU: queued before the next
    /// submission); data past the buffer's end is an error.
    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()>;
    /// As [`Runtime::write_f32`], into a u32 buffer.
    fn write_u32(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()>;
    /// As [`Runtime::write_f32`], into an i32 buffer.
    fn write_i32(&mut self, buf: BufId, offset: usize, data: &[i32]) -> Result<()>;
    /// The elements of `view`, copied to the host (on the GPU: submits a copy and waits).
    fn read_f32(&mut self, view: View) -> Result<Vec<f32>>;
    /// Run the programs in order (on the GPU: recorded into one submission).
    fn run(&mut self, programs: &[&Program]) -> Result<()>;
    /// Fill every f32 buffer with NaN: tests call this so that anything a program reads before
    /// writing it shows up in the results.
    fn poison(&mut self) -> Result<()>;
    /// Kernel launches of the last `run`.
    fn last_dispatches(&self) -> usize;
    /// Seconds of each of `runs` executions of `op` alone (a cell run: all its steps), after
    /// a warm-up: GPU time from timestamp queries on the GPU (`variant` forces a kernel), wall
    /// time of the twin on the CPU (one call per op).
    fn time_op(&mut self, op: &Op, variant: Variant, runs: usize) -> Result<Vec<f64>>;

    /// Each of `ops` timed alone ([`Runtime::time_op`], the fastest kernel): its label, its
    /// kernel launches ([`Op::dispatches`]) and its median seconds, in order.
    fn profile(&mut self, ops: &[Op], runs: usize) -> Result<Vec<(String, usize, f64)>> {
        ops.iter()
            .map(|op| {
                let mut secs = self.time_op(op, Variant::Auto, runs)?;
                secs.sort_by(f64::total_cmp);
                Ok((op.label(), op.dispatches(), secs[secs.len() / 2]))
            })
            .collect()
    }
}

/// Which backend [`Backend::open`] opens: `--backend auto|gpu|cpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A real GPU when wgpu finds one, else the CPU backend (see [`Backend::open`]).
    Auto,
    /// The GPU runtime, on the adapter named (or `GPU_RNN_ADAPTER`'s), else the first one.
    Gpu,
    /// The CPU runtime (the CPU twins).
    Cpu,
}

impl std::str::FromStr for Choice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Choice::Auto),
            "gpu" => Ok(Choice::Gpu),
            "cpu" => Ok(Choice::Cpu),
            other => Err(Error::InvalidArgument {
                op: "backend",
                message: format!("{other:?} is not a backend; expected auto, gpu or cpu"),
            }),
        }
    }
}

/// Which runtime to build.
#[derive(Clone)]
pub enum Backend {
    /// The CPU runtime: the CPU twins.
    Cpu,
    /// The GPU runtime on this context's device.
    Gpu(std::sync::Arc<crate::gpu::GpuContext>),
}

impl Backend {
    /// A runtime holding `buffers`. Buffers over the host memory budget (on the CPU, or on a
    /// GPU that is a CPU emulation and so shares it) are refused before any is allocated.
    pub fn runtime(&self, buffers: &crate::plan::Buffers) -> Result<Box<dyn Runtime>> {
        let host = match self {
            Backend::Cpu => true,
            Backend::Gpu(ctx) => ctx.adapter.device_type == wgpu::DeviceType::Cpu,
        };
        if host {
            let bytes: f64 = buffers.decls.iter().map(|d| 4.0 * d.len as f64).sum();
            crate::memory::check(
                &format!("the plan's {} buffers", buffers.decls.len()),
                bytes,
                "; a smaller --batch-size, --max-len or model fits",
            )?;
        }
        Ok(match self {
            Backend::Cpu => Box::new(CpuRuntime::new(buffers)),
            Backend::Gpu(ctx) => Box::new(GpuRuntime::new(ctx.clone(), buffers)?),
        })
    }

    /// Open the backend `choice` names (`adapter`: a GPU adapter by a substring of its
    /// name), with a line saying which it is and why, as `gpu-rnn --backend` prints it.
    ///
    /// `Auto` takes a real GPU when wgpu finds one, and the CPU backend when it finds none,
    /// or only CPU emulations of one (lavapipe, SwiftShader, WARP), which train several times
    /// slower than it. An `adapter` (or `GPU_RNN_ADAPTER`) asks for a GPU by name.
    pub fn open(choice: Choice, adapter: Option<&str>) -> Result<(Backend, String)> {
        match choice {
            Choice::Cpu => Ok((Backend::Cpu, "backend: cpu (--backend cpu)".into())),
            Choice::Gpu => {
                let ctx = GpuContext::new(adapter)?;
                let line = format!("backend: gpu, adapter {} (--backend gpu)", ctx.adapter);
                Ok((Backend::Gpu(Arc::new(ctx)), line))
            }
            Choice::Auto => auto_backend(adapter),
        }
    }

    /// "cpu", or "gpu: " and the adapter's description.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu => "cpu".into(),
            Backend::Gpu(ctx) => format!("gpu: {}", ctx.adapter),
        }
    }
}

/// [`Choice::Auto`] (see [`Backend::open`]).
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
