//! Helpers shared by the test binaries: seeded random inputs, `assert_close`, and the GPU
//! context (or a printed skip line when there is no adapter).
#![allow(dead_code)]

use std::sync::OnceLock;

use gpu_rnn::gpu::{GpuContext, GpuTensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Replays a run: `GPU_RNN_SEED=1234 cargo test …`.
pub const SEED_ENV: &str = "GPU_RNN_SEED";
/// With `GPU_RNN_REQUIRE_GPU=1`, a missing adapter fails the GPU tests instead of skipping them.
pub const REQUIRE_ENV: &str = "GPU_RNN_REQUIRE_GPU";

/// Sizes every shape-drawing test includes: 1, odd primes, non-multiples of every tile.
pub const EDGE_SIZES: [usize; 5] = [1, 3, 17, 100, 257];

/// A seeded generator for one test; prints the seed so a failure can be replayed.
pub struct TestRng {
    pub seed: u64,
    rng: StdRng,
}

impl TestRng {
    pub fn new(test: &str) -> Self {
        let seed = match std::env::var(SEED_ENV) {
            Ok(s) => s
                .parse()
                .unwrap_or_else(|_| panic!("{SEED_ENV} must be a u64, got {s:?}")),
            Err(_) => rand::random(),
        };
        println!("{test}: seed {seed} (replay with {SEED_ENV}={seed})");
        Self {
            seed,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Uniform in [lo, hi); never all zeros for any sensible range.
    pub fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.rng.random_range(lo..hi)).collect()
    }

    /// Uniform in [-1, 1) with no exact zeros, so a kernel that ignores an input shows.
    pub fn values(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let x: f32 = self.rng.random_range(-1.0..1.0);
                if x == 0.0 { 0.5 } else { x }
            })
            .collect()
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// An edge size or a random size in 1..=max.
    pub fn size(&mut self, max: usize) -> usize {
        if self.rng.random_bool(0.5) {
            let edges: Vec<_> = EDGE_SIZES.iter().copied().filter(|&s| s <= max).collect();
            edges[self.below(edges.len())]
        } else {
            1 + self.below(max)
        }
    }

    pub fn coin(&mut self) -> bool {
        self.rng.random_bool(0.5)
    }
}

/// `|got − want| ≤ atol + rtol·|want|`; false when either is NaN.
fn within(got: f32, want: f32, atol: f32, rtol: f32) -> bool {
    (got - want).abs() <= atol + rtol * want.abs()
}

/// Fails unless `|got − want| ≤ atol + rtol·|want|` everywhere (NaN fails); reports the worst
/// element, its values and the seed.
#[track_caller]
pub fn assert_close(name: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32, seed: u64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: length {} vs {} (seed {seed})",
        got.len(),
        want.len()
    );
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        if !within(g, w, atol, rtol) && worst.is_none_or(|(_, e)| excess.is_nan() || excess > e) {
            worst = Some((i, excess));
            if excess.is_nan() {
                break;
            }
        }
    }
    if let Some((i, _)) = worst {
        let bad = got
            .iter()
            .zip(want)
            .filter(|&(&g, &w)| !within(g, w, atol, rtol))
            .count();
        panic!(
            "{name}: {bad} of {} elements out of tolerance (atol {atol:e}, rtol {rtol:e}); worst at \
             index {i}: got {}, want {}, |diff| {:e} (seed {seed}; replay with {SEED_ENV}={seed})",
            got.len(),
            got[i],
            want[i],
            (got[i] - want[i]).abs(),
        );
    }
}

/// The shared GPU context, or `None` after printing a skip line. With GPU_RNN_REQUIRE_GPU=1 a
/// missing adapter panics instead, so CI cannot pass by skipping.
pub fn gpu(test: &str) -> Option<&'static std::sync::Arc<GpuContext>> {
    static CTX: OnceLock<Result<std::sync::Arc<GpuContext>, String>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| {
        GpuContext::new(None)
            .map(std::sync::Arc::new)
            .map_err(|e| e.to_string())
    });
    match ctx {
        Ok(ctx) => {
            println!("{test}: GPU {}", ctx.adapter);
            Some(ctx)
        }
        Err(e) => {
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!("{test}: {REQUIRE_ENV}=1 but no GPU: {e}");
            }
            println!("SKIP {test}: no GPU adapter ({e})");
            None
        }
    }
}

/// Elements appended after an output view, so that a write past the view shows (a write past
/// the end of the buffer would be dropped silently by robust buffer access).
pub const GUARD: usize = 16;

/// The guard region after an output must still hold exactly what it was filled with.
#[track_caller]
pub fn assert_untouched(name: &str, got: &[f32], init: &[f32], seed: u64) {
    for (i, (g, w)) in got.iter().zip(init).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{name}: wrote {g} into the guard region at +{i} (seed {seed})"
        );
    }
}

/// A GPU tensor filled with NaN, so an element the kernel forgets to write fails the test.
pub fn poisoned(ctx: &GpuContext, label: &str, shape: &[usize]) -> GpuTensor {
    let n: usize = shape.iter().product();
    GpuTensor::from_slice(ctx, label, shape, &vec![f32::NAN; n]).expect("allocate test tensor")
}

/// Upload a host vector.
pub fn upload<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> GpuTensor {
    GpuTensor::from_slice(ctx, label, &[data.len()], data).expect("upload test tensor")
}

/// Record and submit `dispatches`, then wait.
pub fn run(ctx: &GpuContext, dispatches: &[&gpu_rnn::gpu::Dispatch]) {
    let mut rec = gpu_rnn::gpu::Recorder::new(ctx, "test");
    for d in dispatches {
        d.record(&mut rec);
    }
    rec.submit();
}

/// Read a tensor back.
pub fn download(ctx: &GpuContext, t: &GpuTensor) -> Vec<f32> {
    t.read(ctx).expect("read back test tensor")
}

/// Whether `ctx` runs the subgroup kernels (subgroups of 8 to 64 invocations). lavapipe has
/// subgroups of 8, so there the answer must be yes: a subgroup test never skips in CI.
pub fn subgroups(ctx: &GpuContext) -> bool {
    let fit = gpu_rnn::ops::matmul::subgroups_fit(ctx);
    assert!(
        fit || !ctx.adapter.name.contains("llvmpipe"),
        "lavapipe offers subgroups of 8, yet the device has {:?}",
        ctx.adapter.subgroup_sizes
    );
    fit
}

/// An f32 tensor of a safetensors file: its shape and values.
pub fn read_tensor(path: &std::path::Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor(name).unwrap();
    let data = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (t.shape().to_vec(), data)
}

/// The `__metadata__` of a safetensors file.
pub fn read_metadata(path: &std::path::Path) -> std::collections::HashMap<String, String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().unwrap_or_default()
}
