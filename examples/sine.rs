//! Sequence regression with MSE: an LSTM reads 50 steps of a noisy sine wave (random phase
//! and frequency) and predicts the clean wave's next 10 values from its last hidden state.
//!
//! `cargo run --release --example sine [-- auto|cpu|gpu]`. After 400 steps of 32 waves it
//! reaches a validation MSE of about 0.01, against 0.5 for predicting zeros; the example
//! fails unless it is below a twentieth of that baseline.

use gpu_rnn::{Backend, Graph, LinearConfig, Model, Optim, Reduction, RnnConfig, Rows};

const T: usize = 50;
const AHEAD: usize = 10;
const B: usize = 32;

/// A small xorshift generator: the example's data needs no crate.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// B waves: inputs (T, B, 1) time-major with noise, targets (B, AHEAD) without.
fn batch(rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    let (mut x, mut y) = (vec![0f32; T * B], vec![0f32; B * AHEAD]);
    for b in 0..B {
        let phase = rng.uniform() * std::f32::consts::TAU;
        let freq = 0.1 + 0.2 * rng.uniform();
        for t in 0..T {
            let noise = 0.2 * (rng.uniform() - 0.5);
            x[t * B + b] = (freq * t as f32 + phase).sin() + noise;
        }
        for k in 0..AHEAD {
            y[b * AHEAD + k] = (freq * (T + k) as f32 + phase).sin();
        }
    }
    (x, y)
}

fn main() -> gpu_rnn::Result<()> {
    // SAFETY: the first thing in main, before any other thread starts.
    unsafe { gpu_rnn::gpu::quiet_loader() };
    let choice = std::env::args().nth(1).unwrap_or("auto".into()).parse()?;
    let (backend, line) = Backend::open(choice, None)?;
    println!("{line}");

    // nn.LSTM(1, 32) → h_n → nn.Linear(32, 10), MSE against the next 10 values.
    let mut g = Graph::new();
    let x = g.input("x", Rows::Steps, 1);
    let y = g.input("y", Rows::Batch, AHEAD);
    let lstm = RnnConfig::lstm(1, 32).init(&mut g, "lstm")?;
    let head = LinearConfig::new(32, AHEAD).init(&mut g, "head")?;
    let out = lstm.forward(&mut g, x)?;
    let pred = head.forward(&mut g, out.h_n)?;
    let loss = g.mse(pred, y, Reduction::Mean)?;
    let mut m = Model::trainer(g, &backend, (T, B), Optim::adam(1e-2))?;
    m.init(0)?;

    let mut rng = Rng(0x5eed_5eed);
    for step in 1..=400 {
        let (xs, ys) = batch(&mut rng);
        m.write(x, &xs, (T, B))?;
        m.write(y, &ys, (T, B))?;
        m.train_step((T, B))?;
        if step % 100 == 0 {
            println!("step {step}: train MSE {:.4}", m.scalar(loss)?);
        }
    }

    let mut val = Rng(0xba11_0000);
    let (mut mse, mut zeros) = (0.0, 0.0);
    for _ in 0..8 {
        let (xs, ys) = batch(&mut val);
        m.write(x, &xs, (T, B))?;
        m.write(y, &ys, (T, B))?;
        m.forward((T, B))?;
        mse += m.scalar(loss)? / 8.0;
        zeros += ys.iter().map(|v| v * v).sum::<f32>() / (8 * B * AHEAD) as f32;
    }
    println!("validation MSE {mse:.4} (predicting zeros: {zeros:.4})");
    assert!(mse < zeros / 20.0, "the LSTM did not learn the wave");
    Ok(())
}
