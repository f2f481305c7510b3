//! Parsing from rope chunks, language detection and the tree edits that follow text edits.

use ropey::Rope;

use crate::syntax::{Language, parse};
use crate::text::{Document, Position, PositionEncoding, Range, TextChange};

#[test]
fn a_rope_of_many_chunks_parses_like_the_string() {
    // Big enough that ropey splits it into many chunks, with multi-byte chars near boundaries.
    let mut source = String::new();
    for i in 0..2000 {
        source.push_str(&format!("fn f{i}() -> &'static str {{ \"中文😀{i}\" }}\n"));
    }
    let rope = Rope::from_str(&source);
    assert!(
        rope.chunks().count() > 10,
        "the test needs a multi-chunk rope"
    );
    let from_rope = parse(Language::Rust, &rope, None).expect("parses");
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(Language::Rust.ts_language())
        .expect("grammar loads");
    let from_string = parser.parse(&source, None).expect("parses");
    assert_eq!(
        from_rope.root_node().to_sexp(),
        from_string.root_node().to_sexp()
    );
    assert!(!from_rope.root_node().has_error());
}

#[test]
fn language_id_wins_then_the_extension() {
    let cases = [
        ("rust", "file:///a/b.txt", Some(Language::Rust)),
        ("python", "file:///a.rs", Some(Language::Python)),
        ("javascriptreact", "file:///a", Some(Language::JavaScript)),
        ("typescriptreact", "file:///a", Some(Language::Tsx)),
        ("", "file:///src/main.go", Some(Language::Go)),
        ("plaintext", "file:///x/lib.PY", Some(Language::Python)),
        ("plaintext", "file:///x.d/README", None),
        ("markdown", "file:///notes.md", None),
        ("", "file:///a/b.ts", Some(Language::TypeScript)),
        ("", "file:///a/b.tsx", Some(Language::Tsx)),
        ("", "file:///a/b.mjs", Some(Language::JavaScript)),
    ];
    for (id, path, expected) in cases {
        assert_eq!(Language::detect(id, path), expected, "{id:?} {path:?}");
    }
}

#[test]
fn the_same_change_edits_rope_and_tree() {
    let mut doc = Document::new("rust", 1, "fn main() {\r\n    let x = 1;\r\n}\r\n");
    let mut tree = parse(Language::Rust, doc.rope(), None).expect("parses");
    let change = TextChange {
        range: Some(Range::new(Position::new(1, 12), Position::new(1, 13))),
        text: "\"😀\"".to_owned(),
    };
    let edits = doc
        .apply_changes(2, &[change], PositionEncoding::Utf16)
        .expect("applies");
    for e in &edits {
        tree.edit(&crate::syntax::input_edit(e));
    }
    let incremental = parse(Language::Rust, doc.rope(), Some(&tree)).expect("parses");
    let fresh = parse(Language::Rust, doc.rope(), None).expect("parses");
    assert_eq!(
        incremental.root_node().to_sexp(),
        fresh.root_node().to_sexp()
    );
    assert_eq!(
        doc.rope().to_string(),
        "fn main() {\r\n    let x = \"😀\";\r\n}\r\n"
    );
}
