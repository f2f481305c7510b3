//! Syntax errors: the messages users see for tree-sitter's MISSING and ERROR nodes.

use ropey::Rope;

use crate::syntax::{Language, SyntaxError, parse, syntax_errors};

fn errors(lang: Language, source: &str) -> Vec<SyntaxError> {
    let rope = Rope::from_str(source);
    let tree = parse(lang, &rope, None).expect("tree-sitter parses");
    syntax_errors(&tree, &rope, 100)
}

#[test]
fn valid_code_has_no_errors() {
    let cases = [
        (Language::Rust, "fn main() { let x = 1; }\n"),
        (Language::Python, "def f(x):\n    return x\n"),
        (Language::JavaScript, "function f(x) { return x; }\n"),
        (
            Language::TypeScript,
            "function f(x: number): number { return x; }\n",
        ),
        (Language::Tsx, "const a = <div>{1}</div>;\n"),
        (Language::Go, "package p\n\nfunc f() int { return 1 }\n"),
    ];
    for (lang, source) in cases {
        assert_eq!(errors(lang, source), Vec::new(), "{}", lang.name());
    }
}

#[test]
fn a_missing_token_is_named() {
    let found = errors(
        Language::Rust,
        "fn main() {\n    let x = 1\n    let y = 2;\n}\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].message, "expected `;`");
    // A MISSING node is empty and sits where the token should be: right after `1`.
    let at = "fn main() {\n    let x = 1".len();
    assert_eq!(found[0].byte_range, at..at);
}

#[test]
fn short_unexpected_text_is_quoted_and_long_is_not() {
    let found = errors(Language::Python, "def f(:\n    pass\n");
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|e| e.message == "syntax error"
            || e.message.starts_with("unexpected `")
            || e.message.starts_with("expected ")),
        "{found:?}"
    );
    let long = format!("fn main() {{ let = {}; }}\n", "@".repeat(100));
    let found = errors(Language::Rust, &long);
    assert!(!found.is_empty());
    for e in &found {
        assert!(
            e.message.len() < 60,
            "a message never quotes a long error: {e:?}"
        );
    }
}

#[test]
fn errors_are_in_document_order_without_duplicates_and_limited() {
    let source = "fn a() { let x = 1 }\nfn b() { let y = 2 }\nfn c() { let z = 3 }\n";
    let rope = Rope::from_str(source);
    let tree = parse(Language::Rust, &rope, None).expect("tree-sitter parses");
    let all = syntax_errors(&tree, &rope, 100);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all.windows(2)
            .all(|w| w[0].byte_range.start < w[1].byte_range.start)
    );
    assert_eq!(syntax_errors(&tree, &rope, 2), all[..2].to_vec());
    assert_eq!(syntax_errors(&tree, &rope, 0), Vec::new());
}
