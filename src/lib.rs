//! gpu-rnn: recurrent neural networks trained with handwritten WGSL compute shaders, with a
//! CPU twin of every kernel that serves as the golden reference and as `--backend cpu`.
//!
//! Where to find an op, say `matmul`: `shaders/matmul.wgsl` (the kernel), `cpu::matmul`
//! (its CPU twin), `ops::matmul` (the host wrapper that builds and records it), and the tests
//! named `matmul_*` in `tests/golden/`.

pub mod backend;
pub mod checkpoint;
pub mod cli;
pub mod cpu;
pub mod data;
pub mod error;
pub mod gpu;
pub mod memory;
pub mod model;
pub mod nn;
pub mod ops;
pub mod output;
pub mod plan;
pub mod shaders;

pub use error::{Error, Result};
