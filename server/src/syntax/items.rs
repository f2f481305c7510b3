//! The items of a document (functions, types, impls, …) as a tree, from each language's items query.
//!
//! Capture names in `grammars/<lang>/items.scm`: `@item.<kind>` on the item node (kind as in
//! [`ItemKind::from_capture`]), `@name` on its name, `@name.trait` on an impl's trait, and
//! `@body` on its body. Doc comments are attached here in code (see `docs.rs`), because
//! "the comments directly above, with no blank line" is not something queries can say.

use std::ops::Range;

use ropey::Rope;
use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, QueryCursor, Tree};

use super::neighbours::{self, Neighbours};
use super::queries::{self, QueryKind};
use super::rope_text::{self, RopeText};
use super::{Language, docs};

/// Signatures are cut at this many characters: they are shown, not parsed.
const MAX_SIGNATURE_CHARS: usize = 240;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Function,
    Method,
    Struct,
    Enum,
    Union,
    Trait,
    Interface,
    Impl,
    Class,
    TypeAlias,
    Module,
    Constant,
    Field,
    Variant,
    Macro,
    /// A type of unknown kind: only type references in tags have it.
    Type,
}

impl ItemKind {
    /// The kind named by a capture suffix, as written in the `.scm` files (snake case).
    pub fn from_capture(name: &str) -> Option<Self> {
        use ItemKind::*;
        Some(match name {
            "function" => Function,
            "method" => Method,
            "struct" => Struct,
            "enum" => Enum,
            "union" => Union,
            "trait" => Trait,
            "interface" => Interface,
            "impl" => Impl,
            "class" => Class,
            "type_alias" => TypeAlias,
            "module" => Module,
            "constant" => Constant,
            "field" => Field,
            "variant" => Variant,
            "macro" => Macro,
            "type" => Type,
            _ => return None,
        })
    }

