//! The recurrent layers: the CPU's runs of steps against its single steps, GPU against CPU on
//! random configurations, central-difference gradient checks of the CPU path, PyTorch parity
//! fixtures, and the dispatch budget.

#[path = "../common/mod.rs"]
mod common;

mod char_lm;
mod classifier;
mod cpu_runs;
mod fixtures;
mod gpu_vs_cpu;
mod gradcheck;
mod lstm_vec4;
