//! Symbols of a document, definitions and references (calls, type uses), from the tags query.
//!
//! Capture names in `grammars/<lang>/tags.scm`: `@definition.<kind>` or `@reference.<kind>` on the
//! node (kind as in [`ItemKind::from_capture`]) and `@name` on its name. When several patterns tag
//! the same name, a definition beats a reference, and then the pattern written first in the file
//! wins, so specific patterns (a function inside an impl is a method) go above general ones.

use std::collections::HashMap;
use std::ops::Range;

use ropey::Rope;
use streaming_iterator::StreamingIterator;
use tree_sitter::{QueryCursor, Tree};

use super::queries::{self, QueryKind};
use super::rope_text::{self, RopeText};
use super::{ItemKind, Language};

/// Longer names are not names but garbage captured from broken code.
const MAX_NAME_CHARS: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub kind: ItemKind,
    pub is_definition: bool,
    pub name_range: Range<usize>,
}

/// All tags of the document, in document order, one per name.
pub fn tags(lang: Language, tree: &Tree, rope: &Rope) -> Vec<Tag> {
    let Some(query) = queries::query(lang, QueryKind::Tags) else {
        return Vec::new();
    };
    let names = query.capture_names();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, tree.root_node(), RopeText(rope));
    // Per name range: the best tag so far and its rank (lower is better).
    let mut best: HashMap<Range<usize>, ((bool, usize), Tag)> = HashMap::new();
    while let Some(m) = matches.next() {
        let mut name_node = None;
        let mut role = None;
        for capture in m.captures() {
            let Some(capture_name) = names.get(capture.index as usize) else {
                continue;
            };
            if *capture_name == "name" {
                name_node = Some(capture.node);
            } else if let Some(kind) = capture_name
                .strip_prefix("definition.")
                .and_then(ItemKind::from_capture)
            {
                role = Some((true, kind));
            } else if let Some(kind) = capture_name
                .strip_prefix("reference.")
                .and_then(ItemKind::from_capture)
            {
                role = Some((false, kind));
            }
        }
        let (Some(node), Some((is_definition, kind))) = (name_node, role) else {
            continue;
        };
        let name = rope_text::collapsed(rope, node.byte_range(), MAX_NAME_CHARS);
        if name.is_empty() {
            continue;
        }
        let rank = (!is_definition, m.pattern_index);
        let tag = Tag {
            name,
            kind,
            is_definition,
            name_range: node.byte_range(),
        };
        match best.get(&tag.name_range) {
            Some((old_rank, _)) if *old_rank <= rank => {}
            _ => {
                best.insert(tag.name_range.clone(), (rank, tag));
            }
        }
    }
    let mut out: Vec<Tag> = best.into_values().map(|(_, tag)| tag).collect();
    out.sort_by_key(|t| (t.name_range.start, t.name_range.end));
    out
}