    /// The snake-case name used in queries and annotations.
    pub fn as_str(self) -> &'static str {
        use ItemKind::*;
        match self {
            Function => "function",
            Method => "method",
            Struct => "struct",
            Enum => "enum",
            Union => "union",
            Trait => "trait",
            Interface => "interface",
            Impl => "impl",
            Class => "class",
            TypeAlias => "type_alias",
            Module => "module",
            Constant => "constant",
            Field => "field",
            Variant => "variant",
            Macro => "macro",
            Type => "type",
        }
    }

    /// Items whose function children are methods.
    fn holds_methods(self) -> bool {
        matches!(
            self,
            ItemKind::Impl | ItemKind::Trait | ItemKind::Class | ItemKind::Interface
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    pub name: String,
    /// The item node (attributes, decorators and doc comments outside it are not included).
    pub range: Range<usize>,
    pub name_range: Range<usize>,
    /// The item's text up to its body, whitespace collapsed, cut at a bounded length.
    pub signature: String,
    /// Where `signature` comes from: item start to the end of the last token before the body.
    pub signature_range: Range<usize>,
    pub body_range: Option<Range<usize>>,
    pub doc_range: Option<Range<usize>>,
    /// The doc comment or docstring with comment markers and common indentation removed.
    pub doc: Option<String>,
    pub children: Vec<Item>,
}

/// Items nest at most this deep; deeper ones are listed flat in the deepest item kept. No
/// program needs more, a client parsing JSON gives up past 128 levels (two per symbol), and
/// every level is a frame when the tree of items is dropped or serialized.
pub const MAX_ITEM_DEPTH: usize = 32;

/// The query runs on chunks of the tree this many levels deep, each starting where the one
/// above stopped starting matches. Tree-sitter's query cursor costs its depth per node (and
/// counts depth in 16 bits), so one run over 50,000 nested modules would be quadratic and
/// lose the deepest ones. A match found twice where chunks meet is deduplicated below.
const CHUNK_DEPTH: u32 = 48;

/// How many query matches are taken between two calls to a `stop` check.
const STOP_CHECK_EVERY: usize = 1 << 12;

/// The items of the document, nested as the tree nests them, in document order.
/// A function directly inside an impl, trait, class or interface is reported as a method.
pub fn items(lang: Language, tree: &Tree, rope: &Rope) -> Vec<Item> {
    collect(lang, tree, rope, None, &|| false).unwrap_or_default()
}

/// [`items`], giving up (`None`) as soon as `stop` returns true; it is asked every few
/// thousand nodes, so a document that moved on stops costing a big file's walk.
pub fn items_unless(
    lang: Language,
    tree: &Tree,
    rope: &Rope,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<Item>> {
    collect(lang, tree, rope, None, stop)
}

/// The items that overlap `bytes` (so those around a position, with `bytes` empty), nested as
/// [`items`] nests them. Much cheaper than [`items`] on a big file: only the matches there are
/// built (hover and code actions need no more).
pub fn items_around(lang: Language, tree: &Tree, rope: &Rope, bytes: Range<usize>) -> Vec<Item> {
    collect(lang, tree, rope, Some(bytes), &|| false).unwrap_or_default()
}

fn collect(
    lang: Language,
    tree: &Tree,
    rope: &Rope,
    bytes: Option<Range<usize>>,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<Item>> {
    let Some(query) = queries::query(lang, QueryKind::Items) else {
        return Some(Vec::new());
    };
    let names = query.capture_names();
    let mut cursor = QueryCursor::new();
    // A range with room on both sides, so an empty one still meets the nodes around it.
    let bytes = bytes.map(|b| b.start.saturating_sub(1)..b.end.saturating_add(1));
    if let Some(bytes) = &bytes {
        cursor.set_byte_range(bytes.clone());
    }
    cursor.set_max_start_depth(Some(CHUNK_DEPTH));
    let mut all: Vec<Found> = Vec::new();
    let mut chunks = vec![tree.root_node()];
    while let Some(chunk) = chunks.pop() {
        let mut matches = cursor.matches(query, chunk, RopeText(rope));
        while let Some(m) = matches.next() {
            if all.len() % STOP_CHECK_EVERY == STOP_CHECK_EVERY - 1 && stop() {
                return None;
            }
            let mut found = Found::default();
            for capture in m.captures() {
                let Some(capture_name) = names.get(capture.index as usize) else {
                    continue;
                };
                match *capture_name {
                    "name" => found.name = Some(capture.node),
                    "name.trait" => found.trait_name = Some(capture.node),
                    "body" => found.body = Some(capture.node),
                    other => {
                        if let Some(kind) =
                            other.strip_prefix("item.").and_then(ItemKind::from_capture)
                        {
                            found.item = Some((kind, capture.node));
                        }
                    }
                }
            }
            if found.item.is_some() && found.name.is_some() {
                all.push(found);
            }
        }
        if stop() {
            return None;
        }
        chunks_below(chunk, bytes.as_ref(), &mut chunks);
    }
    let wanted = neighbours::Wanted {
        items: all
            .iter()
            .filter_map(|f| f.item.map(|(_, n)| n.id()))
            .collect(),
        bodies: all.iter().filter_map(|f| f.body.map(|n| n.id())).collect(),
    };
    let neighbours = neighbours::gather(lang, tree, rope, &wanted, bytes.as_ref(), stop)?;
    let flat = all
        .into_iter()
        .filter_map(|found| build(lang, found, &neighbours, rope))
        .collect();
    Some(nest(dedup(flat)))
}

/// The nodes `CHUNK_DEPTH` levels below `chunk` (only those meeting `bytes`, when given): where
/// the next runs of the query start.
fn chunks_below<'t>(chunk: Node<'t>, bytes: Option<&Range<usize>>, out: &mut Vec<Node<'t>>) {
    let meets = |n: Node| bytes.is_none_or(|b| n.start_byte() <= b.end && b.start <= n.end_byte());
    let mut cursor = chunk.walk();
    let mut depth = 0u32;
    'walk: loop {
        let node = cursor.node();
        if depth == CHUNK_DEPTH {
            if meets(node) {
                out.push(node);
            }
        } else if meets(node) && cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if depth > 0 && cursor.goto_next_sibling() {
                continue 'walk;
            }
            if depth == 0 || !cursor.goto_parent() {
                break 'walk;
            }
            depth -= 1;
        }
    }
}

#[derive(Default)]
struct Found<'t> {
    item: Option<(ItemKind, Node<'t>)>,
    name: Option<Node<'t>>,
    trait_name: Option<Node<'t>>,
    body: Option<Node<'t>>,
}

