//! Running agent jobs: progress, the model stream, streamed versioned `workspace/applyEdit`s,
//! and `tandem/jobFinished`. Every server→client request here has a timeout; a job's panic is
//! contained and ends that job as failed.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use ropey::Rope;
use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;

use super::convert;
use super::server::State;
use crate::agent::actions::Action;
use crate::agent::jobs::{JobHandle, JobId, JobStatus};
use crate::agent::output::CodeReply;
use crate::agent::prompt::Prompt;
use crate::agent::review::parse_findings;
use crate::agent::verify::added_errors;
use crate::edits::OutgoingEdit;
use crate::model::{Message, ModelClient, ModelEvent, ModelRequest};
use crate::text::char_to_position;
use crate::workspace::DocUri;

/// The contract's bound on an edit that is neither answered nor seen in a `didChange`.
const EDIT_TIMEOUT: Duration = Duration::from_secs(10);
/// When an unanswered edit gets a nudge (see [`apply_edit`]), counted from the previous one.
const EDIT_NUDGES: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1500)];
/// How long a client may take to create a progress token.
const PROGRESS_CREATE_TIMEOUT: Duration = Duration::from_secs(5);
/// A partly written line is shown at most this often; whole lines at once.
const COALESCE: Duration = Duration::from_millis(40);
/// How many refused edits in a row end the job.
const MAX_REFUSALS: u32 = 5;

/// `tandem/jobFinished`.
pub enum JobFinished {}

impl lsp::Notification for JobFinished {
    type Params = Value;
    const METHOD: lsp::LspNotificationMethod<'static> =
        lsp::LspNotificationMethod::Custom("tandem/jobFinished");
    const MESSAGE_DIRECTION: lsp::MessageDirection = lsp::MessageDirection::ServerToClient;
}

/// Progress tokens of running jobs, so a cancelled progress cancels its job.
#[derive(Default)]
pub struct ProgressTokens {
    by_token: Mutex<HashMap<String, JobId>>,
}

impl ProgressTokens {
    pub fn job_of(&self, token: &lsp::ProgressToken) -> Option<JobId> {
        self.by_token.lock().get(&token_key(token)).copied()
    }
}

fn token_key(token: &lsp::ProgressToken) -> String {
    match token {
        lsp::ProgressToken::Int(n) => format!("i{n}"),
        lsp::ProgressToken::String(s) => format!("s{s}"),
    }
}

/// Everything a job needs, computed by the command handler before it answers `{jobId}`.
pub struct JobRequest {
    pub action: Action,
    pub uri: lsp::Uri,
    pub doc: DocUri,
    pub prompt: Prompt,
    pub work_done_token: Option<lsp::ProgressToken>,
    /// Write `\r\n` line ends: the document uses them.
    pub crlf: bool,
    /// The region's original text ends with a line end; when it does not, the model's final
    /// newline is dropped.
    pub region_ends_with_newline: bool,
    /// `edits.mode = "preview"`: one annotated edit at the end, which the user confirms.
    pub preview: bool,
    /// Tests kept in another file: the result is appended there in one edit.
    pub elsewhere: Option<crate::agent::request::TestFile>,
    /// Why no job can run (no model configured correctly): it fails at once with this.
    pub client: Result<ModelClient, String>,
}

/// How a job's work ended, before it is reported.
struct Outcome {
    status: JobStatus,
    message: Option<String>,
    result: Option<Value>,
}

