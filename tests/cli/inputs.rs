//! Issue 12's input defects: checkpoints with bad weights or contradictory metadata,
//! unbounded reads, and degenerate data, each refused naming the file, tensor or line.

use std::path::Path;

use super::commands::{fails_with, gpu_rnn, small_data, text};
use super::reliability::{mknod, refused_before_training, s, train};

/// A checkpoint of the small model, written through the library with `params` changed by
/// `edit` and the metadata `extra`.
pub(crate) fn checkpoint_with(
    dir: &Path,
    name: &str,
    classes: &[&str],
    extra: &[(&str, String)],
    edit: impl Fn(&mut Vec<f32>),
) -> String {
    let mut cfg = gpu_rnn::model::classifier::ClassifierConfig::lecture();
    cfg.classes = classes.len();
    let mut params = vec![0.01f32; cfg.layout().len];
    edit(&mut params);
    let path = dir.join(name);
    let classes: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
    gpu_rnn::checkpoint::save(&path, &cfg, &classes, &params, extra).unwrap();
    s(&path)
}

#[test]
fn checkpoints_with_bad_weights_or_contradictory_metadata_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ok = checkpoint_with(dir.path(), "ok.safetensors", &["A", "B"], &[], |_| ());
    assert!(gpu_rnn::checkpoint::load(Path::new(&ok)).is_ok());
    let predict = |m: &str| gpu_rnn(&["predict", "--backend", "cpu", "--model", m, "Smith"], &[]);
    let nan = checkpoint_with(dir.path(), "nan.safetensors", &["A", "B"], &[], |p| {
        p[12800 + 100] = f32::NAN
    });
    fails_with(
        &predict(&nan),
        "tensor gru.weight_ih_l0 [300, 100] holds NaN at flat index 100",
    );
    let inf = checkpoint_with(dir.path(), "inf.safetensors", &["A", "B"], &[], |p| {
        *p.last_mut().unwrap() = f32::INFINITY
    });
    fails_with(&predict(&inf), "tensor fc.bias [2] holds inf");
    let dup = checkpoint_with(dir.path(), "dup.safetensors", &["A", "A"], &[], |_| ());
    fails_with(&predict(&dup), "classes lists \"A\" twice");
    let nl = checkpoint_with(
        dir.path(),
        "nl.safetensors",
        &["A", "B"],
        &[("nonlinearity", "relu".into())],
        |_| (),
    );
    fails_with(&predict(&nl), "only rnn. layers have one");
    let task = checkpoint_with(
        dir.path(),
        "task.safetensors",
        &["A", "B"],
        &[("task", "speech".into())],
        |_| (),
    );
    fails_with(
        &predict(&task),
        "task is \"speech\", expected one of names, sentiment",
    );
    let sent = checkpoint_with(
        dir.path(),
        "sent.safetensors",
        &["A", "B"],
        &[("task", "sentiment".into())],
        |_| (),
    );
    fails_with(&predict(&sent), "has no \"vocab\"");
    // Reading is bounded: a file of zeros is not a checkpoint, and a device never ends.
    let zeros = dir.path().join("zeros.safetensors");
    std::fs::write(&zeros, vec![0u8; 4096]).unwrap();
    fails_with(&predict(&s(&zeros)), "its header length is 0 bytes");
    if let Some(zero) = mknod(dir.path(), "zero", 1, 5) {
        fails_with(&predict(&s(&zero)), "its header length is 0 bytes");
        let o = gpu_rnn(&["train", "--backend", "cpu", "--data", &s(&zero)], &[]);
        fails_with(&o, "holds more than 512 MiB");
    }
}

#[test]
fn degenerate_data_is_refused_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let (_, te) = small_data(dir.path());
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        s(&p)
    };
    let run = s(&dir.path().join("r"));
    let quote = write(
        "quote.csv",
        "Abe,English\r\n\"Bob,English\r\nCarl,English\r\nDima,Russian\r\n",
    );
    refused_before_training(
        &train(&quote, &te, &["--run-dir", &run]),
        "quote.csv:2: a quoted field opens here",
    );
    let eof = write("eof.csv", "Abe,English\r\nDima,Russian\r\n\"Carl,English");
    refused_before_training(
        &train(&eof, &te, &["--run-dir", &run]),
        "eof.csv:3: a quoted field opens here and is never closed",
    );
    let one = write("one.csv", "Abe,English\nBob,English\n");
    refused_before_training(
        &train(&one, &te, &["--run-dir", &run]),
        "has 1 class(es) (English); a classifier needs at least 2",
    );
    let blank = write("blank.csv", "Abe,English\n   ,Russian\n");
    refused_before_training(
        &train(&blank, &te, &["--run-dir", &run]),
        "blank.csv:2: the name \"   \" is blank",
    );
    let long = write(
        "long.csv",
        &format!("Abe,English\n{},Russian\n", "a".repeat(1_000_000)),
    );
    refused_before_training(
        &train(&long, &te, &["--run-dir", &run]),
        "long.csv:2: 1000000 characters, over --max-len 1000",
    );
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("English.txt"), "Abe\n").unwrap();
    std::fs::write(folder.join("Russian.txt"), "").unwrap();
    refused_before_training(
        &train(&s(&folder), &te, &["--run-dir", &run]),
        "Russian.txt: has no names",
    );
    // A non-UTF-8 row: one line number.
    let bytes = dir.path().join("latin1.csv");
    std::fs::write(&bytes, b"Abe,English\nB\xe9la,Russian\n").unwrap();
    let o = train(&s(&bytes), &te, &["--run-dir", &run]);
    refused_before_training(&o, "latin1.csv:2: malformed CSV: not valid UTF-8 (field 1)");
    assert!(!text(&o).1.contains("line"), "{}", text(&o).1);
    // Words: a minimum count that leaves no word.
    let tsv = write(
        "p.tsv",
        "PhraseId\tSentenceId\tPhrase\tSentiment\n1\t1\ta good film\t4\n2\t2\ta bad film\t0\n3\t3\tfine\t2\n4\t4\tgood\t3\n5\t5\tbad\t1\n",
    );
    let o = gpu_rnn(
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            &tsv,
            "--run-dir",
            &run,
            "--min-count",
            "1000000",
        ],
        &[],
    );
    refused_before_training(&o, "--min-count: no word of");
}