fn build(lang: Language, found: Found, neighbours: &Neighbours, rope: &Rope) -> Option<Item> {
    let (kind, node) = found.item?;
    let name_node = found.name?;
    let mut name = rope_text::collapsed(rope, name_node.byte_range(), MAX_SIGNATURE_CHARS);
    if let Some(trait_node) = found.trait_name {
        let trait_name = rope_text::collapsed(rope, trait_node.byte_range(), MAX_SIGNATURE_CHARS);
        name = format!("{trait_name} for {name}");
    }
    let range = node.byte_range();
    // A body that tree-sitter had to invent (zero width) is no body.
    let body_range = found.body.map(|b| b.byte_range()).filter(|b| !b.is_empty());
    let signature_end = match (&body_range, found.body) {
        // The end of the last token before the body.
        (Some(body), Some(body_node)) => match neighbours.end_before_body(body_node) {
            Some(end) if end > range.start => end,
            _ => rope_text::trim_end(rope, range.start, body.start),
        },
        _ => rope_text::trim_end(rope, range.start, range.end),
    };
    let signature_range = range.start..signature_end;
    let signature = rope_text::collapsed(rope, signature_range.clone(), MAX_SIGNATURE_CHARS);
    let doc = match lang {
        Language::Python => found.body.and_then(|body| docs::docstring(body, rope)),
        _ => neighbours.doc(node),
    };
    Some(Item {
        kind,
        name,
        range,
        name_range: name_node.byte_range(),
        signature,
        signature_range,
        body_range,
        doc_range: doc.as_ref().map(|d| d.0.clone()),
        doc: doc.map(|d| d.1),
        children: Vec::new(),
    })
}

/// Matches that share a name node are one item (a query may match a declaration both alone
/// and as part of a group); the widest node wins, then document order.
fn dedup(mut flat: Vec<Item>) -> Vec<Item> {
    flat.sort_by(|a, b| {
        (
            a.range.start,
            std::cmp::Reverse(a.range.end),
            a.name_range.start,
        )
            .cmp(&(
                b.range.start,
                std::cmp::Reverse(b.range.end),
                b.name_range.start,
            ))
    });
    let mut seen = std::collections::HashSet::new();
    flat.retain(|item| seen.insert((item.name_range.clone(), item.name.clone())));
    flat
}

/// Builds the hierarchy from items sorted by start, widest first.
fn nest(flat: Vec<Item>) -> Vec<Item> {
    let mut roots = Vec::new();
    let mut stack: Vec<Item> = Vec::new();
    for item in flat {
        while let Some(top) = stack.last() {
            if contains(top, &item) {
                break;
            }
            if let Some(done) = stack.pop() {
                attach(done, &mut stack, &mut roots);
            }
        }
        if stack.len() + 1 >= MAX_ITEM_DEPTH {
            // Too deep: listed in the deepest item kept, as are its own children.
            attach(item, &mut stack, &mut roots);
        } else {
            stack.push(item);
        }
    }
    while let Some(done) = stack.pop() {
        attach(done, &mut stack, &mut roots);
    }
    roots
}

fn contains(outer: &Item, inner: &Item) -> bool {
    // Equal ranges are siblings (two declarators of one `const a = …, b = …`), not nesting.
    outer.range != inner.range
        && outer.range.start <= inner.range.start
        && inner.range.end <= outer.range.end
}

fn attach(mut item: Item, stack: &mut [Item], roots: &mut Vec<Item>) {
    match stack.last_mut() {
        Some(parent) => {
            if parent.kind.holds_methods() && item.kind == ItemKind::Function {
                item.kind = ItemKind::Method;
            }
            parent.children.push(item);
        }
        None => roots.push(item),
    }
}

/// How many items there are, children included.
pub fn count_items(items: &[Item]) -> usize {
    let mut count = 0;
    let mut stack: Vec<&Item> = items.iter().collect();
    while let Some(item) = stack.pop() {
        count += 1;
        stack.extend(&item.children);
    }
    count
}

/// The items containing `byte`, outermost first. An item contains the byte just past its end,
/// where the cursor sits after typing its last character.
pub fn items_at(items: &[Item], byte: usize) -> Vec<&Item> {
    let mut out = Vec::new();
    let mut level = items;
    while let Some(item) = innermost_at(level, byte) {
        out.push(item);
        level = &item.children;
    }
    out
}

/// The first item of `level` around `byte`, or one strictly inside it that is: past the depth
/// cap, items deeper down are listed flat beside the ones holding them.
fn innermost_at(level: &[Item], byte: usize) -> Option<&Item> {
    let mut around = level
        .iter()
        .filter(|i| i.range.start <= byte && byte <= i.range.end);
    let first = around.next()?;
    Some(around.fold(first, |best, item| {
        let inside = best.range.start <= item.range.start
            && item.range.end <= best.range.end
            && item.range != best.range;
        if inside { item } else { best }
    }))
}
