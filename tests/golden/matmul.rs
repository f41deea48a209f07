use gpu_rnn::cpu;
use gpu_rnn::ops::matmul::{MatmulDims, MatmulKernel, matmul_with, vec4_eligible};

use gpu_rnn::gpu::GpuContext;

use crate::common::*;

/// Naive f64 product with the same layout rules: checks the CPU twin's strides and transposes.
fn naive(c: &mut [f32], a: &[f32], b: &[f32], bias: Option<&[f32]>, d: &MatmulDims) {
    for z in 0..d.batch {
        let (a, b) = (&a[z * d.batch_a..], &b[z * d.batch_b..]);
        let bias = bias.map(|v| &v[z * d.batch_bias..]);
        let c = &mut c[z * d.batch_c..];
        for i in 0..d.m {
            for j in 0..d.n {
                let mut s = 0f64;
                for k in 0..d.k {
                    let av = if d.trans_a {
                        a[k * d.lda + i]
                    } else {
                        a[i * d.lda + k]
                    };
                    let bv = if d.trans_b {
                        b[j * d.ldb + k]
                    } else {
                        b[k * d.ldb + j]
                    };
                    s += av as f64 * bv as f64;
                }
                if let Some(bias) = bias {
                    s += bias[j] as f64;
                }
                let x = &mut c[i * d.ldc + j];
                *x = if d.accumulate {
                    *x + s as f32
                } else {
                    s as f32
                };
            }
        }
    }
}

/// Random dims for one variant; with `views`, padded strides and nonzero offsets.
fn draw(
    rng: &mut TestRng,
    base: fn(usize, usize, usize) -> MatmulDims,
    views: bool,
) -> (MatmulDims, [usize; 3]) {
    let (m, n, k) = (rng.size(257), rng.size(257), rng.size(257));
    let mut d = base(m, n, k);
    let mut offs = [0; 3];
    if views {
        d.lda += rng.below(5);
        d.ldb += rng.below(5);
        d.ldc += rng.below(5);
        offs = [rng.below(7), rng.below(7), rng.below(7)];
    }
    (d, offs)
}

// Tolerance: both sides are f32 sums of K ≤ 257 products of values in [-1, 1), added in
// different orders (sgemm's blocking vs. the kernel's serial k loop), so each carries a
// rounding error below K·2⁻²⁴·Σ|a·b| ≤ 4e-3 at worst and far less in practice. Measured over
// five seeds (GPU, sgemm and an f64 loop against each other): at most 2e-5 on entries near 20,
// i.e. about 1e-6 relative. atol 1e-4 + rtol 1e-4 leaves at least 5× headroom, while an
// indexing or transpose bug (errors of order 1) cannot hide. Longer sums carry proportionally
// more rounding (the lecture's weight gradients sum K = 4864 products; one near-zero entry
// there differed by 1.3e-4), so atol grows linearly with K past 257: see `atol_for`.
const ATOL: f32 = 1e-4;

fn atol_for(d: &MatmulDims) -> f32 {
    ATOL * (d.k as f32 / 257.0).max(1.0)
}
const RTOL: f32 = 1e-4;