impl Outcome {
    fn done(result: Value) -> Self {
        Self {
            status: JobStatus::Done,
            message: None,
            result: Some(result),
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Self {
            status: JobStatus::Failed,
            message: Some(message.into()),
            result: None,
        }
    }
}

/// Runs a job to its end: progress, work, `tandem/jobFinished`. Spawn it.
pub async fn run(state: Arc<State>, handle: JobHandle, request: JobRequest) {
    let id = handle.id;
    let action = request.action;
    let uri = request.uri.clone();
    let progress = Progress::begin(&state, id, request.work_done_token.clone(), action).await;
    let work = AssertUnwindSafe(work(&state, &handle, &request, &progress))
        .catch_unwind()
        .await;
    let outcome = match work {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = super::server::panic_message(panic.as_ref());
            tracing::error!(job = id, action = action.name(), "job panicked: {what}");
            // Take back what it streamed, as for any failure.
            rollback(&state, &handle, &request).await;
            Outcome::failed(format!("internal error in tandem: {what}"))
        }
    };
    state.jobs.finish(id, outcome.status);
    progress
        .end(
            &state,
            outcome
                .message
                .as_deref()
                .unwrap_or(outcome.status.as_str()),
        )
        .await;
    let mut params = json!({
        "jobId": id,
        "action": action.name(),
        "uri": uri.as_str(),
        "status": outcome.status.as_str(),
    });
    if let Some(message) = &outcome.message {
        params["message"] = json!(message);
    }
    if let Some(result) = outcome.result {
        params["result"] = result;
    }
    tracing::info!(
        job = id,
        action = action.name(),
        status = outcome.status.as_str(),
        message = outcome.message.as_deref().unwrap_or(""),
        "job finished"
    );
    state.client.send_notification::<JobFinished>(params).await;
}

async fn work(
    state: &Arc<State>,
    handle: &JobHandle,
    request: &JobRequest,
    progress: &Progress,
) -> Outcome {
    let client = match &request.client {
        Ok(client) => client,
        Err(why) => return Outcome::failed(why.clone()),
    };
    let model_request = ModelRequest {
        system: Some(request.prompt.system.clone()),
        messages: vec![Message::user(request.prompt.user.clone())],
        max_output_tokens: None,
    };
    if let Some(file) = &request.elsewhere {
        return write_elsewhere(
            state,
            handle,
            request,
            client,
            &model_request,
            progress,
            file,
        )
        .await;
    }
    if !request.action.edits() {
        let reply = match answer(state, handle, client, &model_request, progress).await {
            Ok(reply) => reply,
            Err(ended) => return ended,
        };
        if request.action == Action::Review {
            return review(state, request, &reply).await;
        }
        return Outcome::done(json!({"markdown": reply}));
    }
    rewrite(state, handle, request, client, model_request, progress).await
}

/// Review: the model's findings become diagnostics (source `tandem`), each with quick fixes.
async fn review(state: &Arc<State>, request: &JobRequest, reply: &str) -> Outcome {
    let Some(snapshot) = state.workspace.snapshot(&request.doc) else {
        return Outcome::failed("the document was closed");
    };
    let lines = u32::try_from(snapshot.rope.len_lines()).unwrap_or(u32::MAX);
    match parse_findings(reply, lines) {
        Ok(findings) => {
            let count = findings.len();
            state
                .findings
                .replace(&request.doc, &snapshot.rope, findings);
            super::diagnostics::publish_now(state, &request.doc).await;
            Outcome::done(json!({"findings": count}))
        }
        Err(error) => Outcome::failed(error.to_string()),
    }
}

