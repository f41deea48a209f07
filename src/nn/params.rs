//! A [`Model`]'s parameters and the optimizer's state: initialise, get and set them, save
//! and load them under PyTorch's keys, and what a benchmark asks of a model.

use std::collections::BTreeMap;
use std::path::Path;

use crate::checkpoint::file;
use crate::model::params::{init_normal, init_uniform};
use crate::nn::graph::{Graph, Layer};
use crate::nn::model::{Model, Phase};
use crate::{Error, Result};

/// One parameter of [`Model::state_dict`]: its key, shape and values.
pub type StateEntry = (String, Vec<usize>, Vec<f32>);

impl Model {
    /// PyTorch's default initialisation of every layer: Embedding from N(0, 1), recurrent
    /// layers from U(±1/√H), Linear weight and bias from U(±1/√in). Each layer draws from
    /// its own stream of `seed`, so adding a layer leaves the others' values as they were.
    /// Restarts the optimizer.
    pub fn init(&mut self, seed: u64) -> Result<()> {
        let flat = initial_params(&self.g, seed);
        self.set_params(&flat)
    }

    /// Every parameter, flat, in [`Graph::parameters`](crate::nn::Graph::parameters) order.
    pub fn params(&mut self) -> Result<Vec<f32>> {
        let len = self.g.layout.len;
        self.rt.read_f32(crate::plan::View {
            buf: self.params,
            offset: 0,
            len,
        })
    }

    /// Every parameter's gradient after [`Model::backward`] (or a [`Model::train_step`]),
    /// flat as [`Model::params`]: PyTorch's `p.grad` of each parameter.
    pub fn grads(&mut self) -> Result<Vec<f32>> {
        self.need_grads()?;
        let len = self.g.layout.len;
        self.rt.read_f32(crate::plan::View {
            buf: self.grads,
            offset: 0,
            len,
        })
    }

    /// Set every parameter from a flat vector (see [`Model::params`]); restarts the optimizer.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.g.layout.len {
            return Err(Error::Shape {
                op: "model",
                expected: format!("{} parameters", self.g.layout.len),
                got: flat.len().to_string(),
            });
        }
        self.tables_fresh = false;
        self.masks = 0;
        match self.opt.as_mut() {
            Some(opt) => opt.set_params(self.rt.as_mut(), flat),
            None => self.rt.write_f32(self.params, 0, flat),
        }
    }

    /// The parameters under PyTorch's state_dict keys, with their shapes.
    pub fn state_dict(&mut self) -> Result<Vec<StateEntry>> {
        let flat = self.params()?;
        Ok(self
            .g
            .layout
            .entries
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.shape.clone(),
                    flat[e.offset..e.offset + e.len()].to_vec(),
                )
            })
            .collect())
    }

    /// Save the parameters as safetensors under PyTorch's keys (what
    /// `model.load_state_dict(safetensors.torch.load_file(path))` reads), atomically.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let flat = self.params()?;
        let tensors = file::Tensor::of_layout(&self.g.layout, &flat);
        let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        crate::output::write_atomic(path, &file::serialize(&tensors, &meta))
    }

    /// Load parameters saved by [`Model::save`] or by PyTorch: every key of this graph with
    /// its shape, in f32, and no other (`strict=True`).
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let fail = |message: String| Error::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let bytes = file::read(path, crate::memory::budget())?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(format!("not a safetensors file: {e}")))?;
        let mut flat = vec![0f32; self.g.layout.len];
        for e in &self.g.layout.entries {
            let t = st
                .tensor(&e.name)
                .map_err(|_| fail(format!("missing tensor {}", e.name)))?;
            if t.dtype() != safetensors::Dtype::F32 || t.shape() != e.shape.as_slice() {
                return Err(fail(format!(
                    "{} is {:?} {:?}, expected F32 {:?}",
                    e.name,
                    t.dtype(),
                    t.shape(),
                    e.shape
                )));
            }
            let dst = &mut flat[e.offset..e.offset + e.len()];
            for (x, b) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
                *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        if let Some(extra) = st
            .names()
            .into_iter()
            .find(|n| self.g.layout.get(n).is_err())
        {
            return Err(fail(format!(
                "unexpected tensor {extra}: this model has no such parameter"
            )));
        }
        self.set_params(&flat)
    }
}

