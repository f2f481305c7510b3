//! Every query against its annotated sample: items and tags must be exactly what the comments say.

use std::fmt::Write as _;

use ropey::Rope;

use super::annotations::{self, Annotation};
use crate::syntax::queries::{self, QueryKind};
use crate::syntax::{Item, Language, Tag, items, parse, rope_text, syntax_errors, tags};

const SAMPLES: &[(Language, &str, &str)] = &[
    (
        Language::Rust,
        "//",
        include_str!("../../../../grammars/rust/sample.rs"),
    ),
    (
        Language::Python,
        "#",
        include_str!("../../../../grammars/python/sample.py"),
    ),
    (
        Language::JavaScript,
        "//",
        include_str!("../../../../grammars/javascript/sample.js"),
    ),
    (
        Language::TypeScript,
        "//",
        include_str!("../../../../grammars/typescript/sample.ts"),
    ),
    (
        Language::Tsx,
        "//",
        include_str!("../../../../grammars/typescript/sample.tsx"),
    ),
    (
        Language::Go,
        "//",
        include_str!("../../../../grammars/go/sample.go"),
    ),
];

#[test]
fn every_query_compiles() {
    for lang in Language::ALL {
        for kind in QueryKind::ALL {
            if let Err(err) = queries::compile(lang, kind) {
                panic!("{} {kind:?} query: {err}", lang.name());
            }
            assert!(queries::query(lang, kind).is_some());
        }
    }
}

