//! Unit tests for `Document`: versions, sync state and the byte edits it reports.

use crate::text::PositionEncoding::Utf16;
use crate::text::{ByteEdit, Document, Position, Range, SyncError, TextChange};

fn edit(range: ((u32, u32), (u32, u32)), text: &str) -> TextChange {
    let ((a, b), (c, d)) = range;
    TextChange {
        range: Some(Range::new(Position::new(a, b), Position::new(c, d))),
        text: text.to_owned(),
    }
}

fn full(text: &str) -> TextChange {
    TextChange {
        range: None,
        text: text.to_owned(),
    }
}

#[test]
fn changes_apply_in_order_each_to_the_previous_result() {
    let mut doc = Document::new("rust", 1, "ab\ncd");
    let edits = doc
        .apply_changes(
            2,
            &[
                edit(((0, 2), (0, 2)), "😀\r\n"),
                edit(((1, 0), (2, 1)), "X"),
            ],
            Utf16,
        )
        .expect("in sync");
    assert_eq!(doc.rope().to_string(), "ab😀\r\nXd");
    assert_eq!(doc.version(), 2);
    assert_eq!(
        edits,
        vec![
            ByteEdit {
                start_byte: 2,
                old_end_byte: 2,
                new_end_byte: 8,
                start_point: (0, 2),
                old_end_point: (0, 2),
                new_end_point: (1, 0),
                start_char: 2,
                old_end_char: 2,
                new_end_char: 5,
            },
            ByteEdit {
                start_byte: 8,
                old_end_byte: 10,
                new_end_byte: 9,
                start_point: (1, 0),
                old_end_point: (2, 1),
                new_end_point: (1, 1),
                start_char: 5,
                old_end_char: 7,
                new_end_char: 6,
            },
        ]
    );
}

#[test]
fn a_full_text_change_resyncs_whatever_its_version() {
    // Versions went back (a client that renumbered): out of sync once, then a full text at a
    // version below the highest seen brings the document back, and numbering follows it.
    let mut doc = Document::new("rust", 9, "abc");
    assert_eq!(
        doc.apply_changes(2, &[edit(((0, 0), (0, 0)), "x")], Utf16),
        Err(SyncError::StaleVersion { have: 9, got: 2 })
    );
    doc.apply_changes(3, &[full("new")], Utf16)
        .expect("a full text resyncs");
    assert!(doc.is_in_sync());
    assert_eq!((doc.version(), doc.rope().to_string()), (3, "new".into()));
    doc.apply_changes(4, &[edit(((0, 3), (0, 3)), "!")], Utf16)
        .expect("in sync again");
    assert_eq!(doc.rope().to_string(), "new!");
    // In sync, a full text at an old version is followed too: it says the whole text.
    doc.apply_changes(1, &[full("reset")], Utf16)
        .expect("a full text applies");
    assert_eq!((doc.version(), doc.is_in_sync()), (1, true));
}

#[test]
fn a_stale_version_marks_out_of_sync_until_a_full_text_change() {
    let mut doc = Document::new("rust", 3, "abc");
    assert_eq!(
        doc.apply_changes(3, &[edit(((0, 0), (0, 0)), "x")], Utf16),
        Err(SyncError::StaleVersion { have: 3, got: 3 })
    );
    assert_eq!(doc.rope().to_string(), "abc");
    assert!(!doc.is_in_sync());
    assert_eq!(doc.out_of_sync_since(), Some(3));

    // Incremental changes are refused, even with a good version, and nothing moves.
    assert_eq!(
        doc.apply_changes(4, &[edit(((0, 0), (0, 0)), "x")], Utf16),
        Err(SyncError::OutOfSync { since: 3 })
    );
    assert_eq!(doc.rope().to_string(), "abc");
    assert_eq!(doc.version(), 3);
    // Later stale changes are the same refusal (the caller warned once), and keep the first
    // point of divergence.
    for version in [1, 2, 3] {
        assert_eq!(
            doc.apply_changes(version, &[edit(((0, 0), (0, 0)), "x")], Utf16),
            Err(SyncError::OutOfSync { since: 3 })
        );
    }
    assert_eq!(doc.out_of_sync_since(), Some(3));

    // A list with a full-text change resyncs, from its last full-text change on.
    let edits = doc
        .apply_changes(
            6,
            &[
                edit(((0, 0), (0, 0)), "ignored"),
                full("first"),
                full("one\r\ntwo"),
                edit(((1, 3), (1, 3)), "!"),
            ],
            Utf16,
        )
        .expect("resyncs");
    assert!(doc.is_in_sync());
    assert_eq!(doc.version(), 6);
    assert_eq!(doc.rope().to_string(), "one\r\ntwo!");
    assert_eq!(
        edits[0],
        ByteEdit {
            start_byte: 0,
            old_end_byte: 3,
            new_end_byte: 8,
            start_point: (0, 0),
            old_end_point: (0, 3),
            new_end_point: (1, 3),
            start_char: 0,
            old_end_char: 3,
            new_end_char: 8,
        }
    );
    assert_eq!(edits.len(), 2);
}

#[test]
fn errors_say_what_happened() {
    assert_eq!(
        SyncError::StaleVersion { have: 4, got: 2 }.to_string(),
        "version 2 does not increase past 4"
    );
    assert!(
        SyncError::OutOfSync { since: 4 }
            .to_string()
            .contains("since version 4")
    );
}

#[test]
fn accessors() {
    let doc = Document::new("python", 0, "");
    assert_eq!(doc.language_id(), "python");
    assert_eq!(doc.version(), 0);
    assert!(doc.is_in_sync());
    assert_eq!(doc.rope().len_chars(), 0);
}
