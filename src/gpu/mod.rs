//! The GPU side of the engine: device and adapter choice, tensors in GPU buffers, the pipeline
//! cache and command recording.

mod context;
mod recorder;
mod tensor;

pub use context::{ADAPTER_ENV, AdapterSummary, GpuContext};
pub use recorder::Recorder;
pub use tensor::{GpuTensor, Slice};
