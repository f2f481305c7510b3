//! One document's syntax tree, kept in step with its text without blocking typing.
//!
//! The flow: every `didChange` calls [`DocSyntax::edit`] synchronously (a cheap tree edit);
//! a background task takes a [`ParseRequest`], parses the rope of that version, and hands the
//! result to [`DocSyntax::install`], which replays the edits that arrived meanwhile.

use ropey::Rope;
use tree_sitter::Tree;

use super::{Language, input_edit, parse};
use crate::text::ByteEdit;

/// Edits kept for replay before we give up on replaying and wait for a parse of a newer version.
/// Bounds memory when no parse ever completes (for example while the document is evicted).
const MAX_PENDING_EDITS: usize = 4096;

/// What a background parse needs, taken cheaply from a [`DocSyntax`].
#[derive(Clone, Debug)]
pub struct ParseRequest {
    pub language: Language,
    /// The document version whose text must be parsed.
    pub version: i32,
    /// The last tree, already edited to match the text at `version`; `None` means a full parse.
    pub old_tree: Option<Tree>,
}

impl ParseRequest {
    /// Runs the parse; `rope` must be the text at `self.version`.
    pub fn run(&self, rope: &Rope) -> Option<Tree> {
        parse(self.language, rope, self.old_tree.as_ref())
    }
}

/// The syntax of one document.
#[derive(Clone, Debug)]
pub struct DocSyntax {
    language: Language,
    /// The last good tree, edited so that its byte ranges match the current text.
    tree: Option<Tree>,
    /// The version `tree` was parsed at (it may have been edited since).
    tree_version: Option<i32>,
    /// The latest version seen through `edit`.
    text_version: Option<i32>,
    /// Edits applied since the oldest parse that may still be installed, tagged with their version.
    pending: Vec<(i32, ByteEdit)>,
    /// Installs of versions below this are refused: they are older than what was installed, or
    /// the edits needed to replay them were dropped.
    min_installable: Option<i32>,
}

impl DocSyntax {
    pub fn new(lang: Language) -> Self {
        Self {
            language: lang,
            tree: None,
            tree_version: None,
            text_version: None,
            pending: Vec::new(),
            min_installable: None,
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Called synchronously on every didChange with the new version: edits the stored tree
    /// (cheap), records the edits for replay, and so marks the tree as not current.
    pub fn edit(&mut self, version: i32, edits: &[ByteEdit]) {
        if let Some(tree) = self.tree.as_mut() {
            for e in edits {
                tree.edit(&input_edit(e));
            }
        }
        self.text_version = Some(version);
        self.pending.extend(edits.iter().map(|e| (version, *e)));
        if self.pending.len() > MAX_PENDING_EDITS {
            // A parse started before now could no longer be replayed to the current text.
            self.pending.clear();
            self.min_installable = Some(version);
        }
    }

    /// What a background parse of `current_version` needs. `None` when the tree is current.
    pub fn parse_request(&self, current_version: i32) -> Option<ParseRequest> {
        if self.is_current(current_version) {
            return None;
        }
        Some(ParseRequest {
            language: self.language,
            version: current_version,
            old_tree: self.tree.clone(),
        })
    }

    /// Installs a tree parsed from the text at `parsed_version`. Edits recorded after that version
    /// are re-applied to it, so it matches the current text. A result older than the stored tree
    /// is dropped: parses may finish out of order.
    pub fn install(&mut self, parsed_version: i32, mut tree: Tree) {
        // Covers both a result older than the installed tree and one whose replay edits were dropped.
        if self.min_installable.is_some_and(|v| parsed_version < v) {
            return;
        }
        self.pending.retain(|(v, _)| *v > parsed_version);
        // Edits up to this version are gone now, so an older parse can no longer be replayed.
        self.min_installable = Some(parsed_version);
        for (_, e) in &self.pending {
            tree.edit(&input_edit(e));
        }
        self.tree = Some(tree);
        self.tree_version = Some(parsed_version);
    }

    /// The last good tree, edited to match the current text (it may be stale in places).
    pub fn tree(&self) -> Option<&Tree> {
        self.tree.as_ref()
    }

    /// Whether the tree was parsed from exactly the text at `version`.
    pub fn is_current(&self, version: i32) -> bool {
        self.tree.is_some() && self.tree_version == Some(version)
    }

    pub fn tree_version(&self) -> Option<i32> {
        self.tree.as_ref().and(self.tree_version)
    }

    /// The latest version given to `edit`, if any.
    pub fn text_version(&self) -> Option<i32> {
        self.text_version
    }

    /// Drops the tree to save memory; the next parse request asks for a full parse.
    pub fn evict(&mut self) {
        self.tree = None;
        self.tree_version = None;
    }
}
