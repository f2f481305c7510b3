//! Streaming a model's code into a job's region: the fenced code read as it arrives, shown in
//! the region with the old text not yet passed below it (the streaming diff), coalesced so the
//! editor is not sent an edit per token and a long reply costs no more than its size allows.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::converge::{Target, due, earliest, pump, until};
use super::pace::Pace;
use super::port::{Editor, Progress};
use super::refusals::Refusals;
use super::run::{Job, note_failure};
use super::{Engine, Reported, lines};
use crate::agent::jobs::JobHandle;
use crate::agent::output::{CodeReply, fit_to_region};
use crate::edits::StreamingDiff;
use crate::model::{ModelClient, ModelEvent, ModelRequest};

/// A partly written line is shown at most this often.
const COALESCE: Duration = Duration::from_millis(40);
/// Whole lines are shown as they complete; once the code is over [`LARGE`], at most this often:
/// each update reads the whole text so far, and a long reply arriving in a burst of small pieces
/// would make that quadratic.
const LINES_GAP: Duration = Duration::from_millis(10);
/// Code up to this size is shown line by line however fast the lines come (a function's
/// rewrite); past it, lines are shown at most every [`LINES_GAP`].
const LARGE: usize = 32 * 1024;

/// Streams one model answer into the region. Returns the final code once it is the region's
/// desired text (or an error message).
pub(super) async fn stream_code<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    job: &Job,
    client: &ModelClient,
    request: &ModelRequest,
) -> Result<String, String> {
    let target = job.target();
    // What the region holds now (the original, or the first answer when correcting it) stays
    // below the new text until the new text passes it.
    let now = engine
        .jobs
        .with_session(handle.id, |s| s.desired().to_owned())
        .unwrap_or_default();
    let mut diff = StreamingDiff::new(&now, job.crlf);
    let mut stream = client.stream(request, handle.cancel.child_token());
    let mut reply = CodeReply::new();
    let mut shown = Shown::new();
    let mut refusals = Refusals::default();
    let mut pace = Pace::new(editor.logs_edits());
    loop {
        let look_again = due(engine, editor, handle, &target, &mut refusals, &mut pace)?;
        let look_again = earliest(look_again, shown.pending);
        tokio::select! {
            () = until(look_again) => {
                if shown.pending.is_some_and(|at| at <= tokio::time::Instant::now()) {
                    show(engine, editor, handle, job, &target, &mut pace, &reply, &mut diff, &mut shown).await;
                }
            }
            event = stream.next() => match event {
                Some(ModelEvent::TextDelta(delta)) => {
                    if reply.push(&delta) && !job.preview {
                        show(engine, editor, handle, job, &target, &mut pace, &reply, &mut diff, &mut shown).await;
                    }
                }
                // A rewrite offers no tools, so no call can come.
                Some(ModelEvent::Usage(_) | ModelEvent::ToolCall(_)) => {}
                Some(ModelEvent::Finished { .. }) => {
                    engine.health.ok(&client.endpoint().base_url);
                    let code = shape(job, &reply.finish(), true);
                    engine.jobs.with_session(handle.id, |s| s.set_desired(&code));
                    // The last edit goes at once.
                    pump(engine, editor, handle, &target, None);
                    return Ok(code);
                }
                Some(ModelEvent::Error(error)) => {
                    note_failure(engine, handle, client, &error.to_string());
                    return Err(error.to_string());
                }
                None => return Err("the model stream ended without finishing".into()),
            },
            () = handle.wake.notified() => {}
        }
    }
}

/// What of the model's code the region shows, and when it may show more.
struct Shown {
    /// Bytes of the code so far that the region shows.
    len: usize,
    last_update: tokio::time::Instant,
    reported: Reported,
    /// When to show what has come since, if something waits.
    pending: Option<tokio::time::Instant>,
}

impl Shown {
    fn new() -> Self {
        Self {
            len: 0,
            last_update: tokio::time::Instant::now(),
            reported: Reported::default(),
            pending: None,
        }
    }
}

/// Shows the code so far in the region, coalesced: whole lines as they complete (past [`LARGE`],
/// at most every [`LINES_GAP`]), the line being written at most every [`COALESCE`], so the
/// editor is not sent an edit per token. What must wait is shown when `shown.pending` comes.
#[expect(
    clippy::too_many_arguments,
    reason = "the stream's state, lent for one update"
)]
async fn show<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    job: &Job,
    target: &Target,
    pace: &mut Pace,
    reply: &CodeReply,
    diff: &mut StreamingDiff,
    shown: &mut Shown,
) {
    let so_far = reply.code_so_far();
    let whole_lines = so_far.rfind('\n').map_or("", |i| &so_far[..=i]);
    let elapsed = shown.last_update.elapsed();
    let visible = if elapsed >= COALESCE {
        so_far
    } else if so_far.len() <= LARGE || elapsed >= LINES_GAP {
        whole_lines
    } else {
        ""
    };
    shown.pending = None;
    if visible.len() > shown.len {
        shown.len = visible.len();
        shown.last_update = tokio::time::Instant::now();
        let code = shape(job, visible, false);
        let view = diff.view(&code);
        engine
            .jobs
            .with_session(handle.id, |s| s.set_desired(&view));
        pump(engine, editor, handle, target, Some(pace));
        if shown.reported.due() {
            let report = lines(code.lines().count(), "written");
            editor.progress(handle.id, Progress::Report(&report)).await;
        }
    }
    if so_far.len() > shown.len {
        let gap = if whole_lines.len() > shown.len {
            LINES_GAP
        } else {
            COALESCE
        };
        shown.pending = Some(shown.last_update + gap);
    }
}

/// The model's code as the region should hold it: the document's line ends, and no final
/// newline where the region had none.
fn shape(job: &Job, code: &str, last: bool) -> String {
    // While streaming, the final newline may still be followed by more code: keep it.
    fit_to_region(code, !last || job.region_ends_with_newline, job.crlf)
}
