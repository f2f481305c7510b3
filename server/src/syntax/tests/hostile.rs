//! Hostile sources: nesting deep enough to overflow any recursive walk, and many items. Each is
//! generated here rather than committed, and every walk over it must finish on a test thread's
//! small stack (2 MiB).

use ropey::Rope;

use crate::syntax::{
    Item, Language, MAX_ITEM_DEPTH, items, items_around, items_at, items_unless, parse,
    syntax_errors,
};

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

/// `mod a { mod a { ... } }`, `depth` deep, with a function at the bottom.
pub fn nested_modules(depth: usize) -> String {
    format!(
        "{}fn f() {{}}{}\n",
        "mod a {\n".repeat(depth),
        "}\n".repeat(depth)
    )
}

/// Depth of the deepest item, and the number of items.
fn shape(items: &[Item]) -> (usize, usize) {
    let mut deepest = 0;
    let mut count = 0;
    let mut stack: Vec<(&Item, usize)> = items.iter().map(|i| (i, 1)).collect();
    while let Some((item, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        count += 1;
        stack.extend(item.children.iter().map(|c| (c, depth + 1)));
    }
    (deepest, count)
}

#[test]
fn items_of_50_000_nested_modules_stop_nesting_at_the_cap() {
    let depth = 50_000;
    let source = nested_modules(depth);
    let (rope, tree) = tree(Language::Rust, &source);
    let all = items(Language::Rust, &tree, &rope);
    // Every module and the function are there; past the cap they are listed flat.
    assert_eq!(shape(&all), (MAX_ITEM_DEPTH, depth + 1));
    let at = source.find("fn f").expect("the function") + 3;
    let around = items_around(Language::Rust, &tree, &rope, at..at);
    assert_eq!(shape(&around), (MAX_ITEM_DEPTH, depth + 1));
    // The item under the cursor is the function, not the module at the cap that holds it.
    let path = items_at(&around, at);
    assert_eq!(path.len(), MAX_ITEM_DEPTH);
    assert_eq!(path.last().map(|i| i.name.as_str()), Some("f"));
}

#[test]
fn a_doc_comment_is_found_under_deep_nesting() {
    let depth = 10_000;
    let source = format!(
        "{}/// Deep.\n#[inline]\nfn f() {{}}{}\n",
        "mod a {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    let (rope, tree) = tree(Language::Rust, &source);
    let at = source.find("fn f").expect("the function") + 3;
    let around = items_around(Language::Rust, &tree, &rope, at..at);
    let mut stack: Vec<&Item> = around.iter().collect();
    let mut function = None;
    while let Some(item) = stack.pop() {
        if item.name == "f" {
            function = Some(item);
        }
        stack.extend(&item.children);
    }
    let found = function.expect("the function");
    assert_eq!(found.doc.as_deref(), Some("Deep."));
}

#[test]
fn a_stopped_walk_gives_up() {
    let (rope, tree) = tree(Language::Rust, &nested_modules(20_000));
    assert_eq!(items_unless(Language::Rust, &tree, &rope, &|| true), None);
    let all = items_unless(Language::Rust, &tree, &rope, &|| false).expect("not stopped");
    assert_eq!(shape(&all).1, 20_001);
}