/// One GPU-vs-CPU case.
fn check(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    name: &str,
    rng: &mut TestRng,
    d: MatmulDims,
    offs: [usize; 3],
    with_bias: bool,
) {
    let (ea, eb, ec) = d.extents();
    let a = rng.values(offs[0] + ea);
    let b = rng.values(offs[1] + eb);
    let bias = rng.values((d.batch - 1) * d.batch_bias + d.n);
    // Accumulating products start from random C; assigning ones from NaN. A guard region of
    // two rows follows the view: robust buffer access silently drops a write past the end of
    // a buffer, so a stray write must land where the test can see it.
    let c_len = offs[2] + ec + 2 * d.ldc + GUARD;
    let c0 = if d.accumulate {
        rng.values(c_len)
    } else {
        vec![f32::NAN; c_len]
    };

    let mut want = c0.clone();
    cpu::matmul::matmul(
        &mut want[offs[2]..],
        &a[offs[0]..],
        &b[offs[1]..],
        with_bias.then_some(&bias[..]),
        &d,
    );
    let mut exact = c0.clone();
    naive(
        &mut exact[offs[2]..],
        &a[offs[0]..],
        &b[offs[1]..],
        with_bias.then_some(&bias[..]),
        &d,
    );

    let ta = upload(ctx, "a", &a);
    let tb = upload(ctx, "b", &b);
    let tbias = upload(ctx, "bias", &bias);
    let tc = upload(ctx, "c", &c0);
    let op = matmul_with(
        ctx,
        kernel,
        tc.slice(offs[2], ec).unwrap(),
        ta.slice(offs[0], ea).unwrap(),
        tb.slice(offs[1], eb).unwrap(),
        with_bias.then(|| tbias.all()),
        &d,
    )
    .unwrap();
    run(ctx, &[&op]);
    let got = download(ctx, &tc);

    // Compare the (M, N) view; everything outside it must be untouched.
    // Every (z, i, j) of the batch's C views.
    let cells: Vec<usize> = (0..d.batch)
        .flat_map(|z| {
            (0..d.m)
                .flat_map(move |i| (0..d.n).map(move |j| offs[2] + z * d.batch_c + i * d.ldc + j))
        })
        .collect();
    let view = |v: &[f32]| -> Vec<f32> { cells.iter().map(|&p| v[p]).collect() };
    let what = format!("{name} ({kernel:?}) {d:?} offs {offs:?} bias {with_bias}");
    assert_close(
        &format!("{what}: cpu vs naive"),
        &view(&want),
        &view(&exact),
        atol_for(&d),
        RTOL,
        rng.seed,
    );
    assert_close(
        &format!("{what}: gpu vs cpu"),
        &view(&got),
        &view(&want),
        atol_for(&d),
        RTOL,
        rng.seed,
    );
    let mut inside = vec![false; got.len()];
    for &p in &cells {
        inside[p] = true;
    }
    for (p, (&g, &c)) in got.iter().zip(&c0).enumerate() {
        assert!(
            inside[p] || g.to_bits() == c.to_bits(),
            "{what}: element {p} outside C was written (seed {})",
            rng.seed
        );
    }
}

#[test]
fn matmul_fwd_nt_bias_matches_cpu() {
    // Forward of a linear layer: Y = X·Wᵀ + b.
    let mut rng = TestRng::new("matmul_fwd_nt_bias_matches_cpu");
    let Some(ctx) = gpu("matmul_fwd_nt_bias_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let (d, offs) = draw(&mut rng, MatmulDims::nt, false);
        check(
            ctx,
            MatmulKernel::Scalar,
            "matmul_fwd_nt",
            &mut rng,
            d,
            offs,
            true,
        );
    }
    check(
        ctx,
        MatmulKernel::Scalar,
        "matmul_fwd_nt",
        &mut rng,
        MatmulDims::nt(1, 1, 1),
        [0; 3],
        true,
    );
    check(
        ctx,
        MatmulKernel::Scalar,
        "matmul_fwd_nt",
        &mut rng,
        MatmulDims::nt(257, 17, 3),
        [0; 3],
        true,
    );
}

#[test]
fn matmul_fwd_nn_matches_cpu() {
    let mut rng = TestRng::new("matmul_fwd_nn_matches_cpu");
    let Some(ctx) = gpu("matmul_fwd_nn_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let bias = rng.coin();
        let (d, offs) = draw(&mut rng, MatmulDims::nn, false);
        check(
            ctx,
            MatmulKernel::Scalar,
            "matmul_fwd_nn",
            &mut rng,
            d,
            offs,
            bias,
        );
    }
    check(
        ctx,
        MatmulKernel::Scalar,
        "matmul_fwd_nn",
        &mut rng,
        MatmulDims::nn(100, 257, 1),
        [0; 3],
        false,
    );
}

