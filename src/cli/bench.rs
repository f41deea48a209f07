//! `gpu-rnn bench`: the lecture model's training and inference throughput on each backend,
//! with the dispatches of one training step.

use std::time::Instant;

use crate::Result;
use crate::backend::Backend;
use crate::cpu::adam::AdamConfig;
use crate::model::classifier::{Batch, Classifier, ClassifierConfig};

/// Timing of one backend.
#[derive(Clone, Debug)]
pub struct StepBench {
    pub backend: String,
    pub dispatches: usize,
    /// Median seconds of one training step (forward, loss, backward, Adam) and one inference.
    pub train_s: f64,
    pub infer_s: f64,
    pub batch: usize,
    pub steps: usize,
}

impl StepBench {
    pub fn train_per_s(&self) -> f64 {
        self.batch as f64 / self.train_s
    }

    pub fn infer_per_s(&self) -> f64 {
        self.batch as f64 / self.infer_s
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
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

/// Time `steps` training steps and inferences of the lecture model after `warmup` of each.
pub fn lecture_step(
    backend: &Backend,
    b: usize,
    t: usize,
    warmup: usize,
    steps: usize,
) -> Result<StepBench> {
    let mut m = Classifier::new(
        ClassifierConfig::lecture(),
        backend,
        t,
        b,
        AdamConfig::default(),
        0.0,
    )?;
    m.init_params(1)?;
    let batch = lecture_like_batch(b, t);
    for _ in 0..warmup {
        m.train_step(&batch)?;
        m.logits(&batch)?;
    }
    let mut train = Vec::new();
    let mut infer = Vec::new();
    let mut dispatches = 0;
    for _ in 0..steps {
        let t0 = Instant::now();
        m.train_step(&batch)?;
        train.push(t0.elapsed().as_secs_f64());
        dispatches = m.last_dispatches();
        let t0 = Instant::now();
        m.logits(&batch)?;
        infer.push(t0.elapsed().as_secs_f64());
    }
    Ok(StepBench {
        backend: m.describe(),
        dispatches,
        train_s: median(train),
        infer_s: median(infer),
        batch: b,
        steps,
    })
}