/// PyTorch's default initialisation (see [`Model::init`]). Layer kinds draw from streams
/// derived from `seed` as the classifier's do (embedding: `seed`; recurrent: `seed ^ 0x5eed`;
/// linear: `seed ^ 0xfc`), the k-th layer of a kind with `k << 32` mixed in.
pub(crate) fn initial_params(g: &Graph, seed: u64) -> Vec<f32> {
    let mut flat = vec![0f32; g.layout.len];
    let mut counts = [0u64; 3];
    for l in &g.layers {
        let prefix = format!("{}.", l.name);
        let (first, last) = g
            .layout
            .entries
            .iter()
            .filter(|e| e.name.starts_with(&prefix))
            .fold((usize::MAX, 0), |(a, b), e| {
                (a.min(e.offset), b.max(e.offset + e.len()))
            });
        let part = &mut flat[first..last];
        let (kind, salt) = match l.layer {
            Layer::Embedding { .. } => (0, 0),
            Layer::Rnn(_) | Layer::Cell(_) => (1, 0x5eed),
            Layer::Linear { .. } => (2, 0xfc),
        };
        let s = seed ^ salt ^ (counts[kind] << 32);
        counts[kind] += 1;
        match &l.layer {
            Layer::Embedding { .. } => init_normal(part, s),
            Layer::Rnn(cfg) | Layer::Cell(cfg) => {
                init_uniform(part, 1.0 / (cfg.hidden as f32).sqrt(), s)
            }
            Layer::Linear { inputs, .. } => init_uniform(part, 1.0 / (*inputs as f32).sqrt(), s),
        }
    }
    flat
}

/// The optimizer's state, what resuming a run restores: Adam's two moments (or SGD's momentum
/// buffer and an empty `v`) and the number of steps taken.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimState {
    /// Adam's first moment, or SGD's momentum buffer (flat as [`Model::params`]).
    pub m: Vec<f32>,
    /// Adam's second moment; empty for SGD.
    pub v: Vec<f32>,
    /// Steps taken: Adam's bias corrections and the dropout masks follow it.
    pub step: u64,
}

impl Model {
    /// The optimizer's state (`optimizer.state_dict()`'s tensors and step).
    pub fn optimizer_state(&mut self) -> Result<OptimState> {
        self.need_trainer()?;
        let opt = self.opt.as_ref().expect("checked");
        let (m, v, step) = opt.state(self.rt.as_mut())?;
        Ok(OptimState { m, v, step })
    }

    /// Restore what [`Model::optimizer_state`] returned, after [`Model::set_params`]. The
    /// dropout masks continue from the same step too: a resumed run draws the masks the
    /// uninterrupted one would have when each of its steps followed one training forward
    /// (as [`Model::train_step`] does; extra `forward_train`s without a step advance the
    /// masks but not the step).
    pub fn set_optimizer_state(&mut self, s: &OptimState) -> Result<()> {
        self.need_trainer()?;
        let opt = self.opt.as_mut().expect("checked");
        opt.set_state(self.rt.as_mut(), &s.m, &s.v, s.step)?;
        self.masks = s.step as u32;
        Ok(())
    }

    /// Bytes of every buffer of the model (parameters, gradients, the optimizer's state and
    /// the activations for the largest batch). They are allocated together: this is the peak.
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }

    /// Time each op of a training step (`train`) or of inference ([`Model::predict`]) on the
    /// inputs written for `shape`, each by itself `runs` times after a warm-up: the op's label, its kernel
    /// launches and its median seconds, in program order. The ops run on the model's own
    /// buffers, so a training profile changes the weights: profile a model whose weights no
    /// longer matter.
    pub fn profile(
        &mut self,
        shape: (usize, usize),
        runs: usize,
        train: bool,
    ) -> Result<Vec<(String, usize, f64)>> {
        let mut ops = Vec::new();
        if train {
            self.need_trainer()?;
            self.prepare(shape, true, true)?;
            for phase in [Phase::Train, Phase::Backward] {
                self.program(shape, phase)?;
                ops.extend(
                    self.programs[&(shape.0, shape.1, phase)]
                        .ops
                        .iter()
                        .cloned(),
                );
            }
            ops.extend(self.step_program().ops.iter().cloned());
            let opt = self.opt.as_mut().expect("checked");
            opt.begin_step(self.rt.as_mut())?;
            self.tables_fresh = false;
        } else {
            self.prepare(shape, false, false)?;
            self.program(shape, Phase::Predict)?;
            if let Some(tables) = &self.tables {
                ops.extend(tables.ops.iter().cloned());
            }
            let predict = &self.programs[&(shape.0, shape.1, Phase::Predict)];
            ops.extend(predict.ops.iter().cloned());
        }
        self.rt.profile(&ops, runs)
    }
}