#[test]
fn matmul_bwd_nn_input_grad_matches_cpu() {
    // dX (M, K) = dY (M, N) · W (N, K): an NN product.
    let mut rng = TestRng::new("matmul_bwd_nn_input_grad_matches_cpu");
    let Some(ctx) = gpu("matmul_bwd_nn_input_grad_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let (d, offs) = draw(&mut rng, MatmulDims::nn, true);
        check(
            ctx,
            MatmulKernel::Scalar,
            "matmul_bwd_nn",
            &mut rng,
            d,
            offs,
            false,
        );
    }
}

#[test]
fn matmul_bwd_tn_weight_grad_accumulates_matches_cpu() {
    // dW (N, K) += dYᵀ · X: a TN product accumulated into the gradient buffer.
    let mut rng = TestRng::new("matmul_bwd_tn_weight_grad_accumulates_matches_cpu");
    let Some(ctx) = gpu("matmul_bwd_tn_weight_grad_accumulates_matches_cpu") else {
        return;
    };
    for _ in 0..6 {
        let (d, offs) = draw(&mut rng, MatmulDims::tn, true);
        check(
            ctx,
            MatmulKernel::Scalar,
            "matmul_bwd_tn",
            &mut rng,
            d.accumulate(),
            offs,
            false,
        );
    }
    check(
        ctx,
        MatmulKernel::Scalar,
        "matmul_bwd_tn",
        &mut rng,
        MatmulDims::tn(3, 1, 257).accumulate(),
        [0; 3],
        false,
    );
}

#[test]
fn matmul_tt_and_strided_views_match_cpu() {
    let mut rng = TestRng::new("matmul_tt_and_strided_views_match_cpu");
    let Some(ctx) = gpu("matmul_tt_and_strided_views_match_cpu") else {
        return;
    };
    for _ in 0..4 {
        let bias = rng.coin();
        let (d, offs) = draw(&mut rng, MatmulDims::tt, true);
        check(
            ctx,
            MatmulKernel::Scalar,
            "matmul_tt",
            &mut rng,
            d,
            offs,
            bias,
        );
        let (d, offs) = draw(&mut rng, MatmulDims::nt, true);
        check(
            ctx,
            MatmulKernel::Scalar,
            "matmul_nt_views",
            &mut rng,
            d.accumulate(),
            offs,
            bias,
        );
    }
}

#[test]
fn matmul_rejects_short_operands_and_aliasing() {
    let Some(ctx) = gpu("matmul_rejects_short_operands_and_aliasing") else {
        return;
    };
    let t = upload(ctx, "t", &[1f32; 12]);
    let u = upload(ctx, "u", &[1f32; 12]);
    let d = MatmulDims::nn(4, 4, 4); // needs 16 elements each
    let err = matmul_with(
        ctx,
        MatmulKernel::Scalar,
        u.all(),
        t.all(),
        t.all(),
        None,
        &d,
    )
    .err()
    .expect("short A must fail");
    assert!(err.to_string().contains("at least 16"), "{err}");
    let d = MatmulDims::nn(3, 3, 3);
    let err = matmul_with(
        ctx,
        MatmulKernel::Scalar,
        t.all(),
        t.all(),
        u.all(),
        None,
        &d,
    )
    .err()
    .expect("aliasing must fail");
    assert!(err.to_string().contains("both read and written"), "{err}");
}

/// Random 4-aligned dims for the vec4 kernel: the contiguous dimensions, strides and offsets
/// are multiples of 4; the other dimensions are anything, including 1 and odd sizes.
fn draw_aligned(
    rng: &mut TestRng,
    base: fn(usize, usize, usize) -> MatmulDims,
) -> (MatmulDims, [usize; 3]) {
    let any = |rng: &mut TestRng| rng.size(257);
    let four = |rng: &mut TestRng| 4 * (1 + rng.below(65));
    let probe = base(1, 1, 1);
    let (m, n, k) = match (probe.trans_a, probe.trans_b) {
        (false, true) => (any(rng), any(rng), four(rng)),
        (false, false) => (any(rng), four(rng), four(rng)),
        _ => (four(rng), four(rng), any(rng)),
    };
    let mut d = base(m, n, k);
    d.lda += 4 * rng.below(3);
    d.ldb += 4 * rng.below(3);
    d.ldc += rng.below(5);
    let offs = [4 * rng.below(3), 4 * rng.below(3), rng.below(7)];
    assert!(vec4_eligible(&d, offs[0], offs[1]), "{d:?} {offs:?}");
    (d, offs)
}

