//! `gpu-rnn bench`: every kernel's time (cli::kernel_bench), and the lecture model's training
//! and inference throughput on each backend, with the dispatches and buffer bytes of one
//! training step.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::cli::kernel_bench::{KernelCase, Spread, kernel_cases, select};
use crate::cli::{BackendChoice, open_backend};
use gpu_rnn::Result;
use gpu_rnn::backend::Backend;
use gpu_rnn::backend::Variant;
use gpu_rnn::cpu::adam::AdamConfig;
use gpu_rnn::model::classifier::{Batch, Classifier, ClassifierConfig};
use gpu_rnn::ops::matmul::subgroups_fit;

/// Timing of one backend: names processed and the seconds they took.
#[derive(Clone, Debug)]
pub struct StepBench {
    pub backend: String,
    /// Dispatches of the largest training step timed.
    pub dispatches: usize,
    /// Bytes of every buffer the model holds (parameters, Adam state, activations of the
    /// longest batch): all live at once, so the peak.
    pub buffer_bytes: usize,
    pub names: usize,
    pub steps: usize,
    /// Seconds of all timed training steps (forward, loss, backward, Adam) and inferences.
    pub train_s: f64,
    pub infer_s: f64,
}

impl StepBench {
    pub fn train_per_s(&self) -> f64 {
        self.names as f64 / self.train_s
    }

    pub fn infer_per_s(&self) -> f64 {
        self.names as f64 / self.infer_s
    }

    /// Mean seconds of one training step.
    pub fn step_s(&self) -> f64 {
        self.train_s / self.steps as f64
    }
}

/// A deterministic batch shaped like the lecture's: `b` names with the lengths of real names
/// (2..=19, mean about 7), letters as ASCII codes.
pub fn lecture_like_batch(b: usize, t: usize) -> Batch {
    let mut state = 0x2545_f491_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let tokens = (0..b)
        .map(|i| {
            let len = if i == 0 {
                t
            } else {
                2 + (next() % 11) as usize
            };
            (0..len.min(t)).map(|_| 97 + next() % 26).collect()
        })
        .collect();
    Batch {
        tokens,
        targets: (0..b).map(|i| (i % 18) as i32).collect(),
    }
}

/// Batches of real training names: the file shuffled with a fixed seed, cut into batches of
/// `b`, the first `count` of them; each batch is as long as its longest name.
pub fn lecture_data_batches(path: &std::path::Path, b: usize, count: usize) -> Result<Vec<Batch>> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let data = gpu_rnn::data::names::read(path, false)?;
    let classes = gpu_rnn::data::names::classes(&data.examples);
    let targets =
        gpu_rnn::data::names::class_indices(&data.examples, &classes, "the training data")?;
    let mut order: Vec<usize> = (0..data.examples.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(0));
    Ok(order
        .chunks(b)
        .take(count)
        .map(|chunk| Batch {
            tokens: chunk
                .iter()
                .map(|&i| gpu_rnn::data::names::tokens(&data.examples[i].name))
                .collect(),
            targets: chunk.iter().map(|&i| targets[i]).collect(),
        })
        .collect())
}

