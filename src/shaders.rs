//! Every WGSL source the crate uses, loaded with `include_str!` in this one place.
//!
//! A test (tests/shaders.rs) validates each with naga without a GPU and checks that every
//! file in `shaders/` is listed here.

/// One `.wgsl` file from `shaders/`.
#[derive(Debug)]
pub struct Shader {
    /// File stem; also the pipeline label prefix.
    pub name: &'static str,
    /// The WGSL text.
    pub source: &'static str,
}

macro_rules! shaders {
    ($($konst:ident => $file:literal),* $(,)?) => {
        $(
        /// A shader, by its file stem in upper case (`ADAM` is `shaders/adam.wgsl`).
        pub const $konst: &Shader = &Shader {
            name: $file,
            source: include_str!(concat!("../shaders/", $file, ".wgsl")),
        };)*
        /// All shaders, in the order listed.
        pub const ALL: &[&Shader] = &[$($konst),*];
    };
}

shaders! {
    ADAM => "adam",
    BIAS_GRAD => "bias_grad",
    COPY => "copy",
    CROSS_ENTROPY => "cross_entropy",
    DROPOUT => "dropout",
    EMBEDDING_BWD => "embedding_bwd",
    EMBEDDING_FWD => "embedding_fwd",
    FILL => "fill",
    GRAD_NORM => "grad_norm",
    GRU_CELL_BWD => "gru_cell_bwd",
    GRU_CELL_BWD_SUBGROUP => "gru_cell_bwd_subgroup",
    GRU_CELL_BWD_VEC4 => "gru_cell_bwd_vec4",
    GRU_CELL_FWD => "gru_cell_fwd",
    GRU_CELL_FWD_SUBGROUP => "gru_cell_fwd_subgroup",
    GRU_CELL_FWD_VEC4 => "gru_cell_fwd_vec4",
    LSTM_CELL_BWD => "lstm_cell_bwd",
    LSTM_CELL_BWD_VEC4 => "lstm_cell_bwd_vec4",
    LSTM_CELL_FWD => "lstm_cell_fwd",
    LSTM_CELL_FWD_VEC4 => "lstm_cell_fwd_vec4",
    MATMUL => "matmul",
    MATMUL_SUBGROUP => "matmul_subgroup",
    MATMUL_TILED => "matmul_tiled",
    MATMUL_VEC4 => "matmul_vec4",
    MSE => "mse",
    RNN_CELL_BWD => "rnn_cell_bwd",
    RNN_CELL_FWD => "rnn_cell_fwd",
    SGD => "sgd",
}
