//! Golden tests: every GPU kernel against its CPU twin, on random shapes and inputs (seed
//! printed; GPU_RNN_SEED replays), outputs poisoned with NaN before each GPU run.
//! One module per kernel family, named like the kernel.

#[path = "../common/mod.rs"]
mod common;

mod adam;
mod bias_grad;
mod context;
mod cross_entropy;
mod dropout;
mod embedding;
mod fill;
mod grad_norm;
mod matmul;
mod mse;
mod optim;
