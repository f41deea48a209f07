//! The data readers, checkpoints, and the `gpu-rnn` binary as a user runs it.

#[path = "../common/mod.rs"]
mod common;

mod charlm;
mod checkpoint;
mod commands;
mod data;
mod inputs;
mod reliability;
mod resume;
mod sentiment;
mod text;
mod torch_parity;