/// Tests kept in another file (Go, Python, JavaScript, TypeScript): the model's code is appended
/// to that file, created when missing, in one `workspace/applyEdit` (the file may not be open,
/// so there is no `didChange` to stream against; the editor's answer is what we have).
async fn write_elsewhere(
    state: &Arc<State>,
    handle: &JobHandle,
    request: &JobRequest,
    client: &ModelClient,
    model_request: &ModelRequest,
    progress: &Progress,
    file: &crate::agent::request::TestFile,
) -> Outcome {
    let reply = match answer(state, handle, client, model_request, progress).await {
        Ok(reply) => reply,
        Err(ended) => return ended,
    };
    let mut code = CodeReply::new();
    code.push(&reply);
    let mut code = code.finish();
    if code.trim().is_empty() {
        return Outcome::failed("the model answered no test code");
    }
    let Ok(uri) = lsp::Uri::from_file_path(&file.path) else {
        return Outcome::failed(format!(
            "{} is not a path an editor can open",
            file.path.display()
        ));
    };
    let existing = Rope::from_str(&file.existing);
    if file.exists && !file.existing.is_empty() && !file.existing.ends_with('\n') {
        code.insert(0, '\n');
    }
    if file.exists && !file.existing.is_empty() {
        code.insert(0, '\n');
    }
    let end = convert::lsp_position(char_to_position(
        &existing,
        existing.len_chars(),
        state.encoding(),
    ));
    let mut changes = Vec::new();
    if !file.exists {
        changes.push(lsp::DocumentChange::CreateFile(lsp::CreateFile {
            uri: uri.clone(),
            options: Some(lsp::CreateFileOptions {
                overwrite: Some(false),
                ignore_if_exists: Some(true),
            }),
            annotation_id: None,
        }));
    }
    changes.push(lsp::DocumentChange::TextDocumentEdit(
        lsp::TextDocumentEdit {
            text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                version: None,
                text_document_identifier: lsp::TextDocumentIdentifier { uri: uri.clone() },
            },
            edits: vec![lsp::Edit::TextEdit(lsp::TextEdit {
                range: lsp::Range { start: end, end },
                new_text: code.clone(),
            })],
        },
    ));
    let params = lsp::ApplyWorkspaceEditParams {
        label: Some(request.action.edit_label()),
        edit: lsp::WorkspaceEdit {
            document_changes: Some(changes),
            ..Default::default()
        },
        metadata: None,
    };
    let answer = apply_edit(state.as_ref(), params).await;
    match answer {
        Ok(Ok(result)) if result.applied => {
            let lines = u32::try_from(code.lines().count()).unwrap_or(u32::MAX);
            Outcome::done(
                json!({"uri": uri.as_str(), "range": {"start": end, "end": {"line": end.line + lines, "character": 0}}}),
            )
        }
        Ok(Ok(result)) => Outcome::failed(format!(
            "the editor did not write {}: {}",
            file.path.display(),
            result
                .failure_reason
                .unwrap_or_else(|| "it refused the edit".into())
        )),
        Ok(Err(error)) => Outcome::failed(format!(
            "the editor did not write {}: {error}",
            file.path.display()
        )),
        Err(_) => Outcome::failed("the editor did not answer the edit"),
    }
}

/// The model's whole answer, with progress as it grows (explain, review, tests kept elsewhere:
/// nothing is streamed into a document), or the outcome that ended the job.
async fn answer(
    state: &Arc<State>,
    handle: &JobHandle,
    client: &ModelClient,
    model_request: &ModelRequest,
    progress: &Progress,
) -> Result<String, Outcome> {
    let mut stream = client.stream(model_request, handle.cancel.child_token());
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event {
            ModelEvent::TextDelta(delta) => {
                text.push_str(&delta);
                progress
                    .report(state, &format!("{} characters", text.chars().count()))
                    .await;
            }
            ModelEvent::Usage(_) => {}
            ModelEvent::Finished { .. } => {
                state.endpoint_health.ok(&client.endpoint().base_url);
                return Ok(text);
            }
            ModelEvent::Error(error) => {
                note_failure(state, handle, client, &error.to_string());
                return Err(stopped(state, handle, error.to_string()));
            }
        }
    }
    Err(Outcome::failed("the model stream ended without finishing"))
}

/// Remembers that the endpoint failed (not when the job was cancelled: that is no news about it).
fn note_failure(state: &Arc<State>, handle: &JobHandle, client: &ModelClient, why: &str) {
    if !handle.cancel.is_cancelled() {
        state
            .endpoint_health
            .failed(&client.endpoint().base_url, why.to_owned());
    }
}

/// The outcome of a job stopped by an error or a cancel: cancelled when it was cancelled (with
/// the reason someone gave), failed otherwise.
fn stopped(state: &Arc<State>, handle: &JobHandle, error: String) -> Outcome {
    match state.jobs.stop_reason(handle.id) {
        Some((reason, true)) => Outcome::failed(reason),
        Some((reason, false)) => Outcome {
            status: JobStatus::Cancelled,
            message: Some(reason),
            result: None,
        },
        None if handle.cancel.is_cancelled() => Outcome {
            status: JobStatus::Cancelled,
            message: Some("cancelled".into()),
            result: None,
        },
        None => Outcome::failed(error),
    }
}

