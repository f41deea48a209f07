//! The public API: declare layers with PyTorch's arguments, compose them into a [`Graph`],
//! and run it as a [`Model`] on either backend.
//!
//! ```
//! use gpu_rnn::{
//!     Backend, EmbeddingConfig, Graph, LinearConfig, Model, Optim, Reduction, RnnConfig, Rows,
//! };
//!
//! # fn main() -> gpu_rnn::Result<()> {
//! // Embedding(5, 8) → LSTM(8, 16) → Linear(16, 5) at every step, as a PyTorch module.
//! let mut g = Graph::new();
//! let (x, y) = (g.ids("x", Rows::Steps), g.targets("y", Rows::Steps));
//! let emb = EmbeddingConfig::new(5, 8).init(&mut g, "embedding")?;
//! let lstm = RnnConfig::lstm(8, 16).init(&mut g, "lstm")?;
//! let fc = LinearConfig::new(16, 5).init(&mut g, "fc")?;
//! let e = emb.forward(&mut g, x)?;
//! let out = lstm.forward(&mut g, e)?;
//! let logits = fc.forward(&mut g, out.output)?;
//! let loss = g.cross_entropy(logits, y, Reduction::Mean, None)?;
//!
//! // 'hello' → 'ohlol' on the CPU backend: T = 4 steps of B = 1 sequence.
//! let mut m = Model::trainer(g, &Backend::Cpu, (4, 1), Optim::adam(0.1))?;
//! m.init(0)?;
//! m.write_ids(x, &[1, 0, 2, 2], (4, 1))?;
//! m.write_targets(y, &[0, 2, 3, 2], (4, 1))?;
//! let mut first = None;
//! for _ in 0..50 {
//!     m.train_step((4, 1))?;
//!     first.get_or_insert(m.scalar(loss)?);
//! }
//! assert!(m.scalar(loss)? < 0.1 * first.unwrap());
//! # Ok(())
//! # }
//! ```

mod declare;
mod graph;
mod io;
mod layers;
mod model;
mod params;
mod run;

pub use graph::{CellOut, Graph, Kind, RnnOut, Rows, Var};
pub use layers::{
    Cell, CellConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Nonlinearity, Rnn,
};
pub use model::{Model, Optim};

// What a model is built from besides the graph's own types, so that `gpu_rnn::nn` (and the
// crate root, which re-exports it) is all a user imports.
pub use crate::backend::{Backend, Choice};
pub use crate::cpu::adam::AdamConfig;
pub use crate::cpu::cross_entropy::Reduction;
pub use crate::cpu::sgd::SgdConfig;
pub use crate::model::optim::Method;
pub use crate::model::rnn::RnnConfig;
pub use crate::model::schedule::LrSchedule;
pub use crate::plan::CellKind;
pub use params::{OptimState, StateEntry};