/// Time one training step and one inference per batch, after one untimed pass over all of
/// them (which builds each batch length's program), on the lecture model.
pub fn lecture_step(backend: &Backend, batches: &[Batch]) -> Result<StepBench> {
    let t_max = batches.iter().map(Batch::steps).max().unwrap_or(1);
    let b_max = batches.iter().map(|b| b.tokens.len()).max().unwrap_or(1);
    let mut m = Classifier::new(
        ClassifierConfig::lecture(),
        backend,
        t_max,
        b_max,
        AdamConfig::default(),
        0.0,
    )?;
    m.init_params(1)?;
    for batch in batches {
        m.train_step(batch)?;
        m.logits(batch)?;
    }
    // All training steps, then all inference passes, as benches/torch_baseline.py times them.
    let (mut train_s, mut infer_s, mut dispatches, mut names) = (0.0, 0.0, 0, 0);
    for batch in batches {
        let t0 = Instant::now();
        m.train_step(batch)?;
        train_s += t0.elapsed().as_secs_f64();
        dispatches = dispatches.max(m.last_dispatches());
        names += batch.tokens.len();
    }
    for batch in batches {
        let t0 = Instant::now();
        m.logits(batch)?;
        infer_s += t0.elapsed().as_secs_f64();
    }
    Ok(StepBench {
        backend: m.describe(),
        dispatches,
        buffer_bytes: m.buffer_bytes(),
        names,
        steps: batches.len(),
        train_s,
        infer_s,
    })
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which backends to measure: auto measures the GPU (if any) and the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick an adapter by a substring of its name (also GPU_RNN_ADAPTER).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Only kernels whose name contains this (e.g. `gru`, `matmul_vec4`, `adam`), or of this
    /// size (`lecture`, `large`); repeatable. Skips the whole-step benchmark unless --step.
    #[arg(long = "kernel")]
    pub kernels: Vec<String>,
    /// Skip the kernel table.
    #[arg(long, conflicts_with = "kernels")]
    pub no_kernels: bool,
    /// Run the whole-step benchmark even with --kernel.
    #[arg(long)]
    pub step: bool,
    /// Timed runs of each kernel (after a warm-up), 1 to 2048.
    #[arg(long, default_value_t = 25)]
    pub runs: usize,
    /// Names per batch.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Training names to batch (shuffled with a fixed seed).
    #[arg(long, default_value = "data/names_train.csv.gz")]
    pub data: PathBuf,
    /// Batches to time.
    #[arg(long, default_value_t = 8)]
    pub batches: usize,
    /// Time a synthetic batch whose longest name has this many characters instead, repeated
    /// --batches times (the worst case of the lecture's data is 19).
    #[arg(long)]
    pub synthetic: Option<usize>,
    /// After the whole step, time each op of one lecture training step by itself (median of
    /// --runs) and print where the step's time goes, by kernel and shape.
    #[arg(long)]
    pub profile: bool,
    /// Benchmark the character language model instead of the lecture model: training chars/s
    /// (32 streams × 100 steps of --text, --batches of them) and sampling chars/s.
    #[arg(long)]
    pub charlm: bool,
    /// The language model's text.
    #[arg(long, default_value = "data/tinyshakespeare.txt")]
    pub text: PathBuf,
    /// Characters to sample in the language model's benchmark, 1 to 1000000.
    #[arg(long, default_value_t = 2000)]
    pub sample_length: usize,
    /// Print one JSON object per kernel and per backend instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchArgs) -> Result<()> {
    check_args(&args)?;
    let (backends, gpu) = open_backends(&args)?;
    // The language model's benchmark skips the kernel table unless kernels are named.
    if !(args.no_kernels || args.charlm && args.kernels.is_empty()) {
        let cases = select(kernel_cases(), &args.kernels);
        if cases.is_empty() {
            return Err(gpu_rnn::Error::InvalidArgument {
                op: "bench",
                message: format!("no kernel matches {:?}", args.kernels),
            });
        }
        kernel_table(&cases, gpu.as_ref(), args.runs, args.json)?;
    }
    if args.charlm {
        let sizes = (args.batches, args.sample_length);
        let profile = args.profile.then_some(args.runs);
        super::bench_charlm::charlm_table(&backends, &args.text, sizes, profile, args.json)?;
    } else if args.kernels.is_empty() || args.step {
        step_table(&args, &backends)?;
    }
    Ok(())
}

/// Every flag's range, before an adapter is opened.
fn check_args(args: &BenchArgs) -> Result<()> {
    // One query set holds the runs' timestamps: wgpu allows 4096 queries, two per run.
    if !(1..=2048).contains(&args.runs)
        || args.batch_size == 0
        || !(1..=10_000).contains(&args.batches)
        || args
            .synthetic
            .is_some_and(|t| !(1..=super::train::DEFAULT_MAX_LEN).contains(&t))
    {
        return Err(gpu_rnn::Error::InvalidArgument {
            op: "bench",
            message: format!(
                "--runs must be 1 to 2048, --batch-size at least 1, --batches 1 to 10000 and \
                 --synthetic 1 to {}",
                super::train::DEFAULT_MAX_LEN
            ),
        });
    }
    if args.charlm && !(1..=1_000_000).contains(&args.sample_length) {
        return Err(gpu_rnn::Error::InvalidArgument {
            op: "--sample-length",
            message: format!("expected 1 to 1000000, got {}", args.sample_length),
        });
    }
    Ok(())
}

/// The backends to measure, and the GPU among them: `auto` measures any GPU adapter (a CPU
/// emulation too: the comparison is the point) and the CPU.
fn open_backends(args: &BenchArgs) -> Result<(Vec<Backend>, Option<Backend>)> {
    let choice = match args.backend {
        BackendChoice::Cpu => return Ok((vec![Backend::Cpu], None)),
        choice => choice,
    };
    let (b, line) = match open_backend(BackendChoice::Gpu, args.adapter.as_deref()) {
        Err(e)
            if choice == BackendChoice::Auto
                && !matches!(
                    e,
                    gpu_rnn::Error::InvalidArgument { .. } | gpu_rnn::Error::AdapterNotFound { .. }
                ) =>
        {
            let why = e.to_string().lines().next().unwrap_or("").to_string();
            (Backend::Cpu, format!("backend: cpu only (no GPU: {why})"))
        }
        r => r?,
    };
    if !args.json {
        println!("{line}");
    }
    let (mut backends, mut gpu) = (Vec::new(), None);
    if let Backend::Gpu(ctx) = &b {
        if !args.json {
            println!("{}", matmul_choice(ctx));
        }
        gpu = Some(b.clone());
        backends.push(b);
    }
    if choice == BackendChoice::Auto {
        backends.push(Backend::Cpu);
    }
    Ok((backends, gpu))
}

