//! Hostile sources: nesting deep enough to overflow any recursive walk, and many items. Each is
//! generated here rather than committed, and every walk over it must finish on a test thread's
//! small stack (2 MiB).

use ropey::Rope;

use crate::syntax::{Language, parse, syntax_errors};

/// `fn f() { let x = ((((1 + ))))...; }`: an error at the bottom of `depth` parentheses.
pub fn deep_rust_error(depth: usize) -> String {
    format!(
        "fn f() {{ let x = {}1 +{}; }}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    )
}

/// The same in Python.
pub fn deep_python_error(depth: usize) -> String {
    format!("x = {}1 +{}\n", "(".repeat(depth), ")".repeat(depth))
}

/// The same in JavaScript.
pub fn deep_javascript_error(depth: usize) -> String {
    format!("let x = {}1 +{};\n", "(".repeat(depth), ")".repeat(depth))
}

fn tree(lang: Language, source: &str) -> (Rope, tree_sitter::Tree) {
    let rope = Rope::from_str(source);
    let tree = parse(lang, &rope, None).expect("tree-sitter parses");
    (rope, tree)
}

#[test]
fn an_error_under_deep_nesting_is_found_without_recursion() {
    let cases = [
        (Language::Rust, deep_rust_error(10_000)),
        (Language::Python, deep_python_error(10_000)),
        (Language::JavaScript, deep_javascript_error(10_000)),
    ];
    for (lang, source) in cases {
        let (rope, tree) = tree(lang, &source);
        let errors = syntax_errors(&tree, &rope, 100);
        assert!(!errors.is_empty(), "{}: no error found", lang.name());
        assert!(errors.len() <= 100, "{}: {}", lang.name(), errors.len());
    }
}

#[test]
fn the_limit_holds_under_deep_nesting() {
    let (rope, tree) = tree(Language::Rust, &deep_rust_error(10_000));
    assert_eq!(syntax_errors(&tree, &rope, 1).len(), 1);
    assert_eq!(syntax_errors(&tree, &rope, 0).len(), 0);
}