/// The region-rewriting actions: stream the model's code into the region, verify it, and ask
/// once more when it added syntax errors.
async fn rewrite(
    state: &Arc<State>,
    handle: &JobHandle,
    request: &JobRequest,
    client: &ModelClient,
    mut model_request: ModelRequest,
    progress: &Progress,
) -> Outcome {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let code = match stream_code(state, handle, request, client, &model_request, progress).await
        {
            Ok(code) => code,
            Err(error) => {
                let outcome = stopped(state, handle, error);
                // A job stopped because the user typed inside keeps the buffer as it is.
                let user_inside = state
                    .jobs
                    .with_session(handle.id, |s| s.user_edited_inside())
                    .unwrap_or(false);
                if !user_inside {
                    rollback(state, handle, request).await;
                }
                return outcome;
            }
        };
        if let Err(error) = settle(state, handle, request).await {
            rollback(state, handle, request).await;
            return stopped(state, handle, error);
        }
        let errors = check(state, handle, request);
        if errors.is_empty() || attempt >= 2 {
            let region = region_range(state, handle, request);
            let message = (!errors.is_empty())
                .then(|| format!("the result still has syntax errors: {}", errors.join("; ")));
            return Outcome {
                status: JobStatus::Done,
                message,
                result: Some(json!({ "range": region })),
            };
        }
        // Self-correction: show the model its errors once.
        progress
            .report(state, "fixing syntax errors in the result")
            .await;
        model_request
            .messages
            .push(Message::assistant(format!("```\n{code}```")));
        model_request
            .messages
            .push(Message::user(crate::agent::prompt::correction(&errors)));
    }
}

/// Streams one model answer into the region. Returns the final code once the editor's text
/// shows it (or an error message).
async fn stream_code(
    state: &Arc<State>,
    handle: &JobHandle,
    request: &JobRequest,
    client: &ModelClient,
    model_request: &ModelRequest,
    progress: &Progress,
) -> Result<String, String> {
    let mut stream = client.stream(model_request, handle.cancel.child_token());
    let mut reply = CodeReply::new();
    let mut shown = 0;
    let mut last_update = tokio::time::Instant::now();
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(ModelEvent::TextDelta(delta)) => {
                    if reply.push(&delta) && !request.preview {
                        // Coalesce: whole lines as they complete, and the line being written at
                        // most every COALESCE, so the editor is not sent an edit per token.
                        let so_far = reply.code_so_far();
                        let whole_lines = so_far.rfind('\n').map_or("", |i| &so_far[..=i]);
                        let visible = if last_update.elapsed() >= COALESCE { so_far } else { whole_lines };
                        if visible.len() > shown {
                            shown = visible.len();
                            last_update = tokio::time::Instant::now();
                            let code = shape(request, visible, false);
                            state.jobs.with_session(handle.id, |s| s.set_desired(&code));
                            progress.report(state, &format!("{} lines written", code.lines().count())).await;
                            pump(state, handle, request);
                        }
                    }
                }
                Some(ModelEvent::Usage(_)) => {}
                Some(ModelEvent::Finished { .. }) => {
                    state.endpoint_health.ok(&client.endpoint().base_url);
                    let code = shape(request, &reply.finish(), true);
                    state.jobs.with_session(handle.id, |s| s.set_desired(&code));
                    pump(state, handle, request);
                    return Ok(code);
                }
                Some(ModelEvent::Error(error)) => {
                    note_failure(state, handle, client, &error.to_string());
                    return Err(error.to_string());
                }
                None => return Err("the model stream ended without finishing".into()),
            },
            () = handle.wake.notified() => pump(state, handle, request),
        }
    }
}

/// The model's code as the region should hold it: the document's line ends, and no final
/// newline where the region had none.
fn shape(request: &JobRequest, code: &str, last: bool) -> String {
    // While streaming, the final newline may still be followed by more code: keep it.
    crate::agent::output::fit_to_region(
        code,
        !last || request.region_ends_with_newline,
        request.crlf,
    )
}