#[test]
fn matmul_vec4_nt_nn_tn_match_cpu() {
    let Some(ctx) = gpu("matmul_vec4_nt_nn_tn_match_cpu") else {
        return;
    };
    aligned_kernel_matches_cpu(ctx, MatmulKernel::Vec4, "matmul_vec4");
}

// The subgroup variant: lavapipe has subgroups of 8, so CI runs it. A device without them
// must refuse it with a clear error.
#[test]
fn matmul_subgroup_nt_nn_tn_match_cpu() {
    let Some(ctx) = gpu("matmul_subgroup_nt_nn_tn_match_cpu") else {
        return;
    };
    if !subgroups(ctx) {
        let t = upload(ctx, "t", &[1f32; 64]);
        let u = upload(ctx, "u", &[1f32; 64]);
        let dims = MatmulDims::nt(4, 4, 4);
        let err = matmul_with(
            ctx,
            MatmulKernel::Subgroup,
            u.all(),
            t.all(),
            t.all(),
            None,
            &dims,
        )
        .err()
        .expect("no subgroups");
        assert!(err.to_string().contains("subgroups"), "{err}");
        return;
    }
    aligned_kernel_matches_cpu(ctx, MatmulKernel::Subgroup, "matmul_subgroup");
}

/// Random aligned NT, NN and TN products with views, bias and accumulate, then the lecture
/// model's shapes, through `kernel`.
fn aligned_kernel_matches_cpu(ctx: &GpuContext, kernel: MatmulKernel, prefix: &str) {
    let mut rng = TestRng::new(&format!("{prefix}_nt_nn_tn_match_cpu"));
    for (layout, base) in [
        (
            "nt",
            MatmulDims::nt as fn(usize, usize, usize) -> MatmulDims,
        ),
        ("nn", MatmulDims::nn),
        ("tn", MatmulDims::tn),
    ] {
        let name = format!("{prefix}_{layout}");
        for _ in 0..4 {
            let bias = rng.coin();
            let acc = rng.coin();
            let (d, offs) = draw_aligned(&mut rng, base);
            let d = if acc { d.accumulate() } else { d };
            check(ctx, kernel, &name, &mut rng, d, offs, bias);
        }
    }
    // The lecture model's shapes.
    let nt = format!("{prefix}_nt");
    let tn = format!("{prefix}_tn");
    let dims = MatmulDims::nt(4864, 600, 100);
    check(ctx, kernel, &nt, &mut rng, dims, [0; 3], true);
    let dims = MatmulDims::tn(600, 200, 4864).accumulate();
    check(ctx, kernel, &tn, &mut rng, dims, [0; 3], false);
    // The weight gradients' shapes, which matmul_subgroup tiles with 2 and 4 octets along M.
    let dims = MatmulDims::tn(300, 100, 520).accumulate();
    check(ctx, kernel, &tn, &mut rng, dims, [0; 3], false);
    let dims = MatmulDims::nn(100, 60, 36);
    check(
        ctx,
        kernel,
        &format!("{prefix}_nn"),
        &mut rng,
        dims,
        [0; 3],
        true,
    );
}

