//! What the host does with a [`Model`]: write inputs, run forward, backward and the
//! optimizer's step, and read values.

use crate::cpu::embedding::TokenRows;
use crate::nn::graph::{Kind, Layer, Node, Rows, Var};
use crate::nn::model::{Built, Model, Phase};
use crate::{Error, Result};

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "model",
        message,
    }
}

impl Model {
    fn check_shape(&self, (t, b): (usize, usize)) -> Result<()> {
        let (t_max, b_max) = self.max;
        if t == 0 || b == 0 || t > t_max || b > b_max {
            return Err(Error::Shape {
                op: "model",
                expected: format!("1 ≤ T ≤ {t_max} steps and 1 ≤ B ≤ {b_max} sequences"),
                got: format!("T = {t}, B = {b}"),
            });
        }
        Ok(())
    }

    fn check_input(&self, v: Var, kind: Kind, len: usize, (t, b): (usize, usize)) -> Result<()> {
        self.check_shape((t, b))?;
        self.g.expect(v, kind, None, "write")?;
        let info = &self.g.vars[v.0];
        let want = info.rows.count(t, b) * info.cols;
        if len != want {
            return Err(Error::Shape {
                op: "model",
                expected: format!("{} with {want} values for T = {t}, B = {b}", info.name),
                got: len.to_string(),
            });
        }
        if info.producer.is_some() {
            return Err(bad(format!(
                "{} is a layer's output, not an input",
                info.name
            )));
        }
        Ok(())
    }

    /// Write the f32 input `v` for a batch of `b` sequences of `t` steps, in PyTorch's
    /// layout ((B, T, ·) for sequences in a batch_first graph). Initial states (`h0`, `c0`)
    /// are inputs too; they stay as written until written again.
    pub fn write(&mut self, v: Var, data: &[f32], shape: (usize, usize)) -> Result<()> {
        self.check_input(v, Kind::F32, data.len(), shape)?;
        let dev = self.to_device(v, data, shape);
        let view = self.value(v, shape)?;
        self.rt.write_f32(view.buf, 0, &dev)?;
        self.written[v.0] = Some(shape);
        Ok(())
    }

    /// Write the token ids `v` (each below the vocabulary of the embeddings that read it).
    pub fn write_ids(&mut self, v: Var, ids: &[u32], shape: (usize, usize)) -> Result<()> {
        self.check_input(v, Kind::Ids, ids.len(), shape)?;
        let dev = self.to_device(v, ids, shape);
        let info = &self.g.vars[v.0];
        let mut groupings = Vec::new();
        for &c in &info.consumers {
            let Node::Embedding { layer, .. } = self.g.nodes[c] else {
                continue;
            };
            let Layer::Embedding { num, .. } = self.g.layers[layer].layer else {
                unreachable!("an embedding node uses an embedding layer")
            };
            if let Some((i, &id)) = ids.iter().enumerate().find(|(_, id)| **id as usize >= num) {
                return Err(bad(format!(
                    "{}[{i}] is {id}, outside {}'s {num} embeddings",
                    info.name, self.g.layers[layer].name
                )));
            }
            // Only the embedding's backward reads the grouping: an inference model skips it.
            if self.has_grads() {
                groupings.push((c, TokenRows::new(&dev, num)?));
            }
        }
        let view = self.value(v, shape)?;
        self.rt.write_u32(view.buf, 0, &dev)?;
        for (c, rows) in groupings {
            let (offsets, rows_buf) = self.grouping(c, view.buf);
            self.rt.write_u32(offsets, 0, &rows.offsets)?;
            self.rt.write_u32(rows_buf, 0, &rows.rows)?;
        }
        self.written[v.0] = Some(shape);
        Ok(())
    }

