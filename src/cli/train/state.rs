//! What a run directory keeps so that `gpu-rnn train --resume RUN_DIR` continues a run
//! exactly: `last.safetensors`, the model after the last finished epoch (a plain PyTorch
//! state_dict, like `best.safetensors`), and `train_state.safetensors`, everything else:
//! Adam's moments and step count (which also drive the dropout masks), the shuffled order of
//! the training examples, the epoch, the best accuracy, the metrics so far, and the run's
//! settings. Both are written together after every epoch ([`gpu_rnn::output::write_group`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::settings::Settings;
use gpu_rnn::checkpoint::file::{self, Tensor};
use gpu_rnn::nn::OptimState;
use gpu_rnn::{Error, Result};

/// The model after the last finished epoch.
pub const LAST_FILE: &str = "last.safetensors";
/// The optimizer, order and progress of the run.
pub const STATE_FILE: &str = "train_state.safetensors";
const FORMAT: &str = "gpu-rnn train state 1";

/// A run's progress after a finished epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    pub settings: Settings,
    pub epoch: usize,
    /// Adam's step count.
    pub step: u64,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    /// The training examples' order after this epoch's shuffle.
    pub order: Vec<u32>,
    /// Evaluation accuracy of each epoch so far, and the best of them (-1 before any).
    pub history: Vec<(usize, f64)>,
    pub best: f64,
    /// metrics.csv so far.
    pub metrics: String,
    /// Seconds of training so far.
    pub elapsed: f64,
    /// [`fingerprint`] of the encoded data, so that a resumed run trains on the same data.
    pub data: u64,
}

/// FNV-1a over the token ids and targets of `sets`: a check that data did not change.
pub fn fingerprint<'a>(sets: impl IntoIterator<Item = (&'a [Vec<u32>], &'a [i32])>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |x: u32| {
        for b in x.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (tokens, targets) in sets {
        for seq in tokens {
            eat(seq.len() as u32);
            seq.iter().for_each(|&t| eat(t));
        }
        targets.iter().for_each(|&t| eat(t as u32));
    }
    h
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl RunState {
    /// The optimizer's state to restore.
    pub fn optim_state(&self) -> OptimState {
        OptimState {
            m: self.m.clone(),
            v: self.v.clone(),
            step: self.step,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Floats as their bits, so that they come back exactly.
        let history: Vec<(usize, u64)> = self
            .history
            .iter()
            .map(|&(e, a)| (e, a.to_bits()))
            .collect();
        let meta: BTreeMap<String, String> = [
            ("format", FORMAT.to_string()),
            (
                "settings",
                serde_json::to_string(&self.settings).expect("settings are JSON"),
            ),
            ("epoch", self.epoch.to_string()),
            ("step", self.step.to_string()),
            (
                "history",
                serde_json::to_string(&history).expect("numbers are JSON"),
            ),
            ("best", self.best.to_bits().to_string()),
            ("metrics", self.metrics.clone()),
            ("elapsed", self.elapsed.to_bits().to_string()),
            ("data_fingerprint", self.data.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let (p, n) = (self.m.len(), self.order.len());
        file::serialize(
            &[
                // The optimizer's state: Adam's two moments, or SGD's momentum buffer and an
                // empty second.
                Tensor::f32("adam.m", vec![p], &self.m),
                Tensor::f32("adam.v", vec![self.v.len()], &self.v),
                Tensor::u32("order", vec![n], &self.order),
            ],
            &meta,
        )
    }

    /// The state in `dir`, or an error saying what is missing or wrong.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        if !path.is_file() {
            return Err(bad(
                &path,
                "not found: --resume takes a run directory that has finished at least one epoch",
            ));
        }
        let bytes = file::read(&path, gpu_rnn::memory::budget())?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(&path, format!("not a safetensors file: {e}")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(&path, e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| bad(&path, format!("__metadata__ has no {k:?}")))
        };
        if get("format")? != FORMAT {
            return Err(bad(&path, format!("__metadata__ format is not {FORMAT:?}")));
        }
        let parse_err = |k: &str| bad(&path, format!("__metadata__ {k} is malformed"));
        let num = |k: &str| get(k)?.parse::<u64>().map_err(|_| parse_err(k));
        let tensor = |name: &str, dtype: safetensors::Dtype| {
            let t = st
                .tensor(name)
                .map_err(|_| bad(&path, format!("missing tensor {name}")))?;
            if t.dtype() != dtype {
                return Err(bad(
                    &path,
                    format!("tensor {name} is {:?}, expected {dtype:?}", t.dtype()),
                ));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|b| [b[0], b[1], b[2], b[3]])
                .collect::<Vec<[u8; 4]>>())
        };
        let f32s = |name: &str| -> Result<Vec<f32>> {
            Ok(tensor(name, safetensors::Dtype::F32)?
                .into_iter()
                .map(f32::from_le_bytes)
                .collect())
        };
        let history: Vec<(usize, u64)> =
            serde_json::from_str(get("history")?).map_err(|_| parse_err("history"))?;
        Ok(Self {
            settings: serde_json::from_str(get("settings")?).map_err(|_| parse_err("settings"))?,
            epoch: num("epoch")? as usize,
            step: num("step")?,
            m: f32s("adam.m")?,
            v: f32s("adam.v")?,
            order: tensor("order", safetensors::Dtype::U32)?
                .into_iter()
                .map(u32::from_le_bytes)
                .collect(),
            history: history
                .into_iter()
                .map(|(e, a)| (e, f64::from_bits(a)))
                .collect(),
            best: f64::from_bits(num("best")?),
            metrics: get("metrics")?.clone(),
            elapsed: f64::from_bits(num("elapsed")?),
            data: num("data_fingerprint")?,
        })
    }
}