// The shared-memory variant (the one real GPUs get): every transpose, strided views and
// offsets, bias and accumulate, shapes that are not multiples of its 64×64 block or its
// 16-wide K slice, and one of the lecture's shapes. Lavapipe runs it slowly (barriers), so the
// shapes stay small.
#[test]
fn matmul_tiled_matches_cpu() {
    let mut rng = TestRng::new("matmul_tiled_matches_cpu");
    let Some(ctx) = gpu("matmul_tiled_matches_cpu") else {
        return;
    };
    for (name, base) in [
        (
            "matmul_tiled_nt",
            MatmulDims::nt as fn(usize, usize, usize) -> MatmulDims,
        ),
        ("matmul_tiled_nn", MatmulDims::nn),
        ("matmul_tiled_tn", MatmulDims::tn),
        ("matmul_tiled_tt", MatmulDims::tt),
    ] {
        for _ in 0..3 {
            let bias = rng.coin();
            let acc = rng.coin();
            let (d, offs) = draw(&mut rng, base, true);
            let d = if acc { d.accumulate() } else { d };
            check(ctx, MatmulKernel::Tiled, name, &mut rng, d, offs, bias);
        }
    }
    check(
        ctx,
        MatmulKernel::Tiled,
        "matmul_tiled_nt",
        &mut rng,
        MatmulDims::nt(1000, 600, 100),
        [0; 3],
        true,
    );
}

#[test]
fn matmul_vec4_rejects_unaligned_operands() {
    let Some(ctx) = gpu("matmul_vec4_rejects_unaligned_operands") else {
        return;
    };
    let t = upload(ctx, "t", &[1f32; 64]);
    let u = upload(ctx, "u", &[1f32; 64]);
    let err = matmul_with(
        ctx,
        MatmulKernel::Vec4,
        u.all(),
        t.all(),
        t.all(),
        None,
        &MatmulDims::nt(3, 3, 3),
    )
    .err()
    .expect("K = 3 is not 4-aligned");
    assert!(err.to_string().contains("4-aligned"), "{err}");
}

/// A batch of products per dispatch (gid.z), as the recurrent layers use for both directions:
/// every kernel the device runs, operands a random gap apart.
#[test]
fn matmul_batched_matches_cpu() {
    let mut rng = TestRng::new("matmul_batched_matches_cpu");
    let Some(ctx) = gpu("matmul_batched_matches_cpu") else {
        return;
    };
    let mut kernels = vec![
        MatmulKernel::Scalar,
        MatmulKernel::Vec4,
        MatmulKernel::Tiled,
    ];
    if subgroups(ctx) {
        kernels.push(MatmulKernel::Subgroup);
    }
    for kernel in kernels {
        let aligned = matches!(kernel, MatmulKernel::Vec4 | MatmulKernel::Subgroup);
        for (name, base) in [
            (
                "matmul_batched_nt",
                MatmulDims::nt as fn(usize, usize, usize) -> MatmulDims,
            ),
            ("matmul_batched_nn", MatmulDims::nn),
            ("matmul_batched_tn", MatmulDims::tn),
        ] {
            let (d, offs) = if aligned {
                draw_aligned(&mut rng, base)
            } else {
                draw(&mut rng, base, true)
            };
            let (ea, eb, ec) = d.extents();
            let gap = |rng: &mut TestRng| {
                if aligned {
                    4 * rng.below(3)
                } else {
                    rng.below(5)
                }
            };
            let strides = [
                ea + gap(&mut rng),
                eb + gap(&mut rng),
                ec + rng.below(5),
                d.n + rng.below(5),
            ];
            let d = d.batched(2 + rng.below(2), strides);
            let bias = rng.coin();
            check(ctx, kernel, name, &mut rng, d, offs, bias);
        }
    }
}

/// The `Steps` of a padded (T, B) batch (its lengths view unused: `Steps::rows` takes them).
fn steps_of(t: usize, b: usize, reversed: [bool; 2]) -> gpu_rnn::plan::Steps {
    use gpu_rnn::plan::{BufId, Steps, View};
    let lens = View {
        buf: BufId(0),
        offset: 0,
        len: b,
    };
    Steps {
        lens,
        t,
        b,
        reversed,
    }
}

/// Lengths of a padded (T, B) batch in any order (some rows may be shorter than T).
fn padded_lens(rng: &mut TestRng) -> (usize, usize, Vec<u32>) {
    let (t, b) = (1 + rng.below(9), rng.size(40));
    let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
    lens[rng.below(b)] = t as u32;
    (t, b, lens)
}

