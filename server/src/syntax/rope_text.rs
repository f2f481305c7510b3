//! Reading small pieces of a rope: node text for query predicates, names, signatures, comments.

use std::ops::Range;

use ropey::{Rope, iter::Chunks};
use tree_sitter::{Node, TextProvider};

/// The text of `range`, or empty if the range does not fit the rope (a stale tree).
pub(crate) fn text(rope: &Rope, range: Range<usize>) -> String {
    rope.get_byte_slice(range)
        .map(String::from)
        .unwrap_or_default()
}

/// The text of `range` with each whitespace run collapsed to one space, trimmed, and cut at
/// `max_chars` characters (ending in `…`), reading no more of the rope than that.
pub(crate) fn collapsed(rope: &Rope, range: Range<usize>, max_chars: usize) -> String {
    let Some(slice) = rope.get_byte_slice(range) else {
        return String::new();
    };
    let mut out = String::new();
    let mut count = 0;
    let mut pending_space = false;
    for c in slice.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if count + usize::from(pending_space) >= max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// The byte just after the last non-whitespace character in `start..end` (`start` if none).
pub(crate) fn trim_end(rope: &Rope, start: usize, end: usize) -> usize {
    let Some(slice) = rope.get_byte_slice(start..end) else {
        return end;
    };
    let mut chars = slice.chars_at(slice.len_chars()).reversed();
    let mut trimmed = end;
    for c in chars.by_ref() {
        if !c.is_whitespace() {
            break;
        }
        trimmed -= c.len_utf8();
    }
    trimmed
}

/// Gives query predicates (`#match?`, `#eq?`) node text straight from the rope's chunks.
pub(crate) struct RopeText<'a>(pub(crate) &'a Rope);

pub(crate) struct NodeChunks<'a>(Option<Chunks<'a>>);

impl<'a> Iterator for NodeChunks<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.0.as_mut()?.next().map(str::as_bytes)
    }
}

impl<'a> TextProvider<&'a [u8]> for RopeText<'a> {
    type I = NodeChunks<'a>;
    fn text(&mut self, node: Node) -> Self::I {
        NodeChunks(self.0.get_byte_slice(node.byte_range()).map(|s| s.chunks()))
    }
}
