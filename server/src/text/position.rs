//! The one place that does arithmetic on client positions: conversions between
//! [`Position`]s in any [`PositionEncoding`] and rope char/byte indices, plus tree-sitter points.
//!
//! Every function here clamps instead of failing, following the LSP rules (and Helix's
//! `lsp_pos_to_pos`): a client that is slightly off must get the nearest sensible place,
//! never a panic. Lines are the rope's lines, which with ropey's `cr_lines` feature end at
//! `"\n"`, `"\r\n"` or `"\r"`, exactly as LSP counts them.

use std::ops::Range as StdRange;

use ropey::Rope;

use super::{Position, PositionEncoding, Range};

/// Char index of the end of `line`'s content: before its line terminator, if it has one.
///
/// `line` must be a valid line index (`< rope.len_lines()`).
fn line_content_end(rope: &Rope, line: usize) -> usize {
    let start = rope.line_to_char(line);
    let mut end = rope.line_to_char(line + 1);
    // The last line never has a terminator: ropey counts an empty line after a final one.
    if end > start && rope.get_char(end - 1) == Some('\n') {
        end -= 1;
    }
    if end > start && rope.get_char(end - 1) == Some('\r') {
        // Either a lone "\r" or the first half of the "\r\n" whose "\n" we just dropped.
        end -= 1;
    }
    end
}

/// Converts a client position to a char index into `rope`.
///
/// Clamps rather than fails: a line past the last line means the end of the document; a column
/// past the end of its line means the end of that line's content (before its terminator, so
/// never between the `"\r"` and `"\n"` of a CRLF); a column that falls inside a char (a utf-8
/// column inside a multi-byte char, a utf-16 column inside a surrogate pair) rounds down to the
/// start of that char.
pub fn position_to_char(rope: &Rope, pos: Position, enc: PositionEncoding) -> usize {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return rope.len_chars();
    }
    let start = rope.line_to_char(line);
    let end = line_content_end(rope, line);
    let column = pos.character as usize;
    match enc {
        PositionEncoding::Utf32 => start + column.min(end - start),
        PositionEncoding::Utf16 => {
            let target = rope.char_to_utf16_cu(start).saturating_add(column);
            if target >= rope.char_to_utf16_cu(end) {
                end
            } else {
                // Ropey maps a unit inside a surrogate pair to the char holding it: rounds down.
                rope.utf16_cu_to_char(target)
            }
        }
        PositionEncoding::Utf8 => {
            let target = rope.char_to_byte(start).saturating_add(column);
            if target >= rope.char_to_byte(end) {
                end
            } else {
                // Ropey maps a byte inside a multi-byte char to the char holding it: rounds down.
                rope.byte_to_char(target)
            }
        }
    }
}

/// Converts a char index into `rope` to a client position; the index is clamped to the length.
///
/// A char index between the `"\r"` and `"\n"` of a CRLF is not a place a client can name, so it
/// rounds down to the end of that line's content (the position of the `"\r"`), the same place
/// [`position_to_char`] gives for any column past the line's end.
pub fn char_to_position(rope: &Rope, char_idx: usize, enc: PositionEncoding) -> Position {
    let char_idx = char_idx.min(rope.len_chars());
    // With `cr_lines`, ropey puts the "\n" of a CRLF on the same line as its "\r".
    let line = rope.char_to_line(char_idx);
    let start = rope.line_to_char(line);
    let char_idx = char_idx.min(line_content_end(rope, line));
    let column = match enc {
        PositionEncoding::Utf32 => char_idx - start,
        PositionEncoding::Utf16 => rope.char_to_utf16_cu(char_idx) - rope.char_to_utf16_cu(start),
        PositionEncoding::Utf8 => rope.char_to_byte(char_idx) - rope.char_to_byte(start),
    };
    Position {
        line: saturate_u32(line),
        character: saturate_u32(column),
    }
}

/// Converts a byte index into `rope` to a client position. The index is clamped to the length
/// and rounded down to a char boundary first; then it behaves as [`char_to_position`].
pub fn byte_to_position(rope: &Rope, byte_idx: usize, enc: PositionEncoding) -> Position {
    let char_idx = rope.byte_to_char(byte_idx.min(rope.len_bytes()));
    char_to_position(rope, char_idx, enc)
}

/// Converts a client range to a char range into `rope`, clamping both ends as
/// [`position_to_char`] does. An inverted range becomes the empty range at its end.
pub fn range_to_chars(rope: &Rope, range: Range, enc: PositionEncoding) -> StdRange<usize> {
    let start = position_to_char(rope, range.start, enc);
    let end = position_to_char(rope, range.end, enc);
    // The conversion is monotone, so comparing chars is comparing the positions.
    if start > end { end..end } else { start..end }
}

/// The tree-sitter point `(row, byte column)` of a byte index, clamped to the length.
///
/// The row is the rope's line (so a lone `"\r"` ends a row, as it does for LSP); the column is
/// the exact number of bytes from that line's start, not rounded to a char boundary, because
/// tree-sitter columns are bytes. A byte between the `"\r"` and `"\n"` of a CRLF belongs to the
/// line the pair ends, so its column counts the `"\r"`.
pub fn point_of_byte(rope: &Rope, byte_idx: usize) -> (usize, usize) {
    let byte_idx = byte_idx.min(rope.len_bytes());
    let mut row = rope.byte_to_line(byte_idx);
    let mut start = rope.line_to_byte(row);
    // Defensive: should ropey ever count a half CRLF as a finished line, step back to it.
    if start > byte_idx && row > 0 {
        row -= 1;
        start = rope.line_to_byte(row);
    }
    (row, byte_idx.saturating_sub(start))
}

/// Client positions are u32; a document with more than u32::MAX lines or columns is not a
/// realistic input, and saturating keeps us from panicking on one.
fn saturate_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
