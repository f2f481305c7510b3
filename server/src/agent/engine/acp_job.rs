//! An action or a task run by an ACP agent (`model.provider: "acp"`): one session per job on
//! the shared agent, its prompt, its updates shown as steps, its writes landed through the
//! editor (`acp_session`), the files it wrote to disk itself found and made part of the job,
//! and accept, reject and cancel over all it changed, as for a task.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::Engine;
use super::acp_agent::AcpAgents;
use super::acp_prompt::{Ask, Place, blocks};
use super::acp_session::{SessionJob, Shown, Steps};
use super::acp_turn::Turn;
use super::across::{Ended, register_files, run_across};
use super::port::{Editor, JobReport, JobResult, Progress};
use super::task_files::{TaskFiles, doc_of};
use crate::acp::{AcpClient, PromptBlock, StopReason, TurnEnd};
use crate::agent::actions::Action;
use crate::agent::disk_snapshot::DiskSnapshot;
use crate::agent::jobs::{JobHandle, JobStatus};
use crate::agent::task::prompt::Spot;
use crate::agent::team_rules;
use crate::config::{EditMode, Settings};
use crate::model::UsageTotals;
use crate::workspace::{DocUri, Snapshot};

/// After `session/cancel`, how long the agent has to end its turn before the job ends anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(3);

/// A job for the ACP agent, in editor terms.
pub struct AcpInput<'a> {
    pub action: Action,
    /// A task's instruction, or an edit's.
    pub instruction: Option<&'a str>,
    /// The diagnostics a fix is about, in words.
    pub diagnostics: &'a [String],
    /// The workspace root (for an action without one, the file's folder): the session's cwd.
    pub root: &'a Path,
    /// The document the user stands in and the selection (bytes), when the request said.
    pub at: Option<(&'a Snapshot, Option<Range<usize>>)>,
    pub settings: &'a Settings,
}

/// A registered ACP job, ready to [`run_acp`].
pub struct AcpJob {
    action: Action,
    doc: DocUri,
    blocks: Vec<PromptBlock>,
    command: Vec<String>,
    root: PathBuf,
    timeout: Duration,
    preview: bool,
}

/// Builds the prompt and registers the job. `Err` says why it cannot start.
pub fn start_acp(engine: &Engine, input: AcpInput) -> Result<(JobHandle, AcpJob), String> {
    let Some(command) = input.settings.model.acp.clone() else {
        return Err("model.provider is not \"acp\"".into());
    };
    if input.action == Action::Task && input.instruction.is_none_or(|i| i.trim().is_empty()) {
        return Err("tandem.task needs an instruction: say what to do".into());
    }
    let root = input.root;
    let spot = input
        .at
        .as_ref()
        .and_then(|(snapshot, range)| Spot::read(root, snapshot, range.clone()));
    // A file outside the workspace is named by its absolute path.
    let named = spot.as_ref().map(|spot| {
        spot.relative
            .clone()
            .unwrap_or_else(|| spot.path.display().to_string())
    });
    let rules_at = spot
        .as_ref()
        .map_or_else(|| root.join("."), |spot| spot.path.clone());
    let team = team_rules::for_path(root, &rules_at, |file| {
        engine.open_at(file).map(|open| open.rope.to_string())
    });
    let ask = Ask {
        action: input.action,
        instruction: input.instruction,
        diagnostics: input.diagnostics,
        team: &team,
        place: spot
            .as_ref()
            .zip(named.as_deref())
            .map(|(spot, named)| Place {
                path: spot.path.clone(),
                standing: spot.standing(named),
            }),
    };
    let blocks = blocks(&ask);
    let doc = match &input.at {
        Some((snapshot, _)) => snapshot.uri.clone(),
        None => doc_of(root).ok_or("the workspace root has no URI")?,
    };
    let handle = engine
        .jobs
        .start_across_files(input.action, doc.clone())
        .map_err(|e| e.to_string())?;
    tracing::info!(
        job = handle.id,
        action = input.action.name(),
        "ACP job started"
    );
    Ok((
        handle,
        AcpJob {
            action: input.action,
            doc,
            blocks,
            command,
            root: root.to_path_buf(),
            timeout: Duration::from_millis(input.settings.agent.timeout_ms),
            preview: input.settings.edits.mode == EditMode::Preview,
        },
    ))
}

