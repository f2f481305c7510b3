//! Parsing a rope with tree-sitter, fed chunk by chunk, and turning text edits into tree edits.

use std::cell::RefCell;

use ropey::Rope;
use tree_sitter::{InputEdit, Parser, Point, Tree};

use super::Language;
use crate::text::ByteEdit;

thread_local! {
    // A parser owns sizeable buffers; reusing one per thread (blocking-pool threads live long)
    // saves allocating them on every keystroke.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::new());
}

/// Parses `rope` as `lang`. `old_tree`, when given, must already be `edit`ed to match `rope`;
/// tree-sitter then reuses its unchanged parts. `None` only if tree-sitter gives up.
pub fn parse(lang: Language, rope: &Rope, old_tree: Option<&Tree>) -> Option<Tree> {
    PARSER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut parser) => parse_with(&mut parser, lang, rope, old_tree),
        // Only reachable if a parse re-enters itself on this thread; a fresh parser keeps it correct.
        Err(_) => parse_with(&mut Parser::new(), lang, rope, old_tree),
    })
}

fn parse_with(
    parser: &mut Parser,
    lang: Language,
    rope: &Rope,
    old_tree: Option<&Tree>,
) -> Option<Tree> {
    if let Err(err) = parser.set_language(lang.ts_language()) {
        tracing::error!(language = lang.name(), %err, "grammar rejected by tree-sitter");
        return None;
    }
    let len = rope.len_bytes();
    // Tree-sitter asks for text at a byte offset; we hand it the rest of the rope chunk there,
    // so the document is never copied into one String.
    let mut read = |byte: usize, _: Point| -> &[u8] {
        if byte >= len {
            return &[];
        }
        let (chunk, chunk_start, _, _) = rope.chunk_at_byte(byte);
        chunk.as_bytes().get(byte - chunk_start..).unwrap_or(&[])
    };
    parser.parse_with_options(&mut read, old_tree, None)
}

/// The tree-sitter form of one text change.
pub fn input_edit(e: &ByteEdit) -> InputEdit {
    let point = |(row, column): (usize, usize)| Point { row, column };
    InputEdit {
        start_byte: e.start_byte,
        old_end_byte: e.old_end_byte,
        new_end_byte: e.new_end_byte,
        start_position: point(e.start_point),
        old_end_position: point(e.old_end_point),
        new_end_position: point(e.new_end_point),
    }
}
