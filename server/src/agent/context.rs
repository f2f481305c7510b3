//! What the code around a region says, from its tree: the file's imports, the names the region
//! uses (to look up their signatures in the workspace index), and the item around the region.

use std::ops::Range;

use ropey::Rope;
use tree_sitter::Tree;

use crate::syntax::{Item, Language, items_at, tags};

/// At most this many import lines are kept: they are context, not the point.
const MAX_IMPORTS: usize = 60;

/// The file's top-level import statements, as written (whitespace collapsed to one line each).
pub fn imports(language: Language, tree: &Tree, rope: &Rope) -> Vec<String> {
    let kinds: &[&str] = match language {
        Language::Rust => &["use_declaration", "extern_crate_declaration"],
        Language::Python => &[
            "import_statement",
            "import_from_statement",
            "future_import_statement",
        ],
        Language::JavaScript | Language::TypeScript | Language::Tsx => &["import_statement"],
        Language::Go => &["import_declaration"],
    };
    let root = tree.root_node();
    let mut cursor = root.walk();
    root.children(&mut cursor)
        .filter(|node| kinds.contains(&node.kind()))
        .take(MAX_IMPORTS)
        .filter_map(|node| rope.get_byte_slice(node.byte_range()))
        .map(|text| {
            text.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Names the region refers to (calls, types, methods), in order of first use, without the ones
/// it defines itself.
pub fn referenced_names(
    language: Language,
    tree: &Tree,
    rope: &Rope,
    region: &Range<usize>,
) -> Vec<String> {
    let all = tags(language, tree, rope);
    let inside = |r: &Range<usize>| r.start >= region.start && r.end <= region.end;
    let defined: std::collections::HashSet<&str> = all
        .iter()
        .filter(|t| t.is_definition && inside(&t.name_range))
        .map(|t| t.name.as_str())
        .collect();
    let mut seen = std::collections::HashSet::new();
    all.iter()
        .filter(|t| !t.is_definition && inside(&t.name_range) && !defined.contains(t.name.as_str()))
        .filter(|t| seen.insert(t.name.as_str()))
        .map(|t| t.name.clone())
        .collect()
}

/// The innermost item that holds the whole region.
pub fn enclosing_item<'a>(items: &'a [Item], region: &Range<usize>) -> Option<&'a Item> {
    items_at(items, region.start)
        .into_iter()
        .rev()
        .find(|item| item.range.start <= region.start && region.end <= item.range.end)
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::{enclosing_item, imports, referenced_names};
    use crate::syntax::{Language, items, parse};

    #[test]
    fn imports_in_each_language() {
        let cases = [
            (
                Language::Rust,
                "use std::io;\nuse crate::{a,\n    b};\nfn main() {}\n",
                vec!["use std::io;", "use crate::{a, b};"],
            ),
            (
                Language::Python,
                "import os\nfrom a import (b,\n c)\nx = 1\n",
                vec!["import os", "from a import (b, c)"],
            ),
            (
                Language::TypeScript,
                "import { a } from './a';\nconst b = 1;\n",
                vec!["import { a } from './a';"],
            ),
            (
                Language::Go,
                "package p\nimport (\n\t\"fmt\"\n)\n",
                vec!["import ( \"fmt\" )"],
            ),
        ];
        for (language, source, expected) in cases {
            let rope = Rope::from_str(source);
            let tree = parse(language, &rope, None).expect("parses");
            assert_eq!(
                imports(language, &tree, &rope),
                expected,
                "{}",
                language.name()
            );
        }
    }

    #[test]
    fn names_used_in_the_region_and_the_item_around_it() {
        let source = "fn outer() {\n    let p: Point = make();\n    helper(p);\n    fn local() {}\n    local();\n}\nfn after() { other(); }\n";
        let rope = Rope::from_str(source);
        let tree = parse(Language::Rust, &rope, None).expect("parses");
        let region = source.find("let p").expect("marker")..source.find("\n}").expect("marker");
        let names = referenced_names(Language::Rust, &tree, &rope, &region);
        assert!(names.contains(&"helper".to_owned()), "{names:?}");
        assert!(names.contains(&"Point".to_owned()), "{names:?}");
        assert!(
            !names.contains(&"local".to_owned()),
            "defined in the region: {names:?}"
        );
        assert!(
            !names.contains(&"other".to_owned()),
            "outside the region: {names:?}"
        );
        let found = items(Language::Rust, &tree, &rope);
        assert_eq!(
            enclosing_item(&found, &region).map(|i| i.name.as_str()),
            Some("outer")
        );
        let both = 0..source.len();
        assert_eq!(enclosing_item(&found, &both), None);
    }
}
