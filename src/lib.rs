//! gpu-rnn: recurrent neural networks trained with handwritten WGSL compute shaders, with a
//! CPU twin of every kernel that serves as the golden reference and as `--backend cpu`.
//!
//! The public API is [`nn`], re-exported here: layers with PyTorch's arguments and names,
//! composed into a [`Graph`] and run as a [`Model`] on a [`Backend`]. A sequence classifier
//! (an LSTM over packed sequences, a Linear on its last state):
//!
//! ```
//! use gpu_rnn::{Backend, Graph, LinearConfig, Model, Optim, Reduction, RnnConfig, Rows};
//!
//! # fn main() -> gpu_rnn::Result<()> {
//! let mut g = Graph::new();
//! let (x, y) = (g.input("x", Rows::Steps, 3), g.targets("y", Rows::Batch));
//! let out = RnnConfig::lstm(3, 8).init(&mut g, "lstm")?.forward(&mut g, x)?;
//! let last = g.cat_states(out.h_n, &[0])?; // h_n[-1]: (B, H)
//! let logits = LinearConfig::new(8, 2).init(&mut g, "fc")?.forward(&mut g, last)?;
//! let loss = g.cross_entropy(logits, y, Reduction::Mean, None)?;
//!
//! // Up to 5 steps of 4 sequences; this batch has 2 of lengths 5 and 3.
//! let mut m = Model::trainer(g, &Backend::Cpu, (5, 4), Optim::adam(1e-2))?;
//! m.init(0)?;
//! m.write(x, &vec![0.5; 5 * 2 * 3], (5, 2))?;
//! m.write_targets(y, &[1, 0], (5, 2))?;
//! m.set_lengths(Some(&[5, 3]));
//! m.train_step((5, 2))?;
//! assert!(m.scalar(loss)?.is_finite());
//! assert_eq!(m.dims(logits)?, [2, 2]);
//! # Ok(())
//! # }
//! ```
//!
//! Where to find an op, say `matmul`: `shaders/matmul.wgsl` (the kernel), `cpu::matmul`
//! (its CPU twin), `ops::matmul` (the host wrapper that builds and records it), and the tests
//! named `matmul_*` in `tests/golden/`.

#![warn(missing_docs)]

pub mod backend;
pub mod checkpoint;
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
pub use nn::{
    AdamConfig, Backend, Cell, CellConfig, CellKind, CellOut, Choice, Embedding, EmbeddingConfig,
    Graph, Kind, Linear, LinearConfig, LrSchedule, Method, Model, Nonlinearity, Optim, OptimState,
    Reduction, Rnn, RnnConfig, RnnOut, Rows, SgdConfig, StateEntry, Var,
};
