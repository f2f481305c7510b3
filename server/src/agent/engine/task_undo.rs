//! Taking back what a task changed, exactly: each open document's part restores its region
//! (the user's typing elsewhere kept), created files are deleted, other files get their text
//! back, in the editor's buffer when it has them open, else through a workspace edit.

use std::path::Path;
use std::sync::Arc;

use super::Engine;
use super::converge::{EDIT_TIMEOUT, Target, settle};
use super::port::{Change, EditTarget, Editor, TextEdit};
use super::task_files::{TaskFiles, Touched, apply, changed_span, doc_of, file_changes};
use crate::agent::actions::Action;
use crate::agent::jobs::{JobHandle, JobId};
use crate::edits::StreamSession;

/// Puts every file the task touched back as it was, newest first: each open document's part
/// restores its region (the user's typing elsewhere kept), created files are deleted, other
/// files get their text back. Returns what could not be put back, in words.
pub(super) async fn take_back<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    task: JobId,
    files: &TaskFiles,
) -> Result<(), String> {
    let mut failed = Vec::new();
    let action = files.action();
    for Touched {
        path,
        relative,
        created,
        original,
        part,
        ..
    } in files.newest_first()
    {
        let done = match part {
            // A created file goes, whatever its part holds.
            Some(part) if !created => {
                match restore_part(engine, editor, &part, &path, action).await {
                    // Closed since: its text is put back on disk (or in the buffer, reopened).
                    Err(Closed) => {
                        restore_file(engine, editor, (task, action), &path, false, &original).await
                    }
                    Ok(done) => done,
                }
            }
            _ => restore_file(engine, editor, (task, action), &path, created, &original).await,
        };
        if let Err(why) = done {
            failed.push(format!("{relative}: {why}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "not everything was put back: {}",
            failed.join("; ")
        ))
    }
}

/// The document of a part is no longer open.
struct Closed;

/// Puts back the text before the task in a part's region (the user's typing elsewhere kept).
async fn restore_part<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    part: &JobHandle,
    path: &Path,
    action: Action,
) -> Result<Result<(), String>, Closed> {
    let doc = doc_of(path).ok_or(Closed)?;
    if !engine.documents.is_open(&doc) {
        return Err(Closed);
    }
    if engine
        .jobs
        .with_session(part.id, StreamSession::reject)
        .is_none()
    {
        return Ok(Err("its edit was forgotten".into()));
    }
    let fresh = JobHandle {
        id: part.id,
        cancel: tokio_util::sync::CancellationToken::new(),
        wake: part.wake.clone(),
    };
    let target = Target {
        doc,
        action,
        preview: false,
    };
    Ok(
        match tokio::time::timeout(EDIT_TIMEOUT * 2, settle(engine, editor, &fresh, &target)).await
        {
            Ok(result) => result,
            Err(_) => Err("the editor did not show the original text in time".into()),
        },
    )
}

/// A file the task changed or created without a part: deleted when created, else its text put
/// back, in the editor's buffer when it is open by now, else on disk through the editor.
async fn restore_file<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    (task, action): (JobId, Action),
    path: &Path,
    created: bool,
    original: &str,
) -> Result<(), String> {
    if created {
        let delete = vec![Change::DeleteFile {
            path: path.to_path_buf(),
        }];
        return apply(editor, task, action, delete, false, false).await;
    }
    if let Some(snapshot) = doc_of(path).and_then(|d| engine.documents.snapshot(&d)) {
        if snapshot.rope == original {
            return Ok(());
        }
        let (span, text) = changed_span(&snapshot.rope.to_string(), original);
        let edit = vec![Change::Text(TextEdit {
            target: EditTarget::Open {
                doc: snapshot.uri.clone(),
                version: snapshot.version,
            },
            rope: snapshot.rope.clone(),
            chars: span,
            text,
        })];
        return apply(editor, task, action, edit, false, false).await;
    }
    // A file deleted since (an agent deleting it on disk) is created again.
    let (now, gone) = match std::fs::read_to_string(path) {
        Ok(now) => (now, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), true),
        Err(e) => return Err(format!("it could not be read: {e}")),
    };
    if now == original && !gone {
        return Ok(());
    }
    apply(
        editor,
        task,
        action,
        file_changes(path, &now, original, gone),
        false,
        false,
    )
    .await
}
