//! A naive model of the position rules on a plain `String`, written independently of the rope
//! code: lines are found by scanning bytes, columns by walking chars.

use crate::text::{Position, PositionEncoding, Range};

/// A line as byte offsets: where it starts and where its content ends (before its terminator).
#[derive(Clone, Copy, Debug)]
pub(super) struct Line {
    pub start: usize,
    pub content_end: usize,
}

/// Splits `text` into lines ending at "\r\n", "\r" or "\n". Always at least one line.
pub(super) fn lines(text: &str) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let terminator = match bytes[i] {
            b'\n' => 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => 2,
            b'\r' => 1,
            _ => 0,
        };
        if terminator == 0 {
            i += 1;
        } else {
            lines.push(Line {
                start,
                content_end: i,
            });
            i += terminator;
            start = i;
        }
    }
    lines.push(Line {
        start,
        content_end: bytes.len(),
    });
    lines
}

pub(super) fn width(ch: char, enc: PositionEncoding) -> usize {
    match enc {
        PositionEncoding::Utf8 => ch.len_utf8(),
        PositionEncoding::Utf16 => ch.len_utf16(),
        PositionEncoding::Utf32 => 1,
    }
}

/// The byte offset a client position means, by the same clamping rules as `position_to_char`.
pub(super) fn position_to_byte(text: &str, pos: Position, enc: PositionEncoding) -> usize {
    let lines = lines(text);
    let Some(line) = lines.get(pos.line as usize) else {
        return text.len();
    };
    let column = pos.character as usize;
    let mut units = 0;
    for (offset, ch) in text[line.start..line.content_end].char_indices() {
        // A column inside this char (or at its start) means its start.
        if units + width(ch, enc) > column {
            return line.start + offset;
        }
        units += width(ch, enc);
    }
    line.content_end
}

/// The byte range a client range means; an inverted range is empty at its end.
pub(super) fn range_to_bytes(text: &str, range: Range, enc: PositionEncoding) -> (usize, usize) {
    let start = position_to_byte(text, range.start, enc);
    let end = position_to_byte(text, range.end, enc);
    if start > end {
        (end, end)
    } else {
        (start, end)
    }
}

/// The tree-sitter point of a byte: the line whose span (terminator included) holds it.
pub(super) fn point(text: &str, byte: usize) -> (usize, usize) {
    let byte = byte.min(text.len());
    let lines = lines(text);
    let row = lines
        .iter()
        .rposition(|line| line.start <= byte)
        .unwrap_or(0);
    (row, byte - lines[row].start)
}
