//! The recurrent layers: GPU against CPU on random configurations, central-difference
//! gradient checks of the CPU path, PyTorch parity fixtures, and the dispatch budget.

#[path = "../common/mod.rs"]
mod common;

mod classifier;
mod fixtures;
mod gpu_vs_cpu;
mod gradcheck;
