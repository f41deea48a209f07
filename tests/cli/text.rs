//! Plain text for the character-level language model: the vocabulary, the split, the
//! streams of truncated BPTT, and errors with byte offsets. Small texts only.

use std::path::Path;

use gpu_rnn::data::text::{CharVocab, Streams, read_text, split};

#[test]
fn the_vocabulary_is_the_sorted_set_of_characters() {
    let text = "First Citizen:\nBefore we proceed, hear me speak. Ça va? 日本\n";
    let v = CharVocab::build(text);
    let mut want: Vec<char> = text.chars().collect();
    want.sort();
    want.dedup();
    assert_eq!(v.chars(), &want[..]);
    assert_eq!(v.chars()[0], '\n');
    let ids = v.encode(text, "t").unwrap();
    assert_eq!(ids.len(), text.chars().count());
    assert_eq!(v.decode(&ids), text);
    let e = v
        .encode("hear Z", "the prime text")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "the prime text: the character 'Z' (U+005A) at byte offset 5 is not in the vocabulary"
        ),
        "{e}"
    );
    let e = CharVocab::from_chars(vec!['a', 'b', 'a'])
        .unwrap_err()
        .to_string();
    assert!(e.contains("'a' appears twice"), "{e}");
}

#[test]
fn the_split_is_contiguous_as_nanogpt_cuts_it() {
    let ids: Vec<u32> = (0..1_115_394).map(|i| i % 7).collect();
    let (tr, va) = split(&ids, 0.1);
    // nanoGPT: int(1115394 * 0.9) = 1003854.
    assert_eq!((tr.len(), va.len()), (1_003_854, 111_540));
    assert_eq!(tr.as_ptr_range().end, va.as_ptr_range().start);
}

#[test]
fn streams_continue_from_batch_to_batch() {
    let ids: Vec<u32> = (0..103).collect();
    let st = Streams::new(Path::new("t.txt"), ids.len(), 4, 5).unwrap();
    // (103 − 1) / 4 = 25 characters per stream, 5 windows of 5 steps.
    assert_eq!((st.len, st.batches()), (25, 5));
    for k in 0..st.batches() {
        let (x, y) = st.batch(&ids, k);
        assert_eq!((x.len(), y.len()), (20, 20));
        for j in 0..4 {
            let row = &x[j * 5..(j + 1) * 5];
            assert_eq!(row[0] as usize, j * 25 + k * 5, "stream {j} batch {k}");
            assert!(row.windows(2).all(|w| w[1] == w[0] + 1));
            assert!(
                y[j * 5..(j + 1) * 5]
                    .iter()
                    .zip(row)
                    .all(|(t, i)| *t == i + 1)
            );
        }
        if k + 1 < st.batches() {
            let (next, _) = st.batch(&ids, k + 1);
            assert_eq!(
                next[0],
                x[4] + 1,
                "batch {} goes on where batch {k} ended",
                k + 1
            );
        }
    }
    let e = Streams::new(Path::new("t.txt"), 20, 4, 5)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "t.txt: the training part has 20 characters; 4 streams of 5 steps need at least 21"
        ),
        "{e}"
    );
}

#[test]
fn a_file_that_is_not_utf8_names_the_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.txt");
    std::fs::write(&p, b"ROMEO:\nO, she doth teach \xff the torches").unwrap();
    let e = read_text(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad.txt:2: not valid UTF-8 at byte offset 25"),
        "{e}"
    );
    std::fs::write(&p, "JULIET:\nAy me!\n").unwrap();
    assert_eq!(read_text(&p).unwrap(), "JULIET:\nAy me!\n");
}
