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
    wake: Arc<Notify>,
}

impl Handle {
    pub(super) fn mark_dirty(&self, uri: DocUri) {
        self.dirty.lock().insert(uri);
        self.wake.notify_one();
    }
}

pub(super) fn spawn(
    workspace: Weak<Workspace>,
    debounce: Duration,
    events: mpsc::UnboundedSender<SyntaxEvent>,
) -> Handle {
    let dirty = Arc::new(Mutex::new(HashSet::new()));
    let wake = Arc::new(Notify::new());
    let handle = Handle {
        dirty: dirty.clone(),
        wake: wake.clone(),
    };
    // The workspace may be created outside a runtime (unit tests of other parts): then no
    // worker runs and syntax is only computed on demand.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(run(workspace, debounce, events, dirty, wake));
    }
    handle
}

async fn run(
    workspace: Weak<Workspace>,
    debounce: Duration,
    events: mpsc::UnboundedSender<SyntaxEvent>,
    dirty: Arc<Mutex<HashSet<DocUri>>>,
    wake: Arc<Notify>,
) {
    loop {
        wake.notified().await;
        // Let a burst of keystrokes finish: each one re-marks its document, so parse once.
        tokio::time::sleep(debounce).await;
        let batch: Vec<DocUri> = dirty.lock().drain().collect();
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
    let snapshot = workspace.snapshot_with_syntax(&uri).await?;
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
