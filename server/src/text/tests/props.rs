//! Property tests: `Document` against the naive `String` model under random edit sequences,
//! and position round trips, in all three encodings.
//!
//! Each property runs 10,000 cases by default; set `TANDEM_PROPTEST_CASES` to change that.

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use ropey::Rope;

use super::model;
use crate::text::PositionEncoding::{self, Utf8, Utf16, Utf32};
use crate::text::{
    ByteEdit, Document, Position, Range, SyncError, TextChange, char_to_position, point_of_byte,
    position_to_char,
};

fn config() -> ProptestConfig {
    crate::test_support::proptest_config(10_000, u32::MAX)
}

/// Text built from pieces that stress the rules: wide chars, every line end, and now and then
/// a long line so the rope has more than one leaf.
fn text(max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => Just("😀"),
        4 => Just("中文"),
        4 => Just("\r\n"),
        4 => Just("\r"),
        4 => Just("\n"),
        4 => Just("a"),
        4 => Just("bc d"),
        1 => Just(LONG_LINE.as_str()),
    ];
    proptest::collection::vec(piece, 0..max_pieces).prop_map(|pieces| pieces.concat())
}

/// About 1.6 KB without line ends: longer than one ropey leaf.
static LONG_LINE: LazyLock<String> =
    LazyLock::new(|| "0123456789abcdefghijklmnopqrstuvwxyz😀中文".repeat(36));

/// Positions near the start (mostly small columns, to land inside wide chars and just past line
/// ends), past the last line, and far along a long line.
fn position() -> impl Strategy<Value = Position> {
    let line = prop_oneof![8 => 0..6u32, 1 => Just(u32::MAX)];
    let character = prop_oneof![8 => 0..10u32, 1 => 0..2000u32, 1 => Just(u32::MAX)];
    (line, character).prop_map(|(line, character)| Position { line, character })
}

fn change() -> impl Strategy<Value = TextChange> {
    // Two independent ends: about half the ranges are inverted.
    let range = (position(), position()).prop_map(|(start, end)| Some(Range { start, end }));
    let range = prop_oneof![8 => range, 1 => Just(None)];
    (range, text(4)).prop_map(|(range, text)| TextChange { range, text })
}

/// One didChange: how far the version moves (sometimes not at all, or backwards) and changes.
fn did_change() -> impl Strategy<Value = (i32, Vec<TextChange>)> {
    let step = prop_oneof![12 => Just(1), 2 => 2..5i32, 1 => -1..=0i32];
    (step, proptest::collection::vec(change(), 1..4))
}

#[derive(Debug, Clone)]
struct Sequence {
    initial: String,
    changes: Vec<(i32, Vec<TextChange>)>,
}

fn sequence() -> impl Strategy<Value = Sequence> {
    (text(8), proptest::collection::vec(did_change(), 1..8))
        .prop_map(|(initial, changes)| Sequence { initial, changes })
}

/// What the model expects of one didChange, and the texts it goes through.
struct Model {
    text: String,
    version: i32,
    out_of_sync_since: Option<i32>,
}

fn replace(text: &str, change: &TextChange, enc: PositionEncoding) -> String {
    match change.range {
        None => change.text.clone(),
        Some(range) => {
            let (start, end) = model::range_to_bytes(text, range, enc);
            [&text[..start], &change.text, &text[end..]].concat()
        }
    }
}

fn run_sequence(seq: &Sequence, enc: PositionEncoding) -> TestCaseResult {
    let mut doc = Document::new("plaintext", 0, &seq.initial);
    let mut model = Model {
        text: seq.initial.clone(),
        version: 0,
        out_of_sync_since: None,
    };
    for (step, changes) in &seq.changes {
        let version = model.version + step;
        let result = doc.apply_changes(version, changes, enc);
        let last_full = changes.iter().rposition(|change| change.range.is_none());
        // A full text always applies; out of sync, nothing else does; in sync, a version that
        // does not increase marks it out of sync.
        if let (None, Some(since)) = (last_full, model.out_of_sync_since) {
            prop_assert_eq!(result, Err(SyncError::OutOfSync { since }));
        } else if last_full.is_none() && version <= model.version {
            prop_assert_eq!(
                result,
                Err(SyncError::StaleVersion {
                    have: model.version,
                    got: version
                })
            );
            model.out_of_sync_since = Some(model.version);
        } else {
            // The model applies every change, even those a later full text overwrites.
            let mut texts = vec![model.text.clone()];
            for change in changes {
                let next = replace(texts.last().map_or("", String::as_str), change, enc);
                texts.push(next);
            }
            let from = last_full.unwrap_or(0);
            let edits = result.map_err(|err| TestCaseError::fail(err.to_string()))?;
            prop_assert_eq!(edits.len(), changes.len() - from);
            for (i, edit) in edits.iter().enumerate() {
                let at = from + i;
                // The document skips the changes before the last full text, so that one
                // replaces the text as it was before this didChange.
                let before = if i == 0 { &texts[0] } else { &texts[at] };
                check_edit(edit, before, &texts[at + 1], &changes[at])?;
            }
            model.text = texts.pop().unwrap_or_default();
            model.version = version;
            model.out_of_sync_since = None;
        }
        prop_assert_eq!(doc.rope().to_string(), model.text.as_str());
        prop_assert_eq!(doc.version(), model.version);
        prop_assert_eq!(doc.is_in_sync(), model.out_of_sync_since.is_none());
    }
    Ok(())
}

