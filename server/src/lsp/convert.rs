//! Conversions between LSP types and Tandem's plain types; the only place both are in sight.

use std::ops::Range as ByteRange;

use ropey::Rope;
use tower_lsp_server::gen_lsp_types as lsp;

use crate::text::{self, PositionEncoding, TextChange};
use crate::workspace::DocUri;

pub fn doc_uri(uri: &lsp::Uri) -> DocUri {
    DocUri::from(uri.as_str())
}

pub fn lsp_uri(uri: &DocUri) -> Option<lsp::Uri> {
    uri.parse().ok()
}

/// Picks the position encoding: utf-8 when the client offers it, else utf-16 (always allowed);
/// utf-32 only when it is the one the client offers first among those we know.
pub fn negotiate_encoding(offered: Option<&[lsp::PositionEncodingKind]>) -> PositionEncoding {
    let offered = offered.unwrap_or_default();
    if offered.contains(&lsp::PositionEncodingKind::UTF8) {
        return PositionEncoding::Utf8;
    }
    match offered.iter().find(|k| {
        matches!(
            k,
            lsp::PositionEncodingKind::UTF16 | lsp::PositionEncodingKind::UTF32
        )
    }) {
        Some(lsp::PositionEncodingKind::UTF32) => PositionEncoding::Utf32,
        _ => PositionEncoding::Utf16,
    }
}

pub fn encoding_kind(encoding: PositionEncoding) -> lsp::PositionEncodingKind {
    match encoding {
        PositionEncoding::Utf8 => lsp::PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => lsp::PositionEncodingKind::UTF16,
        PositionEncoding::Utf32 => lsp::PositionEncodingKind::UTF32,
    }
}

pub fn position(pos: lsp::Position) -> text::Position {
    text::Position {
        line: pos.line,
        character: pos.character,
    }
}

pub fn lsp_position(pos: text::Position) -> lsp::Position {
    lsp::Position {
        line: pos.line,
        character: pos.character,
    }
}

pub fn range(range: lsp::Range) -> text::Range {
    text::Range {
        start: position(range.start),
        end: position(range.end),
    }
}

/// A byte range of the rope as an LSP range in the negotiated encoding.
pub fn lsp_range(rope: &Rope, bytes: ByteRange<usize>, encoding: PositionEncoding) -> lsp::Range {
    let start = text::byte_to_position(rope, bytes.start, encoding);
    let end = text::byte_to_position(rope, bytes.end.max(bytes.start), encoding);
    lsp::Range {
        start: lsp_position(start),
        end: lsp_position(end),
    }
}

/// A client position as a byte offset in the rope (clamped by the spec's rules).
pub fn byte_offset(rope: &Rope, pos: lsp::Position, encoding: PositionEncoding) -> usize {
    let char_idx = text::position_to_char(rope, position(pos), encoding);
    rope.char_to_byte(char_idx)
}

pub fn text_change(change: lsp::TextDocumentContentChangeEvent) -> TextChange {
    match change {
        lsp::TextDocumentContentChangeEvent::TextDocumentContentChangePartial(partial) => {
            TextChange {
                range: Some(range(partial.range)),
                text: partial.text,
            }
        }
        lsp::TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(whole) => {
            TextChange {
                range: None,
                text: whole.text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp::PositionEncodingKind as K;

    #[test]
    fn negotiates_encodings() {
        let check = |offered: Option<Vec<K>>, want: PositionEncoding| {
            assert_eq!(negotiate_encoding(offered.as_deref()), want, "{offered:?}");
        };
        check(None, PositionEncoding::Utf16);
        check(Some(vec![]), PositionEncoding::Utf16);
        check(Some(vec![K::UTF16, K::UTF8]), PositionEncoding::Utf8);
        check(Some(vec![K::UTF32, K::UTF16]), PositionEncoding::Utf32);
        check(Some(vec![K::UTF16, K::UTF32]), PositionEncoding::Utf16);
        check(Some(vec![K::new("utf-7")]), PositionEncoding::Utf16);
    }
}