/// Which matmul kernel the model's products get on `ctx`, per layout, and why.
fn matmul_choice(ctx: &gpu_rnn::gpu::GpuContext) -> String {
    match gpu_rnn::ops::matmul::tuned_kernels(ctx) {
        Some(k) => format!(
            "matmul kernels, autotuned (cached in {}): NT {:?}, NN {:?}, TN {:?}",
            gpu_rnn::ops::matmul::tune_cache_path()
                .map_or("-".into(), |p| p.display().to_string()),
            k[0],
            k[1],
            k[2]
        ),
        None => "matmul kernels by adapter type (no autotune: GPU_RNN_AUTOTUNE=0, no timestamp queries or no cache folder)".into(),
    }
}

fn ms(s: f64) -> f64 {
    s * 1e3
}

/// Time each case on the GPU (when there is one) and as its CPU twin, one line each.
fn kernel_table(
    cases: &[KernelCase],
    gpu: Option<&Backend>,
    runs: usize,
    json: bool,
) -> Result<()> {
    if !json {
        println!(
            "kernels: GPU time from timestamp queries, median (min-max) of {runs} runs after a warm-up; CPU twin: median wall time"
        );
        println!(
            "  {:<22} {:<8} {:<44} {:>28} {:>18}   {:>24}",
            "kernel", "size", "shape", "gpu ms", "gpu rate", "cpu twin"
        );
    }
    // An adapter without timestamp queries gets no GPU column, not an error.
    let gpu = gpu.filter(|b| match b {
        Backend::Gpu(ctx) => {
            let ok = ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY);
            if !ok && !json {
                println!("  (the adapter has no timestamp queries: CPU twins only)");
            }
            ok
        }
        Backend::Cpu => false,
    });
    for case in cases {
        // The subgroup variant only where the device has subgroups it can use.
        let runs_here = |b: &&Backend| match b {
            Backend::Gpu(ctx) => case.variant != Variant::Subgroup || subgroups_fit(ctx),
            Backend::Cpu => true,
        };
        let g = gpu
            .filter(runs_here)
            .map(|b| case.time(b, runs))
            .transpose()?;
        // The CPU twin is the same for every variant; fewer runs suffice for its wall time.
        let c = case.time(&Backend::Cpu, runs.min(7))?;
        let (cpu_rate, unit) = case.rate(c.median);
        if json {
            println!("{}", kernel_json(case, &c, g.as_ref()));
            continue;
        }
        let gpu_cols = match g {
            Some(g) => format!(
                "{:>10.3} ({:.3}-{:.3}) {:>9.2} {unit:<8}",
                ms(g.median),
                ms(g.min),
                ms(g.max),
                case.rate(g.median).0
            ),
            None => format!("{:>28} {:>18}", "-", "-"),
        };
        println!(
            "  {:<22} {:<8} {:<44} {gpu_cols}   {:>9.3} ms {:>8.2} {unit}",
            case.kernel,
            case.size,
            case.shape,
            ms(c.median),
            cpu_rate
        );
    }
    Ok(())
}

/// One kernel's row of `--json`: its case, the CPU twin's time and the GPU's spread.
fn kernel_json(case: &KernelCase, c: &Spread, g: Option<&Spread>) -> serde_json::Value {
    let (cpu_rate, unit) = case.rate(c.median);
    let mut obj = serde_json::json!({
        "kind": "kernel",
        "kernel": case.kernel,
        "size": case.size,
        "shape": case.shape,
        "flops": case.flops,
        "bytes": case.bytes,
        "cpu_ms": ms(c.median),
        "cpu_rate": cpu_rate,
        "unit": unit,
    });
    if let Some(g) = g {
        let o = obj.as_object_mut().expect("an object");
        o.insert("gpu_median_ms".into(), ms(g.median).into());
        o.insert("gpu_min_ms".into(), ms(g.min).into());
        o.insert("gpu_max_ms".into(), ms(g.max).into());
        o.insert("gpu_runs".into(), g.runs.into());
        o.insert("gpu_rate".into(), case.rate(g.median).0.into());
    }
    obj
}

