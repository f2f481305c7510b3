//! The files a task touched, and every change to them through the editor: converging,
//! versioned edits (one part job per open document), workspace edits for files that are not
//! open (created with `CreateFile`), and one confirmed edit at the end in preview mode. Taking
//! it all back is `task_undo`'s.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use ropey::Rope;

use super::Engine;
use super::converge::{EDIT_TIMEOUT, Target, settle};
use super::port::{Change, EditAnswer, EditRequest, EditTarget, Editor, TextEdit, TouchedFile};
use crate::agent::actions::Action;
use crate::agent::jobs::{JobHandle, JobId};
use crate::agent::task::tools::PlannedChange;
use crate::edits::{Region, StreamSession};
use crate::workspace::DocUri;

/// One file a task changed or created.
#[derive(Clone)]
pub(super) struct Touched {
    pub path: PathBuf,
    pub relative: String,
    pub created: bool,
    /// Its text before the task (empty for a created file).
    pub original: String,
    /// The text the task last gave it.
    written: String,
    /// The part job whose converging edits carry the task's changes to it while it is open.
    pub part: Option<JobHandle>,
    /// Preview mode: the change waits for the end of the task.
    pending: bool,
}

/// The files of one task (or of an ACP agent's job, whatever its action).
pub struct TaskFiles {
    files: Mutex<Vec<Touched>>,
    /// What the edits are labelled with (`Tandem: task`, `Tandem: fix`, ...).
    action: Action,
}

impl Default for TaskFiles {
    fn default() -> Self {
        Self::for_action(Action::Task)
    }
}

/// What a file held before the task, and what the task last made it.
struct Earlier {
    original: String,
    written: String,
}

/// Where `at` (chars in `from`) is in `to`, the text after one change: before the change it
/// stays, after it it moves by the change's length, inside it it goes to the change's end.
fn map_through(from: &str, to: &str, at: usize) -> usize {
    let (span, text) = changed_span(from, to);
    let inserted = text.chars().count();
    if at <= span.start {
        at
    } else if at >= span.end {
        at - span.len() + inserted
    } else {
        span.start + inserted
    }
}

/// The document URI of a file path.
pub(super) fn doc_of(path: &Path) -> Option<DocUri> {
    url::Url::from_file_path(path)
        .ok()
        .map(|u| DocUri::from(u.as_str()))
}

/// The span of `old` (in chars) that differs from `new`, and what `new` has there.
pub(super) fn changed_span(old: &str, new: &str) -> (Range<usize>, String) {
    let old: Vec<char> = old.chars().collect();
    let new: Vec<char> = new.chars().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let rest = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(rest)
        .take_while(|(a, b)| a == b)
        .count();
    let text = new[prefix..new.len() - suffix].iter().collect();
    (prefix..old.len() - suffix, text)
}

impl TaskFiles {
    /// The files of a job of `action`, which labels their edits.
    pub fn for_action(action: Action) -> Self {
        Self {
            files: Mutex::default(),
            action,
        }
    }

    pub(super) fn action(&self) -> Action {
        self.action
    }

    /// What the task's tools read for files the editor does not have open: the text the task
    /// gave them (the editor may not have written it to disk).
    pub fn overlay(&self) -> Vec<(PathBuf, String)> {
        self.files
            .lock()
            .iter()
            .map(|f| (f.path.clone(), f.written.clone()))
            .collect()
    }

    /// The files touched so far, in the order they were first touched.
    pub fn touched(&self) -> Vec<TouchedFile> {
        self.files
            .lock()
            .iter()
            .map(|f| TouchedFile {
                path: f.path.clone(),
                created: f.created,
            })
            .collect()
    }

    /// The files touched, the last touched first: the order they are put back in.
    pub(super) fn newest_first(&self) -> Vec<Touched> {
        self.files.lock().iter().rev().cloned().collect()
    }

    /// The part jobs carrying edits to open documents.
    pub fn parts(&self) -> Vec<JobId> {
        self.files
            .lock()
            .iter()
            .filter_map(|f| f.part.as_ref().map(|p| p.id))
            .collect()
    }

    /// Notes a change the task makes to `plan.path` (the first change of a file keeps what it
    /// held before). Returns the part job of the file, if it has one, and what it held before
    /// the task.
    fn note(&self, plan: &PlannedChange, pending: bool) -> (Option<JobHandle>, Earlier) {
        let mut files = self.files.lock();
        if let Some(file) = files.iter_mut().find(|f| f.path == plan.path.absolute) {
            let written = std::mem::replace(&mut file.written, plan.new_text.clone());
            file.pending |= pending;
            let earlier = Earlier {
                original: file.original.clone(),
                written,
            };
            return (file.part.clone(), earlier);
        }
        files.push(Touched {
            path: plan.path.absolute.clone(),
            relative: plan.path.relative.clone(),
            created: plan.created,
            original: plan.old_text.clone(),
            written: plan.new_text.clone(),
            part: None,
            pending,
        });
        let earlier = Earlier {
            original: plan.old_text.clone(),
            written: plan.old_text.clone(),
        };
        (None, earlier)
    }

