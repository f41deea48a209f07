//! Every WGSL source the crate uses, loaded with `include_str!` in this one place: one
//! constant per file of `shaders/` (listed by build.rs), `MATMUL` for `shaders/matmul.wgsl`.
//!
//! A test (tests/shaders.rs) validates each with naga without a GPU.

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
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file, ".wgsl")),
        };)*
        /// All shaders, in file-name order.
        pub const ALL: &[&Shader] = &[$($konst),*];
    };
}

// One entry per `shaders/*.wgsl` file, written by build.rs.
include!(concat!(env!("OUT_DIR"), "/shaders.rs"));
