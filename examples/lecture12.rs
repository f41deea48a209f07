//! Lecture 12's notebook cells on the public API, printing PyTorch's shapes:
//! an RNNCell loop, nn.RNN with num_layers and batch_first, an Embedding against a one-hot
//! Linear, and a bidirectional RNN. Each part checks its result.
//!
//! `cargo run --release --example lecture12 [-- auto|cpu|gpu]`

use gpu_rnn::{Backend, CellConfig, EmbeddingConfig, Graph, LinearConfig, Model, RnnConfig, Rows};

const CHARS: [char; 4] = ['h', 'e', 'l', 'o'];

/// One-hot rows of `word`'s characters: (len, 4).
fn one_hot(word: &str) -> Vec<f32> {
    word.chars()
        .flat_map(|c| CHARS.map(|k| if k == c { 1.0 } else { 0.0 }))
        .collect()
}

fn main() -> gpu_rnn::Result<()> {
    // SAFETY: the first thing in main, before any other thread starts.
    unsafe { gpu_rnn::gpu::quiet_loader() };
    let choice = std::env::args().nth(1).unwrap_or("auto".into()).parse()?;
    let (backend, line) = Backend::open(choice, None)?;
    println!("{line}");

    // 1. cell = nn.RNNCell(input_size=4, hidden_size=2); h = cell(x_t, h) over 'hello'.
    let mut g = Graph::new();
    let cell = CellConfig::rnn_cell(4, 2).init(&mut g, "cell")?;
    let xs: Vec<_> = (0..5)
        .map(|t| g.input(&format!("x{t}"), Rows::Batch, 4))
        .collect();
    let mut h = g.input("hidden", Rows::Batch, 2);
    let mut hs = Vec::new();
    for &x in &xs {
        h = cell.forward(&mut g, x, h, None)?.h;
        hs.push(h);
    }
    let mut m = Model::new(g, &backend, (1, 1))?;
    m.init(0)?;
    let cell_params = m.params()?;
    for (t, &x) in xs.iter().enumerate() {
        m.write(x, &one_hot("hello")[t * 4..(t + 1) * 4], (1, 1))?;
    }
    m.forward((1, 1))?;
    for (&x, &h) in xs.iter().zip(&hs) {
        println!("input size {:?}, hidden size {:?}", m.dims(x)?, m.dims(h)?);
    }
    let by_hand = m.read(h)?;

    // The same weights as nn.RNN(4, 2) over the whole sequence end in the same state.
    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 4);
    let out = RnnConfig::rnn(4, 2)
        .init(&mut g, "rnn")?
        .forward(&mut g, x)?;
    let mut m = Model::new(g, &backend, (5, 1))?;
    m.set_params(&cell_params)?;
    m.write(x, &one_hot("hello"), (5, 1))?;
    m.forward((5, 1))?;
    let h_n = m.read(out.h_n)?;
    println!("RNNCell loop h {by_hand:.4?}, nn.RNN h_n {h_n:.4?}");
    assert!(by_hand.iter().zip(&h_n).all(|(a, b)| (a - b).abs() < 1e-5));

    // 2. nn.RNN(4, 2, num_layers=2, batch_first=True) over a batch of three words.
    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 4);
    let rnn = RnnConfig::rnn(4, 2).num_layers(2).with_batch_first(true);
    let out = rnn.init(&mut g, "rnn")?.forward(&mut g, x)?;
    let mut m = Model::new(g, &backend, (5, 3))?;
    m.init(0)?;
    let words: Vec<f32> = ["hello", "eolll", "lleel"]
        .iter()
        .flat_map(|w| one_hot(w))
        .collect();
    m.write(x, &words, (5, 3))?;
    m.forward((5, 3))?;
    let (input, output, hidden) = (m.dims(x)?, m.dims(out.output)?, m.dims(out.h_n)?);
    println!("batch_first: input {input:?}, output {output:?}, h_n {hidden:?}");
    assert_eq!((output, hidden), (vec![3, 5, 2], vec![2, 3, 2]));

    // 3. nn.Embedding(4, 3) is a Linear(4, 3) without bias on one-hot rows, W = weightᵀ.
    let mut g = Graph::new();
    let ids = g.ids("ids", Rows::Steps);
    let e = EmbeddingConfig::new(4, 3)
        .init(&mut g, "embedding")?
        .forward(&mut g, ids)?;
    let mut m = Model::new(g, &backend, (5, 1))?;
    m.init(0)?;
    let weight = m.params()?; // (4, 3)
    m.write_ids(ids, &[0, 1, 2, 2, 3], (5, 1))?;
    m.forward((5, 1))?;
    let (embedded, embedded_dims) = (m.read(e)?, m.dims(e)?);

    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 4);
    let y = LinearConfig::new(4, 3)
        .init(&mut g, "linear")?
        .forward(&mut g, x)?;
    let mut m = Model::new(g, &backend, (5, 1))?;
    let mut linear: Vec<f32> = (0..12).map(|k| weight[(k % 4) * 3 + k / 4]).collect();
    linear.extend([0.0; 3]); // the bias
    m.set_params(&linear)?;
    m.write(x, &one_hot("hello"), (5, 1))?;
    m.forward((5, 1))?;
    let projected = m.read(y)?;
    println!(
        "embedding {embedded_dims:?} = one-hot · Linear {:?}",
        m.dims(y)?
    );
    assert!(
        embedded
            .iter()
            .zip(&projected)
            .all(|(a, b)| (a - b).abs() < 1e-6)
    );

    // 4. nn.RNN(4, 2, bidirectional=True): both directions side by side.
    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 4);
    let out = RnnConfig::rnn(4, 2)
        .with_bidirectional(true)
        .init(&mut g, "rnn")?
        .forward(&mut g, x)?;
    let mut m = Model::new(g, &backend, (5, 1))?;
    m.init(0)?;
    m.write(x, &one_hot("hello"), (5, 1))?;
    m.forward((5, 1))?;
    let (output, hidden) = (m.dims(out.output)?, m.dims(out.h_n)?);
    println!("bidirectional: output {output:?}, h_n {hidden:?}");
    assert_eq!((output, hidden), (vec![5, 1, 4], vec![2, 1, 2]));
    Ok(())
}