/// Zero the rows of `x` (T·B rows of `width` every `ld`) that are past their length at their
/// block's time, as a recurrent layer leaves its padding.
fn zero_padding(x: &mut [f32], lens: &[u32], t: usize, ld: usize, width: usize, rev: bool) {
    let b = lens.len();
    for i in 0..t {
        let time = if rev { t - 1 - i } else { i };
        for (j, &l) in lens.iter().enumerate() {
            if l as usize <= time {
                let r = (i * b + j) * ld;
                x[r..r + width].fill(0.0);
            }
        }
    }
}

// A padded matmul's CPU twin skips each step's padding rows: it must equal the whole product,
// rows of C past each step's real rows included, for the row-blocked (NT forward with bias,
// NN input gradient) and the K-blocked (TN weight gradient, batched over two directions with
// the second in reversed step order) shapes. Same sgemm, different blocking: ATOL as above.
#[test]
fn matmul_padded_equals_whole_product() {
    let mut rng = TestRng::new("matmul_padded_equals_whole_product");
    let mut seen_skips = 0;
    for case in 0..12 {
        let (t, b, lens) = padded_lens(&mut rng);
        let steps = steps_of(t, b, [false, true]);
        let rows = steps.rows(&lens);
        seen_skips += rows[0].iter().filter(|&&n| n < b).count();
        let (n, k) = (rng.size(33), rng.size(33));
        let accumulate = case % 3 == 2;
        let (dims, a_rows_width) = match case % 2 {
            // Rows of A and C are the blocks.
            0 => {
                let d = if rng.coin() {
                    MatmulDims::nt(t * b, n, k)
                } else {
                    MatmulDims::nn(t * b, n, k)
                };
                (d, (d.lda, k))
            }
            // K is the blocks: C (N, K') = Aᵀ·B, both directions.
            _ => (
                MatmulDims::tn(n, k, t * b).batched(2, [t * b * n, t * b * k, n * k, 0]),
                (n, n),
            ),
        };
        let dims = if accumulate { dims.accumulate() } else { dims };
        let (ea, eb, ec) = dims.extents();
        let mut a = rng.values(ea);
        for z in 0..dims.batch {
            let (ld, width) = a_rows_width;
            zero_padding(&mut a[z * dims.batch_a..], &lens, t, ld, width, z == 1);
        }
        let bm = rng.values(eb);
        let bias = (!dims.trans_a).then(|| rng.values(n));
        let c0 = rng.values(ec);
        let mut want = c0.clone();
        cpu::matmul::matmul(&mut want, &a, &bm, bias.as_deref(), &dims);
        let mut got = c0.clone();
        let block_rows = if dims.trans_a {
            rows.clone()
        } else {
            vec![rows[0].clone()]
        };
        cpu::matmul::matmul_padded(&mut got, &a, &bm, bias.as_deref(), &dims, b, &block_rows);
        assert_close(
            &format!("matmul_padded case {case} {dims:?}"),
            &got,
            &want,
            atol_for(&dims),
            RTOL,
            rng.seed,
        );
    }
    assert!(seen_skips > 0, "no case had padding rows to skip");
}

