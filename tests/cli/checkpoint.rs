use gpu_rnn::checkpoint;
use gpu_rnn::model::classifier::ClassifierConfig;
use gpu_rnn::model::rnn::RnnConfig;
use gpu_rnn::plan::CellKind;

use crate::common::*;

fn configs() -> Vec<ClassifierConfig> {
    let mut out = Vec::new();
    for (cell, layers, bidi, relu, bias) in [
        (CellKind::Gru, 2, true, false, true),
        (CellKind::Lstm, 1, false, false, true),
        (CellKind::Rnn, 3, true, true, true),
        (CellKind::Rnn, 1, false, false, false),
    ] {
        let mut rnn = RnnConfig::new(cell, 5, 6);
        rnn.layers = layers;
        rnn.bidirectional = bidi;
        rnn.relu = relu;
        rnn.bias = bias;
        out.push(ClassifierConfig {
            vocab: 128,
            embed: 5,
            rnn,
            classes: 3,
            embed_dropout: 0.0,
        });
    }
    out
}

#[test]
fn checkpoints_round_trip_and_infer_the_architecture() {
    let mut rng = TestRng::new("checkpoints_round_trip_and_infer_the_architecture");
    let dir = tempfile::tempdir().unwrap();
    for cfg in configs() {
        let p = dir.path().join("m.safetensors");
        let classes: Vec<String> = ["A", "B, with comma", "Ü"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let params = rng.values(cfg.layout().len);
        checkpoint::save(&p, &cfg, &classes, &params, &[("epoch", "3".into())]).unwrap();
        let ck = checkpoint::load(&p).unwrap();
        assert_eq!(ck.cfg, cfg);
        assert_eq!(ck.classes, classes);
        assert_eq!(ck.params, params);
        assert_eq!(ck.metadata["epoch"], "3");
        // PyTorch's state_dict names, exactly.
        let bytes = std::fs::read(&p).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let prefix = cfg.rnn.cell.torch_name();
        assert!(st.names().contains(&"embedding.weight") && st.names().contains(&"fc.bias"));
        assert!(
            st.names()
                .contains(&format!("{prefix}.weight_hh_l0").as_str())
        );
        assert_eq!(
            st.names().iter().any(|n| n.ends_with("_reverse")),
            cfg.rnn.bidirectional
        );
    }
}

/// Write `tensors` (name, shape) with random values and the given metadata.
fn write_raw(path: &std::path::Path, tensors: &[(&str, Vec<usize>)], classes: Option<&str>) {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, s)| vec![0u8; 4 * s.iter().product::<usize>()])
        .collect();
    let views: Vec<_> = tensors
        .iter()
        .zip(&data)
        .map(|((n, s), d)| {
            (
                n.to_string(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                    .unwrap(),
            )
        })
        .collect();
    let meta = classes.map(|c| {
        [("classes".to_string(), c.to_string())]
            .into_iter()
            .collect()
    });
    std::fs::write(path, safetensors::serialize(views, meta).unwrap()).unwrap();
}

#[test]
fn bad_checkpoints_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.safetensors");
    let good = vec![
        ("embedding.weight", vec![128, 4]),
        ("gru.weight_ih_l0", vec![9, 4]),
        ("gru.weight_hh_l0", vec![9, 3]),
        ("gru.bias_ih_l0", vec![9]),
        ("gru.bias_hh_l0", vec![9]),
        ("fc.weight", vec![2, 3]),
        ("fc.bias", vec![2]),
    ];
    write_raw(&p, &good, Some(r#"["x","y"]"#));
    assert!(checkpoint::load(&p).is_ok());

    type Case<'a> = (Vec<(&'a str, Vec<usize>)>, Option<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            good[1..].to_vec(),
            Some(r#"["x","y"]"#),
            "missing tensor embedding.weight",
        ),
        (
            good.iter()
                .filter(|&t| t.0 != "gru.bias_hh_l0")
                .cloned()
                .collect(),
            Some(r#"["x","y"]"#),
            "missing tensor gru.bias_hh_l0",
        ),
        (
            [
                &good[..5],
                &[("fc.weight", vec![2, 4]), ("fc.bias", vec![2])],
            ]
            .concat(),
            Some(r#"["x","y"]"#),
            "fc.weight has shape [2, 4], expected [2, 3]",
        ),
        (
            [good.clone(), vec![("extra.weight", vec![1])]].concat(),
            Some(r#"["x","y"]"#),
            "unexpected tensor extra.weight",
        ),
        (good.clone(), None, "no \"classes\""),
        (
            good.clone(),
            Some(r#"["x"]"#),
            "lists 1 classes but fc.weight has 2 rows",
        ),
        (
            good.iter()
                .filter(|&t| !t.0.starts_with("gru"))
                .cloned()
                .collect(),
            Some(r#"["x","y"]"#),
            "no recurrent layer",
        ),
    ];
    for (tensors, classes, want) in cases {
        write_raw(&p, &tensors, classes);
        let e = checkpoint::load(&p).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("bad.safetensors"),
            "expected {want:?} in: {e}"
        );
    }
    std::fs::write(&p, b"not safetensors").unwrap();
    assert!(
        checkpoint::load(&p)
            .unwrap_err()
            .to_string()
            .contains("not a safetensors file")
    );
}
