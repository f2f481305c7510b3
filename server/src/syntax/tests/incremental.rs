//! Incremental parsing: after random edits the edited-and-reparsed tree equals a fresh parse
//! (node kinds and ranges) whenever the text is valid, and sees errors whenever a fresh parse
//! does; background parses installed out of order never go backwards.
//! Cases: 512 per language by default; `TANDEM_PROPTEST_CASES` raises it.

use proptest::prelude::*;
use ropey::Rope;
use tree_sitter::{Node, Tree};

use crate::syntax::{DocSyntax, Language, parse};
use crate::text::{Document, Position, PositionEncoding, Range, TextChange};

fn config() -> ProptestConfig {
    crate::test_support::proptest_config(512, 5_000)
}

const RUST: &str = "/// Docs.\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nstruct P { x: f64 }\r\nimpl P {\n    fn n(&self) -> f64 { self.x }\n}\n";
const PYTHON: &str = "def add(a, b):\n    \"\"\"Adds.\"\"\"\n    return a + b\n\nclass P:\n    def n(self):\n        return 1\n";

/// Snippets that make and break syntax in both languages.
fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(";".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("    ".to_owned()),
        Just("fn g() {}\n".to_owned()),
        Just("def g():\n    pass\n".to_owned()),
        Just("x = \"中文😀\"\n".to_owned()),
        Just("let y = 2;".to_owned()),
        "[a-z ]{0,6}",
    ]
}

fn change() -> impl Strategy<Value = TextChange> {
    (0u32..12, 0u32..40, 0u32..3, 0u32..10, snippet()).prop_map(
        |(line, character, lines, width, text)| {
            let start = Position::new(line, character);
            let end = Position::new(line + lines / 2, character + width);
            TextChange {
                range: Some(Range::new(start, end)),
                text,
            }
        },
    )
}

fn shape(node: Node, out: &mut Vec<(String, std::ops::Range<usize>, bool)>) {
    out.push((node.kind().to_owned(), node.byte_range(), node.is_missing()));
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        shape(child, out);
    }
}

fn shape_of(tree: &Tree) -> Vec<(String, std::ops::Range<usize>, bool)> {
    let mut out = Vec::new();
    shape(tree.root_node(), &mut out);
    out
}

/// An incrementally parsed tree against a fresh parse of the same text: equal when the text is
/// valid. For invalid text, error recovery may settle differently when it starts from an old
/// tree (tree-sitter does not promise equal trees there), but both see errors and cover the
/// whole text.
fn agrees_with_fresh(tree: &Tree, fresh: &Tree) -> Result<(), TestCaseError> {
    if fresh.root_node().has_error() {
        prop_assert!(
            tree.root_node().has_error(),
            "the incremental tree lost the errors"
        );
        prop_assert_eq!(
            tree.root_node().byte_range(),
            fresh.root_node().byte_range()
        );
    } else {
        prop_assert_eq!(shape_of(tree), shape_of(fresh));
    }
    Ok(())
}

/// Edits the document and its tree with each change, reparsing incrementally after every step,
/// and checks the result against a fresh parse of the same text.
fn check_incremental(
    lang: Language,
    initial: &str,
    changes: &[TextChange],
) -> Result<(), TestCaseError> {
    let mut doc = Document::new(lang.name(), 0, initial);
    let mut tree = parse(lang, doc.rope(), None).expect("parses");
    for (i, change) in changes.iter().enumerate() {
        let version = i32::try_from(i + 1).expect("few changes");
        let edits = doc
            .apply_changes(
                version,
                std::slice::from_ref(change),
                PositionEncoding::Utf16,
            )
            .expect("in-sync documents take every change");
        for e in &edits {
            tree.edit(&crate::syntax::input_edit(e));
        }
        tree = parse(lang, doc.rope(), Some(&tree)).expect("parses");
        let fresh = parse(lang, &Rope::from_str(&doc.rope().to_string()), None).expect("parses");
        agrees_with_fresh(&tree, &fresh)
            .map_err(|e| TestCaseError::fail(format!("after change {i} of {changes:?}: {e}")))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn incremental_rust_tree_equals_fresh_parse(changes in prop::collection::vec(change(), 1..8)) {
        check_incremental(Language::Rust, RUST, &changes)?;
    }

    #[test]
    fn incremental_python_tree_equals_fresh_parse(changes in prop::collection::vec(change(), 1..8)) {
        check_incremental(Language::Python, PYTHON, &changes)?;
    }

    /// Parses of several versions finishing in any order: the installed tree only moves forward,
    /// and once the latest version's parse is in, it equals a fresh parse of the latest text.
    #[test]
    fn out_of_order_installs_converge(changes in prop::collection::vec(change(), 1..6), order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>())) {
        let lang = Language::Rust;
        let mut doc = Document::new("rust", 0, RUST);
        let mut syntax = DocSyntax::new(lang);
        let mut requests = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            let version = i32::try_from(i + 1).expect("few changes");
            if let Some(request) = syntax.parse_request(doc.version()) {
                requests.push((request, doc.rope().clone()));
            }
            let edits = doc.apply_changes(version, std::slice::from_ref(change), PositionEncoding::Utf8).expect("applies");
            syntax.edit(version, &edits);
        }
        let latest = syntax.parse_request(doc.version()).expect("the tree is not current");
        requests.push((latest, doc.rope().clone()));
        // Run the parses, then install them in a pseudo-random order.
        let mut results: Vec<(i32, Tree)> = requests.iter().map(|(r, rope)| (r.version, r.run(rope).expect("parses"))).collect();
        let n = results.len();
        for i in 0..n {
            let j = usize::try_from(order.rotate_left(u32::try_from(i).expect("small")) % n as u64).expect("small");
            results.swap(i, j);
        }
        let mut installed = None;
        for (version, tree) in results {
            syntax.install(version, tree);
            let now = syntax.tree_version();
            prop_assert!(now >= installed, "installed tree went back from {:?} to {:?}", installed, now);
            installed = now;
        }
        prop_assert!(syntax.is_current(doc.version()));
        let fresh = parse(lang, doc.rope(), None).expect("parses");
        agrees_with_fresh(syntax.tree().expect("a tree"), &fresh)?;
    }
}