    /// Notes a file changed on disk by someone else than the editor (an ACP agent writing it
    /// itself): `before` is `None` for a file it created, `after` `None` for one it deleted.
    pub(super) fn note_disk(
        &self,
        path: PathBuf,
        relative: String,
        before: Option<String>,
        after: Option<String>,
    ) {
        let mut files = self.files.lock();
        let written = after.unwrap_or_default();
        if let Some(file) = files.iter_mut().find(|f| f.path == path) {
            file.written = written;
            return;
        }
        files.push(Touched {
            path,
            relative,
            created: before.is_none(),
            original: before.unwrap_or_default(),
            written,
            part: None,
            pending: false,
        });
    }

    /// The files touched, with their part jobs, for the signals of a finished job.
    pub(super) fn with_parts(&self) -> Vec<(PathBuf, JobId)> {
        self.files
            .lock()
            .iter()
            .filter_map(|f| Some((f.path.clone(), f.part.as_ref()?.id)))
            .collect()
    }

    fn set_part(&self, path: &Path, part: JobHandle) {
        if let Some(file) = self.files.lock().iter_mut().find(|f| f.path == path) {
            file.part = Some(part);
        }
    }
}

/// How a planned change went.
pub(super) enum Landed {
    /// What the model is told.
    Done(String),
    /// Why it did not land, for the model.
    Failed(String),
    /// The document's text is not the one the change was planned over: plan it again.
    Moved,
}

impl From<Result<String, String>> for Landed {
    fn from(result: Result<String, String>) -> Self {
        match result {
            Ok(said) => Landed::Done(said),
            Err(why) => Landed::Failed(why),
        }
    }
}

/// Makes one planned change through the editor and answers what the model is told: landed, or
/// why not. In preview mode it is only noted (see [`land_previews`]).
pub(super) async fn land<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    task: &JobHandle,
    files: &TaskFiles,
    plan: PlannedChange,
    preview: bool,
) -> Landed {
    let doc = doc_of(&plan.path.absolute);
    let open = doc.as_ref().and_then(|d| engine.documents.snapshot(d));
    if let Some(snapshot) = &open
        && !preview
        && snapshot.rope != plan.old_text.as_str()
    {
        return Landed::Moved;
    }
    land_planned(engine, editor, task, files, plan, preview, doc, open)
        .await
        .into()
}

#[expect(
    clippy::too_many_arguments,
    reason = "land's own arguments, and what it looked up"
)]
async fn land_planned<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    task: &JobHandle,
    files: &TaskFiles,
    plan: PlannedChange,
    preview: bool,
    doc: Option<DocUri>,
    open: Option<crate::workspace::Snapshot>,
) -> Result<String, String> {
    let first_edit = files.touched().is_empty();
    if preview {
        files.note(&plan, true);
        return Ok(format!(
            "{}; it is shown to the user for confirmation when the task ends",
            plan.summary()
        ));
    }
    match (doc, open) {
        (Some(doc), Some(snapshot)) => {
            let (part, earlier) = files.note(&plan, false);
            let handle =
                converge_into(engine, task, doc.clone(), &snapshot, &plan, part, &earlier)?;
            files.set_part(&plan.path.absolute, handle.clone());
            let target = Target {
                doc,
                action: files.action(),
                preview: false,
            };
            tokio::select! {
                settled = settle(engine, editor, &handle, &target) => settled.map_err(|why| {
                    format!("the edit of {} did not land: {why}", plan.path.relative)
                })?,
                () = task.cancel.cancelled() => return Err("the task was cancelled".into()),
            }
            Ok(plan.summary())
        }
        _ => {
            let changes = file_changes(
                &plan.path.absolute,
                &plan.old_text,
                &plan.new_text,
                plan.created,
            );
            apply(editor, task.id, files.action(), changes, first_edit, false)
                .await
                .map_err(|why| format!("{} was not changed: {why}", plan.path.relative))?;
            files.note(&plan, false);
            Ok(plan.summary())
        }
    }
}

