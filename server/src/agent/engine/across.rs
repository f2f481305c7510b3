//! What the jobs across files share (tasks, and actions an ACP agent runs): their files kept
//! for accept and reject, and their end: the work's panic contained, preview edits shown, what
//! landed taken back unless done, parts finished, signals watched, progress ended.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use super::Engine;
use super::port::{Editor, Progress};
use super::run::{panic_message, watch_parts};
use super::task_files::{TaskFiles, land_previews};
use super::task_undo::take_back;
use crate::agent::actions::Action;
use crate::agent::jobs::{JobId, JobStatus};

/// How the work ended: status, message, the Markdown result.
pub(super) type Ended = (JobStatus, Option<String>, Option<String>);

/// The files job `id` will touch, kept for its accept and reject; the files of jobs that are
/// forgotten are forgotten with them.
pub(super) fn register_files(engine: &Engine, id: JobId, action: Action) -> Arc<TaskFiles> {
    let files = Arc::new(TaskFiles::for_action(action));
    let mut tasks = engine.tasks.lock();
    tasks.retain(|task, _| engine.jobs.knows(*task));
    tasks.insert(id, files.clone());
    files
}

/// Runs `work` as job `id` (progress begun and ended, a panic a failure), then ends its
/// files: shown at once in preview mode when done, taken back when not, their parts finished
/// with the job, their signals watched when done. Returns how it ended.
pub(super) async fn run_across<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    id: JobId,
    files: &TaskFiles,
    preview: bool,
    work: impl Future<Output = Ended>,
) -> Ended {
    let action = files.action();
    let title = action.edit_label();
    editor.progress(id, Progress::Begin { title: &title }).await;
    let ended = match AssertUnwindSafe(work).catch_unwind().await {
        Ok(ended) => ended,
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            tracing::error!(job = id, "{} panicked: {what}", action.name());
            let said = format!("internal error in tandem: {what}");
            (JobStatus::Failed, Some(said), None)
        }
    };
    let (status, message, markdown) = match ended {
        (JobStatus::Done, message, markdown) if preview && !files.touched().is_empty() => {
            editor
                .progress(id, Progress::Report("showing the changes for confirmation"))
                .await;
            match land_previews(engine, editor, id, files).await {
                Ok(()) => (JobStatus::Done, message, markdown),
                Err(why) => (JobStatus::Failed, Some(why), None),
            }
        }
        ended => ended,
    };
    if status != JobStatus::Done {
        // Whatever landed is taken back, as for any job that did not finish.
        if let Err(why) = take_back(engine, editor, id, files).await {
            tracing::warn!(job = id, "{why}");
        }
    }
    for part in files.parts() {
        engine.jobs.finish(part, status);
    }
    if status == JobStatus::Done {
        watch_parts(engine, action, files);
    }
    engine.jobs.finish(id, status);
    editor
        .progress(
            id,
            Progress::End(message.as_deref().unwrap_or(status.as_str())),
        )
        .await;
    (status, message, markdown)
}
