//! A job from its start to its announced end: progress, the work, panics contained, and the
//! actions that do not stream into a region (explain, review, tests kept in another file).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use ropey::Rope;

use super::Engine;
use super::converge::{rewrite, rollback};
use super::port::{
    Change, EditAnswer, EditRequest, EditTarget, Editor, JobReport, JobResult, Progress, TextEdit,
};
use super::task_files::{TaskFiles, doc_of};
use crate::agent::actions::Action;
use crate::agent::jobs::{JobHandle, JobId, JobStatus};
use crate::agent::output::CodeReply;
use crate::agent::prompt::Prompt;
use crate::agent::request::TestFile;
use crate::agent::review::parse_findings;
use crate::agent::signals::{Fate, Reading, Signal, WATCH};
use crate::model::{ModelClient, ModelEvent, ModelRequest};
use crate::workspace::DocUri;

/// Everything a job needs, computed before it is announced (see [`start`](super::start)).
pub struct Job {
    pub action: Action,
    pub doc: DocUri,
    pub prompt: Prompt,
    /// Write `\r\n` line ends: the document uses them.
    pub crlf: bool,
    /// The region's original text ends with a line end; when it does not, the model's final
    /// newline is dropped.
    pub region_ends_with_newline: bool,
    /// The region is long and the action changes it: the model answers with SEARCH/REPLACE
    /// blocks (see `blocks`), with a whole rewrite as the fallback.
    pub blocks: bool,
    /// `edits.mode = "preview"`: one edit at the end, which the user confirms.
    pub preview: bool,
    /// Tests kept in another file: the result is appended there in one edit.
    pub elsewhere: Option<TestFile>,
    /// Why no job can run (no model configured correctly): it fails at once with this.
    pub client: Result<ModelClient, String>,
}

/// How a job's work ended, before it is reported.
pub(super) struct Outcome {
    pub status: JobStatus,
    pub message: Option<String>,
    pub result: Option<JobResult>,
}

impl Outcome {
    pub fn done(result: JobResult) -> Self {
        Self {
            status: JobStatus::Done,
            message: None,
            result: Some(result),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            status: JobStatus::Failed,
            message: Some(message.into()),
            result: None,
        }
    }

    fn cancelled(message: String) -> Self {
        Self {
            status: JobStatus::Cancelled,
            message: Some(message),
            result: None,
        }
    }
}

/// Runs a job to its end: progress, work, [`Editor::job_finished`]. Spawn it.
pub async fn run<E: Editor>(engine: Arc<Engine>, editor: E, handle: JobHandle, mut job: Job) {
    let id = handle.id;
    // Every model call of the job (rewrites, their correction, answers) is counted here.
    let meter = crate::model::Meter::default();
    if let Ok(client) = &mut job.client {
        *client = client.metered(&meter);
    }
    let action = job.action;
    let title = format!("Tandem: {}", action.name());
    editor.progress(id, Progress::Begin { title: &title }).await;
    let work = AssertUnwindSafe(work(&engine, &editor, &handle, &job))
        .catch_unwind()
        .await;
    let outcome = match work {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            tracing::error!(job = id, action = action.name(), "job panicked: {what}");
            // Take back what it streamed, as for any failure.
            rollback(&engine, &editor, &handle, &job.target()).await;
            Outcome::failed(format!("internal error in tandem: {what}"))
        }
    };
    engine.jobs.finish(id, outcome.status);
    if outcome.status == JobStatus::Done {
        watch_result(&engine, id, &job);
    }
    let said = outcome
        .message
        .as_deref()
        .unwrap_or(outcome.status.as_str());
    editor.progress(id, Progress::End(said)).await;
    let usage = meter.total().await;
    if let Some(usage) = usage {
        engine.jobs.count_usage(usage);
    }
    tracing::info!(
        job = id,
        action = action.name(),
        status = outcome.status.as_str(),
        reason = outcome.message.as_deref().unwrap_or(""),
        prompt_tokens = usage.map(|u| u.prompt_tokens),
        output_tokens = usage.map(|u| u.output_tokens),
        "job finished"
    );
    editor
        .job_finished(JobReport {
            id,
            action,
            doc: job.doc.clone(),
            status: outcome.status,
            message: outcome.message,
            result: outcome.result,
            usage,
        })
        .await;
}

