//! A large region changed by minimal edits: the model answers with SEARCH/REPLACE blocks, and
//! each one goes into the region through the converging engine as soon as it is complete;
//! when a block does not match exactly once, the region is rewritten whole after all.

use std::sync::Arc;

use futures::StreamExt;

use super::Engine;
use super::converge::{due, pump, until};
use super::pace::Pace;
use super::port::{Editor, Progress};
use super::refusals::Refusals;
use super::run::{Job, note_failure};
use super::stream_code::stream_code;
use crate::agent::jobs::JobHandle;
use crate::agent::prompt::REWRITE;
use crate::agent::search_replace::{BlockReply, INSTRUCTIONS, apply};
use crate::model::{ModelClient, ModelEvent, ModelRequest};

/// How a block answer ended.
enum Ended {
    Done(String),
    /// Why the region is rewritten whole instead.
    Fallback(String),
}

/// The region's final code: from blocks when the job asks for them (`request` is the
/// whole-rewrite request, from which the blocks request is made), else from a whole rewrite.
pub(super) async fn code<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    job: &Job,
    client: &ModelClient,
    request: &ModelRequest,
) -> Result<String, String> {
    if !job.blocks {
        return stream_code(engine, editor, handle, job, client, request).await;
    }
    match stream_blocks(
        engine,
        editor,
        handle,
        job,
        client,
        &blocks_request(request),
    )
    .await?
    {
        Ended::Done(code) => Ok(code),
        Ended::Fallback(why) => {
            tracing::info!(job = handle.id, "rewriting the whole region: {why}");
            editor
                .progress(
                    handle.id,
                    Progress::Report("a change did not match; rewriting the whole region"),
                )
                .await;
            stream_code(engine, editor, handle, job, client, request).await
        }
    }
}

/// The whole-rewrite request asking for blocks instead.
fn blocks_request(request: &ModelRequest) -> ModelRequest {
    let mut blocks = request.clone();
    blocks.system = request
        .system
        .as_ref()
        .map(|system| system.replace(REWRITE, INSTRUCTIONS));
    // The answer is blocks, not the region: the region is no prediction of it.
    blocks.prediction = None;
    blocks
}

/// Streams one block answer into the region: each complete block changes the region's desired
/// text (the region's text with the blocks so far), which the engine then sends as one
/// minimal edit.
async fn stream_blocks<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    job: &Job,
    client: &ModelClient,
    request: &ModelRequest,
) -> Result<Ended, String> {
    let target = job.target();
    let now = engine
        .jobs
        .with_session(handle.id, |s| s.desired().to_owned())
        .unwrap_or_default();
    // Blocks are matched with `\n` line ends, whatever the document's.
    let mut text = now.replace("\r\n", "\n");
    let with_line_ends = |text: &str| {
        if job.crlf {
            text.replace('\n', "\r\n")
        } else {
            text.to_owned()
        }
    };
    let mut reply = BlockReply::default();
    let mut applied = 0;
    let mut stream = client.stream(request, handle.cancel.child_token());
    let mut refusals = Refusals::default();
    let mut pace = Pace::new(editor.logs_edits());
    loop {
        let look_again = due(engine, editor, handle, &target, &mut refusals, &mut pace)?;
        tokio::select! {
            () = until(look_again) => {}
            event = stream.next() => match event {
                Some(ModelEvent::TextDelta(delta)) => {
                    let blocks = reply.push(&delta);
                    if blocks.is_empty() {
                        continue;
                    }
                    for block in blocks {
                        match apply(&text, &block) {
                            Ok(changed) => text = changed,
                            Err(why) => return Ok(Ended::Fallback(why)),
                        }
                        applied += 1;
                    }
                    if !job.preview {
                        let desired = with_line_ends(&text);
                        engine.jobs.with_session(handle.id, |s| s.set_desired(&desired));
                        pump(engine, editor, handle, &target, Some(&mut pace));
                        let report = format!(
                            "{applied} change{} applied",
                            if applied == 1 { "" } else { "s" }
                        );
                        editor.progress(handle.id, Progress::Report(&report)).await;
                    }
                }
                Some(ModelEvent::Usage(_) | ModelEvent::ToolCall(_)) => {}
                Some(ModelEvent::Finished { .. }) => {
                    engine.health.ok(&client.endpoint().base_url);
                    match reply.finish() {
                        Ok(Some(block)) => match apply(&text, &block) {
                            Ok(changed) => text = changed,
                            Err(why) => return Ok(Ended::Fallback(why)),
                        },
                        Ok(None) => {}
                        Err(why) => return Ok(Ended::Fallback(why)),
                    }
                    let code = with_line_ends(&text);
                    engine.jobs.with_session(handle.id, |s| s.set_desired(&code));
                    pump(engine, editor, handle, &target, None);
                    return Ok(Ended::Done(code));
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