#[test]
fn samples_match_their_annotations() {
    let mut failures = String::new();
    for &(lang, marker, source) in SAMPLES {
        let problems = check_sample(lang, marker, source);
        if !problems.is_empty() {
            let _ = writeln!(failures, "=== {}\n{problems}", lang.name());
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

fn check_sample(lang: Language, marker: &str, source: &str) -> String {
    let rope = Rope::from_str(source);
    let Some(tree) = parse(lang, &rope, None) else {
        return "tree-sitter gave up".to_owned();
    };
    let mut out = String::new();
    for error in syntax_errors(&tree, &rope, 10) {
        let _ = writeln!(out, "sample has a syntax error: {error:?}");
    }
    let found_items = items(lang, &tree, &rope);
    let mut flat = Vec::new();
    flatten(&found_items, "", &mut flat);
    let found_tags = tags(lang, &tree, &rope);
    let annotations = annotations::parse(source, marker);
    let mut annotation_rows = vec![false; rope.len_lines()];
    for a in &annotations {
        if let Some(row) = annotation_rows.get_mut(a.line - 1) {
            *row = true;
        }
    }
    let mut annotated_items = vec![false; flat.len()];
    let mut tag_annotations = 0;
    for a in &annotations {
        match a.what.as_str() {
            "item" => match flat
                .iter()
                .position(|(_, item)| item.name_range.start == a.byte)
            {
                Some(i) => {
                    annotated_items[i] = true;
                    check_item(&rope, &annotation_rows, a, &flat[i].0, flat[i].1, &mut out);
                }
                None => {
                    let _ = writeln!(
                        out,
                        "line {}: no item named at byte {} ({} {})",
                        a.line, a.byte, a.kind, a.name
                    );
                }
            },
            "def" | "ref" => {
                tag_annotations += 1;
                check_tag(a, &found_tags, &mut out);
            }
            other => {
                let _ = writeln!(out, "line {}: unknown annotation {other:?}", a.line);
            }
        }
    }
    for (i, (path, item)) in flat.iter().enumerate() {
        if !annotated_items[i] {
            let _ = writeln!(
                out,
                "item not annotated: {} {} in={path:?} at row {}",
                item.kind.as_str(),
                item.name,
                rope.byte_to_line(item.name_range.start) + 1
            );
        }
        // The signature is what its range says, and the ranges nest as documented.
        if !item.signature.ends_with('…')
            && rope_text::collapsed(&rope, item.signature_range.clone(), usize::MAX)
                != item.signature
        {
            let _ = writeln!(
                out,
                "{}: signature {:?} is not the text of its range",
                item.name, item.signature
            );
        }
        let inside =
            |r: &std::ops::Range<usize>| item.range.start <= r.start && r.end <= item.range.end;
        if item.signature_range.start != item.range.start
            || !inside(&item.signature_range)
            || !inside(&item.name_range)
            || !item.body_range.as_ref().is_none_or(inside)
        {
            let _ = writeln!(out, "{}: ranges do not nest: {item:?}", item.name);
        }
    }
    if tag_annotations == 0 {
        let _ = writeln!(out, "no tag annotations");
    }
    out
}

fn flatten<'a>(items: &'a [Item], path: &str, out: &mut Vec<(String, &'a Item)>) {
    for item in items {
        out.push((path.to_owned(), item));
        let child_path = if path.is_empty() {
            item.name.clone()
        } else {
            format!("{path}/{}", item.name)
        };
        flatten(&item.children, &child_path, out);
    }
}

/// How many code rows (rows that are not annotations) lie after `from` up to and including `to`:
/// body offsets in annotations count code lines only, so adding an annotation changes none.
fn code_rows(annotation_rows: &[bool], from: usize, to: usize) -> usize {
    (from + 1..=to)
        .filter(|&row| !annotation_rows.get(row).copied().unwrap_or(false))
        .count()
}

fn check_item(
    rope: &Rope,
    annotation_rows: &[bool],
    a: &Annotation,
    path: &str,
    item: &Item,
    out: &mut String,
) {
    let mut problem = |what: &str, expected: &str, actual: &str| {
        if expected != actual {
            let _ = writeln!(
                out,
                "line {}: {} {}: {what} expected {expected:?}, got {actual:?}",
                a.line, a.kind, a.name
            );
        }
    };
    problem("kind", &a.kind, item.kind.as_str());
    problem("name", &a.name, &item.name);
    problem("in", a.keys.get("in").map_or("", String::as_str), path);
    if let Some(sig) = a.keys.get("sig") {
        problem("sig", sig, &item.signature);
    }
    if let Some(body) = a.keys.get("body") {
        let actual = match &item.body_range {
            None => "none".to_owned(),
            Some(r) => {
                let start = code_rows(annotation_rows, a.target_row, rope.byte_to_line(r.start));
                let end = code_rows(annotation_rows, a.target_row, rope.byte_to_line(r.end));
                format!("+{start}..+{end}")
            }
        };
        problem("body", body, &actual);
    }
    if let Some(doc) = a.keys.get("doc") {
        problem("doc", doc, item.doc.as_deref().unwrap_or("none"));
        if let (Some(range), Some(_)) = (&item.doc_range, &item.doc)
            && range.end > item.range.start
            && !item.range.contains(&range.start)
        {
            let _ = writeln!(
                out,
                "line {}: doc range {range:?} overlaps the item start",
                a.line
            );
        }
    }
}

fn check_tag(a: &Annotation, found: &[Tag], out: &mut String) {
    let Some(tag) = found.iter().find(|t| t.name_range.start == a.byte) else {
        let _ = writeln!(
            out,
            "line {}: no tag at byte {} ({}.{} {})",
            a.line, a.byte, a.what, a.kind, a.name
        );
        return;
    };
    let actual = format!(
        "{}.{} {}",
        if tag.is_definition { "def" } else { "ref" },
        tag.kind.as_str(),
        tag.name
    );
    let expected = format!("{}.{} {}", a.what, a.kind, a.name);
    if actual != expected {
        let _ = writeln!(
            out,
            "line {}: tag expected {expected:?}, got {actual:?}",
            a.line
        );
    }
}

/// `items_around` finds exactly the items `items` finds around every position of every sample.
#[test]
fn items_around_a_position_match_the_full_list() {
    for &(lang, _, source) in SAMPLES {
        let rope = Rope::from_str(source);
        let tree = parse(lang, &rope, None).expect("parses");
        let all = items(lang, &tree, &rope);
        let mut byte = 0;
        while byte <= source.len() {
            let around = crate::syntax::items_around(lang, &tree, &rope, byte..byte);
            let names = |found: &[Item]| -> Vec<String> {
                crate::syntax::items_at(found, byte)
                    .iter()
                    .map(|i| format!("{} {:?}", i.name, i.range))
                    .collect()
            };
            assert_eq!(
                names(&around),
                names(&all),
                "{} at byte {byte}",
                lang.name()
            );
            byte += 7;
        }
    }
}