// The autotune: every layout gets a kernel this device runs, the choice is saved per adapter
// and read back instead of measured again, and a cache file that does not parse is measured
// over rather than an error.
#[test]
fn matmul_autotune_saves_its_choice_per_adapter() {
    use gpu_rnn::ops::matmul::{subgroups_fit, tuned_from};
    let Some(ctx) = gpu("matmul_autotune_saves_its_choice_per_adapter") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("gpu-rnn-autotune-{}", std::process::id()));
    let path = dir.join("matmul-autotune.json");
    let _ = std::fs::remove_dir_all(&dir);
    if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        assert!(tuned_from(ctx, &path).is_err());
        return;
    }
    let first = tuned_from(ctx, &path).expect("autotune");
    for k in first {
        assert!(k != MatmulKernel::Scalar, "{first:?}");
        assert!(
            k != MatmulKernel::Subgroup || subgroups_fit(ctx),
            "{first:?}"
        );
    }
    let text = std::fs::read_to_string(&path).expect("the cache file");
    let mut file: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let entry = file
        .as_object_mut()
        .unwrap()
        .iter_mut()
        .find(|(key, _)| key.contains(&ctx.adapter.name))
        .map(|(_, v)| v)
        .expect("this adapter's entry");
    for layout in ["NT", "NN", "TN"] {
        assert!(entry.get(layout).is_some(), "{text}");
        entry[layout] = "Tiled".into();
    }
    std::fs::write(&path, file.to_string()).unwrap();
    assert_eq!(tuned_from(ctx, &path).unwrap(), [MatmulKernel::Tiled; 3]);

    std::fs::write(&path, "not json").unwrap();
    tuned_from(ctx, &path).expect("measured over a broken file");
    // A cache "folder" that is a file: the measurement still answers, unsaved.
    let blocked = dir.join("not-a-folder");
    std::fs::write(&blocked, "").unwrap();
    let kernels = tuned_from(ctx, &blocked.join("matmul-autotune.json")).expect("unsaved");
    assert!(kernels.iter().all(|&k| k != MatmulKernel::Scalar));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_ok(),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// matmul_subgroup over a padded batch (a padded `Op::Matmul` on the GPU) skips octets of
// padding rows (along M) and slices of 8 padding k (along K, both directions, the second
// reversed in time). With the padding zeroed, as the recurrent layers leave it, the result equals the
// whole product everywhere. Lengths are sorted, as the classifier sorts them, so whole octets
// and slices are padding.
#[test]
fn matmul_subgroup_skips_padding_and_equals_the_whole_product() {
    use gpu_rnn::ops::matmul::{PaddedRows, matmul_padded_with};
    let mut rng = TestRng::new("matmul_subgroup_skips_padding_and_equals_the_whole_product");
    let Some(ctx) = gpu("matmul_subgroup_skips_padding_and_equals_the_whole_product") else {
        return;
    };
    if !subgroups(ctx) {
        return;
    }
    let mut skippable = 0;
    for case in 0..6 {
        let (t, b) = (2 + rng.below(6), 32 + 8 * rng.below(6));
        let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
        lens[0] = t as u32;
        lens.sort_by(|x, y| y.cmp(x));
        let gl = upload(ctx, "lens", &lens);
        let (n, k) = (4 * (1 + rng.below(20)), 4 * (1 + rng.below(20)));
        let padding = |i: usize, rev: bool| {
            let step = i / b;
            let time = if rev { t - 1 - step } else { step };
            lens[i % b] as usize <= time
        };
        // Along M: NT with a bias, rows past each length zero in A.
        let m = t * b;
        let mut a = rng.values(m * k);
        for (i, row) in a.chunks_mut(k).enumerate() {
            if padding(i, false) {
                row.fill(0.0);
            }
        }
        skippable += (0..m.div_ceil(32))
            .filter(|o| (32 * o..(32 * o + 32).min(m)).all(|i| padding(i, false)))
            .count();
        let bm = rng.values(n * k);
        let bias = rng.values(n);
        let dims = MatmulDims::nt(m, n, k);
        let mut want = vec![0f32; m * n];
        cpu::matmul::matmul(&mut want, &a, &bm, Some(&bias), &dims);
        let (ga, gb, gbias) = (
            upload(ctx, "a", &a),
            upload(ctx, "b", &bm),
            upload(ctx, "bias", &bias),
        );
        let gc = poisoned(ctx, "c", &[m * n]);
        let rows = PaddedRows {
            lens: gl.all(),
            steps_b: b,
            reversed: [false; 2],
        };
        let d = matmul_padded_with(
            ctx,
            MatmulKernel::Subgroup,
            gc.all(),
            ga.all(),
            gb.all(),
            Some(gbias.all()),
            &dims,
            rows,
        )
        .expect("matmul_padded");
        run(ctx, &[&d]);
        let what = format!("case {case} along M, T {t} B {b}: gpu vs cpu");
        assert_close(
            &what,
            &download(ctx, &gc),
            &want,
            atol_for(&dims),
            RTOL,
            rng.seed,
        );

        // Along K: a batch of two TN weight gradients, the second reversed in time.
        let kk = t * b;
        let mm = 4 * (1 + rng.below(20));
        let dims = MatmulDims::tn(mm, n, kk)
            .batched(2, [kk * mm, kk * n, mm * n, 0])
            .accumulate();
        // Garbage in A's padding rows this time: both the kernel and the CPU twin
        // (matmul_padded) must skip exactly those rows to agree.
        let mut a = rng.values(2 * kk * mm);
        for (z, rev) in [(0, false), (1, true)] {
            for (i, row) in a[z * kk * mm..(z + 1) * kk * mm].chunks_mut(mm).enumerate() {
                if padding(i, rev) {
                    row.fill(1e3);
                }
            }
            skippable += (0..kk / 8)
                .filter(|s| (8 * s..8 * s + 8).all(|i| padding(i, rev)))
                .count();
        }
        let bk = rng.values(2 * kk * n);
        let c0 = rng.values(2 * mm * n);
        let mut want = c0.clone();
        let steps = steps_of(t, b, [false, true]);
        cpu::matmul::matmul_padded(&mut want, &a, &bk, None, &dims, b, &steps.rows(&lens));
        let (ga, gb, gc) = (
            upload(ctx, "a", &a),
            upload(ctx, "b", &bk),
            upload(ctx, "c", &c0),
        );
        let rows = PaddedRows {
            lens: gl.all(),
            steps_b: b,
            reversed: [false, true],
        };
        let d = matmul_padded_with(
            ctx,
            MatmulKernel::Subgroup,
            gc.all(),
            ga.all(),
            gb.all(),
            None,
            &dims,
            rows,
        )
        .expect("matmul_padded");
        run(ctx, &[&d]);
        let what = format!("case {case} along K, T {t} B {b}: gpu vs cpu");
        assert_close(
            &what,
            &download(ctx, &gc),
            &want,
            atol_for(&dims),
            RTOL,
            rng.seed,
        );
    }
    assert!(skippable > 0, "no octet or slice was all padding");
}

