//! Open documents and their syntax: text applied at once, trees kept current off the typing path.
//!
//! A `didChange` edits the rope and the stored tree synchronously (both are cheap) and marks
//! the document dirty; a background worker coalesces bursts of typing and reparses with the
//! old tree on a blocking thread, then reports the document's syntax errors with the version
//! they were computed from. A request that needs syntax now (hover, symbols) parses on demand.
//! Of the documents opened, only the last is parsed at once: the others when they are needed.
//! Trees are the big part of a document's memory, so only the most recently used ones are
//! kept; the others are parsed again when needed.

mod syntax_worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use ropey::Rope;

use crate::edits::CharChange;
use crate::syntax::{DocSyntax, Language};
use crate::text::{Document, PositionEncoding, SyncError, TextChange};

pub use syntax_worker::{SyntaxEvent, SyntaxReport};

/// How a document is named: its URI as the client sent it.
pub type DocUri = Arc<str>;

/// Tuning knobs, with defaults chosen for interactive typing.
#[derive(Clone, Debug)]
pub struct WorkspaceOptions {
    /// How long the syntax worker waits for typing to pause before reparsing.
    pub debounce: std::time::Duration,
    /// Parsed trees stay in memory, most recently used first, while the source bytes they
    /// describe add up to at most this; the most recently used tree always stays. A tree costs
    /// about 60 times its source (tree-sitter nodes), so this bounds most of our memory.
    pub tree_budget_bytes: usize,
}

impl Default for WorkspaceOptions {
    fn default() -> Self {
        Self {
            debounce: std::time::Duration::from_millis(15),
            tree_budget_bytes: 256 * 1024,
        }
    }
}

struct Entry {
    doc: Document,
    syntax: Option<DocSyntax>,
    /// Last time this document was used, for choosing which trees to drop.
    last_used: u64,
}

/// A consistent view of one document at one version. Cheap: the rope and tree are shared.
#[derive(Clone)]
pub struct Snapshot {
    pub uri: DocUri,
    pub version: i32,
    pub rope: Rope,
    pub language: Option<Language>,
    /// The tree for exactly this version, when one was asked for and the language has one.
    pub tree: Option<tree_sitter::Tree>,
}

/// All open documents.
pub struct Workspace {
    entries: Mutex<HashMap<DocUri, Entry>>,
    clock: AtomicU64,
    options: WorkspaceOptions,
    worker: syntax_worker::Handle,
}

impl Workspace {
    /// Creates the store and starts its syntax worker; syntax reports arrive on `events`.
    pub fn new(
        options: WorkspaceOptions,
        events: tokio::sync::mpsc::UnboundedSender<SyntaxEvent>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|weak| Self {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            worker: syntax_worker::spawn(weak.clone(), options.debounce, events),
            options,
        })
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// Opens (or reopens) a document; its syntax is computed in the background if it is the one
    /// opened last, else when it changes or a request needs it.
    pub fn open(&self, uri: DocUri, language_id: &str, version: i32, text: &str) {
        let language = Language::detect(language_id, &uri);
        let entry = Entry {
            doc: Document::new(language_id, version, text),
            syntax: language.map(DocSyntax::new),
            last_used: self.tick(),
        };
        self.entries.lock().insert(uri.clone(), entry);
        if language.is_some() {
            self.worker.mark_opened(uri);
        }
    }

