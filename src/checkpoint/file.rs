//! The safetensors container, written and read with bounds.
//!
//! Writing: the header's keys in sorted order and the tensors in the order given, so the same
//! tensors and metadata always give the same bytes (the `safetensors` crate writes metadata in
//! a hash map's order, which changes from run to run). Reading: the 8-byte header length is
//! checked before the header is read, and the tensor data is read only up to the end the
//! header declares, so a wrong file (or `/dev/zero`) is an error rather than an unbounded read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// The largest header read (the `safetensors` crate's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One tensor to write: its name, shape, dtype name (`F32`, `U32`) and little-endian bytes.
pub struct Tensor<'a> {
    /// The header key, e.g. `gru.weight_ih_l0`.
    pub name: &'a str,
    /// Its shape, outermost first.
    pub shape: Vec<usize>,
    /// The safetensors dtype name: `F32` or `U32`.
    pub dtype: &'static str,
    /// The data's little-endian bytes, 4 per element.
    pub bytes: &'a [u8],
}

impl<'a> Tensor<'a> {
    /// Every tensor of `layout`, each its slice of the flat `params`.
    pub fn of_layout(
        layout: &'a crate::model::params::ParamLayout,
        params: &'a [f32],
    ) -> Vec<Self> {
        (layout.entries.iter())
            .map(|e| {
                Self::f32(
                    &e.name,
                    e.shape.clone(),
                    &params[e.offset..e.offset + e.len()],
                )
            })
            .collect()
    }

    /// An `F32` tensor of `data`.
    pub fn f32(name: &'a str, shape: Vec<usize>, data: &'a [f32]) -> Self {
        Self {
            name,
            shape,
            dtype: "F32",
            bytes: bytemuck::cast_slice(data),
        }
    }

    /// A `U32` tensor of `data`.
    pub fn u32(name: &'a str, shape: Vec<usize>, data: &'a [u32]) -> Self {
        Self {
            name,
            shape,
            dtype: "U32",
            bytes: bytemuck::cast_slice(data),
        }
    }
}

/// The file's bytes: header length, JSON header (keys sorted, padded with spaces to a multiple
/// of 8 as the format recommends), then the tensors' data in order.
pub fn serialize(tensors: &[Tensor], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::json!(metadata));
    }
    let mut offset = 0usize;
    for t in tensors {
        let end = offset + t.bytes.len();
        header.insert(
            t.name.to_string(),
            serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header))
        .expect("a map of strings and numbers is JSON");
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for t in tensors {
        out.extend_from_slice(t.bytes);
    }
    out
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The whole file, read within bounds: the header at most [`MAX_HEADER_BYTES`], the data no
/// longer than the header declares and no larger than `max_data` bytes.
pub fn read(path: &Path, max_data: u64) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        error: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| {
        bad(
            path,
            "not a safetensors file: shorter than its 8-byte header length",
        )
    })?;
    let n = u64::from_le_bytes(len);
    if !(2..=MAX_HEADER_BYTES).contains(&n) {
        return Err(bad(
            path,
            format!(
                "not a safetensors file: its header length is {n} bytes (expected 2 to {MAX_HEADER_BYTES})"
            ),
        ));
    }
    let mut header = Vec::new();
    (&mut f).take(n).read_to_end(&mut header).map_err(io)?;
    if header.len() as u64 != n {
        return Err(bad(
            path,
            format!("not a safetensors file: its {n}-byte header is cut short"),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(&header).map_err(|e| {
        bad(
            path,
            format!("not a safetensors file: the header is not JSON: {e}"),
        )
    })?;
    let end = value
        .as_object()
        .ok_or_else(|| {
            bad(
                path,
                "not a safetensors file: the header is not a JSON object",
            )
        })?
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .filter_map(|(_, t)| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    if end > max_data {
        return Err(bad(
            path,
            format!("its tensors take {end} bytes, over the memory budget of {max_data} bytes"),
        ));
    }
    let mut data = Vec::new();
    f.take(end).read_to_end(&mut data).map_err(io)?;
    if (data.len() as u64) < end {
        return Err(bad(
            path,
            format!(
                "truncated: the header declares {end} bytes of tensor data, the file holds {}",
                data.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    Ok(out)
}