/// Registers (or renews) the part job that carries the task's change to an open document: a
/// session over the changed span, or over the span together with the task's earlier changes of
/// that document (through its part, or made while it was not open), whose text before the task
/// stays the one to put back.
fn converge_into(
    engine: &Arc<Engine>,
    task: &JobHandle,
    doc: DocUri,
    snapshot: &crate::workspace::Snapshot,
    plan: &PlannedChange,
    part: Option<JobHandle>,
    earlier: &Earlier,
) -> Result<JobHandle, String> {
    let (span, replacement) = changed_span(&plan.old_text, &plan.new_text);
    let earlier = match &part {
        Some(p) => engine
            .jobs
            .with_session(p.id, |s| (s.region(), s.original().to_owned())),
        // Changed while it was not open: the part covers those changes too. They are found in
        // what the task wrote, then followed through what the user typed since.
        None if earlier.original != earlier.written => {
            let (was, now) = changed_span(&earlier.original, &earlier.written);
            let end = was.start + now.chars().count();
            let start = map_through(&earlier.written, &plan.old_text, was.start);
            let end = map_through(&earlier.written, &plan.old_text, end).max(start);
            let chars: Vec<char> = earlier.original.chars().collect();
            Some((Region::new(start, end), chars[was].iter().collect()))
        }
        None => None,
    };
    let rope = &snapshot.rope;
    let Some((before, earlier_original)) = earlier else {
        let mut session =
            StreamSession::new(rope, snapshot.version, Region::new(span.start, span.end));
        session.set_desired(&replacement);
        return engine
            .jobs
            .start_part(task.id, doc, session)
            .map_err(|e| e.to_string());
    };
    let start = before.start.min(span.start);
    let end = before.end.max(span.end).min(rope.len_chars());
    let mut original = rope.slice(start..before.start.max(start)).to_string();
    original.push_str(&earlier_original);
    original.push_str(&rope.slice(before.end.min(end)..end).to_string());
    let mut desired = rope.slice(start..span.start).to_string();
    desired.push_str(&replacement);
    desired.push_str(&rope.slice(span.end..end).to_string());
    let mut session =
        StreamSession::new(rope, snapshot.version, Region::new(start, end)).with_original(original);
    session.set_desired(&desired);
    match part {
        Some(part) => engine
            .jobs
            .restart_part(part.id, session)
            .ok_or_else(|| "the document's earlier edit was forgotten".to_owned()),
        None => engine
            .jobs
            .start_part(task.id, doc, session)
            .map_err(|e| e.to_string()),
    }
}

/// The workspace edit that turns `old` into `new` in a file that is not open.
pub(super) fn file_changes(path: &Path, old: &str, new: &str, create: bool) -> Vec<Change> {
    let mut changes = Vec::new();
    if create {
        changes.push(Change::CreateFile {
            path: path.to_path_buf(),
        });
    }
    let (span, text) = changed_span(old, new);
    if !span.is_empty() || !text.is_empty() {
        changes.push(Change::Text(TextEdit {
            target: EditTarget::File {
                path: path.to_path_buf(),
            },
            rope: Rope::from_str(old),
            chars: span,
            text,
        }));
    }
    changes
}

/// Sends one workspace edit of the task and waits (bounded) for the editor's answer.
pub(super) async fn apply<E: Editor>(
    editor: &E,
    job: JobId,
    action: Action,
    changes: Vec<Change>,
    announce: bool,
    confirm: bool,
) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    let request = EditRequest {
        job,
        action,
        changes,
        confirm,
        announce,
    };
    match tokio::time::timeout(EDIT_TIMEOUT, editor.apply_edit(request)).await {
        Ok(EditAnswer::Applied) => Ok(()),
        Ok(EditAnswer::Refused(reason)) => {
            Err(reason.unwrap_or_else(|| "the editor refused the edit".into()))
        }
        Ok(EditAnswer::Stale { why, .. }) => Err(why),
        Ok(EditAnswer::Error(error)) => Err(error),
        Err(_) => Err("the editor did not answer the edit".into()),
    }
}

/// Preview mode, at the end of the task: every change in one edit the user confirms, one
/// change annotation per file. A file changed since the task read it is left out, and said.
pub(super) async fn land_previews<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    task: JobId,
    files: &TaskFiles,
) -> Result<(), String> {
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    for file in files.files.lock().iter().filter(|f| f.pending) {
        let open = doc_of(&file.path).and_then(|d| engine.documents.snapshot(&d));
        match open {
            Some(snapshot) if snapshot.rope == file.original.as_str() => {
                let (span, text) = changed_span(&file.original, &file.written);
                changes.push(Change::Text(TextEdit {
                    target: EditTarget::Open {
                        doc: snapshot.uri.clone(),
                        version: snapshot.version,
                    },
                    rope: snapshot.rope.clone(),
                    chars: span,
                    text,
                }));
            }
            Some(_) => skipped.push(file.relative.clone()),
            None => changes.extend(file_changes(
                &file.path,
                &file.original,
                &file.written,
                file.created,
            )),
        }
    }
    apply(editor, task, files.action(), changes, true, true).await?;
    if skipped.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} changed while the task ran and {} left out",
            skipped.join(", "),
            if skipped.len() == 1 { "was" } else { "were" }
        ))
    }
}

#[cfg(test)]
#[path = "task_files_tests.rs"]
mod tests;
