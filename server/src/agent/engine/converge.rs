//! A rewrite's edits converging with the editor: one versioned edit at a time (the region a
//! streaming diff: the new code so far, then the old code not yet passed; `stream_code` feeds
//! it), until the editor's own text shows the result; asking once more when the result added
//! syntax errors; taking the text back on a fault, a cancel or a reject.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use super::pace::Pace;
use super::port::{
    Change, EditAnswer, EditRequest, EditTarget, Editor, JobResult, Progress, TextEdit,
};
use super::refusals::Refusals;
use super::run::{Job, Outcome, stopped};
use super::stream_code::stream_code;
use crate::agent::actions::Action;
use crate::agent::jobs::{JobHandle, JobId, JobStatus, Jobs};
use crate::agent::prompt::correction;
use crate::agent::verify::added_errors;
use crate::edits::OutgoingEdit;
use crate::model::{Message, ModelClient, ModelRequest};
use crate::workspace::DocUri;

/// The contract's bound on an edit that is neither answered nor seen in the editor's text.
pub(super) const EDIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an edit answered `applied: true` waits for its `didChange` before it is taken as
/// landed (Neovim reports ~150 ms late, Emacs' eglot 0.5 s after the last keypress)...
const NO_ECHO_GRACE: Duration = Duration::from_millis(1000);
/// ...and how long once an edit of the job was taken as landed and the editor's next report
/// did not contradict it, with an editor that applies edits without answering them.
const NO_ECHO_KNOWN: Duration = Duration::from_millis(50);

/// Where a job's edits go and how they are labelled.
#[derive(Clone)]
pub(super) struct Target {
    pub doc: DocUri,
    pub action: Action,
    pub preview: bool,
}

impl Job {
    pub(super) fn target(&self) -> Target {
        Target {
            doc: self.doc.clone(),
            action: self.action,
            preview: self.preview,
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(super) async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The region-rewriting actions: stream the model's code into the region, verify it, and ask
/// once more when it added syntax errors.
pub(super) async fn rewrite<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    job: &Job,
    client: &ModelClient,
    mut request: ModelRequest,
) -> Outcome {
    let target = job.target();
    let mut attempt = 0;
    loop {
        attempt += 1;
        // The first answer may come as blocks; a correction is always a whole rewrite.
        let code = if attempt == 1 {
            super::blocks::code(engine, editor, handle, job, client, &request).await
        } else {
            stream_code(engine, editor, handle, job, client, &request).await
        };
        let code = match code {
            Ok(code) => code,
            Err(error) => {
                let outcome = stopped(engine, handle, error);
                rollback(engine, editor, handle, &target).await;
                return outcome;
            }
        };
        if let Err(error) = settle(engine, editor, handle, &target).await {
            rollback(engine, editor, handle, &target).await;
            return stopped(engine, handle, error);
        }
        let errors = check(engine, handle.id, &job.doc).await;
        if errors.is_empty() || attempt >= 2 {
            return Outcome {
                status: JobStatus::Done,
                message: (!errors.is_empty())
                    .then(|| format!("the result still has syntax errors: {}", errors.join("; "))),
                result: region(engine, handle.id, &job.doc),
            };
        }
        // Self-correction: show the model its errors once.
        editor
            .progress(
                handle.id,
                Progress::Report("fixing syntax errors in the result"),
            )
            .await;
        request
            .messages
            .push(Message::assistant(format!("```\n{code}```")));
        request.messages.push(Message::user(correction(&errors)));
    }
}

/// Sends what is due while a stream runs (after a wake, or a refusal just retried); returns when
/// to look again, or the failure that refusals amount to.
pub(super) fn due<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    target: &Target,
    refusals: &mut Refusals,
    pace: &mut Pace,
) -> Result<Option<tokio::time::Instant>, String> {
    let look_again = refusals.check(engine, handle.id)?;
    let paced = pump(engine, editor, handle, target, Some(pace));
    Ok(earliest(look_again, paced))
}

/// The sooner of two optional deadlines.
pub(super) fn earliest(
    a: Option<tokio::time::Instant>,
    b: Option<tokio::time::Instant>,
) -> Option<tokio::time::Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Waits until the editor's text shows the desired text in the region. Fails when the job is
/// cancelled, or when an edit is neither answered nor seen for too long, or refused too often.
pub(super) async fn settle<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    target: &Target,
) -> Result<(), String> {
    let mut refusals = Refusals::default();
    loop {
        let look_again = refusals.check(engine, handle.id)?;
        pump(engine, editor, handle, target, None);
        let Some((settled, inside)) = engine
            .jobs
            .with_session(handle.id, |s| (s.is_settled(), s.user_edited_inside()))
        else {
            return Ok(());
        };
        if settled {
            return Ok(());
        }
        if handle.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        if !engine.documents.is_open(&target.doc) {
            return Err("the document was closed".into());
        }
        if inside {
            return Err("you edited inside the region".into());
        }
        tokio::select! {
            () = handle.wake.notified() => {}
            () = handle.cancel.cancelled() => {}
            () = until(look_again) => {}
            () = tokio::time::sleep(EDIT_TIMEOUT + Duration::from_secs(1)) => {
                // An edit's own timeout resolves it and wakes the job; this is a backstop.
            }
        }
    }
}