/// The lecture model's training and inference throughput on each backend.
fn step_table(args: &BenchArgs, backends: &[Backend]) -> Result<()> {
    let batch_size = args.batch_size;
    if let Some(t) = args.synthetic {
        let bytes = 4.0 * batch_size as f64 * t as f64 * args.batches as f64;
        gpu_rnn::memory::check(
            "the synthetic batches",
            bytes,
            "; a smaller --batch-size fits",
        )?;
    }
    let (set, what) = match args.synthetic {
        Some(t) => (
            vec![lecture_like_batch(batch_size, t); args.batches],
            format!("a synthetic batch of {batch_size}, T = {t}"),
        ),
        None => {
            let set = lecture_data_batches(&args.data, batch_size, args.batches)?;
            let names: usize = set.iter().map(|b| b.tokens.len()).sum();
            let largest = set.iter().map(|b| b.tokens.len()).max().unwrap_or(0);
            let what = format!(
                "{} shuffled batch(es) of up to {largest} names ({names} in all) from {}",
                set.len(),
                args.data.display()
            );
            (set, what)
        }
    };
    let mean_t = set.iter().map(|b| b.steps()).sum::<usize>() as f64 / set.len() as f64;
    if !args.json {
        println!(
            "lecture model: Embedding(128,100) -> GRU(100, 2 layers, bidirectional) -> Linear(200,18); {what} (mean T {mean_t:.1})"
        );
    }
    for b in backends {
        let r = lecture_step(b, &set)?;
        if args.json {
            let obj = serde_json::json!({
                "kind": "step",
                "backend": r.backend,
                "batches": r.steps,
                "names": r.names,
                "mean_t": mean_t,
                "train_names_per_s": r.train_per_s(),
                "infer_names_per_s": r.infer_per_s(),
                "step_ms": r.step_s() * 1e3,
                "dispatches": r.dispatches,
                "buffer_bytes": r.buffer_bytes,
            });
            println!("{obj}");
            continue;
        }
        println!(
            "{:<60} train {:>8.1} names/s ({:>7.1} ms/step, up to {} dispatches)   inference {:>8.1} names/s   buffers {:.1} MiB",
            r.backend,
            r.train_per_s(),
            r.step_s() * 1e3,
            r.dispatches,
            r.infer_per_s(),
            r.buffer_bytes as f64 / (1024.0 * 1024.0),
        );
    }
    if args.profile {
        for b in backends {
            if let Backend::Gpu(ctx) = b
                && !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY)
            {
                if !args.json {
                    println!("no profile on {}: it has no timestamp queries", ctx.adapter);
                }
                continue;
            }
            for train in [true, false] {
                profile_table(b, &set[0], args.runs, train, args.json)?;
            }
        }
    }
    Ok(())
}

/// Each op of one training step (or of inference) on `batch`, timed alone, summed by label,
/// largest first.
fn profile_table(
    backend: &Backend,
    batch: &Batch,
    runs: usize,
    train: bool,
    json: bool,
) -> Result<()> {
    let mut m = Classifier::new(
        ClassifierConfig::lecture(),
        backend,
        batch.steps(),
        batch.tokens.len(),
        AdamConfig::default(),
        0.0,
    )?;
    m.init_params(1)?;
    let ops = m.profile_step(batch, runs, train)?;
    let what = if train { "training step" } else { "inference" };
    let header = format!("{what} (T = {}, B = {})", batch.steps(), batch.tokens.len());
    print_profile(&ops, &header, &m.describe(), (train, runs), json);
    Ok(())
}

/// Ops timed alone (label, seconds), summed by label, largest first: a table, or JSON lines.
pub fn print_profile(
    ops: &[(String, usize, f64)],
    header: &str,
    backend: &str,
    (train, runs): (bool, usize),
    json: bool,
) {
    let total: f64 = ops.iter().map(|o| o.2).sum();
    let mut by_label: Vec<(String, usize, f64)> = Vec::new();
    for (label, dispatches, secs) in ops {
        match by_label.iter_mut().find(|e| &e.0 == label) {
            Some(e) => {
                e.1 += dispatches;
                e.2 += secs;
            }
            None => by_label.push((label.clone(), *dispatches, *secs)),
        }
    }
    by_label.sort_by(|x, y| y.2.total_cmp(&x.2));
    if !json {
        println!(
            "profile of one {header} on {backend}: each op alone, median of {runs} runs; sum {:.1} ms",
            ms(total)
        );
    }
    for (label, count, secs) in by_label {
        if json {
            let obj = serde_json::json!({
                "kind": "profile",
                "phase": if train { "train" } else { "inference" },
                "backend": backend,
                "op": label,
                "count": count,
                "ms": ms(secs),
                "share": secs / total,
            });
            println!("{obj}");
        } else {
            println!(
                "  {label:<36} x{count:<4} {:>9.3} ms  {:>5.1}%",
                ms(secs),
                100.0 * secs / total
            );
        }
    }
}