/// An edit is consistent with the texts before and after it and with the change's text.
fn check_edit(edit: &ByteEdit, before: &str, after: &str, change: &TextChange) -> TestCaseResult {
    let ByteEdit {
        start_byte: start,
        old_end_byte: old_end,
        new_end_byte: new_end,
        ..
    } = *edit;
    prop_assert!(start <= old_end && old_end <= before.len(), "{edit:?}");
    prop_assert!(new_end <= after.len(), "{edit:?}");
    prop_assert_eq!(new_end - start, change.text.len());
    // The char span is the byte span, counted in chars.
    let chars = |text: &str, byte: usize| text.get(..byte).map(|t| t.chars().count());
    prop_assert_eq!(Some(edit.start_char), chars(before, start), "{:?}", edit);
    prop_assert_eq!(
        Some(edit.old_end_char),
        chars(before, old_end),
        "{:?}",
        edit
    );
    prop_assert_eq!(Some(edit.new_end_char), chars(after, new_end), "{:?}", edit);
    // `get` rather than indexing: an edit off a char boundary must fail the case, not panic.
    prop_assert_eq!(after.get(start..new_end), Some(change.text.as_str()));
    prop_assert_eq!(before.get(..start), after.get(..start));
    prop_assert_eq!(before.get(old_end..), after.get(new_end..));
    prop_assert!(before.get(start..old_end).is_some(), "{edit:?}");
    if change.range.is_none() {
        prop_assert_eq!((start, old_end), (0, before.len()));
    }
    let (before_rope, after_rope) = (Rope::from_str(before), Rope::from_str(after));
    prop_assert_eq!(edit.start_point, point_of_byte(&before_rope, start));
    prop_assert_eq!(edit.old_end_point, point_of_byte(&before_rope, old_end));
    prop_assert_eq!(edit.new_end_point, point_of_byte(&after_rope, new_end));
    prop_assert_eq!(edit.start_point, model::point(before, start));
    prop_assert_eq!(edit.old_end_point, model::point(before, old_end));
    prop_assert_eq!(edit.new_end_point, model::point(after, new_end));
    Ok(())
}

/// Every valid position (a char boundary within a line's content) maps to the char the model
/// names and back to itself; every char index maps to a position and back to itself, except
/// the one between "\r" and "\n", which rounds down to the "\r".
fn round_trip(text: &str, pick: (usize, usize), enc: PositionEncoding) -> TestCaseResult {
    let rope = Rope::from_str(text);
    let lines = model::lines(text);
    let line_idx = pick.0 % lines.len();
    let line = lines[line_idx];
    let boundaries: Vec<usize> = text[line.start..line.content_end]
        .char_indices()
        .map(|(offset, _)| line.start + offset)
        .chain([line.content_end])
        .collect();
    let byte = boundaries[pick.1 % boundaries.len()];
    let column: usize = text[line.start..byte]
        .chars()
        .map(|ch| model::width(ch, enc))
        .sum();
    let pos = Position {
        line: u32::try_from(line_idx)?,
        character: u32::try_from(column)?,
    };
    let char_idx = position_to_char(&rope, pos, enc);
    prop_assert_eq!(char_idx, text[..byte].chars().count());
    prop_assert_eq!(char_to_position(&rope, char_idx, enc), pos);

    let char_idx = pick.1 % (rope.len_chars() + 1);
    let back = position_to_char(&rope, char_to_position(&rope, char_idx, enc), enc);
    let in_crlf = char_idx > 0
        && rope.get_char(char_idx - 1) == Some('\r')
        && rope.get_char(char_idx) == Some('\n');
    prop_assert_eq!(back, if in_crlf { char_idx - 1 } else { char_idx });
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn document_matches_model_utf8(seq in sequence()) {
        run_sequence(&seq, Utf8)?;
    }

    #[test]
    fn document_matches_model_utf16(seq in sequence()) {
        run_sequence(&seq, Utf16)?;
    }

    #[test]
    fn document_matches_model_utf32(seq in sequence()) {
        run_sequence(&seq, Utf32)?;
    }

    #[test]
    fn positions_round_trip(text in text(40), pick in (0..usize::MAX, 0..usize::MAX)) {
        for enc in [Utf8, Utf16, Utf32] {
            round_trip(&text, pick, enc)?;
        }
    }
}