/// Takes back everything the job streamed: the region gets its original text again, the user's
/// typing outside it kept. Bounded: an editor that does not cooperate cannot hold the job.
pub(super) async fn rollback<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    target: &Target,
) {
    // The user typed inside the region: their text stays. An editor that stopped answering will
    // not apply an undo either.
    let user_inside = engine
        .jobs
        .with_session(handle.id, |s| s.user_edited_inside())
        .unwrap_or(false);
    let unresponsive = matches!(engine.jobs.stop_reason(handle.id), Some((_, true)));
    if user_inside || unresponsive || !engine.documents.is_open(&target.doc) {
        return;
    }
    if engine
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
    let bounded =
        tokio::time::timeout(EDIT_TIMEOUT * 2, settle(engine, editor, &undo, target)).await;
    if !matches!(bounded, Ok(Ok(()))) {
        tracing::warn!(
            job = handle.id,
            "could not confirm that the job's text was taken back"
        );
    }
}

/// Syntax errors the job's text added inside its region. Parsing the document twice is CPU
/// work (seconds for a huge or hostile reply): off the async threads.
async fn check(engine: &Arc<Engine>, id: JobId, doc: &DocUri) -> Vec<String> {
    let Some(snapshot) = engine.documents.snapshot(doc) else {
        return Vec::new();
    };
    let Some((original, region, (rope, _))) = engine
        .jobs
        .with_session(id, |s| (s.original().to_owned(), s.region(), s.view()))
    else {
        return Vec::new();
    };
    let language = snapshot.language;
    let errors = tokio::task::spawn_blocking(move || {
        let start = region.start.min(rope.len_chars());
        let end = region.end.clamp(start, rope.len_chars());
        let mut before = rope.clone();
        before.remove(start..end);
        before.insert(start, &original);
        let bytes = rope.char_to_byte(start)..rope.char_to_byte(end);
        added_errors(language, &before, &rope, &bytes)
    });
    // A panic in the check is a bug, not the job's failure: the result is kept unchecked.
    errors.await.unwrap_or_default()
}

/// The job's region as it now stands.
fn region(engine: &Arc<Engine>, id: JobId, doc: &DocUri) -> Option<JobResult> {
    // The session's view: the editor's text with any edits taken as landed (kak-lsp).
    let (region, (rope, version)) = engine.jobs.with_session(id, |s| (s.region(), s.view()))?;
    let len = rope.len_chars();
    Some(JobResult::Region {
        target: EditTarget::Open {
            doc: doc.clone(),
            version,
        },
        rope,
        chars: region.start.min(len)..region.end.min(len),
    })
}

/// Sends the job's next edit, if it has one and no other edit is in flight in the document.
/// While streaming, `pace` may hold it back: then when to look again.
pub(super) fn pump<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    target: &Target,
    pace: Option<&mut Pace>,
) -> Option<tokio::time::Instant> {
    if engine.jobs.other_in_flight(handle.id) {
        return None;
    }
    if let Some(at) = pace.as_ref().and_then(|p| p.not_before()) {
        return Some(at);
    }
    let snapshot = engine.documents.snapshot(&target.doc)?;
    // The edit's offsets are in the session's view: the editor's text with the edits taken as
    // landed since it last reported (see `edits::assumed`).
    let next = engine.jobs.with_session(handle.id, |s| {
        s.next_edit(&snapshot.rope, snapshot.version)
            .map(|edit| (edit, s.view().0))
    });
    if let Some((edit, rope)) = next.flatten() {
        if let Some(pace) = pace {
            pace.sent();
        }
        let request = EditRequest {
            job: handle.id,
            action: target.action,
            changes: vec![Change::Text(TextEdit {
                target: EditTarget::Open {
                    doc: target.doc.clone(),
                    version: edit.version,
                },
                rope,
                chars: edit.start..edit.end,
                text: edit.text.clone(),
            })],
            confirm: target.preview,
            announce: edit.id == 1 || target.preview,
        };
        tokio::spawn(send_edit(
            engine.clone(),
            editor.clone(),
            handle.clone(),
            target.clone(),
            edit,
            request,
        ));
    }
    None
}

