//! The library's error type. Every failure a user can cause (bad input, no adapter, a limit)
//! becomes one of these, with enough context to act on; `anyhow` is used only in the binary,
//! tests and benches.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no GPU adapter found by wgpu (Vulkan, Metal or DX12).\n\
         On Linux without a GPU, install Mesa's CPU Vulkan driver (lavapipe):\n    \
         sudo apt-get install mesa-vulkan-drivers libvulkan1\n\
         or run on the CPU instead with `--backend cpu`."
    )]
    NoAdapter,

    #[error("no adapter matches {wanted:?}; available: {}", available.join(", "))]
    AdapterNotFound {
        wanted: String,
        available: Vec<String>,
    },

    #[error("could not open the device on adapter {adapter}: {message}")]
    RequestDevice { adapter: String, message: String },

    #[error("shader {name}: {message}")]
    Shader { name: String, message: String },

    #[error("{op}: shape mismatch: expected {expected}, got {got}")]
    Shape {
        op: &'static str,
        expected: String,
        got: String,
    },

    #[error(
        "tensor {tensor} needs {bytes} bytes, over the adapter's {limit_name} of {limit} bytes \
         (a smaller batch or model fits; --backend cpu has no such limit)"
    )]
    Limit {
        tensor: String,
        bytes: u64,
        limit: u64,
        limit_name: &'static str,
    },

    #[error(
        "{what} needs {bytes:.0} bytes ({}), over the memory budget of {budget} bytes ({}; \
         GPU_RNN_MEMORY_BUDGET overrides it){hint}",
        crate::memory::human(*bytes),
        crate::memory::human(*budget as f64)
    )]
    Memory {
        what: String,
        bytes: f64,
        budget: u64,
        hint: String,
    },

    #[error("{op}: {message}")]
    InvalidArgument { op: &'static str, message: String },

    #[error("reading back {tensor} from the GPU failed: {message}")]
    Readback { tensor: String, message: String },

    /// The OS error is part of the message and not also a `source()`, so that a printed
    /// error chain says it once.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    /// An output path that is refused: it is not a regular file or a character device, or it
    /// is in use by another run.
    #[error("{}: {message}", path.display())]
    Output { path: PathBuf, message: String },

    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },

    #[error("{}", place(path, *line, message))]
    Data {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// `file:line: message`, or `file: message` for problems with the whole file (line 0).
fn place(path: &std::path::Path, line: u64, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}: {message}", path.display())
    }
}