// Padded products large enough (≥ 2 MFLOP) to run in bands on several threads: bands of
// equal real rows along M, of C's rows along K. Same results as the whole product with the
// padding zeroed, and garbage past C's view untouched.
#[test]
fn matmul_padded_in_bands_equals_whole_product() {
    let mut rng = TestRng::new("matmul_padded_in_bands_equals_whole_product");
    let (t, b) = (6, 128);
    let mut lens: Vec<u32> = (0..b).map(|_| 1 + rng.below(t) as u32).collect();
    lens.sort_by(|x, y| y.cmp(x));
    let steps = steps_of(t, b, [false, false]);
    let rows = steps.rows(&lens);
    let padding = |i: usize| lens[i % b] as usize <= i / b;
    for dims in [
        MatmulDims::nt(t * b, 128, 64),
        MatmulDims::tn(128, 64, t * b).accumulate(),
    ] {
        assert!(dims.flops() >= 2e6);
        let (ea, eb, ec) = dims.extents();
        let mut a = rng.values(ea);
        let width = if dims.trans_a { dims.m } else { dims.k };
        for (i, row) in a.chunks_mut(width).enumerate() {
            if padding(i) {
                row.fill(0.0);
            }
        }
        let bm = rng.values(eb);
        let bias = (!dims.trans_a).then(|| rng.values(dims.n));
        let c0 = rng.values(ec + 7);
        let mut want = c0.clone();
        cpu::matmul::matmul(&mut want, &a, &bm, bias.as_deref(), &dims);
        let mut got = c0.clone();
        let block_rows = vec![rows[0].clone()];
        cpu::matmul::matmul_padded(&mut got, &a, &bm, bias.as_deref(), &dims, b, &block_rows);
        assert_close(
            &format!("matmul_padded in bands {dims:?}"),
            &got,
            &want,
            atol_for(&dims),
            RTOL,
            rng.seed,
        );
        assert_eq!(got[ec..], c0[ec..], "past C");
    }
}