/// Sends one edit and feeds the answer (or its absence) back to the session.
async fn send_edit<E: Editor>(
    engine: Arc<Engine>,
    editor: E,
    handle: JobHandle,
    target: Target,
    edit: OutgoingEdit,
    request: EditRequest,
) {
    let jobs = &engine.jobs;
    // An edit no `didChange` shows once a grace has passed counts as landed, if the editor
    // answered it (its report is late) or is known to apply edits without answering (Vim's
    // ALE reports its text only when it lints). Once one did with such an editor, the grace is
    // short; an editor that answers reports its edits, if late (Neovim ~150 ms), and keeps the
    // long one.
    let known = jobs
        .with_session(handle.id, |s| {
            s.has_taken_as_landed() && s.applies_without_answering()
        })
        .unwrap_or(false);
    let grace = tokio::time::sleep(if known { NO_ECHO_KNOWN } else { NO_ECHO_GRACE });
    let answer = tokio::time::timeout(EDIT_TIMEOUT, editor.apply_edit(request));
    tokio::pin!(grace, answer);
    let answer = tokio::select! {
        answer = &mut answer => {
            let applied = matches!(answer, Ok(EditAnswer::Applied));
            on_answer(jobs, &handle, &target, &edit, answer);
            if applied {
                handle.wake.notify_one();
                grace.await;
                take_as_landed(jobs, &handle, &edit);
            }
            None
        }
        () = &mut grace => {
            take_as_landed(jobs, &handle, &edit);
            Some(answer.await)
        }
    };
    if let Some(answer) = answer {
        on_answer(jobs, &handle, &target, &edit, answer);
    }
    handle.wake.notify_one();
    jobs.wake_document(&target.doc);
}

fn take_as_landed(jobs: &Jobs, handle: &JobHandle, edit: &OutgoingEdit) {
    if jobs.take_as_landed(handle.id, edit.id) {
        tracing::debug!(job = handle.id, edit = edit.id, "edit taken as landed");
        handle.wake.notify_one();
    }
}

/// Feeds the editor's answer to an edit (or its absence, after [`EDIT_TIMEOUT`]) to the job.
fn on_answer(
    jobs: &Jobs,
    handle: &JobHandle,
    target: &Target,
    edit: &OutgoingEdit,
    answer: Result<EditAnswer, tokio::time::error::Elapsed>,
) {
    match answer {
        Ok(EditAnswer::Applied) => jobs.on_apply_answer(handle.id, edit.id, true),
        Ok(EditAnswer::Refused(reason)) => {
            if target.preview {
                // In preview the user is asked: a declined edit ends the job.
                let _ = jobs.cancel(handle.id, Some("you declined the edit".into()));
            }
            tracing::debug!(
                job = handle.id,
                reason = reason.as_deref().unwrap_or(""),
                "edit refused"
            );
            jobs.note_refusal(handle.id, reason);
            jobs.on_apply_answer(handle.id, edit.id, false);
        }
        Ok(EditAnswer::Stale { why, have }) => {
            // The refusal is explained by text the editor has not reported yet.
            tracing::debug!(job = handle.id, "edit refused as stale: {why}");
            jobs.with_session(handle.id, |s| match have {
                Some(version) => s.editor_has(version),
                None => s.expect_newer_text(),
            });
            jobs.note_refusal(handle.id, Some(why));
            jobs.on_apply_answer(handle.id, edit.id, false);
        }
        Ok(EditAnswer::Error(error)) => {
            tracing::warn!(job = handle.id, "the edit failed: {error}");
            jobs.on_apply_answer(handle.id, edit.id, false);
        }
        Err(_) => {
            // No answer. If the editor's text showed the edit, or it was taken as landed, the
            // job goes on; if not, it fails.
            if !jobs.on_answer_timeout(handle.id, edit.id) {
                tracing::warn!(
                    job = handle.id,
                    "the editor did not answer the edit within {EDIT_TIMEOUT:?}"
                );
                jobs.fail(handle.id, "the editor did not answer the edit".into());
            }
        }
    }
}
