//! What an item's neighbours in the tree say about it (the doc comments above it, the last
//! token before its body), found in one iterative walk instead of one climb per item.
//!
//! Tree-sitter nodes know no parent or sibling: `parent()` and `prev_sibling()` walk down from
//! the root and along the siblings each time, so asking them per item is quadratic in the depth
//! (50,000 nested modules) or in the siblings (a minified file of 100,000 functions). A
//! `TreeCursor` walk keeps both at hand, and costs the size of the tree once.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use ropey::Rope;
use tree_sitter::{Node, Tree};

use super::{Language, docs};

/// How many nodes the walk visits between two calls to its `stop` check.
const STOP_CHECK_EVERY: usize = 1 << 16;

/// What the walk found, by node id.
#[derive(Default)]
pub(super) struct Neighbours {
    /// The doc comment above each item node (absent: none).
    docs: HashMap<usize, (Range<usize>, String)>,
    /// The end of the last token before each body node (absent: none).
    before_body: HashMap<usize, usize>,
}

impl Neighbours {
    pub(super) fn doc(&self, item: Node) -> Option<(Range<usize>, String)> {
        self.docs.get(&item.id()).cloned()
    }

    pub(super) fn end_before_body(&self, body: Node) -> Option<usize> {
        self.before_body.get(&body.id()).copied()
    }
}

/// The nodes whose neighbours are wanted.
pub(super) struct Wanted {
    pub items: HashSet<usize>,
    pub bodies: HashSet<usize>,
}

/// Walks `tree` (only the nodes that meet `bytes`, when given) and gathers the neighbours of
/// the wanted nodes. `None` when `stop` said so along the way.
pub(super) fn gather(
    lang: Language,
    tree: &Tree,
    rope: &Rope,
    wanted: &Wanted,
    bytes: Option<&Range<usize>>,
    stop: &dyn Fn() -> bool,
) -> Option<Neighbours> {
    let mut found = Neighbours::default();
    if wanted.items.is_empty() && wanted.bodies.is_empty() {
        return Some(found);
    }
    // Python's docs are docstrings, inside the body: no comment above counts.
    let docs_above = lang != Language::Python;
    // `levels[d]`: the nodes seen so far at depth `d` under the current ancestor, the current
    // node (or the ancestor at that depth) last.
    let mut levels: Vec<Vec<Node>> = vec![Vec::new()];
    let mut cursor = tree.walk();
    let mut visited = 0usize;
    'walk: loop {
        visited += 1;
        if visited.is_multiple_of(STOP_CHECK_EVERY) && stop() {
            return None;
        }
        let node = cursor.node();
        let depth = levels.len() - 1;
        levels[depth].push(node);
        if docs_above && wanted.items.contains(&node.id()) {
            // `export function f`: the comment sits above the wrapper.
            let mut at = depth;
            while at > 0
                && levels[at - 1]
                    .last()
                    .is_some_and(|p| docs::is_doc_wrapper(p.kind()))
            {
                at -= 1;
            }
            let (anchor, before) = split_last(&levels[at]);
            let before = before.iter().rev().copied().filter(Node::is_named);
            if let Some(doc) = anchor.and_then(|a| docs::comments_above(lang, a, before, rope)) {
                found.docs.insert(node.id(), doc);
            }
        }
        if wanted.bodies.contains(&node.id()) {
            let (_, before) = split_last(&levels[depth]);
            // Comments between the signature and the body are not signature (Python puts
            // them after the `:`).
            if let Some(token) = before.iter().rev().find(|n| !n.is_extra()) {
                found.before_body.insert(node.id(), token.end_byte());
            }
        }
        let enter = bytes.is_none_or(|b| node.start_byte() <= b.end && b.start <= node.end_byte());
        if enter && cursor.goto_first_child() {
            levels.push(Vec::new());
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
            levels.pop();
        }
    }
    Some(found)
}

fn split_last<'a, 't>(nodes: &'a [Node<'t>]) -> (Option<Node<'t>>, &'a [Node<'t>]) {
    match nodes.split_last() {
        Some((last, rest)) => (Some(*last), rest),
        None => (None, nodes),
    }
}
