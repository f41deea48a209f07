//! The GPU side of the engine: device and adapter choice, tensors in GPU buffers, the pipeline
//! cache, command recording and timestamp timing.

mod context;
mod dispatch;
mod recorder;
mod tensor;
mod timer;

pub use context::{ADAPTER_ENV, AdapterSummary, GpuContext, default_backends, quiet_loader};
pub use dispatch::Dispatch;
pub use recorder::Recorder;
pub use tensor::{GpuTensor, Slice};
pub use timer::{time_dispatch, time_dispatches};