/// Runs an ACP job to its announced end. Spawn it.
pub async fn run_acp<E: Editor>(
    engine: Arc<Engine>,
    editor: E,
    agents: Arc<AcpAgents<E>>,
    handle: JobHandle,
    job: AcpJob,
) {
    let id = handle.id;
    let files = register_files(&engine, id, job.action);
    let usage = Mutex::new(None);
    let work = work(&engine, &editor, &agents, &handle, &job, &files, &usage);
    let (status, message, answer) =
        run_across(&engine, &editor, id, &files, job.preview, work).await;
    let usage = usage.into_inner();
    if let Some(usage) = usage {
        engine.jobs.count_usage(usage);
    }
    tracing::info!(job = id, status = status.as_str(), "ACP job finished");
    let touched = files.touched();
    let result = answer.map(|markdown| {
        if touched.is_empty() && !job.action.edits() {
            JobResult::Markdown(markdown)
        } else {
            JobResult::Task {
                markdown,
                files: touched,
            }
        }
    });
    editor
        .job_finished(JobReport {
            id,
            action: job.action,
            doc: job.doc.clone(),
            status,
            message,
            result,
            usage,
        })
        .await;
}

async fn work<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    agents: &AcpAgents<E>,
    handle: &JobHandle,
    job: &AcpJob,
    files: &Arc<TaskFiles>,
    usage: &Mutex<Option<UsageTotals>>,
) -> Ended {
    let program = job.command.first().cloned().unwrap_or_default();
    // Steps are shown in order by one forwarder, so that nothing waits on the editor.
    let (queue, mut shown) = tokio::sync::mpsc::unbounded_channel();
    let steps = Arc::new(Steps::new(queue));
    let shower = {
        let editor = editor.clone();
        let id = handle.id;
        tokio::spawn(async move {
            while let Some(item) = shown.recv().await {
                match item {
                    Shown::Progress(text) => editor.progress(id, Progress::Report(&text)).await,
                    Shown::Step(step) => {
                        let words = match &step.path {
                            Some(path) => format!("{}: {path}", step.summary),
                            None => step.summary.clone(),
                        };
                        editor.progress(id, Progress::Report(&words)).await;
                        editor.job_step(id, &step).await;
                    }
                }
            }
        })
    };
    let ended = converse(
        engine, editor, agents, handle, job, files, usage, &steps, &program,
    )
    .await;
    drop(steps);
    let _ = shower.await;
    let (status, message, answer) = ended;
    (status, message, answer)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the job's parts, passed down from `work`"
)]
async fn converse<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    agents: &AcpAgents<E>,
    handle: &JobHandle,
    job: &AcpJob,
    files: &Arc<TaskFiles>,
    usage: &Mutex<Option<UsageTotals>>,
    steps: &Arc<Steps>,
    program: &str,
) -> Ended {
    let failed = |why: String| (JobStatus::Failed, Some(why), None);
    let cancelled = || {
        let reason = engine.jobs.stop_reason(handle.id).map(|(r, _)| r);
        (
            JobStatus::Cancelled,
            Some(reason.unwrap_or_else(|| "cancelled".into())),
            None,
        )
    };
    steps.progress(format!("asking {program}"));
    // A session on the running agent; one that died since is started again, once.
    let mut attempt = 0;
    let (client, mut session) = loop {
        attempt += 1;
        let started = tokio::select! {
            started = agents.client(&job.command, &job.root) => started,
            () = handle.cancel.cancelled() => return cancelled(),
        };
        let client = match started {
            Ok(client) => client,
            Err(error) => return failed(error.to_string()),
        };
        let session = tokio::select! {
            session = client.new_session() => session,
            () = handle.cancel.cancelled() => return cancelled(),
        };
        match session {
            Ok(session) => break (client, session),
            Err(_) if attempt == 1 && client.exit_status().is_some() => {}
            Err(error) => return failed(error.to_string()),
        }
    };
    let disk = {
        let root = job.root.clone();
        tokio::task::spawn_blocking(move || DiskSnapshot::take(&root))
            .await
            .ok()
    };
    let read_only = (!job.action.edits()).then(|| {
        format!(
            "tandem.{} changes no file: answer in words",
            job.action.name()
        )
    });
    let host = Arc::new(SessionJob::new(
        engine.clone(),
        editor.clone(),
        handle.clone(),
        job.root.clone(),
        files.clone(),
        job.preview,
        read_only,
        client.name().to_owned(),
        steps.clone(),
    ));
    agents.join(&session.id, host.clone());
    // From here on the agent is named as it calls itself.
    let program = client.name();
    let mut turn = Turn::new(&host, disk);
    let prompt = client.prompt(&session.id, job.blocks.clone());
    tokio::pin!(prompt);
    let deadline = tokio::time::sleep(job.timeout);
    tokio::pin!(deadline);
    let end = loop {
        tokio::select! {
            end = &mut prompt => break Some(end),
            Some(update) = session.updates.recv() => turn.on(update).await,
            () = handle.cancel.cancelled() => {
                stop(&client, &session.id, &mut prompt).await;
                break None;
            }
            () = &mut deadline => {
                stop(&client, &session.id, &mut prompt).await;
                let said = format!(
                    "{program} did not finish within {} s (agent.timeoutMs)",
                    job.timeout.as_secs()
                );
                turn.settle(&mut session.updates).await;
                end_session(agents, &client, &session.id);
                return if files.touched().is_empty() {
                    failed(said)
                } else {
                    let said = format!("{said}; what it changed is kept for you to accept or reject");
                    (JobStatus::Done, Some(said.clone()), Some(said))
                };
            }
        }
    };
    turn.settle(&mut session.updates).await;
    end_session(agents, &client, &session.id);
    let Some(end) = end else {
        return cancelled();
    };
    let TurnEnd { stop, usage: used } = match end {
        Ok(end) => end,
        Err(error) => return failed(error.to_string()),
    };
    *usage.lock() = used.map(|u| UsageTotals {
        prompt_tokens: u.input,
        cached_prompt_tokens: None,
        output_tokens: u.output,
    });
    let answer = Some(turn.answer().trim().to_owned()).filter(|a| !a.is_empty());
    let answer = answer.unwrap_or_else(|| format!("({program} said nothing.)"));
    match stop {
        StopReason::EndTurn => (JobStatus::Done, None, Some(answer)),
        StopReason::MaxTokens | StopReason::MaxTurnRequests => {
            let said = format!("{program} stopped before it was done (it reached its own limit)");
            (JobStatus::Done, Some(said), Some(answer))
        }
        StopReason::Refusal => failed(format!("{program} refused: {answer}")),
        StopReason::Cancelled => cancelled(),
    }
}

/// The job is done with its session: its requests are no longer answered, and the agent may
/// free it (not waited for).
fn end_session<E: Editor>(agents: &AcpAgents<E>, client: &Arc<AcpClient>, session: &str) {
    agents.leave(session);
    let (client, session) = (client.clone(), session.to_owned());
    tokio::spawn(async move { client.close(&session).await });
}

/// Cancels the turn and waits a little for the agent to end it.
async fn stop<F: Future>(client: &AcpClient, session: &str, prompt: &mut std::pin::Pin<&mut F>) {
    if let Err(error) = client.cancel(session) {
        tracing::warn!("{error}");
    }
    let _ = tokio::time::timeout(CANCEL_GRACE, prompt.as_mut()).await;
}