    /// Where embedding node `c` (reading the ids in `ids`) keeps its token grouping.
    fn grouping(
        &self,
        c: usize,
        ids: crate::plan::BufId,
    ) -> (crate::plan::BufId, crate::plan::BufId) {
        match &self.built[c] {
            Built::Embedding { offsets, rows, .. } => (*offsets, *rows),
            _ => self
                .built
                .iter()
                .find_map(|b| match b {
                    Built::Rnn {
                        input: Some(input), ..
                    } if input.ids == ids => Some((input.offsets, input.rows)),
                    _ => None,
                })
                .expect("a folded embedding lives in its recurrent layer"),
        }
    }

    /// Write the class indices `v` for the losses that read it: each in 0..C, or the loss's
    /// ignore index.
    pub fn write_targets(&mut self, v: Var, targets: &[i64], shape: (usize, usize)) -> Result<()> {
        self.check_input(v, Kind::Targets, targets.len(), shape)?;
        let info = &self.g.vars[v.0];
        let mut dev = Vec::with_capacity(targets.len());
        // Every cross-entropy that reads these targets: the fewest classes bound them, and
        // they must agree on the ignore index.
        let losses: Vec<(usize, Option<i32>)> = info
            .consumers
            .iter()
            .filter_map(|&c| match self.g.nodes[c] {
                Node::CrossEntropy {
                    logits,
                    ignore_index,
                    ..
                } => Some((self.g.vars[logits.0].cols, ignore_index)),
                _ => None,
            })
            .collect();
        if losses.windows(2).any(|w| w[0].1 != w[1].1) {
            return Err(bad(format!(
                "{} is read by losses with different ignore indices",
                info.name
            )));
        }
        let classes = losses.iter().map(|l| l.0).min();
        let ignore = losses.first().and_then(|l| l.1);
        for (i, &y) in targets.iter().enumerate() {
            let in_range = classes.is_none_or(|c| (0..c as i64).contains(&y));
            if ignore.is_some_and(|ig| i64::from(ig) == y) {
                dev.push(-1);
            } else if in_range && i32::try_from(y).is_ok_and(|y| y >= 0) {
                dev.push(y as i32);
            } else {
                return Err(bad(format!(
                    "{}[{i}] is {y}, outside the {} classes{}",
                    info.name,
                    classes.map_or("non-negative".into(), |c| c.to_string()),
                    ignore.map_or(String::new(), |ig| format!(" (ignore index {ig})"))
                )));
            }
        }
        let dev = self.to_device(v, &dev, shape);
        let view = self.value(v, shape)?;
        self.rt.write_i32(view.buf, 0, &dev)?;
        self.written[v.0] = Some(shape);
        Ok(())
    }

    /// Each sequence's length (a packed batch, any order; each in 1..=T), for the next runs;
    /// `None`: every sequence has the batch's T steps.
    pub fn set_lengths(&mut self, lengths: Option<&[usize]>) {
        self.lengths = lengths.map(|l| l.iter().map(|&n| n as u32).collect());
    }

    /// Seed of the dropout masks. A mask is a hash of the seed, the training forward's
    /// number (counted from [`Model::set_params`], as the optimizer's steps are), the layer
    /// and the element.
    pub fn set_seed(&mut self, seed: u32) {
        self.seed = seed;
    }

