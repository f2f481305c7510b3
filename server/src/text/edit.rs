//! Applying one replacement to a rope and describing it in bytes, as tree-sitter's `InputEdit`
//! needs, so the same change edits the rope and the syntax tree.

use std::ops::Range as StdRange;

use ropey::Rope;

use super::point_of_byte;

/// One applied change in byte terms, what tree-sitter's `InputEdit` needs.
/// Points are `(row, byte column)` as [`point_of_byte`] computes them.
///
/// `start_*` and `old_end_*` are measured in the text before the change, `new_end_*` in the text
/// after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteEdit {
    pub start_byte: usize,
    pub old_end_byte: usize,
    pub new_end_byte: usize,
    pub start_point: (usize, usize),
    pub old_end_point: (usize, usize),
    pub new_end_point: (usize, usize),
    /// The same span in chars, for code that anchors regions in char offsets.
    pub start_char: usize,
    pub old_end_char: usize,
    pub new_end_char: usize,
}

/// Replaces the chars in `chars` with `text` and returns the edit in bytes.
///
/// `chars` must already be clamped and ordered (as [`super::range_to_chars`] returns it).
/// Runs in O(log n + removed + inserted): it never copies the whole text.
pub(crate) fn replace_chars(rope: &mut Rope, chars: StdRange<usize>, text: &str) -> ByteEdit {
    let start_byte = rope.char_to_byte(chars.start);
    let old_end_byte = rope.char_to_byte(chars.end);
    let start_point = point_of_byte(rope, start_byte);
    let old_end_point = point_of_byte(rope, old_end_byte);
    if !chars.is_empty() {
        rope.remove(chars.clone());
    }
    if !text.is_empty() {
        rope.insert(chars.start, text);
    }
    let new_end_byte = start_byte + text.len();
    ByteEdit {
        start_char: chars.start,
        old_end_char: chars.end,
        new_end_char: chars.start + text.chars().count(),
        start_byte,
        old_end_byte,
        new_end_byte,
        start_point,
        old_end_point,
        new_end_point: point_of_byte(rope, new_end_byte),
    }
}

/// Replaces the whole text of `rope` with `text`: the edit covers all of the old text.
pub(crate) fn replace_all(rope: &mut Rope, text: &str) -> ByteEdit {
    let old_end_byte = rope.len_bytes();
    let old_end_point = point_of_byte(rope, old_end_byte);
    let old_end_char = rope.len_chars();
    *rope = Rope::from_str(text);
    ByteEdit {
        start_char: 0,
        old_end_char,
        new_end_char: rope.len_chars(),
        start_byte: 0,
        old_end_byte,
        new_end_byte: text.len(),
        start_point: (0, 0),
        old_end_point,
        new_end_point: point_of_byte(rope, text.len()),
    }
}
