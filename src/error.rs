//! The library's error type. Every failure a user can cause (bad input, no adapter, a limit)
//! becomes one of these, with enough context to act on; `anyhow` is used only in the binary,
//! tests and benches.

use std::path::PathBuf;

/// The crate's result: [`Error`] unless another is named.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure the library reports; its message names what failed and why.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// wgpu finds no adapter at all (no GPU driver, not even lavapipe).
    #[error(
        "no GPU adapter found by wgpu (Vulkan, Metal or DX12).\n\
         On Linux without a GPU, install Mesa's CPU Vulkan driver (lavapipe):\n    \
         sudo apt-get install mesa-vulkan-drivers libvulkan1\n\
         or run on the CPU instead with `--backend cpu`."
    )]
    NoAdapter,

    /// No adapter's name contains the one asked for (an adapter argument or `GPU_RNN_ADAPTER`).
    #[error("no adapter matches {wanted:?}; available: {}", available.join(", "))]
    AdapterNotFound {
        /// The name asked for.
        wanted: String,
        /// The names of the adapters wgpu finds.
        available: Vec<String>,
    },

    /// wgpu cannot open a device on the chosen adapter.
    #[error("could not open the device on adapter {adapter}: {message}")]
    RequestDevice {
        /// The adapter's description.
        adapter: String,
        /// wgpu's error.
        message: String,
    },

    /// A WGSL module or compute pipeline fails wgpu's validation.
    #[error("shader {name}: {message}")]
    Shader {
        /// The shader's file stem, or the pipeline's label.
        name: String,
        /// wgpu's validation error.
        message: String,
    },

    /// An operand, input or write has the wrong length or shape for what takes it.
    #[error("{op}: shape mismatch: expected {expected}, got {got}")]
    Shape {
        /// The op or function that checks it.
        op: &'static str,
        /// The shape or length it needs, e.g. `hs (D, T+1, B, H)`.
        expected: String,
        /// What it was given.
        got: String,
    },

    /// A GPU buffer would be larger than the adapter allows one buffer or binding to be.
    #[error(
        "tensor {tensor} needs {bytes} bytes, over the adapter's {limit_name} of {limit} bytes \
         (a smaller batch or model fits; --backend cpu has no such limit)"
    )]
    Limit {
        /// The buffer's name.
        tensor: String,
        /// Its size in bytes (padded to a multiple of 4 elements).
        bytes: u64,
        /// The adapter's limit in bytes.
        limit: u64,
        /// Which wgpu limit: `max_storage_buffer_binding_size` or `max_buffer_size`.
        limit_name: &'static str,
    },

    /// Host memory the work would take (a plan's buffers on the CPU or an emulated GPU, a data
    /// set, a checkpoint) is over the budget of [`crate::memory::budget`].
    #[error(
        "{what} needs {bytes:.0} bytes ({}), over the memory budget of {budget} bytes ({}; \
         GPU_RNN_MEMORY_BUDGET overrides it){hint}",
        crate::memory::human(*bytes),
        crate::memory::human(*budget as f64)
    )]
    Memory {
        /// What needs the memory, e.g. "the plan's 40 buffers".
        what: String,
        /// The bytes it needs (a float, so absurd sizes do not overflow).
        bytes: f64,
        /// The budget in bytes.
        budget: u64,
        /// Appended to the message: what would fit (may be empty).
        hint: String,
    },

    /// An argument, flag, setting or input that cannot be used; the message says why.
    #[error("{op}: {message}")]
    InvalidArgument {
        /// What rejects it: an op, a flag or a setting (e.g. `backend`, `vocabulary`, `--save`).
        op: &'static str,
        /// What is wrong, and what would do.
        message: String,
    },

    /// Mapping a GPU buffer for reading, or waiting for the device, fails.
    #[error("reading back {tensor} from the GPU failed: {message}")]
    Readback {
        /// The data read (`(device poll)` for a failed wait).
        tensor: String,
        /// wgpu's error.
        message: String,
    },

    /// The OS error is part of the message and not also a `source()`, so that a printed
    /// error chain says it once.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder the operation was on.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },

    /// An output path that is refused: it is not a regular file or a character device, or it
    /// is in use by another run.
    #[error("{}: {message}", path.display())]
    Output {
        /// The output path.
        path: PathBuf,
        /// Why it is refused.
        message: String,
    },

    /// A checkpoint or a run's saved state is unreadable, inconsistent, or not what the command
    /// needs.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A data file is malformed, too large, or holds something the task cannot use.
    #[error("{}", place(path, *line, message))]
    Data {
        /// The data file (or folder).
        path: PathBuf,
        /// 1-based line of the problem; 0 for a problem with the whole file.
        line: u64,
        /// What was found, and what was expected.
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