/// A job that edited its region ended: its signal is recorded, and its region is read again
/// when [`WATCH`] has passed (unless a save, a close or a verdict read it first).
fn watch_result(engine: &Arc<Engine>, id: JobId, job: &Job) {
    if job.elsewhere.is_some() || !job.action.edits() || !engine.signals.recording() {
        return;
    }
    watch_edit(engine, id, job.action, &job.doc);
}

/// The documents a task (or an ACP job) changed while they were open: each part's signal is
/// recorded and read again later, as for a single job's region.
pub(super) fn watch_parts(engine: &Arc<Engine>, action: Action, files: &TaskFiles) {
    if !engine.signals.recording() {
        return;
    }
    for (path, part) in files.with_parts() {
        if let Some(doc) = doc_of(&path) {
            watch_edit(engine, part, action, &doc);
        }
    }
}

/// Records the signal of job `id`'s region in `doc`, and reads it again when [`WATCH`] has
/// passed (unless a save, a close or a verdict read it first).
fn watch_edit(engine: &Arc<Engine>, id: JobId, action: Action, doc: &DocUri) {
    let Some((before, agent)) = engine
        .jobs
        .with_session(id, |s| (s.original().to_owned(), s.desired().to_owned()))
    else {
        return;
    };
    let (path, language) = engine.describe(doc);
    engine.signals.job_edited(
        doc.clone(),
        Signal {
            job_id: id,
            action,
            language,
            path,
            before,
            agent,
            fate: Fate::Pending,
            reason: None,
            kept: None,
        },
    );
    let engine = engine.clone();
    tokio::spawn(async move {
        tokio::time::sleep(WATCH).await;
        engine.read_fate(id, Reading::WatchOver);
    });
}

/// What a panic carried, in words.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

async fn work<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    job: &Job,
) -> Outcome {
    let client = match &job.client {
        Ok(client) => client,
        Err(why) => return Outcome::failed(why.clone()),
    };
    let rewrites = job.action.edits() && job.elsewhere.is_none();
    let request = ModelRequest {
        system: Some(job.prompt.system.clone()),
        messages: vec![job.prompt.message()],
        max_output_tokens: None,
        tools: Vec::new(),
        // The region as it is, sent where the endpoint takes a prediction of the answer.
        prediction: job.prompt.prediction.clone().filter(|_| rewrites),
    };
    if !rewrites {
        let reply = match answer(engine, editor, handle, client, &request).await {
            Ok(reply) => reply,
            Err(ended) => return ended,
        };
        return match (&job.elsewhere, job.action) {
            (Some(file), _) => write_elsewhere(editor, handle, job, file, &reply).await,
            (None, Action::Review) => review(engine, editor, job, &reply).await,
            (None, _) => Outcome::done(JobResult::Markdown(reply)),
        };
    }
    rewrite(engine, editor, handle, job, client, request).await
}

/// The model's whole answer, with progress as it grows (nothing is streamed into a document),
/// or the outcome that ended the job.
async fn answer<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    client: &ModelClient,
    request: &ModelRequest,
) -> Result<String, Outcome> {
    let mut stream = client.stream(request, handle.cancel.child_token());
    let mut text = String::new();
    let mut lines = 0;
    let mut reported = super::Reported::default();
    while let Some(event) = stream.next().await {
        match event {
            ModelEvent::TextDelta(delta) => {
                text.push_str(&delta);
                // Lines counted in the delta: the whole text grows, and reading it again each
                // time would be quadratic.
                let more = delta.matches('\n').count();
                lines += more;
                if more > 0 && reported.due() {
                    let report = super::lines(lines, "received");
                    editor.progress(handle.id, Progress::Report(&report)).await;
                }
            }
            // An answer offers no tools, so no call can come.
            ModelEvent::Usage(_) | ModelEvent::ToolCall(_) => {}
            ModelEvent::Finished { .. } => {
                engine.health.ok(&client.endpoint().base_url);
                return Ok(text);
            }
            ModelEvent::Error(error) => {
                note_failure(engine, handle, client, &error.to_string());
                return Err(stopped(engine, handle, error.to_string()));
            }
        }
    }
    Err(Outcome::failed("the model stream ended without finishing"))
}

