//! Parameters in one flat buffer with named views, PyTorch's state_dict names and shapes.
//! Gradients use the same layout in a second buffer, so Adam is one dispatch and a checkpoint
//! maps names to slices.

use rand::{RngExt, SeedableRng};

use crate::plan::{BufId, View};
use crate::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
/// One named tensor of the flat parameter buffer.
pub struct ParamEntry {
    /// PyTorch state_dict key, e.g. `gru.weight_ih_l0_reverse`.
    pub name: String,
    /// Its shape, PyTorch's.
    pub shape: Vec<usize>,
    /// Where it starts in the flat buffer.
    pub offset: usize,
}

impl ParamEntry {
    /// Its number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where each named parameter lives in the flat buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamLayout {
    /// The tensors in order, each right after the one before.
    pub entries: Vec<ParamEntry>,
    /// Total elements.
    pub len: usize,
}

impl ParamLayout {
    /// Append a parameter; returns its offset.
    pub fn push(&mut self, name: impl Into<String>, shape: &[usize]) -> usize {
        let offset = self.len;
        let entry = ParamEntry {
            name: name.into(),
            shape: shape.to_vec(),
            offset,
        };
        self.len += entry.len();
        self.entries.push(entry);
        offset
    }

    /// The entry named `name`, or an error naming it.
    pub fn get(&self, name: &str) -> Result<&ParamEntry> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::InvalidArgument {
                op: "params",
                message: format!("no parameter named {name}"),
            })
    }

    /// The view of `name` in a buffer with this layout.
    pub fn view(&self, buf: BufId, name: &str) -> Result<View> {
        let e = self.get(name)?;
        Ok(View {
            buf,
            offset: e.offset,
            len: e.len(),
        })
    }

    /// The host slice of `name` in a flat vector with this layout.
    pub fn slice<'a>(&self, flat: &'a [f32], name: &str) -> Result<&'a [f32]> {
        let e = self.get(name)?;
        Ok(&flat[e.offset..e.offset + e.len()])
    }

    /// `name`'s elements in `flat`.
    pub fn slice_mut<'a>(&self, flat: &'a mut [f32], name: &str) -> Result<&'a mut [f32]> {
        let e = self.get(name)?;
        Ok(&mut flat[e.offset..e.offset + e.len()])
    }
}

/// Fill `flat[offset .. offset + len]` from U(−bound, bound), PyTorch's init for recurrent
/// layers (bound = 1/√H) and linear layers (bound = 1/√fan_in).
pub fn init_uniform(flat: &mut [f32], bound: f32, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for x in flat {
        *x = rng.random_range(-bound..bound);
    }
}

/// Fill `flat` from N(0, 1) (Box–Muller, one draw per element), PyTorch's init for
/// embeddings.
pub fn init_normal(flat: &mut [f32], seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for x in flat {
        let (u1, u2): (f64, f64) = (
            rng.random_range(f64::EPSILON..1.0),
            rng.random_range(0.0..1.0),
        );
        *x = ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32;
    }
}
