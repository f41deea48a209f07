//! The CPU twins: one module per kernel, same names as the WGSL files in `shaders/`.
//!
//! These are the reference every GPU kernel is golden-tested against, and the kernels of
//! `--backend cpu`. Plain loops in the numerically careful form (max-subtracted softmax, f64
//! accumulation where it is cheap); the products use `matrixmultiply`.
//!
//! Conventions, as in llm.c: outputs first, inputs after, dimensions last. Gradients are
//! prefixed `d`. **Parameter gradients accumulate (`+=`); activation gradients assign (`=`).**
//! Shapes use the letters B batch, T time, I input, E embedding, H hidden, L layers,
//! D directions, V vocab, C classes, N rows, P parameters.

pub mod adam;
pub mod bias_grad;
pub mod cell;
pub mod copy;
pub mod cross_entropy;
pub mod dropout;
pub mod embedding;
pub mod fill;
pub mod grad_norm;
pub mod gru_cell;
pub mod lstm_cell;
pub mod matmul;
pub mod mse;
pub mod rnn_cell;
pub mod sgd;
pub mod step_gemm;