/// Remembers that the endpoint failed (not when the job was cancelled: that is no news about it).
pub(super) fn note_failure(
    engine: &Arc<Engine>,
    handle: &JobHandle,
    client: &ModelClient,
    why: &str,
) {
    if !handle.cancel.is_cancelled() {
        engine
            .health
            .failed(&client.endpoint().base_url, why.to_owned());
    }
}

/// The outcome of a job stopped by an error or a cancel: cancelled when it was cancelled (with
/// the reason someone gave), failed otherwise.
pub(super) fn stopped(engine: &Arc<Engine>, handle: &JobHandle, error: String) -> Outcome {
    match engine.jobs.stop_reason(handle.id) {
        Some((reason, true)) => Outcome::failed(reason),
        Some((reason, false)) => Outcome::cancelled(reason),
        None if handle.cancel.is_cancelled() => Outcome::cancelled("cancelled".into()),
        None => Outcome::failed(error),
    }
}

/// Review: the model's findings are shown on the document.
async fn review<E: Editor>(engine: &Arc<Engine>, editor: &E, job: &Job, reply: &str) -> Outcome {
    let Some(snapshot) = engine.documents.snapshot(&job.doc) else {
        return Outcome::failed("the document was closed");
    };
    let lines = u32::try_from(snapshot.rope.len_lines()).unwrap_or(u32::MAX);
    match parse_findings(reply, lines) {
        Ok(findings) => {
            let count = findings.len();
            editor
                .show_findings(&job.doc, &snapshot.rope, findings)
                .await;
            Outcome::done(JobResult::Findings(count))
        }
        Err(error) => Outcome::failed(error.to_string()),
    }
}

/// Tests kept in another file (Go, Python, JavaScript, TypeScript): the model's code is appended
/// to that file, created when missing, in one edit (the file may not be open, so there is no
/// reported text to stream against; the editor's answer is what we have).
async fn write_elsewhere<E: Editor>(
    editor: &E,
    handle: &JobHandle,
    job: &Job,
    file: &TestFile,
    reply: &str,
) -> Outcome {
    let mut code = CodeReply::new();
    code.push(reply);
    let mut code = code.finish();
    if code.trim().is_empty() {
        return Outcome::failed("the model answered no test code");
    }
    if file.exists && !file.existing.is_empty() {
        // One blank line between what was there and the new tests.
        let sep = if file.existing.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        code.insert_str(0, sep);
    }
    let existing = Rope::from_str(&file.existing);
    let end = existing.len_chars();
    let target = EditTarget::File {
        path: file.path.clone(),
    };
    let mut changes = Vec::new();
    if !file.exists {
        changes.push(Change::CreateFile {
            path: file.path.clone(),
        });
    }
    changes.push(Change::Text(TextEdit {
        target: target.clone(),
        rope: existing.clone(),
        chars: end..end,
        text: code.clone(),
    }));
    let request = EditRequest {
        job: handle.id,
        action: job.action,
        changes,
        confirm: job.preview,
        announce: true,
    };
    let answer = tokio::time::timeout(super::converge::EDIT_TIMEOUT, editor.apply_edit(request));
    let failed = |why: &str| {
        Outcome::failed(format!(
            "the editor did not write {}: {why}",
            file.path.display()
        ))
    };
    match answer.await {
        Ok(EditAnswer::Applied) => {
            let mut written = existing;
            written.insert(end, &code);
            let chars = end..written.len_chars();
            Outcome::done(JobResult::Region {
                target,
                rope: written,
                chars,
            })
        }
        Ok(EditAnswer::Refused(reason)) => {
            failed(reason.as_deref().unwrap_or("it refused the edit"))
        }
        Ok(EditAnswer::Stale { why, .. }) => failed(&why),
        Ok(EditAnswer::Error(error)) => failed(&error),
        Err(_) => Outcome::failed("the editor did not answer the edit"),
    }
}
