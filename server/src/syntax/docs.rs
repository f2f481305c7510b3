//! Doc comments and docstrings attached to items, with their comment markers stripped.
//!
//! Rust: consecutive `///` lines or a `/** */` block directly above (attributes may sit between).
//! Python: the first statement of the body, if it is a string. JavaScript/TypeScript: a `/** */`
//! block directly above (above `export` for exported items). Go: `//` lines directly above.
//! "Directly above" means no blank line between the comment and what it documents.

use std::ops::Range;

use ropey::Rope;
use tree_sitter::Node;

use super::{Language, rope_text};

/// Whether `kind` wraps a declaration whose doc comment sits above the wrapper
/// (`export function f`, `declare function f`).
pub(crate) fn is_doc_wrapper(kind: &str) -> bool {
    matches!(kind, "export_statement" | "ambient_declaration")
}

/// A Python docstring: the first statement of `body`, if it is a string. Its byte range and text.
pub(crate) fn docstring(body: Node, rope: &Rope) -> Option<(Range<usize>, String)> {
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|n| n.kind() != "comment")?;
    if first.kind() != "expression_statement" || first.named_child_count() != 1 {
        return None;
    }
    let string = first.named_child(0).filter(|n| n.kind() == "string")?;
    let raw = rope_text::text(rope, string.byte_range());
    Some((string.byte_range(), clean_docstring(&raw)))
}

/// Strips the prefix and quotes of a Python string literal, then its common indentation the way
/// `inspect.cleandoc` does (the first line does not count towards the indentation).
fn clean_docstring(raw: &str) -> String {
    let unprefixed = raw.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let inner = ["\"\"\"", "'''", "\"", "'"]
        .iter()
        .find_map(|q| {
            unprefixed
                .strip_prefix(q)
                .map(|rest| rest.strip_suffix(q).unwrap_or(rest))
        })
        .unwrap_or(unprefixed);
    let lines: Vec<&str> = inner.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut cleaned: Vec<&str> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            cleaned.push(line.trim());
        } else {
            cleaned.push(line.get(indent..).unwrap_or("").trim_end());
        }
    }
    trim_blank_lines(&cleaned)
}

/// The doc comments directly above `anchor` (the item, or the `export`/`declare` wrapping it):
/// their byte range and text. `before` is the anchor's named siblings before it, nearest first:
/// the walk that found the item knows them, where asking the tree (`prev_named_sibling`) would
/// cost the depth and the number of siblings each time.
pub(crate) fn comments_above<'t>(
    lang: Language,
    anchor: Node<'t>,
    before: impl Iterator<Item = Node<'t>>,
    rope: &Rope,
) -> Option<(Range<usize>, String)> {
    let mut comments: Vec<Node> = Vec::new();
    let mut below = anchor;
    for node in before {
        // Rust attributes may stand between a doc comment and its item.
        if lang == Language::Rust && node.kind() == "attribute_item" {
            below = node;
            continue;
        }
        let adjacent = node.end_position().row + 1 >= below.start_position().row;
        if !adjacent || !is_doc_comment(lang, node, rope) {
            break;
        }
        comments.push(node);
        // JSDoc is one block; Go and Rust docs are runs of line comments.
        if matches!(
            lang,
            Language::JavaScript | Language::TypeScript | Language::Tsx
        ) {
            break;
        }
        below = node;
    }
    let first = comments.last()?;
    let last = comments.first()?;
    let range = first.start_byte()..last.end_byte();
    let mut lines: Vec<String> = Vec::new();
    for comment in comments.iter().rev() {
        lines.extend(strip_comment(&rope_text::text(rope, comment.byte_range())));
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    Some((range, trim_blank_lines(&refs)))
}

fn is_doc_comment(lang: Language, node: Node, rope: &Rope) -> bool {
    if !matches!(node.kind(), "comment" | "line_comment" | "block_comment") {
        return false;
    }
    let head = rope_text::text(
        rope,
        node.start_byte()..(node.start_byte() + 4).min(node.end_byte()),
    );
    match lang {
        Language::Rust => {
            (head.starts_with("///") && !head.starts_with("////"))
                || (head.starts_with("/**")
                    && !head.starts_with("/***")
                    && !head.starts_with("/**/"))
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            head.starts_with("/**") && !head.starts_with("/**/")
        }
        Language::Go => head.starts_with("//"),
        Language::Python => false,
    }
}

/// The lines of one comment without its markers: `///`, `//`, `/**`, `*/` and a leading `*`.
fn strip_comment(text: &str) -> Vec<String> {
    let text = text.trim_end();
    if let Some(block) = text.strip_prefix("/*") {
        let block = block.strip_suffix("*/").unwrap_or(block);
        let block = block.strip_prefix('*').unwrap_or(block);
        return block
            .lines()
            .map(|line| {
                let line = line.trim_start();
                let line = line.strip_prefix('*').unwrap_or(line);
                line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned()
            })
            .collect();
    }
    let line = text.trim_start_matches('/');
    let line = line.strip_prefix(' ').unwrap_or(line);
    vec![line.trim_end().to_owned()]
}

fn trim_blank_lines(lines: &[&str]) -> String {
    let start = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}
