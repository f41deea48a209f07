//! The GPU context's error paths: each is a typed error with a message a user can act on.

use gpu_rnn::Error;
use gpu_rnn::gpu::{GpuContext, GpuTensor};
use gpu_rnn::shaders::Shader;

use crate::common::*;

#[test]
fn no_adapter_says_how_to_get_one() {
    // No backend at all: the same path a machine without a Vulkan driver takes.
    let err = GpuContext::with_backends(None, wgpu::Backends::empty())
        .err()
        .expect("no backends, no adapter");
    assert!(matches!(err, Error::NoAdapter), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("mesa-vulkan-drivers") && msg.contains("--backend cpu"),
        "{msg}"
    );
}

#[test]
fn unknown_adapter_name_lists_the_available_ones() {
    let Some(ctx) = gpu("unknown_adapter_name_lists_the_available_ones") else {
        return;
    };
    let err = GpuContext::new(Some("no-such-adapter-42"))
        .err()
        .expect("no adapter has that name");
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-adapter-42") && msg.contains(&ctx.adapter.name),
        "{msg}"
    );
}

#[test]
fn wgsl_errors_become_typed_errors_naming_the_shader() {
    let Some(ctx) = gpu("wgsl_errors_become_typed_errors_naming_the_shader") else {
        return;
    };
    static BROKEN: Shader = Shader {
        name: "broken_kernel",
        source: "@compute @workgroup_size(1) fn broken_kernel() { let x: u32 = 1.5; }",
    };
    match ctx.pipeline(&BROKEN, "broken_kernel", &[]) {
        Err(Error::Shader { name, message }) => {
            assert!(name.contains("broken_kernel"), "{name}");
            assert!(!message.is_empty());
        }
        other => panic!(
            "expected Error::Shader, got {:?}",
            other.map(|_| "a pipeline")
        ),
    }
    // A wrong override constant fails at pipeline creation, also as Error::Shader.
    let err = ctx
        .pipeline(gpu_rnn::shaders::FILL, "fill", &[("NO_SUCH_CONSTANT", 1.0)])
        .expect_err("unknown override");
    assert!(
        matches!(err, Error::Shader { ref name, .. } if name.starts_with("fill")),
        "{err:?}"
    );
}

#[test]
fn allocation_beyond_the_adapter_limit_names_the_tensor() {
    let Some(ctx) = gpu("allocation_beyond_the_adapter_limit_names_the_tensor") else {
        return;
    };
    let elems = (ctx.limits.max_storage_buffer_binding_size / 4 + 1) as usize;
    let err = GpuTensor::empty(ctx, "huge_activations", &[elems])
        .err()
        .expect("over the limit");
    let msg = err.to_string();
    assert!(
        msg.contains("huge_activations") && msg.contains("max_storage_buffer_binding_size"),
        "{msg}"
    );
}

#[test]
fn pipelines_are_built_once() {
    let Some(ctx) = gpu("pipelines_are_built_once") else {
        return;
    };
    let a = ctx
        .pipeline(gpu_rnn::shaders::FILL, "fill", &[("WG", 64.0)])
        .unwrap();
    let b = ctx
        .pipeline(gpu_rnn::shaders::FILL, "fill", &[("WG", 64.0)])
        .unwrap();
    let c = ctx
        .pipeline(gpu_rnn::shaders::FILL, "fill", &[("WG", 32.0)])
        .unwrap();
    assert!(a == b, "the same key must return the cached pipeline");
    assert!(
        a != c,
        "different override constants are different pipelines"
    );
}
