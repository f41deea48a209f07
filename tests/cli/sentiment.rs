//! Exercise 13-1 on a committed sample of the Rotten Tomatoes phrases (tests/fixtures/sentiment:
//! the first 400 training rows plus sentence 76, whose phrases include the one that is a single
//! space, and the first 150 test rows): the TSV reader and its errors, word tokens, the
//! vocabulary, the split by sentence, and train → predict → eval → submission.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gpu_rnn::data::sentiment::{self, Vocab, words};

use crate::common::*;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sentiment")
        .join(name)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sample_tsv_reads_with_its_single_space_phrase() {
    let rows = sentiment::read(&sample("train_sample.tsv")).unwrap();
    assert_eq!(rows.len(), 407);
    assert_eq!((rows[0].id, rows[0].sentence, rows[0].line), (1, 1, 2));
    assert_eq!(rows[3].text, "A");
    assert!(rows.iter().all(|r| r.label.is_some_and(|l| l <= 4)));
    let space = rows.iter().find(|r| r.id == 2006).expect("phrase 2006");
    assert_eq!((space.text.as_str(), space.sentence), (" ", 76));
    // A phrase with no words is one <unk>, not an empty sequence.
    let vocab = Vocab::build(rows.iter().map(|r| r.text.as_str()), 1);
    assert_eq!(vocab.encode(&space.text), vec![1]);

    let test = sentiment::read(&sample("test_sample.tsv")).unwrap();
    assert_eq!(test.len(), 150);
    assert!(test.iter().all(|r| r.label.is_none()));
    assert_eq!((test[0].id, test[0].sentence), (156061, 8545));
}

#[test]
fn malformed_tsv_rows_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let head = "PhraseId\tSentenceId\tPhrase\tSentiment\n";
    let ok = "1\t1\tA good film\t3\n";
    let cases = [
        (
            "columns.tsv",
            format!("{head}{ok}2\t1\tno label here\n"),
            ":3: expected 4 tab-separated fields",
        ),
        (
            "extra.tsv",
            format!("{head}{ok}{ok}3\t1\ta\tb\t2\n"),
            ":4: expected 4 tab-separated fields",
        ),
        (
            "label5.tsv",
            format!("{head}{ok}2\t1\tgreat\t5\n"),
            ":3: Sentiment must be 0 to 4, found \"5\"",
        ),
        (
            "labelx.tsv",
            format!("{head}2\t1\tgreat\tx\n"),
            ":2: Sentiment must be 0 to 4",
        ),
        (
            "id.tsv",
            format!("{head}{ok}two\t1\tgreat\t2\n"),
            ":3: PhraseId must be a whole number",
        ),
        (
            "header.tsv",
            format!("Id\tPhrase\n{ok}"),
            ":1: expected the header",
        ),
        ("empty.tsv", head.to_string(), "no rows after the header"),
    ];
    for (name, text, want) in cases {
        let path = write(dir.path(), name, &text);
        let err = sentiment::read(&path).unwrap_err().to_string();
        assert!(
            err.contains(name) && err.contains(want),
            "{name}: expected {want:?} in {err:?}"
        );
    }
    // Quotes are ordinary characters: a field that starts with one runs to the next tab.
    let quoted = write(
        dir.path(),
        "quotes.tsv",
        &format!("{head}1\t1\t\"Fargo\" is a film\t3\n2\t1\t\"\t2\n"),
    );
    let rows = sentiment::read(&quoted).unwrap();
    assert_eq!(rows[0].text, "\"Fargo\" is a film");
    assert_eq!(rows[1].text, "\"");
}

#[test]
fn words_follow_the_datas_tokenization() {
    let cases = [
        // Already tokenized text: lower-cased words.
        (
            "A series of escapades , some of which",
            "a series of escapades , some of which",
        ),
        (
            "does n't work -LRB- really -RRB- ...",
            "does n't work -lrb- really -rrb- ...",
        ),
        // Free text gets the same split.
        ("An engrossing, funny film.", "an engrossing , funny film ."),
        (
            "It doesn't work; it's (sadly) dull!",
            "it does n't work ; it 's -lrb- sadly -rrb- dull !",
        ),
        ("\"Quoted\" They've", "\" quoted \" they 've"),
        ("   ", ""),
    ];
    for (text, want) in cases {
        assert_eq!(words(text).join(" "), want, "{text:?}");
    }
}

#[test]
fn vocabulary_counts_orders_and_encodes() {
    let texts = ["the film the end", "The film is bad", "bad bad"];
    let v = Vocab::build(texts, 2);
    // <pad>, <unk>, then by count (bad 3, the 3 → alphabetical), film 2; end and is drop out.
    assert_eq!(v.words, ["<pad>", "<unk>", "bad", "the", "film"]);
    assert_eq!(v.encode("The bad film ends"), vec![3, 2, 4, 1]);
    assert_eq!(v.id("<pad>"), 0);
    assert_eq!(Vocab::build(texts, 1).len(), 7);
    // As a checkpoint stores it.
    assert_eq!(Vocab::from_words(v.words.clone()).unwrap(), v);
    assert!(Vocab::from_words(vec!["<unk>".into(), "<pad>".into()]).is_err());
    assert!(
        Vocab::from_words(vec!["<pad>".into(), "<unk>".into(), "a".into(), "a".into()]).is_err()
    );
}

