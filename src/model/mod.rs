//! Models as plans: parameters in one flat buffer with PyTorch's names, and the recurrent
//! layers' forward and backward passes as programs of ops (see [`crate::plan`]).

pub mod char_lm;
pub mod classifier;
pub mod classifier_config;
pub mod embedding_input;
pub mod linear;
pub mod module;
pub mod optim;
pub mod params;
pub mod rnn;
pub mod rnn_config;
pub mod schedule;
pub mod task_graph;