/// Waits until the editor's text shows the desired text in the region. Fails when the job is
/// cancelled, or when an edit is neither answered nor seen for too long, or refused too often.
async fn settle(
    state: &Arc<State>,
    handle: &JobHandle,
    request: &JobRequest,
) -> Result<(), String> {
    let mut awaiting_since: Option<tokio::time::Instant> = None;
    loop {
        pump(state, handle, request);
        let settled = state
            .jobs
            .with_session(handle.id, |s| s.is_settled())
            .unwrap_or(true);
        if settled {
            return Ok(());
        }
        if handle.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        if !state.workspace.is_open(&request.doc) {
            return Err("the document was closed".into());
        }
        if state
            .jobs
            .with_session(handle.id, |s| s.user_edited_inside())
            .unwrap_or(false)
        {
            return Err("you edited inside the region".into());
        }
        // After a refusal the session waits for the editor's newer text; that wait has the
        // contract's deadline too.
        let awaiting = state
            .jobs
            .with_session(handle.id, |s| s.awaiting_change())
            .unwrap_or(false);
        awaiting_since = if awaiting {
            awaiting_since.or(Some(tokio::time::Instant::now()))
        } else {
            None
        };
        if awaiting_since.is_some_and(|since| since.elapsed() >= EDIT_TIMEOUT) {
            return Err(
                "the editor refused the edit and did not report its text afterwards".into(),
            );
        }
        let refused = state
            .jobs
            .with_session(handle.id, |s| s.failed_attempts())
            .unwrap_or(0);
        if refused >= MAX_REFUSALS {
            return Err(format!(
                "the editor refused the edit {refused} times; the document kept changing under it"
            ));
        }
        tokio::select! {
            () = handle.wake.notified() => {}
            () = handle.cancel.cancelled() => {}
            () = tokio::time::sleep(if awaiting { EDIT_TIMEOUT } else { EDIT_TIMEOUT + Duration::from_secs(1) }) => {
                // An edit's own timeout resolves it; a refusal's wait is checked above.
            }
        }
    }
}

/// Takes back everything the job streamed: the region gets its original text again, the user's
/// typing outside it kept. Bounded: a client that does not cooperate cannot hold the job.
async fn rollback(state: &Arc<State>, handle: &JobHandle, request: &JobRequest) {
    // The user typed inside the region: their text stays. An editor that stopped answering will
    // not apply an undo either.
    let user_inside = state
        .jobs
        .with_session(handle.id, |s| s.user_edited_inside())
        .unwrap_or(false);
    let unresponsive = matches!(state.jobs.stop_reason(handle.id), Some((_, true)));
    if user_inside || unresponsive || !state.workspace.is_open(&request.doc) {
        return;
    }
    if state
        .jobs
        .with_session(handle.id, |s| s.rollback())
        .is_none()
    {
        return;
    }
    // Cancelled jobs still put the text back: use a fresh token for the edits.
    let undo = JobHandle {
        id: handle.id,
        cancel: tokio_util::sync::CancellationToken::new(),
        wake: handle.wake.clone(),
    };
    let bounded = tokio::time::timeout(EDIT_TIMEOUT * 2, settle(state, &undo, request)).await;
    if !matches!(bounded, Ok(Ok(()))) {
        tracing::warn!(
            job = handle.id,
            "could not confirm that the job's text was taken back"
        );
    }
}

/// Puts a finished job's original text back (`tandem.reject`). Returns when the editor shows it.
pub async fn reject(
    state: &Arc<State>,
    handle: &JobHandle,
    request: &JobRequest,
) -> Result<(), String> {
    state
        .jobs
        .with_session(handle.id, |s| s.reject())
        .ok_or("the job has no edit to take back")?;
    match tokio::time::timeout(EDIT_TIMEOUT * 2, settle(state, handle, request)).await {
        Ok(result) => result,
        Err(_) => Err("the editor did not apply the edit that puts the original text back".into()),
    }
}

/// Syntax errors the job's text added inside its region.
fn check(state: &Arc<State>, handle: &JobHandle, _request: &JobRequest) -> Vec<String> {
    let Some(snapshot) = state.workspace.snapshot(&_request.doc) else {
        return Vec::new();
    };
    let Some((original, region)) = state
        .jobs
        .with_session(handle.id, |s| (s.original().to_owned(), s.region()))
    else {
        return Vec::new();
    };
    let rope = &snapshot.rope;
    let start = region.start.min(rope.len_chars());
    let end = region.end.clamp(start, rope.len_chars());
    let mut before = rope.clone();
    before.remove(start..end);
    before.insert(start, &original);
    let bytes = rope.char_to_byte(start)..rope.char_to_byte(end);
    added_errors(snapshot.language, &before, rope, &bytes)
}

