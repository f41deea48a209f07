use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gpu_rnn::data::names;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn lecture_csv_files_read_with_quotes_crlf_and_commas() {
    let train = names::read(&repo("data/names_train.csv.gz"), true).unwrap();
    let test = names::read(&repo("data/names_test.csv.gz"), true).unwrap();
    assert_eq!((train.examples.len(), test.examples.len()), (13374, 6700));
    assert!(train.dropped.is_empty() && test.dropped.is_empty());
    assert_eq!(
        train.examples.last().unwrap().source.line,
        13374,
        "CRLF line numbers"
    );
    let classes = names::classes(&train.examples);
    assert_eq!(classes.len(), 18);
    assert_eq!(
        (classes[0].as_str(), classes[17].as_str()),
        ("Arabic", "Vietnamese")
    );
    let all: Vec<&str> = train
        .examples
        .iter()
        .chain(&test.examples)
        .map(|e| e.name.as_str())
        .collect();
    for comma in ["Jevolojnov,", "Lytkin,", "Lysansky,"] {
        assert!(
            all.contains(&comma),
            "{comma} (a comma inside quotes) was not read whole"
        );
    }
    assert!(names::class_indices(&test.examples, &classes, "the training data").is_ok());
}

#[test]
fn tutorial_folder_folds_to_exactly_the_lecture_csv_pairs() {
    let folder = names::read(&repo("data/names"), false).unwrap();
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in ["data/names_train.csv.gz", "data/names_test.csv.gz"] {
        for e in names::read(&repo(f), true).unwrap().examples {
            *want.entry((e.name, e.label)).or_default() += 1;
        }
    }
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &folder.examples {
        *got.entry((e.name.clone(), e.label.clone())).or_default() += 1;
    }
    assert_eq!(
        got, want,
        "folding data/names/*.txt must give the lecture's (name, country) pairs"
    );
    // The non-ASCII characters that folding drops (the rest folds by NFD): ß ×9, ł ×1, NBSP ×1.
    let non_ascii: Vec<(char, usize)> = folder
        .dropped
        .iter()
        .filter(|(c, _)| !c.is_ascii())
        .map(|(c, d)| (*c, d.count))
        .collect();
    assert_eq!(non_ascii, vec![('\u{a0}', 1), ('ß', 9), ('ł', 1)]);
    let warning = folder.warning().expect("dropped characters are reported");
    assert!(
        warning.contains("German.txt") && warning.contains("ß"),
        "{warning}"
    );
}

#[test]
fn plain_csv_with_crlf_and_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "n.csv",
        "\"Adsit\",\"Czech\"\r\n\"Lytkin,\",\"Russian\"\r\nMüller,German\r\n",
    );
    let d = names::read(&p, false).unwrap();
    let got: Vec<(&str, &str)> = d
        .examples
        .iter()
        .map(|e| (e.name.as_str(), e.label.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Adsit", "Czech"),
            ("Lytkin,", "Russian"),
            ("Muller", "German")
        ]
    );
    // Line numbers are right with CRLF too (the csv crate's own lag; see names::read_csv).
    assert_eq!(
        d.examples.iter().map(|e| e.source.line).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let p = write(dir.path(), "bad_crlf.csv", "a,b\r\nc,d\r\ne,f,g\r\n");
    let e = names::read(&p, false).unwrap_err().to_string();
    assert!(e.contains("bad_crlf.csv:3:"), "{e}");
}

#[test]
fn malformed_rows_empty_names_and_strict_mode_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bad.csv", "Adsit,Czech\nOne,Two,Three\n");
    let e = names::read(&p, false).unwrap_err().to_string();
    assert!(
        e.contains("bad.csv:2") && e.contains("expected 2 fields"),
        "{e}"
    );

    let p = write(dir.path(), "empty.csv", "Adsit,Czech\n\"1234\",Czech\n");
    let e = names::read(&p, false).unwrap_err().to_string();
    assert!(
        e.contains("empty.csv:2") && e.contains("blank after folding"),
        "{e}"
    );

    let p = write(dir.path(), "strict.csv", "Adsit,Czech\nStraße,German\n");
    let e = names::read(&p, true).unwrap_err().to_string();
    assert!(e.contains("strict.csv:2") && e.contains('ß'), "{e}");
    let lenient = names::read(&p, false).unwrap();
    assert_eq!(lenient.examples[1].name, "Strae");
    assert_eq!(lenient.dropped[&'ß'].count, 1);
}

#[test]
fn a_test_label_unseen_in_training_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let train = names::read(
        &write(dir.path(), "train.csv", "Adsit,Czech\nSmith,English\n"),
        true,
    )
    .unwrap();
    let test = names::read(
        &write(dir.path(), "test.csv", "Jones,English\nRossi,Italian\n"),
        true,
    )
    .unwrap();
    let classes = names::classes(&train.examples);
    let e = names::class_indices(&test.examples, &classes, "the training data")
        .unwrap_err()
        .to_string();
    assert!(e.contains("test.csv:2") && e.contains("Italian"), "{e}");
}

#[test]
fn folder_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Czech.txt", "Adsit\n\nNovak\n");
    let e = names::read(dir.path(), false).unwrap_err().to_string();
    assert!(e.contains("Czech.txt:2") && e.contains("empty line"), "{e}");
    let missing = names::read(&dir.path().join("nope.csv"), false)
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.csv"), "{missing}");
}
