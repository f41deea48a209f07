//! Classifier checkpoints in safetensors (f32), with exactly the tensor names of the lecture
//! model's PyTorch state_dict (`embedding.weight`, `gru.weight_ih_l0`, …, `fc.weight`,
//! `fc.bias`; `rnn.` or `lstm.` for those cells). `__metadata__` holds `classes`, a JSON array
//! of the class names in index order, `nonlinearity` for `rnn.` models, and for a word model
//! (the sentiment task) `vocab`, a JSON array of its words in id order.
//!
//! A character language model (`task` = `charlm`, [`crate::model::char_lm`]) has the same
//! tensors, with `fc.weight` (V, H); its `vocab` is a JSON array of one-character strings in
//! id order, which are also its classes, so it has no `classes` entry.
//!
//! The architecture is read from the names and shapes, so a file written by
//! `safetensors.torch.save_file(model.state_dict(), path, metadata=…)` loads as it is, and a
//! file written here loads into the PyTorch model with `load_state_dict`.

pub mod file;

use std::collections::BTreeMap;
use std::path::Path;

use crate::data::sentiment::Vocab;
use crate::data::text::CharVocab;
use crate::model::classifier::ClassifierConfig;
use crate::model::rnn::RnnConfig;
use crate::output::write_atomic;
use crate::plan::CellKind;
use crate::{Error, Result};

/// A loaded checkpoint: the architecture, the class names and the parameters (flat, in
/// `cfg.layout()` order), plus all metadata.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The architecture, read from the tensors' names and shapes.
    pub cfg: ClassifierConfig,
    /// The class names in index order (a language model's: its characters).
    pub classes: Vec<String>,
    /// Every parameter, flat, in `cfg.layout()` order.
    pub params: Vec<f32>,
    /// The whole `__metadata__`.
    pub metadata: BTreeMap<String, String>,
    /// The words of a word-level model (`vocab` metadata), one per embedding row.
    pub vocab: Option<Vocab>,
    /// The characters of a language model (`task` = `charlm`), one per embedding row.
    pub chars: Option<CharVocab>,
}

/// The `task` of a character language model.
pub const CHARLM: &str = "charlm";

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Save `params` (flat, `cfg.layout()` order) with `classes` and `extra` metadata, atomically.
pub fn save(
    path: &Path,
    cfg: &ClassifierConfig,
    classes: &[String],
    params: &[f32],
    extra: &[(&str, String)],
) -> Result<()> {
    write_atomic(path, &to_bytes(path, cfg, classes, params, extra)?)
}

/// The bytes [`save`] writes: the same arguments give the same bytes.
pub fn to_bytes(
    path: &Path,
    cfg: &ClassifierConfig,
    classes: &[String],
    params: &[f32],
    extra: &[(&str, String)],
) -> Result<Vec<u8>> {
    let layout = cfg.layout();
    if params.len() != layout.len || classes.len() != cfg.classes {
        return Err(bad(
            path,
            format!(
                "{} parameters and {} classes for an architecture of {} and {}",
                params.len(),
                classes.len(),
                layout.len,
                cfg.classes
            ),
        ));
    }
    let mut meta = BTreeMap::new();
    let charlm = extra.iter().any(|(k, v)| *k == "task" && v == CHARLM);
    meta.insert(
        if charlm { "vocab" } else { "classes" }.to_string(),
        serde_json::to_string(classes).expect("a list of strings is JSON"),
    );
    if cfg.rnn.cell == CellKind::Rnn {
        meta.insert(
            "nonlinearity".to_string(),
            if cfg.rnn.relu { "relu" } else { "tanh" }.to_string(),
        );
    }
    let format = if charlm {
        "gpu-rnn charlm"
    } else {
        "gpu-rnn classifier"
    };
    meta.insert("format".to_string(), format.to_string());
    meta.insert(
        "gpu_rnn_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    for (k, v) in extra {
        meta.insert(k.to_string(), v.clone());
    }
    let tensors = file::Tensor::of_layout(&layout, params);
    Ok(file::serialize(&tensors, &meta))
}

/// The task names a checkpoint's `task` metadata may hold.
pub const TASKS: [&str; 3] = ["names", "sentiment", CHARLM];

/// Metadata that contradicts itself or the tensors: duplicate class names, `nonlinearity` on
/// a GRU or LSTM, an unknown `task`, or a `task` that disagrees with the vocabulary.
fn check_metadata(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    cell: CellKind,
    classes: &[String],
) -> Result<()> {
    if let Some((i, c)) = classes
        .iter()
        .enumerate()
        .find(|(i, c)| classes[..*i].contains(c))
    {
        return Err(bad(
            path,
            format!("__metadata__ classes lists {c:?} twice (again at index {i})"),
        ));
    }
    if cell != CellKind::Rnn
        && let Some(n) = metadata.get("nonlinearity")
    {
        return Err(bad(
            path,
            format!(
                "__metadata__ nonlinearity is {n:?}, but this is a {} model: only rnn. layers \
                 have one",
                cell.torch_name()
            ),
        ));
    }
    let has_vocab = metadata.contains_key("vocab");
    match metadata.get("task").map(String::as_str) {
        None => Ok(()),
        Some("names") if has_vocab => Err(bad(
            path,
            "__metadata__ task is \"names\" but it has a word vocabulary (a sentiment model)",
        )),
        Some(t @ ("sentiment" | CHARLM)) if !has_vocab => Err(bad(
            path,
            format!("__metadata__ task is {t:?} but it has no \"vocab\""),
        )),
        Some(t) if TASKS.contains(&t) => Ok(()),
        Some(t) => Err(bad(
            path,
            format!(
                "__metadata__ task is {t:?}, expected one of {}",
                TASKS.join(", ")
            ),
        )),
    }
}

