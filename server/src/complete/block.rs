//! Whether a block begins at the cursor, as the syntax tree says: after an opening brace (or a
//! `:` that opens a Python block), or inside an empty body; never inside a string or a comment.

use ropey::Rope;
use tree_sitter::{Node, Tree};

use crate::syntax::Language;

/// How far back the last character before the cursor is looked for.
const LOOK_BACK: usize = 4096;

/// Body nodes of the grammars: a block of statements or declarations.
const BODIES: &[&str] = &[
    "block",
    "compound_statement",
    "statement_block",
    "declaration_list",
    "field_declaration_list",
    "class_body",
    "enum_variant_list",
    "interface_body",
    "object_type",
];

/// Python's statements whose `:` opens a block.
const PYTHON_OPENERS: &[&str] = &[
    "def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally",
    "async", "match", "case",
];

/// Whether a block begins at `cursor` (a byte offset of `rope`). `tree` is the document's tree
/// for this text, when there is one; without it only the text decides.
pub fn begins(language: Option<Language>, tree: Option<&Tree>, rope: &Rope, cursor: usize) -> bool {
    let cursor = cursor.min(rope.len_bytes());
    if let Some(tree) = tree {
        let here = tree
            .root_node()
            .descendant_for_byte_range(cursor, cursor)
            .unwrap_or_else(|| tree.root_node());
        if in_string_or_comment(rope, here, cursor) {
            return false;
        }
        if empty_body_around(here, cursor) {
            return true;
        }
    }
    let Some((at, c)) = last_char_before(rope, cursor) else {
        return false;
    };
    let opener = match c {
        '{' => true,
        ':' if language == Some(Language::Python) => {
            let line = rope.byte_to_line(at);
            let text = rope.line(line).to_string();
            let first = text
                .trim_start()
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or_default();
            PYTHON_OPENERS.contains(&first)
        }
        _ => false,
    };
    if !opener {
        return false;
    }
    // The opener itself must be code, not part of a string or a comment.
    tree.is_none_or(|tree| {
        let node = tree
            .root_node()
            .descendant_for_byte_range(at, at + 1)
            .unwrap_or_else(|| tree.root_node());
        !in_string_or_comment(rope, node, at + 1)
    })
}

/// The last character before `cursor` that is not whitespace, and its byte offset.
fn last_char_before(rope: &Rope, cursor: usize) -> Option<(usize, char)> {
    let start = cursor.saturating_sub(LOOK_BACK);
    let start = rope.char_to_byte(rope.byte_to_char(start));
    let text = rope.byte_slice(start..cursor).to_string();
    let (i, c) = text
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_whitespace())?;
    Some((start + i, c))
}

/// Whether `node` or one of its ancestors is a string or a comment that holds `cursor`: strictly
/// inside, or at the end of a line comment (which runs to the end of its line).
fn in_string_or_comment(rope: &Rope, node: Node<'_>, cursor: usize) -> bool {
    let mut node = Some(node);
    while let Some(n) = node {
        let kind = n.kind();
        let (start, end) = (n.start_byte(), n.end_byte());
        if kind.contains("string") && start < cursor && cursor < end {
            return true;
        }
        if kind.contains("comment") && start < cursor && cursor <= end {
            let closed = end >= 2 && rope.byte_slice(end - 2..end) == "*/";
            return cursor < end || !closed;
        }
        node = n.parent();
    }
    false
}

/// Whether the innermost body around `node` holds nothing but comments, with the cursor
/// inside it.
fn empty_body_around(node: Node<'_>, cursor: usize) -> bool {
    let mut node = Some(node);
    while let Some(n) = node {
        if BODIES.contains(&n.kind()) {
            let inside = n.start_byte() < cursor && cursor < n.end_byte();
            let mut walk = n.walk();
            let empty = n
                .named_children(&mut walk)
                .all(|child| child.kind().contains("comment"));
            return inside && empty;
        }
        node = n.parent();
    }
    false
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::begins;
    use crate::syntax::Language;

    fn parse(language: Language, text: &str) -> tree_sitter::Tree {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(language.ts_language())
            .expect("the grammar loads");
        parser.parse(text, None).expect("a tree")
    }

    #[test]
    fn blocks_begin_after_an_opener_and_in_empty_bodies_not_in_strings() {
        // (language, text with the cursor as `|`, a block begins)
        let cases = [
            (Language::Rust, "fn f() {|\n}\n", true),
            (Language::Rust, "fn f() {\n    |\n}\n", true),
            (Language::Rust, "fn f() {|}\n", true),
            (Language::Rust, "fn f() {\n    // later\n    |\n}\n", true),
            (
                Language::Rust,
                "fn f() {\n    let a = 1;\n    |\n}\n",
                false,
            ),
            (Language::Rust, "fn f() {\n    let a = |\n}\n", false),
            (Language::Rust, "fn f() {\n    let s = \"{|\";\n}\n", false),
            (Language::Rust, "// a { brace|\n", false),
            (Language::Python, "def f(x):|\n", true),
            (Language::Python, "def f(x):\n    |\n", true),
            (Language::Python, "d = {'a':|\n", false),
            (Language::Python, "x = 1|\n", false),
            (Language::Go, "func f() {|\n}\n", true),
            (Language::TypeScript, "function f() {\n  |\n}\n", true),
        ];
        for (language, marked, expected) in cases {
            let cursor = marked.find('|').expect("a cursor");
            let text = marked.replace('|', "");
            let rope = Rope::from_str(&text);
            let tree = parse(language, &text);
            assert_eq!(
                begins(Some(language), Some(&tree), &rope, cursor),
                expected,
                "{language:?}: {marked:?}"
            );
        }
    }

    #[test]
    fn without_a_tree_the_text_decides() {
        let rope = Rope::from_str("fn f() {\n");
        assert!(begins(None, None, &rope, 8));
        assert!(!begins(None, None, &rope, 6));
    }
}