#[test]
fn split_holds_out_whole_sentences_reproducibly() {
    let rows = sentiment::read(&sample("train_sample.tsv")).unwrap();
    let (train, val) = sentiment::split_by_sentence(&rows, 0.2, 7);
    assert_eq!(train.len() + val.len(), rows.len());
    let sentences =
        |idx: &[usize]| -> BTreeSet<u32> { idx.iter().map(|&i| rows[i].sentence).collect() };
    let (ts, vs) = (sentences(&train), sentences(&val));
    assert!(ts.is_disjoint(&vs), "a sentence on both sides");
    // 15 sentences: 20% is 3 of them.
    assert_eq!((ts.len(), vs.len()), (12, 3));
    assert_eq!(
        sentiment::split_by_sentence(&rows, 0.2, 7),
        (train.clone(), val.clone())
    );
    let others: BTreeSet<Vec<usize>> = (0..8)
        .map(|seed| sentiment::split_by_sentence(&rows, 0.2, seed).1)
        .collect();
    assert!(others.len() > 1, "the seed does not change the split");
}

fn gpu_rnn(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-rnn"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run gpu-rnn")
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

// The whole exercise on the sample, on the GPU when there is one: training selects the task
// from the .tsv file and reports validation accuracy and phrases/s; the checkpoint carries the
// vocabulary, so predict needs nothing else and prints the 5 named probabilities; eval scores a
// labelled file and writes a Kaggle submission for the unlabelled one.
#[test]
fn sentiment_train_predict_eval_and_submission() {
    let dir = tempfile::tempdir().unwrap();
    let backend = match gpu("sentiment_train_predict_eval_and_submission") {
        Some(_) => "gpu",
        None => "cpu",
    };
    let train = sample("train_sample.tsv");
    let out = ok(&gpu_rnn(
        &[
            "train",
            "--data",
            train.to_str().unwrap(),
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--hidden",
            "16",
            "--embed",
            "16",
            "--min-count",
            "1",
            "--run-dir",
            "run",
            "--backend",
            backend,
        ],
        dir.path(),
    ));
    assert!(out.contains("validation phrases (3 sentences"), "{out}");
    assert!(
        out.contains("Epoch 2/2") && out.contains("phrases/s"),
        "{out}"
    );
    assert!(out.contains("best validation accuracy"), "{out}");
    let model = dir.path().join("run/best.safetensors");
    let ck = gpu_rnn::checkpoint::load(&model).unwrap();
    let vocab = ck.vocab.as_ref().expect("the checkpoint's vocabulary");
    assert_eq!(ck.cfg.vocab, vocab.len());
    assert_eq!(ck.classes, sentiment::CLASSES);
    assert_eq!(ck.metadata["task"], "sentiment");

    // predict: from the file alone.
    let out = ok(&gpu_rnn(
        &[
            "predict",
            "--model",
            "run/best.safetensors",
            "--backend",
            backend,
            "an engrossing, funny film",
            "dull",
        ],
        dir.path(),
    ));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('"')).collect();
    assert_eq!(lines.len(), 2, "{out}");
    for line in lines {
        // "text": negative 1.0%, somewhat negative 2.0%, … -> best
        let (_, probs) = line.rsplit_once("\": ").unwrap();
        let (probs, best) = probs.split_once(" -> ").unwrap();
        let parsed: Vec<(&str, f64)> = probs
            .split(", ")
            .map(|p| {
                let (name, pct) = p.rsplit_once(' ').unwrap();
                (name, pct.trim_end_matches('%').parse().unwrap())
            })
            .collect();
        let names: Vec<&str> = parsed.iter().map(|p| p.0).collect();
        assert_eq!(names, sentiment::CLASSES, "{line}");
        let total: f64 = parsed.iter().map(|p| p.1).sum();
        assert!(
            (total - 100.0).abs() < 0.5,
            "probabilities sum to {total}: {line}"
        );
        let top = parsed
            .iter()
            .fold(parsed[0], |b, &p| if p.1 > b.1 { p } else { b });
        assert_eq!(best, top.0, "{line}");
    }

    // eval on labelled phrases: accuracy and the confusion matrix.
    let out = ok(&gpu_rnn(
        &[
            "eval",
            "--model",
            "run/best.safetensors",
            "--data",
            train.to_str().unwrap(),
            "--backend",
            backend,
        ],
        dir.path(),
    ));
    assert!(
        out.contains("accuracy") && out.contains("confusion matrix"),
        "{out}"
    );

    // eval on the unlabelled test phrases: submission.csv by default.
    let test = sample("test_sample.tsv");
    let out = ok(&gpu_rnn(
        &[
            "eval",
            "--model",
            "run/best.safetensors",
            "--data",
            test.to_str().unwrap(),
            "--backend",
            backend,
        ],
        dir.path(),
    ));
    assert!(
        out.contains("submission written to submission.csv"),
        "{out}"
    );
    let csv = std::fs::read_to_string(dir.path().join("submission.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("PhraseId,Sentiment"));
    let rows: Vec<(u32, u8)> = lines
        .map(|l| {
            let (id, s) = l.split_once(',').unwrap();
            (id.parse().unwrap(), s.parse().unwrap())
        })
        .collect();
    let want: Vec<u32> = (156061..156061 + 150).collect();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), want);
    assert!(rows.iter().all(|r| r.1 <= 4));

    // A malformed training file is one message naming the line, and nothing is written.
    let bad = write(
        dir.path(),
        "bad.tsv",
        "PhraseId\tSentenceId\tPhrase\tSentiment\n1\t1\tfine\t2\n2\t1\tbad\t7\n",
    );
    let o = gpu_rnn(
        &[
            "train",
            "--data",
            bad.to_str().unwrap(),
            "--run-dir",
            "bad-run",
            "--backend",
            "cpu",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("bad.tsv:3: Sentiment must be 0 to 4"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("bad-run").exists());
}
