//! Documents and positions: a rope per open document, its version and sync state, and the
//! conversions between client positions (utf-8, utf-16 or utf-32 columns) and rope indices.
//!
//! Nothing here knows about LSP types; `lsp/` converts its types to these plain ones at the edge.

mod document;
mod edit;
mod position;

#[cfg(test)]
mod tests;

pub use document::{Document, SyncError, TextChange};
pub use edit::ByteEdit;
pub use position::{
    byte_to_position, char_to_position, point_of_byte, position_to_char, range_to_chars,
};

/// The unit a client counts columns in, as negotiated through `positionEncoding`.
///
/// Utf16 is the default because it is the only encoding every LSP client must support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// Columns count bytes.
    Utf8,
    /// Columns count utf-16 code units: a char outside the BMP (such as an emoji) counts two.
    #[default]
    Utf16,
    /// Columns count chars (Unicode scalar values).
    Utf32,
}

/// A zero-based line and column as a client sends it; the column unit is a [`PositionEncoding`].
///
/// The derived order (line, then character) is document order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

/// A half-open span between two client positions. It may arrive inverted; see [`range_to_chars`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

impl Range {
    pub fn new(start: Position, end: Position) -> Self {
        Self { start, end }
    }
}
