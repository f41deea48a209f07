//! The two ways to run a plan: [`CpuRuntime`] (the CPU twins) and [`GpuRuntime`] (the WGSL
//! kernels). Both hold the plan's buffers and run its programs op by op, in the same order.

mod cpu;
mod gpu;

pub use cpu::CpuRuntime;
pub use gpu::GpuRuntime;

use crate::Result;
use crate::plan::{BufId, Op, Program, View};

/// Which kernel of a family runs an op: the one the op picks for its shapes, or a forced
/// variant (the kernel benchmarks time each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Auto,
    Scalar,
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
    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()>;
    fn write_u32(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()>;
    fn write_i32(&mut self, buf: BufId, offset: usize, data: &[i32]) -> Result<()>;
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

/// Which runtime to build.
#[derive(Clone)]
pub enum Backend {
    Cpu,
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

    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu => "cpu".into(),
            Backend::Gpu(ctx) => format!("gpu: {}", ctx.adapter),
        }
    }
}
