//! Every WGSL file parses and validates with naga (no GPU needed; build.rs loads every file
//! of shaders/), and every uniform struct has the size of its Rust mirror.

use std::collections::BTreeSet;

use gpu_rnn::shaders;

fn parse(shader: &shaders::Shader) -> naga::Module {
    naga::front::wgsl::parse_str(shader.source)
        .unwrap_or_else(|e| panic!("{}.wgsl: {}", shader.name, e.emit_to_string(shader.source)))
}

#[test]
fn every_shader_validates_with_naga() {
    for shader in shaders::ALL {
        let module = parse(shader);
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}.wgsl: {}", shader.name, e.emit_to_string(shader.source)));
        assert!(
            module
                .entry_points
                .iter()
                .any(|ep| ep.name.starts_with(shader.name)),
            "{}.wgsl has no entry point named after the file",
            shader.name
        );
    }
    println!("validated {} shaders", shaders::ALL.len());
}

/// Size in bytes of the WGSL struct `name` in `shader`.
fn wgsl_struct_size(shader: &shaders::Shader, name: &str) -> usize {
    let module = parse(shader);
    for (_, ty) in module.types.iter() {
        if ty.name.as_deref() == Some(name)
            && let naga::TypeInner::Struct { span, .. } = ty.inner
        {
            return span as usize;
        }
    }
    panic!("{}.wgsl has no struct {name}", shader.name);
}

#[test]
fn uniform_structs_match_their_rust_mirrors() {
    // Each host wrapper lists its kernels' uniform (`ops::mse::UNIFORMS`, …).
    let cases = gpu_rnn::ops::uniforms();
    let cases = cases.as_slice();
    for &(shader, name, rust) in cases {
        assert_eq!(
            wgsl_struct_size(shader, name),
            rust,
            "{}.wgsl {name} vs its Rust mirror",
            shader.name
        );
    }
    // Every shader with a uniform struct is covered above.
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.0.name).collect();
    for s in shaders::ALL {
        assert!(
            covered.contains(s.name),
            "{}.wgsl's uniform struct has no size check",
            s.name
        );
    }
}

/// The kernels written before WebGPU's default limit of 8 storage buffers per stage was a
/// rule, with their counts: a later issue brings them under it. Every other kernel must stay
/// within it, and these must not grow.
const OVER_THE_STORAGE_LIMIT: [(&str, usize); 4] = [
    ("gru_cell_bwd", 9),
    ("gru_cell_bwd_vec4", 9),
    ("gru_cell_bwd_subgroup", 9),
    ("lstm_cell_bwd", 11),
];

#[test]
fn kernels_bind_at_most_8_storage_buffers() {
    for s in shaders::ALL {
        let module = naga::front::wgsl::parse_str(s.source).expect("valid WGSL");
        let storage = module
            .global_variables
            .iter()
            .filter(|(_, v)| matches!(v.space, naga::AddressSpace::Storage { .. }))
            .count();
        let limit = OVER_THE_STORAGE_LIMIT
            .iter()
            .find(|(name, _)| *name == s.name)
            .map_or(8, |&(_, n)| n);
        assert!(
            storage <= limit,
            "{}.wgsl binds {storage} storage buffers, over {limit}",
            s.name
        );
        assert!(
            limit == 8 || storage == limit,
            "{}.wgsl now binds {storage}: update OVER_THE_STORAGE_LIMIT",
            s.name
        );
    }
}