/// The job's region as it now stands, as an LSP range.
fn region_range(state: &Arc<State>, handle: &JobHandle, request: &JobRequest) -> Value {
    let Some(snapshot) = state.workspace.snapshot(&request.doc) else {
        return Value::Null;
    };
    let Some(region) = state.jobs.with_session(handle.id, |s| s.region()) else {
        return Value::Null;
    };
    let encoding = state.encoding();
    let start = convert::lsp_position(char_to_position(&snapshot.rope, region.start, encoding));
    let end = convert::lsp_position(char_to_position(&snapshot.rope, region.end, encoding));
    json!({"start": start, "end": end})
}

/// Sends the job's next edit, if it has one and no other edit is in flight in the document.
fn pump(state: &Arc<State>, handle: &JobHandle, request: &JobRequest) {
    if state.jobs.other_in_flight(handle.id) {
        return;
    }
    let Some(snapshot) = state.workspace.snapshot(&request.doc) else {
        return;
    };
    let edit = state
        .jobs
        .with_session(handle.id, |s| s.next_edit(&snapshot.rope, snapshot.version))
        .flatten();
    if let Some(edit) = edit {
        let sent = Sent {
            uri: request.uri.clone(),
            doc: request.doc.clone(),
            action: request.action,
            preview: request.preview,
        };
        tokio::spawn(send_edit(
            state.clone(),
            handle.clone(),
            sent,
            edit,
            snapshot.rope,
        ));
    }
}

/// Sends one versioned edit and feeds the answer (or its absence) back to the session.
/// Where an edit goes and how it is labelled.
struct Sent {
    uri: lsp::Uri,
    doc: DocUri,
    action: Action,
    preview: bool,
}

/// The change annotation of preview edits.
const PREVIEW_ANNOTATION: &str = "tandem";

async fn send_edit(
    state: Arc<State>,
    handle: JobHandle,
    sent: Sent,
    edit: OutgoingEdit,
    rope: Rope,
) {
    let Sent {
        uri,
        doc,
        action,
        preview,
    } = sent;
    let encoding = state.encoding();
    let range = lsp::Range {
        start: convert::lsp_position(char_to_position(&rope, edit.start, encoding)),
        end: convert::lsp_position(char_to_position(&rope, edit.end, encoding)),
    };
    let text_edit = lsp::TextEdit {
        range,
        new_text: edit.text.clone(),
    };
    let params = lsp::ApplyWorkspaceEditParams {
        label: Some(action.edit_label()),
        edit: lsp::WorkspaceEdit {
            document_changes: Some(vec![lsp::DocumentChange::TextDocumentEdit(
                lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                        version: Some(edit.version),
                        text_document_identifier: lsp::TextDocumentIdentifier { uri },
                    },
                    edits: vec![if preview {
                        lsp::Edit::AnnotatedTextEdit(lsp::AnnotatedTextEdit {
                            annotation_id: PREVIEW_ANNOTATION.into(),
                            text_edit,
                        })
                    } else {
                        lsp::Edit::TextEdit(text_edit)
                    }],
                },
            )]),
            change_annotations: preview.then(|| {
                HashMap::from([(
                    PREVIEW_ANNOTATION.to_owned(),
                    lsp::ChangeAnnotation {
                        label: action.edit_label(),
                        needs_confirmation: Some(true),
                        description: Some(format!("The model's proposal for `{}`", action.name())),
                    },
                )])
            }),
            ..Default::default()
        },
        metadata: None,
    };
    let answer = apply_edit(state.as_ref(), params).await;
    match answer {
        Ok(Ok(result)) => {
            if !result.applied && preview {
                // In preview the user is asked: a declined edit ends the job.
                let _ = state
                    .jobs
                    .cancel(handle.id, Some("you declined the edit".into()));
            }
            if !result.applied {
                tracing::debug!(
                    job = handle.id,
                    reason = result.failure_reason.as_deref().unwrap_or(""),
                    "edit refused"
                );
            }
            state
                .jobs
                .on_apply_answer(handle.id, edit.id, result.applied);
        }
        Ok(Err(error)) => {
            tracing::warn!(job = handle.id, "applyEdit failed: {error}");
            state.jobs.on_apply_answer(handle.id, edit.id, false);
        }
        Err(_) => {
            // No answer. If the editor's text showed the edit (Vim's ALE applies and never
            // answers), the job goes on; if not, it fails.
            if !state.jobs.on_answer_timeout(handle.id, edit.id) {
                tracing::warn!(
                    job = handle.id,
                    "the editor did not answer the edit within {EDIT_TIMEOUT:?}"
                );
                state
                    .jobs
                    .fail(handle.id, "the editor did not answer the edit".into());
            }
        }
    }
    handle.wake.notify_one();
    state.jobs.wake_document(&doc);
}