/// The first NaN or infinity of a tensor, as an error naming it.
fn check_finite(path: &Path, name: &str, shape: &[usize], values: &[f32]) -> Result<()> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(bad(
            path,
            format!(
                "tensor {name} {shape:?} holds {} at flat index {i}; every weight must be finite",
                values[i]
            ),
        )),
    }
}

/// Load a checkpoint, inferring the architecture; a missing tensor, a wrong shape, an
/// unexpected tensor or missing metadata is an error naming it.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = file::read(path, crate::memory::budget())?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, format!("not a safetensors file: {e}")))?;
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(path, e.to_string()))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let cfg = architecture(path, &st, &metadata)?;
    let cell = cfg.rnn.cell;
    let (chars, classes) = class_names(path, &metadata, &cfg)?;
    check_metadata(path, &metadata, cell, &classes)?;
    // The layer count comes from tensor names alone: bound the allocation before making it.
    cfg.check().map_err(|e| bad(path, e.to_string()))?;

    let params = read_params(path, &st, &cfg)?;
    let vocab = word_vocab(path, &metadata, chars.is_some(), &cfg)?;
    Ok(Checkpoint {
        cfg,
        classes,
        params,
        metadata,
        vocab,
        chars,
    })
}

/// The architecture from the tensors' names and shapes (and `nonlinearity` in the metadata).
fn architecture(
    path: &Path,
    st: &safetensors::SafeTensors,
    metadata: &BTreeMap<String, String>,
) -> Result<ClassifierConfig> {
    let shape = |name: &str| st.tensor(name).ok().map(|t| t.shape().to_vec());
    let need = |name: &str| shape(name).ok_or_else(|| bad(path, format!("missing tensor {name}")));
    let cell = [CellKind::Gru, CellKind::Lstm, CellKind::Rnn]
        .into_iter()
        .find(|c| shape(&format!("{}.weight_ih_l0", c.torch_name())).is_some())
        .ok_or_else(|| bad(path, "no recurrent layer: expected gru.weight_ih_l0, lstm.weight_ih_l0 or rnn.weight_ih_l0"))?;
    let p = cell.torch_name();
    let whh = need(&format!("{p}.weight_hh_l0"))?;
    if whh.len() != 2 || whh[1] == 0 || whh[0] != cell.gates() * whh[1] {
        return Err(bad(
            path,
            format!(
                "{p}.weight_hh_l0 has shape {whh:?}; a {p} layer needs ({}·H, H)",
                cell.gates()
            ),
        ));
    }
    let hidden = whh[1];
    let emb = need("embedding.weight")?;
    if emb.len() != 2 {
        return Err(bad(
            path,
            format!("embedding.weight has shape {emb:?}, expected (V, E)"),
        ));
    }
    let fc = need("fc.weight")?;
    if fc.len() != 2 {
        return Err(bad(
            path,
            format!("fc.weight has shape {fc:?}, expected (C, D·H)"),
        ));
    }
    let mut rnn = RnnConfig::new(cell, emb[1], hidden);
    rnn.layers = (0..)
        .take_while(|k| shape(&format!("{p}.weight_ih_l{k}")).is_some())
        .count();
    rnn.bidirectional = shape(&format!("{p}.weight_ih_l0_reverse")).is_some();
    rnn.bias = shape(&format!("{p}.bias_ih_l0")).is_some();
    if cell == CellKind::Rnn {
        rnn.relu = match metadata.get("nonlinearity").map(String::as_str) {
            None | Some("tanh") => false,
            Some("relu") => true,
            Some(other) => {
                return Err(bad(
                    path,
                    format!(
                        "__metadata__ nonlinearity is {other:?}, expected \"tanh\" or \"relu\""
                    ),
                ));
            }
        };
    }
    Ok(ClassifierConfig {
        vocab: emb[0],
        embed: emb[1],
        rnn,
        classes: fc[0],
        embed_dropout: 0.0,
    })
}