    /// Applies one `didChange`. The text is current when this returns; syntax follows.
    pub fn change(
        &self,
        uri: &DocUri,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
    ) -> Result<Applied, ChangeError> {
        let now = self.tick();
        let (has_syntax, applied) = {
            let mut entries = self.entries.lock();
            let entry = entries.get_mut(uri).ok_or(ChangeError::NotOpen)?;
            let before = entry.doc.rope().clone();
            let before_version = entry.doc.version();
            let edits = entry.doc.apply_changes(version, changes, encoding)?;
            entry.last_used = now;
            if let Some(syntax) = entry.syntax.as_mut() {
                if version > before_version {
                    syntax.edit(version, &edits);
                } else {
                    // A full text resynced the document at a version not above the last: syntax
                    // starts afresh, as on open (its versions only ever go forward).
                    *syntax = DocSyntax::new(syntax.language());
                }
            }
            // The edits are those of the last `edits.len()` changes (a full-text change
            // overrides the ones before it).
            let applied_changes = &changes[changes.len().saturating_sub(edits.len())..];
            let char_changes = edits
                .iter()
                .zip(applied_changes)
                .map(|(e, c)| CharChange::new(e.start_char, e.old_end_char, c.text.clone()))
                .collect();
            let applied = Applied {
                before,
                after: entry.doc.rope().clone(),
                version,
                changes: char_changes,
                whole_text: changes.iter().any(|c| c.range.is_none()),
            };
            (entry.syntax.is_some(), applied)
        };
        if has_syntax {
            self.worker.mark_dirty(uri.clone());
        }
        Ok(applied)
    }

    /// Marks a document out of sync (a change to it was lost). `None` when it is not open, else
    /// whether it was in sync until now.
    pub fn mark_out_of_sync(&self, uri: &DocUri) -> Option<bool> {
        self.entries
            .lock()
            .get_mut(uri)
            .map(|entry| entry.doc.mark_out_of_sync())
    }

    /// Forgets everything about a document.
    pub fn close(&self, uri: &DocUri) -> bool {
        let entry = self.entries.lock().remove(uri);
        let Some(entry) = entry else {
            return false;
        };
        let big = entry.doc.rope().len_bytes() >= BIG_DOCUMENT;
        drop(entry);
        if big {
            release_memory();
        }
        true
    }

    /// The document's version now, if it is open: cheap, for long work to ask whether its
    /// document moved on.
    pub fn version(&self, uri: &DocUri) -> Option<i32> {
        self.entries.lock().get(uri).map(|e| e.doc.version())
    }

    pub fn is_open(&self, uri: &DocUri) -> bool {
        self.entries.lock().contains_key(uri)
    }

    /// The document's text now, without syntax.
    pub fn snapshot(&self, uri: &DocUri) -> Option<Snapshot> {
        let entries = self.entries.lock();
        let entry = entries.get(uri)?;
        Some(Snapshot {
            uri: uri.clone(),
            version: entry.doc.version(),
            rope: entry.doc.rope().clone(),
            language: entry.syntax.as_ref().map(DocSyntax::language),
            tree: None,
        })
    }

    /// The document's text and a tree for that same text, parsing now if the worker has not
    /// caught up. `None` when the document is not open.
    pub async fn snapshot_with_syntax(self: &Arc<Self>, uri: &DocUri) -> Option<Snapshot> {
        self.parsed(uri, true).await
    }

    /// [`Self::snapshot_with_syntax`]; `report`: a tree parsed here has its syntax errors
    /// reported by the worker too (a request parsed it; the worker itself passes `false`).
    async fn parsed(self: &Arc<Self>, uri: &DocUri, report: bool) -> Option<Snapshot> {
        loop {
            let (mut snapshot, request) = {
                let mut entries = self.entries.lock();
                let entry = entries.get_mut(uri)?;
                entry.last_used = self.tick();
                let version = entry.doc.version();
                let mut snapshot = Snapshot {
                    uri: uri.clone(),
                    version,
                    rope: entry.doc.rope().clone(),
                    language: entry.syntax.as_ref().map(DocSyntax::language),
                    tree: None,
                };
                let Some(syntax) = entry.syntax.as_ref() else {
                    return Some(snapshot);
                };
                if syntax.is_current(version) {
                    snapshot.tree = syntax.tree().cloned();
                    return Some(snapshot);
                }
                let request = syntax.parse_request(version);
                (snapshot, request)
            };
            let Some(request) = request else {
                return Some(snapshot);
            };
            let rope = snapshot.rope.clone();
            let version = snapshot.version;
            let parsed = tokio::task::spawn_blocking(move || request.run(&rope))
                .await
                .ok()
                .flatten();
            let Some(tree) = parsed else {
                return Some(snapshot);
            };
            if self.install(uri, version, tree.clone()) {
                if report {
                    // Parsed for a request: its syntax errors are reported too (no parse again).
                    self.worker.mark_dirty(uri.clone());
                }
                snapshot.tree = Some(tree);
                return Some(snapshot);
            }
            // The document changed or closed while parsing: try again with the new text.
        }
    }

