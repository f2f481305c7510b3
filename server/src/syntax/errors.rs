//! Syntax errors found in a tree: what tree-sitter had to invent (MISSING) or could not place (ERROR).

use std::ops::Range;

use ropey::Rope;
use tree_sitter::{Node, Tree, TreeCursor};

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
/// one path, not the whole tree. The walk is a `TreeCursor`, not recursion: nesting depth is
/// the user's to choose, and 10,000 open parentheses must not overflow the stack.
pub fn syntax_errors(tree: &Tree, rope: &Rope, limit: usize) -> Vec<SyntaxError> {
    let mut out = Vec::new();
    if limit == 0 || !tree.root_node().has_error() {
        return out;
    }
    let mut cursor = tree.walk();
    'walk: loop {
        let node = cursor.node();
        // Errors inside a MISSING or ERROR node are not entered: one message per error node,
        // since its insides are whatever tree-sitter salvaged and would repeat the mistake.
        let enter = if node.is_missing() {
            push(&mut out, node.byte_range(), missing_message(node));
            false
        } else if node.is_error() {
            push(&mut out, node.byte_range(), error_message(node, rope));
            false
        } else {
            true
        };
        if out.len() >= limit {
            break;
        }
        if enter && cursor.goto_first_child() {
            if cursor.node().has_error() || next_with_error(&mut cursor) {
                continue;
            }
            // No child carries the flag after all: leave this level.
            cursor.goto_parent();
        }
        // Next: the following sibling with an error here, else that of an ancestor.
        loop {
            if next_with_error(&mut cursor) {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
    out
}

/// Moves to the next sibling that has an error; `false` (cursor on the last sibling) if none.
fn next_with_error(cursor: &mut TreeCursor) -> bool {
    while cursor.goto_next_sibling() {
        if cursor.node().has_error() {
            return true;
        }
    }
    false
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
