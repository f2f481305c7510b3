//! The background task that reparses dirty documents after typing pauses and reports their syntax errors.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use ropey::Rope;
use tokio::sync::{Notify, mpsc};

use super::{DocUri, Workspace};
use crate::syntax::{SyntaxError, syntax_errors};

/// The most syntax errors reported for one document: past this, more are noise.
const MAX_ERRORS: usize = 100;

/// What the worker found for one document version.
#[derive(Debug)]
pub struct SyntaxReport {
    pub uri: DocUri,
    pub version: i32,
    /// The text the errors' byte ranges refer to.
    pub rope: Rope,
    pub errors: Vec<SyntaxError>,
}

#[derive(Debug)]
pub enum SyntaxEvent {
    Parsed(SyntaxReport),
}

pub(super) struct Handle {
    dirty: Arc<Mutex<HashSet<DocUri>>>,
    opened: Arc<Mutex<Option<DocUri>>>,
    wake: Arc<Notify>,
}

impl Handle {
    /// The document changed (or a request parsed it): its errors are reported next.
    pub(super) fn mark_dirty(&self, uri: DocUri) {
        self.dirty.lock().insert(uri);
        self.wake.notify_one();
    }

    /// The document was opened. Only the one opened last is parsed at once (the file the user
    /// is in); the others wait until they change or a request needs them, so a client that
    /// opens a thousand files costs a thousand parses only if they are used.
    pub(super) fn mark_opened(&self, uri: DocUri) {
        *self.opened.lock() = Some(uri);
        self.wake.notify_one();
    }
}

pub(super) fn spawn(
    workspace: Weak<Workspace>,
    debounce: Duration,
    events: mpsc::UnboundedSender<SyntaxEvent>,
) -> Handle {
    let dirty = Arc::new(Mutex::new(HashSet::new()));
    let opened = Arc::new(Mutex::new(None));
    let wake = Arc::new(Notify::new());
    let handle = Handle {
        dirty: dirty.clone(),
        opened: opened.clone(),
        wake: wake.clone(),
    };
    // The workspace may be created outside a runtime (unit tests of other parts): then no
    // worker runs and syntax is only computed on demand.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(run(workspace, debounce, events, dirty, opened, wake));
    }
    handle
}

async fn run(
    workspace: Weak<Workspace>,
    debounce: Duration,
    events: mpsc::UnboundedSender<SyntaxEvent>,
    dirty: Arc<Mutex<HashSet<DocUri>>>,
    opened: Arc<Mutex<Option<DocUri>>>,
    wake: Arc<Notify>,
) {
    loop {
        wake.notified().await;
        // Let a burst of keystrokes finish: each one re-marks its document, so parse once.
        tokio::time::sleep(debounce).await;
        // Changed documents first, then the one opened last.
        let mut batch: Vec<DocUri> = dirty.lock().drain().collect();
        if let Some(uri) = opened.lock().take().filter(|uri| !batch.contains(uri)) {
            batch.push(uri);
        }
        for uri in batch {
            let Some(workspace) = workspace.upgrade() else {
                return;
            };
            let outcome = tokio::spawn(reparse(workspace, uri.clone())).await;
            match outcome {
                Ok(Some(report)) => {
                    if events.send(SyntaxEvent::Parsed(report)).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(err) => tracing::error!(%uri, "syntax worker: reparse failed: {err}"),
            }
        }
    }
}

/// Parses one document if it needs it, and returns its errors when the tree is current.
async fn reparse(workspace: Arc<Workspace>, uri: DocUri) -> Option<SyntaxReport> {
    let snapshot = workspace.parsed(&uri, false).await?;
    let tree = snapshot.tree?;
    let rope = snapshot.rope;
    let (rope, errors) = tokio::task::spawn_blocking(move || {
        let errors = syntax_errors(&tree, &rope, MAX_ERRORS);
        (rope, errors)
    })
    .await
    .ok()?;
    Some(SyntaxReport {
        uri,
        version: snapshot.version,
        rope,
        errors,
    })
}
