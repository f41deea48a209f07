//! `gpu-rnn bench`: the lecture model's training and inference throughput on each backend,
//! with the dispatches of one training step.

use std::time::Instant;

use crate::Result;
use crate::backend::Backend;
use crate::cpu::adam::AdamConfig;
use crate::model::classifier::{Batch, Classifier, ClassifierConfig};

/// Timing of one backend: names processed and the seconds they took.
#[derive(Clone, Debug)]
pub struct StepBench {
    pub backend: String,
    /// Dispatches of the largest training step timed.
    pub dispatches: usize,
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
    let data = crate::data::names::read(path, false)?;
    let classes = crate::data::names::classes(&data.examples);
    let targets = crate::data::names::class_indices(&data.examples, &classes)?;
    let mut order: Vec<usize> = (0..data.examples.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(0));
    Ok(order
        .chunks(b)
        .take(count)
        .map(|chunk| Batch {
            tokens: chunk
                .iter()
                .map(|&i| crate::data::names::tokens(&data.examples[i].name))
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
    let (mut train_s, mut infer_s, mut dispatches, mut names) = (0.0, 0.0, 0, 0);
    for batch in batches {
        let t0 = Instant::now();
        m.train_step(batch)?;
        train_s += t0.elapsed().as_secs_f64();
        dispatches = dispatches.max(m.last_dispatches());
        let t0 = Instant::now();
        m.logits(batch)?;
        infer_s += t0.elapsed().as_secs_f64();
        names += batch.tokens.len();
    }
    Ok(StepBench {
        backend: m.describe(),
        dispatches,
        names,
        steps: batches.len(),
        train_s,
        infer_s,
    })
}
