//! Syntax errors found in a tree: what tree-sitter had to invent (MISSING) or could not place (ERROR).

use std::ops::Range;

use ropey::Rope;
use tree_sitter::{Node, Tree};

use super::rope_text;

/// An error node at most this long (in bytes, on one line) is quoted in its message.
const QUOTABLE_ERROR_LEN: usize = 24;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub byte_range: Range<usize>,
    pub message: String,
}

/// Up to `limit` syntax errors of `tree`, in document order, without duplicates.
///
/// Only nodes with `has_error()` are entered, so a big tree with one error costs a walk down
/// one path, not the whole tree.
pub fn syntax_errors(tree: &Tree, rope: &Rope, limit: usize) -> Vec<SyntaxError> {
    let mut out = Vec::new();
    if limit > 0 && tree.root_node().has_error() {
        collect(tree.root_node(), rope, limit, &mut out);
    }
    out
}

fn collect(node: Node, rope: &Rope, limit: usize, out: &mut Vec<SyntaxError>) {
    if out.len() >= limit {
        return;
    }
    if node.is_missing() {
        push(out, node.byte_range(), missing_message(node));
        return;
    }
    if node.is_error() {
        // One message per error node: its insides are whatever tree-sitter salvaged, and
        // reporting them too would repeat the same mistake.
        push(out, node.byte_range(), error_message(node, rope));
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if child.has_error() {
            collect(child, rope, limit, out);
            if out.len() >= limit {
                return;
            }
        }
    }
}

fn push(out: &mut Vec<SyntaxError>, byte_range: Range<usize>, message: String) {
    let error = SyntaxError {
        byte_range,
        message,
    };
    // The walk is in document order, so a duplicate can only be the previous entry.
    if out.last() != Some(&error) {
        out.push(error);
    }
}

/// "expected `;`" for a missing token, "expected identifier" for a missing named node.
fn missing_message(node: Node) -> String {
    if node.is_named() {
        format!("expected {}", node.kind().replace('_', " "))
    } else {
        format!("expected `{}`", node.kind())
    }
}

/// "unexpected `tok`" when the error is short enough to quote, else "syntax error".
fn error_message(node: Node, rope: &Rope) -> String {
    let range = node.byte_range();
    if range.is_empty() || range.len() > QUOTABLE_ERROR_LEN {
        return "syntax error".to_owned();
    }
    let text = rope_text::text(rope, range);
    let text = text.trim();
    if text.is_empty() || text.contains(['\n', '\r']) {
        return "syntax error".to_owned();
    }
    format!("unexpected `{text}`")
}
