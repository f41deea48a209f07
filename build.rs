//! Lists `shaders/*.wgsl` for `src/shaders.rs`, so that a kernel added to `shaders/` is
//! loaded (and validated by tests/shaders.rs) without another edit: one `shaders!` entry per
//! file, its constant the file stem in upper case, in file-name order.

use std::path::Path;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=shaders");
    let mut stems: Vec<String> = fs::read_dir("shaders")
        .expect("read shaders/")
        .map(|e| e.expect("a directory entry of shaders/").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .map(|p| {
            p.file_stem()
                .expect("a file stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    stems.sort();
    let entries: String = stems
        .iter()
        .map(|s| format!("    {} => \"{s}\",\n", s.to_uppercase()))
        .collect();
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("shaders.rs");
    fs::write(out, format!("shaders! {{\n{entries}}}\n")).expect("write the shader list");
}