/// Sends one `workspace/applyEdit`, waiting at most the contract's bound for the answer.
///
/// While it waits, a `window/logMessage` (type Log) goes out after [`EDIT_NUDGES`]: clients that
/// read a burst of frames and stop at a reply their code was waiting for (Emacs 28's jsonrpc
/// throws out of its process filter there) leave the edit's request unread until more bytes
/// arrive, so the server sends some.
async fn apply_edit(
    state: &State,
    params: lsp::ApplyWorkspaceEditParams,
) -> Result<
    tower_lsp_server::jsonrpc::Result<lsp::ApplyWorkspaceEditResult>,
    tokio::time::error::Elapsed,
> {
    let request = state
        .client
        .send_request::<lsp::ApplyWorkspaceEditRequest>(params);
    let nudges = async {
        for delay in EDIT_NUDGES {
            tokio::time::sleep(delay).await;
            state
                .client
                .log_message(
                    lsp::MessageType::Log,
                    "tandem: waiting for the editor to answer workspace/applyEdit",
                )
                .await;
        }
        std::future::pending::<()>().await;
    };
    tokio::time::timeout(EDIT_TIMEOUT, async {
        tokio::select! {
            biased;
            answer = request => answer,
            () = nudges => unreachable!("the nudges never end"),
        }
    })
    .await
}

/// A job's progress: the client's token, or one we create; cancellable. Creating a token is a
/// request to the client: it runs beside the job's work, never before it.
pub struct Progress {
    token: Arc<tokio::sync::OnceCell<Option<lsp::ProgressToken>>>,
    created: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Progress {
    async fn begin(
        state: &Arc<State>,
        id: JobId,
        token: Option<lsp::ProgressToken>,
        action: Action,
    ) -> Self {
        let cell = Arc::new(tokio::sync::OnceCell::new());
        let title = format!("Tandem: {}", action.name());
        let task = {
            let state = state.clone();
            let cell = cell.clone();
            tokio::spawn(async move {
                let token = match token {
                    Some(token) => Some(token),
                    None if state.flags().work_done_progress => {
                        let token = lsp::ProgressToken::String(format!("tandem/job/{id}"));
                        let created = tokio::time::timeout(
                            PROGRESS_CREATE_TIMEOUT,
                            state
                                .client
                                .send_request::<lsp::WorkDoneProgressCreateRequest>(
                                    lsp::WorkDoneProgressCreateParams {
                                        token: token.clone(),
                                    },
                                ),
                        )
                        .await;
                        matches!(created, Ok(Ok(()))).then_some(token)
                    }
                    None => None,
                };
                if let Some(token) = &token {
                    state.progress.by_token.lock().insert(token_key(token), id);
                    send_progress(
                        &state,
                        token,
                        json!({"kind": "begin", "title": title, "cancellable": true}),
                    )
                    .await;
                }
                let _ = cell.set(token);
            })
        };
        Self {
            token: cell,
            created: Mutex::new(Some(task)),
        }
    }

    /// Reports progress, once the token exists (reports before that are skipped).
    async fn report(&self, state: &Arc<State>, message: &str) {
        if let Some(Some(token)) = self.token.get() {
            send_progress(state, token, json!({"kind": "report", "message": message})).await;
        }
    }

    /// Ends the progress; waits for its creation to finish first, so every begin gets its end.
    async fn end(&self, state: &Arc<State>, message: &str) {
        let task = self.created.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Some(Some(token)) = self.token.get() {
            send_progress(state, token, json!({"kind": "end", "message": message})).await;
            state.progress.by_token.lock().remove(&token_key(token));
        }
    }
}

async fn send_progress(state: &Arc<State>, token: &lsp::ProgressToken, value: Value) {
    state
        .client
        .send_notification::<lsp::ProgressNotification>(lsp::ProgressParams {
            token: token.clone(),
            value,
        })
        .await;
}
