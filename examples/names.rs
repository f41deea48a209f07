//! Lecture 13's name classifier: which of 18 languages a surname comes from.
//!
//! Embedding(128, 100) → GRU(100, 100, num_layers=2, bidirectional=True) over the packed
//! names → Linear(200, 18) on cat(h_n[-1], h_n[-2]) → cross-entropy, trained with Adam (lr
//! 1e-3) in shuffled batches of 256. With the same seed its epochs are `gpu-rnn train`'s:
//! the same initial weights, order, batches and losses.
//!
//! `cargo run --release --example names [-- auto|cpu|gpu [EPOCHS]]` (1 epoch by default).

use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use gpu_rnn::data::names;
use gpu_rnn::{
    Backend, EmbeddingConfig, Graph, LinearConfig, Model, Optim, Reduction, RnnConfig, Rows, Var,
};

const BATCH: usize = 256;
const SEED: u64 = 0;

/// Names as token ids and class indices.
struct Data {
    tokens: Vec<Vec<u32>>,
    targets: Vec<i64>,
}

fn load(path: &str, classes: Option<&[String]>) -> gpu_rnn::Result<(Data, Vec<String>)> {
    let examples = names::read(Path::new(path), false)?.examples;
    let classes = classes.map_or_else(|| names::classes(&examples), <[String]>::to_vec);
    let targets = names::class_indices(&examples, &classes, path)?;
    let data = Data {
        tokens: examples.iter().map(|e| names::tokens(&e.name)).collect(),
        targets: targets.into_iter().map(i64::from).collect(),
    };
    Ok((data, classes))
}

/// The inputs of one batch, as pack_padded_sequence wants them: longest name first, ids
/// time-major (T, B) padded with 0, and each name's length. Returns (T, B).
fn write_batch(
    m: &mut Model,
    (x, y): (Var, Var),
    data: &Data,
    rows: &[usize],
) -> gpu_rnn::Result<(usize, usize)> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|&i| std::cmp::Reverse(data.tokens[i].len()));
    let (t, b) = (data.tokens[rows[0]].len(), rows.len());
    let mut ids = vec![0u32; t * b];
    for (j, &i) in rows.iter().enumerate() {
        for (s, &tok) in data.tokens[i].iter().enumerate() {
            ids[s * b + j] = tok;
        }
    }
    let lengths: Vec<usize> = rows.iter().map(|&i| data.tokens[i].len()).collect();
    let targets: Vec<i64> = rows.iter().map(|&i| data.targets[i]).collect();
    m.write_ids(x, &ids, (t, b))?;
    m.write_targets(y, &targets, (t, b))?;
    m.set_lengths(Some(&lengths));
    Ok((t, b))
}

fn main() -> gpu_rnn::Result<()> {
    // SAFETY: the first thing in main, before any other thread starts.
    unsafe { gpu_rnn::gpu::quiet_loader() };
    let mut args = std::env::args().skip(1);
    let choice = args.next().unwrap_or("auto".into()).parse()?;
    let epochs: usize = args
        .next()
        .map_or(Ok(1), |e| e.parse())
        .expect("EPOCHS is a number");
    let (backend, line) = Backend::open(choice, None)?;
    println!("{line}");
    let (train, classes) = load("data/names_train.csv.gz", None)?;
    let (test, _) = load("data/names_test.csv.gz", Some(&classes))?;

    let mut g = Graph::new();
    let (x, y) = (g.ids("x", Rows::Steps), g.targets("y", Rows::Batch));
    let embedding = EmbeddingConfig::new(128, 100).init(&mut g, "embedding")?;
    let gru = RnnConfig::gru(100, 100)
        .num_layers(2)
        .with_bidirectional(true);
    let gru = gru.init(&mut g, "gru")?;
    let fc = LinearConfig::new(200, classes.len()).init(&mut g, "fc")?;
    let e = embedding.forward(&mut g, x)?;
    let out = gru.forward(&mut g, e)?;
    let hidden = g.cat_states(out.h_n, &[3, 2])?;
    let logits = fc.forward(&mut g, hidden)?;
    let loss = g.cross_entropy(logits, y, Reduction::Mean, None)?;
    let longest = train
        .tokens
        .iter()
        .chain(&test.tokens)
        .map(Vec::len)
        .max()
        .unwrap_or(1);
    let mut m = Model::trainer(g, &backend, (longest, BATCH), Optim::adam(1e-3))?;
    m.init(SEED)?;
    m.set_seed(SEED as u32);

    let mut order: Vec<usize> = (0..train.tokens.len()).collect();
    for epoch in 1..=epochs {
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            SEED.wrapping_mul(0x9e37_79b9).wrapping_add(epoch as u64),
        );
        order.shuffle(&mut rng);
        let mut total = 0.0f64;
        for rows in order.chunks(BATCH) {
            let shape = write_batch(&mut m, (x, y), &train, rows)?;
            m.train_step(shape)?;
            total += f64::from(m.scalar(loss)?) * rows.len() as f64;
        }
        let mut correct = 0;
        let all: Vec<usize> = (0..test.tokens.len()).collect();
        for rows in all.chunks(BATCH) {
            let mut sorted = rows.to_vec();
            sorted.sort_by_key(|&i| std::cmp::Reverse(test.tokens[i].len()));
            let shape = write_batch(&mut m, (x, y), &test, rows)?;
            m.forward(shape)?;
            let scores = m.read(logits)?;
            for (row, &i) in scores.chunks(classes.len()).zip(&sorted) {
                let best = (0..row.len())
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0);
                correct += usize::from(best as i64 == test.targets[i]);
            }
        }
        let n = test.tokens.len();
        let acc = 100.0 * correct as f64 / n as f64;
        println!(
            "epoch {epoch}: loss {:.4}, test accuracy {correct}/{n} ({acc:.2}%)",
            total / train.tokens.len() as f64
        );
    }
    Ok(())
}
