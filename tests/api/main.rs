//! The public API (`gpu_rnn::nn`): graphs of layers run as models, against PyTorch's
//! fixtures and against the task models built before it, on both backends.

#[path = "../common/mod.rs"]
mod common;

mod graph;
