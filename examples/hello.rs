//! Lecture 12: an RNN learns 'hello' → 'ohlol', one character at a time.
//!
//! `cargo run --release --example hello [-- auto|cpu|gpu]`. As in the lecture, RNN(4, 4) reads
//! the one-hot characters and its 4 tanh outputs are the logits.

use gpu_rnn::{Backend, Graph, Model, Optim, Reduction, RnnConfig, Rows};

const CHARS: [char; 4] = ['e', 'h', 'l', 'o'];

fn main() -> gpu_rnn::Result<()> {
    // SAFETY: the first thing in main, before any other thread starts.
    unsafe { gpu_rnn::gpu::quiet_loader() };
    let choice = std::env::args().nth(1).unwrap_or("auto".into()).parse()?;
    let (backend, line) = Backend::open(choice, None)?;
    println!("{line}");

    let mut g = Graph::new();
    let (x, y) = (g.input("x", Rows::Steps, 4), g.targets("y", Rows::Steps));
    let out = RnnConfig::rnn(4, 4)
        .init(&mut g, "rnn")?
        .forward(&mut g, x)?;
    let loss = g.cross_entropy(out.output, y, Reduction::Mean, None)?;
    let mut m = Model::trainer(g, &backend, (5, 1), Optim::adam(0.1))?;
    m.init(1)?;

    let one_hot = |c: char| CHARS.map(|k| if k == c { 1.0 } else { 0.0 });
    let xs: Vec<f32> = "hello".chars().flat_map(one_hot).collect();
    let ys: Vec<i64> = "ohlol"
        .chars()
        .map(|c| CHARS.iter().position(|&k| k == c).unwrap() as i64)
        .collect();
    m.write(x, &xs, (5, 1))?;
    m.write_targets(y, &ys, (5, 1))?;
    let mut predicted = String::new();
    for epoch in 1..=30 {
        m.train_step((5, 1))?;
        let logits = m.read(out.output)?;
        predicted = logits
            .chunks(4)
            .map(|row| CHARS[(0..4).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap()])
            .collect();
        println!(
            "epoch {epoch:2}: loss {:.4}, predicted {predicted}",
            m.scalar(loss)?
        );
    }
    assert_eq!(predicted, "ohlol");
    Ok(())
}