    /// The optimizer's learning rate from the next step on (a schedule's value).
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(bad(format!(
                "learning rate {lr}: expected a finite value ≥ 0"
            )));
        }
        let opt = self
            .opt
            .as_mut()
            .ok_or_else(|| bad("an inference model has no optimizer".into()))?;
        opt.set_lr(lr);
        Ok(())
    }

    /// Lengths and, for a training forward, the masks' `[seed, step]`, before a run.
    pub(crate) fn prepare(
        &mut self,
        (t, b): (usize, usize),
        train: bool,
        losses: bool,
    ) -> Result<()> {
        self.check_shape((t, b))?;
        let lens = match &self.lengths {
            None => vec![t as u32; b],
            Some(l) if l.len() == b && l.iter().all(|&n| n >= 1 && n as usize <= t) => l.clone(),
            Some(l) => {
                return Err(bad(format!(
                    "lengths must be {b} values in 1..={t}, got {l:?}"
                )));
            }
        };
        self.check_written((t, b), losses)?;
        if train {
            self.masks = self.masks.wrapping_add(1);
            self.rt.write_u32(self.rng, 0, &[self.seed, self.masks])?;
        }
        // Each recurrent module its own masks: the k-th mixes k into the seed (the first
        // keeps it, as the task models do).
        let mut k = 0u32;
        for built in &self.built {
            let (rnn, lens) = match built {
                Built::Rnn { rnn, .. } => (rnn, lens.clone()),
                // A cell's step is one step of every sequence.
                Built::Cell(rnn) => (rnn, vec![1; b]),
                _ => continue,
            };
            self.rt.write_u32(rnn.lens, 0, &lens)?;
            if train {
                let seed = self.seed ^ k.wrapping_mul(0x9e37_79b9);
                self.rt.write_u32(rnn.rng, 0, &[seed, self.masks])?;
            }
            k += 1;
        }
        Ok(())
    }

    /// Every input written (or carried) for another batch than (t, b) is an error: its rows
    /// would be read with the wrong stride. Inputs never written hold zeros and pass, and so
    /// do the losses' targets of a run without the losses.
    fn check_written(&self, (t, b): (usize, usize), losses: bool) -> Result<()> {
        for (info, written) in self.g.vars.iter().zip(&self.written) {
            let Some((wt, wb)) = *written else { continue };
            // (A recurrent layer's h0 and c0 have no consumers listed, and are checked.)
            let loss_only =
                !info.consumers.is_empty() && info.consumers.iter().all(|&c| self.g.is_loss(c));
            if !losses && loss_only {
                continue;
            }
            let same = match info.rows {
                Rows::Steps => (wt, wb) == (t, b),
                Rows::Batch | Rows::States(_) => wb == b,
                Rows::Fixed(_) => true,
            };
            if !same {
                return Err(bad(format!(
                    "{} was written for T = {wt}, B = {wb}; this run is T = {t}, B = {b} \
                     (write it again for this batch)",
                    info.name
                )));
            }
        }
        Ok(())
    }

    /// The carried values now hold the state of a batch of (t, b).
    fn carried(&mut self, (t, b): (usize, usize)) {
        for node in &self.g.nodes {
            if let Node::Carry { to, .. } = node {
                self.written[to.0] = Some((t, b));
            }
        }
    }

    /// The forward pass in evaluation mode (dropout off) over the inputs written for (t, b).
    pub fn forward(&mut self, shape: (usize, usize)) -> Result<()> {
        self.evaluate(shape, Phase::Eval)
    }

    /// [`Model::forward`] without the losses (`torch.no_grad()` inference that never asks
    /// for them): the targets need not be written, and the losses' values are not updated.
    pub fn predict(&mut self, shape: (usize, usize)) -> Result<()> {
        self.evaluate(shape, Phase::Predict)
    }

    fn evaluate(&mut self, shape: (usize, usize), phase: Phase) -> Result<()> {
        self.prepare(shape, false, phase == Phase::Eval)?;
        self.program(shape, phase)?;
        let eval = &self.programs[&(shape.0, shape.1, phase)];
        match &self.tables {
            Some(tables) if !self.tables_fresh => self.rt.run(&[tables, eval])?,
            _ => self.rt.run(&[eval])?,
        }
        self.tables_fresh = true;
        self.last = Some((shape.0, shape.1, false));
        self.carried(shape);
        Ok(())
    }

    /// An error unless the model has an optimizer ([`Model::trainer`]).
    pub(crate) fn need_trainer(&self) -> Result<()> {
        match self.opt {
            Some(_) => Ok(()),
            None => Err(bad(
                "this model has no optimizer (Model::new, Model::with_grads); build it with \
                 Model::trainer"
                    .into(),
            )),
        }
    }

    /// Whether the model has gradients ([`Model::trainer`], [`Model::with_grads`]).
    pub(crate) fn has_grads(&self) -> bool {
        self.grads != self.params
    }

    /// An error unless the model has gradients.
    pub(crate) fn need_grads(&self) -> Result<()> {
        if !self.has_grads() {
            return Err(bad(
                "an inference model (Model::new) has no gradients; build it with \
                 Model::trainer or Model::with_grads"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The forward pass in training mode (dropout on), keeping what backward needs.
    pub fn forward_train(&mut self, shape: (usize, usize)) -> Result<()> {
        self.need_grads()?;
        self.prepare(shape, true, true)?;
        self.program(shape, Phase::Train)?;
        self.rt
            .run(&[&self.programs[&(shape.0, shape.1, Phase::Train)]])?;
        self.tables_fresh = true;
        self.last = Some((shape.0, shape.1, true));
        self.carried(shape);
        Ok(())
    }

    /// Every parameter's gradient of the losses of the last training forward (zeroed first).
    pub fn backward(&mut self) -> Result<()> {
        let Some((t, b, true)) = self.last else {
            return Err(bad("backward needs a forward_train first".into()));
        };
        self.program((t, b), Phase::Backward)?;
        self.rt.run(&[&self.programs[&(t, b, Phase::Backward)]])
    }

    /// `torch.autograd.backward(outputs, grads)`: every gradient of the last training forward
    /// from given gradients of the outputs that nothing reads (`output`, `h_n`, …, in
    /// PyTorch's layout), each one missing taken as zero; a loss adds its own gradient as in
    /// [`Model::backward`]. Parameter gradients are zeroed first.
    pub fn backward_from(&mut self, seeds: &[(Var, &[f32])]) -> Result<()> {
        self.need_grads()?;
        let Some((t, b, true)) = self.last else {
            return Err(bad("backward_from needs a forward_train first".into()));
        };
        let g = &self.g;
        for &(v, _) in seeds {
            g.expect(v, Kind::F32, None, "backward_from")?;
            let info = &g.vars[v.0];
            let loss = info.producer.is_some_and(|p| g.is_loss(p));
            if info.producer.is_none() || !info.consumers.is_empty() || loss {
                return Err(bad(format!(
                    "backward_from: {} is not an output that nothing reads",
                    info.name
                )));
            }
        }
        for i in 0..g.vars.len() {
            let info = &self.g.vars[i];
            let unread = info.producer.is_some_and(|p| !self.g.is_loss(p))
                && info.consumers.is_empty()
                && info.kind == Kind::F32;
            let Some(view) = self.grad(Var(i), (t, b)).filter(|_| unread) else {
                continue;
            };
            let dev = match seeds.iter().find(|(v, _)| v.0 == i) {
                Some(&(v, data)) if data.len() == view.len => self.to_device(v, data, (t, b)),
                Some(&(_, data)) => {
                    return Err(Error::Shape {
                        op: "model",
                        expected: format!("d{} with {} values", info.name, view.len),
                        got: data.len().to_string(),
                    });
                }
                None => vec![0.0; view.len],
            };
            self.rt.write_f32(view.buf, 0, &dev)?;
        }
        self.program((t, b), Phase::BackwardFrom)?;
        self.rt.run(&[&self.programs[&(t, b, Phase::BackwardFrom)]])
    }

    /// `v.grad` after a backward, in PyTorch's layout: the gradient of a layer's output, or
    /// of an input that [`Graph::requires_grad`](crate::nn::Graph::requires_grad).
    pub fn grad_of(&mut self, v: Var) -> Result<Vec<f32>> {
        self.need_grads()?;
        let Some((t, b, _)) = self.last else {
            return Err(bad("nothing has run yet".into()));
        };
        self.g.expect(v, Kind::F32, None, "grad_of")?;
        let view = self.grad(v, (t, b)).ok_or_else(|| {
            bad(format!(
                "{} has no gradient (an input needs Graph::requires_grad)",
                self.g.vars[v.0].name
            ))
        })?;
        let data = self.rt.read_f32(view)?;
        Ok(self.to_host(v, data, (t, b)))
    }

    /// One optimizer step from the gradients (clipped when the optimizer clips).
    pub fn step(&mut self) -> Result<()> {
        self.need_trainer()?;
        self.step_program();
        let opt = self.opt.as_mut().expect("checked");
        opt.begin_step(self.rt.as_mut())?;
        let step = self.step_program.as_ref().expect("built above");
        self.rt.run(&[step])?;
        self.tables_fresh = false;
        // The weights moved: a backward now would mix them with the old activations.
        if let Some((t, b, _)) = self.last {
            self.last = Some((t, b, false));
        }
        Ok(())
    }

    /// [`Model::forward_train`], [`Model::backward`] and [`Model::step`] in one submission.
    pub fn train_step(&mut self, shape: (usize, usize)) -> Result<()> {
        self.need_trainer()?;
        self.prepare(shape, true, true)?;
        self.program(shape, Phase::Train)?;
        self.program(shape, Phase::Backward)?;
        self.step_program();
        self.opt
            .as_mut()
            .expect("checked")
            .begin_step(self.rt.as_mut())?;
        let (t, b) = shape;
        let programs = [
            &self.programs[&(t, b, Phase::Train)],
            &self.programs[&(t, b, Phase::Backward)],
            self.step_program.as_ref().expect("built above"),
        ];
        self.rt.run(&programs)?;
        self.tables_fresh = false;
        // As after `step`: no backward of these activations with the new weights.
        self.last = Some((t, b, false));
        self.carried(shape);
        Ok(())
    }

    /// A state `v` ((k, B, C) or (B, C) rows) of `b` sequences as it is now: what was
    /// written or carried into it, whatever ran last.
    pub(crate) fn read_state(&mut self, v: Var, b: usize) -> Result<Vec<f32>> {
        let view = self.value(v, (1, b))?;
        self.rt.read_f32(view)
    }

    /// `v` after the last run, in PyTorch's layout.
    pub fn read(&mut self, v: Var) -> Result<Vec<f32>> {
        let Some((t, b, _)) = self.last else {
            return Err(bad("nothing has run yet".into()));
        };
        self.g.expect(v, Kind::F32, None, "read")?;
        let view = self.value(v, (t, b))?;
        let data = self.rt.read_f32(view)?;
        Ok(self.to_host(v, data, (t, b)))
    }

    /// `v`'s shape as PyTorch gives it after the last run: (T, B, C) for a sequence ((B, T,
    /// C) in a batch_first graph), (B, C), (k, B, C) for states such as h_n, (n, C), and ()
    /// for a loss.
    pub fn dims(&self, v: Var) -> Result<Vec<usize>> {
        let Some((t, b, _)) = self.last else {
            return Err(bad("nothing has run yet".into()));
        };
        let info = self
            .g
            .vars
            .get(v.0)
            .ok_or_else(|| bad(format!("value {} is not in this model's graph", v.0)))?;
        let c = info.cols;
        Ok(match info.rows {
            Rows::Steps if self.g.batch_first == Some(true) => vec![b, t, c],
            Rows::Steps => vec![t, b, c],
            Rows::Batch => vec![b, c],
            Rows::States(k) => vec![k, b, c],
            Rows::Fixed(1) if c == 1 => vec![],
            Rows::Fixed(n) => vec![n, c],
        })
    }

    /// A one-element value (a loss) after the last run.
    pub fn scalar(&mut self, v: Var) -> Result<f32> {
        let x = self.read(v)?;
        match x.as_slice() {
            [x] => Ok(*x),
            _ => Err(bad(format!(
                "{} has {} values, not one",
                self.g.vars[v.0].name,
                x.len()
            ))),
        }
    }
}