    /// Stores a tree parsed from `version`. Returns whether the document is still at that
    /// version (so the tree describes its current text).
    fn install(&self, uri: &DocUri, version: i32, tree: tree_sitter::Tree) -> bool {
        let mut entries = self.entries.lock();
        let current = {
            let Some(entry) = entries.get_mut(uri) else {
                return false;
            };
            let Some(syntax) = entry.syntax.as_mut() else {
                return false;
            };
            // A tree from a version above the document's was parsed before a full text
            // resynced it at a lower version: it describes another text.
            if version <= entry.doc.version()
                && syntax.tree_version().is_none_or(|have| have <= version)
            {
                syntax.install(version, tree);
            }
            entry.doc.version() == version
        };
        self.evict_trees(&mut entries);
        current
    }

    /// Drops the least recently used trees beyond the budget.
    fn evict_trees(&self, entries: &mut HashMap<DocUri, Entry>) {
        let mut with_trees: Vec<&mut Entry> = entries
            .values_mut()
            .filter(|e| e.syntax.as_ref().is_some_and(|s| s.tree().is_some()))
            .collect();
        with_trees.sort_unstable_by_key(|e| std::cmp::Reverse(e.last_used));
        let mut kept_bytes = 0usize;
        for (i, entry) in with_trees.into_iter().enumerate() {
            kept_bytes = kept_bytes.saturating_add(entry.doc.rope().len_bytes());
            if i > 0
                && kept_bytes > self.options.tree_budget_bytes
                && let Some(syntax) = entry.syntax.as_mut()
            {
                syntax.evict();
            }
        }
    }

    /// The open documents.
    pub fn uris(&self) -> Vec<DocUri> {
        self.entries.lock().keys().cloned().collect()
    }

    /// Number of open documents and of trees held, for status and tests.
    pub fn counts(&self) -> (usize, usize) {
        let entries = self.entries.lock();
        let trees = entries
            .values()
            .filter(|e| e.syntax.as_ref().is_some_and(|s| s.tree().is_some()))
            .count();
        (entries.len(), trees)
    }
}

/// A document this big leaves megabytes free in the allocator when it closes (its text, its
/// tree, the answers built from them: 100 to 400 times its size at the peak).
const BIG_DOCUMENT: usize = 64 << 10;

/// Gives the memory the allocator holds free back to the system, off the caller's thread.
/// glibc keeps what was freed in its arenas, so a closed big document would go on costing its
/// peak; `malloc_trim` returns it. Elsewhere the allocator does what it does.
#[cfg_attr(
    all(target_os = "linux", target_env = "gnu"),
    expect(
        unsafe_code,
        reason = "glibc's malloc_trim, an FFI call with no preconditions"
    )
)]
fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let trim = || {
            // SAFETY: `malloc_trim` takes no pointer and only releases free memory; glibc allows
            // it at any time, from any thread.
            unsafe { libc::malloc_trim(0) };
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(trim)),
            Err(_) => trim(),
        }
    }
}

/// What one applied `didChange` did, for the jobs streaming into the document. Cheap: the
/// ropes share their nodes.
#[derive(Clone, Debug)]
pub struct Applied {
    pub before: Rope,
    pub after: Rope,
    pub version: i32,
    /// The changes in char offsets, each applying to the result of the previous one.
    pub changes: Vec<CharChange>,
    /// Whether a change carried the whole text (no range): the changes above are then only a
    /// diff, which knows nothing of where the jobs' regions are.
    pub whole_text: bool,
}

/// Why a `didChange` was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the document is not open")]
    NotOpen,
    #[error(transparent)]
    OutOfSync(#[from] SyncError),
}

#[cfg(test)]
mod tests;