/// A language model's characters, and the class names: the characters, or `classes`.
fn class_names(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    cfg: &ClassifierConfig,
) -> Result<(Option<CharVocab>, Vec<String>)> {
    let chars = match metadata.get("task").map(String::as_str) {
        Some(CHARLM) => Some(char_vocab(path, metadata, cfg)?),
        _ => None,
    };
    let classes: Vec<String> = match (&chars, metadata.get("classes")) {
        (Some(chars), _) => chars.chars().iter().map(|c| c.to_string()).collect(),
        (None, None) => {
            return Err(bad(
                path,
                "__metadata__ has no \"classes\" (a JSON array of the class names in index order)",
            ));
        }
        (None, Some(s)) => serde_json::from_str(s).map_err(|e| {
            bad(
                path,
                format!("__metadata__ classes is not a JSON array of strings: {e}"),
            )
        })?,
    };
    if classes.len() != cfg.classes {
        return Err(bad(
            path,
            format!(
                "__metadata__ lists {} classes but fc.weight has {} rows",
                classes.len(),
                cfg.classes
            ),
        ));
    }
    Ok((chars, classes))
}

/// Every parameter of `cfg`'s layout, each of its shape, in F32 and finite, and no other.
fn read_params(
    path: &Path,
    st: &safetensors::SafeTensors,
    cfg: &ClassifierConfig,
) -> Result<Vec<f32>> {
    let layout = cfg.layout();
    let mut params = vec![0f32; layout.len];
    for e in &layout.entries {
        let t = st
            .tensor(&e.name)
            .map_err(|_| bad(path, format!("missing tensor {}", e.name)))?;
        if t.shape() != e.shape.as_slice() {
            return Err(bad(
                path,
                format!(
                    "tensor {} has shape {:?}, expected {:?}",
                    e.name,
                    t.shape(),
                    e.shape
                ),
            ));
        }
        if t.dtype() != safetensors::Dtype::F32 {
            return Err(bad(
                path,
                format!("tensor {} is {:?}, expected F32", e.name, t.dtype()),
            ));
        }
        for (dst, src) in params[e.offset..e.offset + e.len()]
            .iter_mut()
            .zip(t.data().chunks_exact(4))
        {
            *dst = f32::from_le_bytes([src[0], src[1], src[2], src[3]]);
        }
        check_finite(
            path,
            &e.name,
            &e.shape,
            &params[e.offset..e.offset + e.len()],
        )?;
    }
    let known: Vec<&str> = layout.entries.iter().map(|e| e.name.as_str()).collect();
    if let Some(extra) = st.names().into_iter().find(|n| !known.contains(n)) {
        return Err(bad(
            path,
            format!(
                "unexpected tensor {extra} for a {} model of {} layer(s)",
                cfg.rnn.cell.torch_name(),
                cfg.rnn.layers
            ),
        ));
    }
    Ok(params)
}

/// A word model's vocabulary from the metadata (`None` for names and characters).
fn word_vocab(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    chars: bool,
    cfg: &ClassifierConfig,
) -> Result<Option<Vocab>> {
    let vocab = match metadata.get("vocab") {
        _ if chars => None,
        None => None,
        Some(json) => {
            let words: Vec<String> = serde_json::from_str(json).map_err(|e| {
                bad(
                    path,
                    format!("__metadata__ vocab is not a JSON array of strings: {e}"),
                )
            })?;
            let vocab = Vocab::from_words(words)
                .map_err(|e| bad(path, format!("__metadata__ vocab: {e}")))?;
            if vocab.len() != cfg.vocab {
                return Err(bad(
                    path,
                    format!(
                        "__metadata__ vocab has {} words but embedding.weight has {} rows",
                        vocab.len(),
                        cfg.vocab
                    ),
                ));
            }
            Some(vocab)
        }
    };
    Ok(vocab)
}

/// A language model's `vocab`: one character per embedding row, and the head predicting one
/// of them, unidirectionally.
fn char_vocab(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    cfg: &ClassifierConfig,
) -> Result<CharVocab> {
    let json = metadata.get("vocab").map_or("", String::as_str);
    let strings: Vec<String> = serde_json::from_str(json).map_err(|e| {
        bad(
            path,
            format!("__metadata__ vocab is not a JSON array of strings: {e}"),
        )
    })?;
    let chars = strings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(bad(
                    path,
                    format!(
                        "__metadata__ vocab entry {i} is {s:?}; a charlm vocabulary holds one \
                         character per entry"
                    ),
                )),
            }
        })
        .collect::<Result<Vec<char>>>()?;
    let vocab =
        CharVocab::from_chars(chars).map_err(|e| bad(path, format!("__metadata__ vocab: {e}")))?;
    let (v, h) = (cfg.vocab, cfg.rnn.hidden);
    if vocab.len() != v || cfg.classes != v {
        return Err(bad(
            path,
            format!(
                "__metadata__ vocab has {} characters, embedding.weight {v} rows and fc.weight \
                 {} rows; a language model needs all three equal",
                vocab.len(),
                cfg.classes
            ),
        ));
    }
    if cfg.rnn.bidirectional || cfg.fc_in() != h {
        return Err(bad(
            path,
            "a charlm model reads one direction (no _reverse tensors) and fc.weight is (V, H)",
        ));
    }
    Ok(vocab)
}
