//! The agent's LSP surface: `workspace/executeCommand` (`tandem.*`), and cancelling a job's
//! progress (the code actions that offer the commands are `code_actions`). Each action command answers `{jobId}` at once and runs the
//! job in the background.

use std::path::PathBuf;
use std::sync::Arc;

use ropey::Rope;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};

use super::convert;
use super::jobs::LspEditor;
use super::server::State;
use crate::agent::actions::Action;
use crate::agent::engine::{self, JobInput};
use crate::agent::jobs::Verdict;
use crate::agent::signals::{Fate, Reading};

/// The actions this server runs today; `tests` and `review` are not offered yet.
pub const ACTIONS: [Action; 7] = [
    Action::Review,
    Action::Tests,
    Action::Explain,
    Action::Fix,
    Action::Implement,
    Action::Document,
    Action::Edit,
];

/// Every command, as advertised in `executeCommandProvider`.
pub fn command_names() -> Vec<String> {
    let mut names: Vec<String> = ACTIONS.iter().map(|a| a.command()).collect();
    names.extend(
        [
            "tandem.dismiss",
            "tandem.accept",
            "tandem.reject",
            "tandem.cancel",
            "tandem.status",
            "tandem.task",
        ]
        .map(String::from),
    );
    names.extend(super::rules::COMMANDS.map(String::from));
    names.extend(super::completion::COMMANDS.map(String::from));
    names
}

/// How long an action waits for the workspace index still being built.
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionArgs {
    uri: lsp::Uri,
    range: Option<lsp::Range>,
    position: Option<lsp::Position>,
    instruction: Option<String>,
    #[serde(default)]
    diagnostics: Vec<lsp::Diagnostic>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DismissArgs {
    uri: lsp::Uri,
    finding_id: u64,
    /// Why the finding is wrong, in the user's words: evidence for a rule.
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobArgs {
    job_id: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RejectArgs {
    job_id: u64,
    /// Why, in the user's words: evidence for a rule.
    reason: Option<String>,
}

/// An error answer for a request whose arguments are wrong.
pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: format!("tandem: {}", message.into()).into(),
        data: None,
    }
}

/// An error answer for a request that failed on the way.
pub(super) fn failed(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InternalError,
        message: format!("tandem: {}", message.into()).into(),
        data: None,
    }
}

/// `workspace/executeCommand`.
pub async fn execute(
    state: &Arc<State>,
    params: lsp::ExecuteCommandParams,
) -> Result<Option<Value>> {
    let command = params.command.as_str();
    let arguments = params.arguments.unwrap_or_default();
    let argument = match arguments.as_slice() {
        [one] => one.clone(),
        [] if command == "tandem.status" || command.starts_with("tandem.rules") => json!({}),
        _ => {
            return Err(invalid(format!(
                "{command} takes exactly one argument, an object"
            )));
        }
    };
    let token = params.work_done_progress_params.work_done_token;
    match command {
        "tandem.status" => Ok(Some(status(state).await)),
        "tandem.task" => super::task::start(state, argument, token).await.map(Some),
        fate if super::completion::COMMANDS.contains(&fate) => {
            super::completion::execute(state, fate, argument).map(Some)
        }
        rules if super::rules::COMMANDS.contains(&rules) => {
            super::rules::execute(state, rules, argument)
                .await
                .map(Some)
        }
        "tandem.cancel" => {
            let args: JobArgs = parse(command, argument)?;
            state
                .engine
                .jobs
                .cancel(args.job_id, Some("cancelled by tandem.cancel".into()))
                .map_err(|e| invalid(e.to_string()))?;
            Ok(Some(json!({"jobId": args.job_id})))
        }
        "tandem.dismiss" => {
            let args: DismissArgs = parse(command, argument)?;
            let doc = convert::doc_uri(&args.uri);
            let Some(finding) = state.findings.dismiss(&doc, args.finding_id) else {
                return Err(invalid(format!(
                    "there is no finding {} in {}",
                    args.finding_id,
                    args.uri.as_str()
                )));
            };
            super::rules::record_finding(state, &doc, &finding, Fate::Rejected, args.reason);
            super::diagnostics::publish_now(state, &doc).await;
            Ok(Some(json!({"findingId": args.finding_id})))
        }
        "tandem.accept" => {
            let args: JobArgs = parse(command, argument)?;
            if state.engine.tasks.lock().contains_key(&args.job_id) {
                engine::accept_task(&state.engine, args.job_id)
                    .map_err(|e| invalid(e.to_string()))?;
                return Ok(Some(json!({"jobId": args.job_id})));
            }
            state
                .engine
                .jobs
                .decide(args.job_id, Verdict::Accepted)
                .map_err(|e| invalid(e.to_string()))?;
            state.engine.read_fate(args.job_id, Reading::Accepted);
            tracing::info!(job = args.job_id, "accepted");
            Ok(Some(json!({"jobId": args.job_id})))
        }
        "tandem.reject" => {
            let args: RejectArgs = parse(command, argument)?;
            reject(state, args.job_id).await?;
            // A task's (or an ACP job's) documents were edited by its parts.
            let files = state.engine.tasks.lock().get(&args.job_id).cloned();
            for part in files.map(|f| f.parts()).unwrap_or_default() {
                state.engine.signals.rejected(part, args.reason.clone());
            }
            state.engine.signals.rejected(args.job_id, args.reason);
            Ok(Some(json!({"jobId": args.job_id})))
        }
        _ => {
            let Some(action) = command
                .strip_prefix("tandem.")
                .and_then(Action::from_name)
                .filter(|a| ACTIONS.contains(a))
            else {
                return Err(invalid(format!("unknown command {command}")));
            };
            let args: ActionArgs = parse(command, argument)?;
            start(state, action, args, token).await.map(Some)
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(command: &str, argument: Value) -> Result<T> {
    serde_json::from_value(argument)
        .map_err(|e| invalid(format!("bad argument for {command}: {e}")))
}

/// Prepares the job (target, context, prompt, session) and starts it; answers `{jobId}`.
async fn start(
    state: &Arc<State>,
    action: Action,
    args: ActionArgs,
    token: Option<lsp::ProgressToken>,
) -> Result<Value> {
    let doc = convert::doc_uri(&args.uri);
    let snapshot = state
        .engine
        .documents
        .snapshot_with_syntax(&doc)
        .await
        .ok_or_else(|| invalid(format!("{} is not open; open it first", args.uri.as_str())))?;
    let path = args.uri.to_file_path().ok();
    let root = state.root.get().cloned().flatten();
    let encoding = state.encoding();
    let rope = &snapshot.rope;
    let range = args.range.map(|r| {
        let start = convert::byte_offset(rope, r.start, encoding);
        let end = convert::byte_offset(rope, r.end, encoding);
        start.min(end)..start.max(end)
    });
    let position = args
        .position
        .map(|p| convert::byte_offset(rope, p, encoding));
    let diagnostics: Vec<String> = args
        .diagnostics
        .iter()
        .map(|d| {
            let message = match &d.message {
                lsp::Message::String(text) => text.clone(),
                lsp::Message::MarkupContent(markup) => markup.value.clone(),
            };
            format!("line {}: {message}", d.range.start.line + 1)
        })
        .collect();
    let settings = state.config.lock().settings().clone();
    if settings.model.acp.is_some() {
        let request = super::acp::AcpRequest {
            action,
            instruction: args.instruction.as_deref(),
            diagnostics: &diagnostics,
            // An action without a range is about the item at the position, or the file.
            at: Some((&snapshot, range.or(position.map(|p| p..p)))),
        };
        return super::acp::start(state, &settings, request, token);
    }
    // Right after start the workspace index may still be building: wait a little for it, so
    // the first action's prompt has the signatures too.
    let mut ready = state.index_ready.subscribe();
    let _ = tokio::time::timeout(INDEX_WAIT, ready.wait_for(|built| *built)).await;
    let started = {
        let index = state.index.lock();
        engine::start(
            &state.engine,
            JobInput {
                action,
                snapshot: &snapshot,
                range,
                position,
                instruction: args.instruction.as_deref(),
                diagnostics,
                root: root.as_deref(),
                path: path.as_deref(),
                index: index.as_ref(),
                settings: &settings,
                client: state.model_client(),
            },
        )
        .map_err(invalid)?
    };
    *state.last_prompt.lock() = Some(started.sizes);
    let id = started.handle.id;
    if let Some(token) = token {
        state.progress.use_client_token(id, token);
    }
    tokio::spawn(engine::run(
        state.engine.clone(),
        LspEditor(state.clone()),
        started.handle,
        started.job,
    ));
    Ok(json!({"jobId": id}))
}

/// `tandem.reject`: puts back exactly the text the job replaced.
async fn reject(state: &Arc<State>, id: u64) -> Result<()> {
    let editor = LspEditor(state.clone());
    let is_task = state.engine.tasks.lock().contains_key(&id);
    let rejected = if is_task {
        engine::reject_task(&state.engine, &editor, id).await
    } else {
        engine::reject(&state.engine, &editor, id).await
    };
    match rejected {
        Ok(()) => {
            tracing::info!(job = id, "rejected");
            Ok(())
        }
        Err(why) => Err(failed(why)),
    }
}

/// `tandem.status`.
async fn status(state: &State) -> Value {
    let store = super::learning::status(state).await;
    let (settings, url) = {
        let config = state.config.lock();
        (
            serde_json::to_value(config.settings()).unwrap_or(Value::Null),
            config.endpoint().base_url.clone(),
        )
    };
    let jobs: Vec<Value> = state
        .engine
        .jobs
        .summaries()
        .into_iter()
        .map(|j| {
            json!({
                "jobId": j.id,
                "action": j.action.name(),
                "uri": j.uri.as_ref(),
                "status": j.status.as_str(),
                "verdict": j.verdict.as_str(),
            })
        })
        .collect();
    json!({
        "settings": settings,
        "endpoint": {"url": url, "state": state.engine.health.state(&url)},
        "jobs": jobs,
        "counters": state.engine.jobs.counters(),
        "completion": state.completer.counters(),
        "acp": {"pid": state.acp.pid()},
        "lastPrompt": *state.last_prompt.lock(),
        "store": store,
    })
}

/// `window/workDoneProgress/cancel`: cancelling a job's progress cancels the job.
pub fn cancel_progress(state: &State, token: &lsp::ProgressToken) {
    if let Some(id) = state.progress.job_of(token) {
        let _ = state
            .engine
            .jobs
            .cancel(id, Some("cancelled from its progress".into()));
    }
}

/// Builds the workspace symbol index in the background.
pub fn index_workspace(state: &Arc<State>) {
    let Some(root) = state.root.get().cloned().flatten() else {
        state.index_ready.send_replace(true);
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        let built = tokio::task::spawn_blocking(move || {
            crate::agent::index::SymbolIndex::build(&root, 5_000)
        })
        .await;
        match built {
            Ok(index) => {
                tracing::info!(files = index.file_count(), "workspace symbol index built");
                *state.index.lock() = Some(index);
            }
            Err(err) => tracing::error!("building the symbol index failed: {err}"),
        }
        state.index_ready.send_replace(true);
    });
}

/// Keeps the index current with a saved file (not an ignored or secret one: the index feeds
/// prompts).
pub fn reindex_file(state: &Arc<State>, path: PathBuf, rope: Rope) {
    let root = state.root.get().cloned().flatten();
    if crate::agent::workspace_files::refused(root.as_deref(), &path).is_some() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        // Parsing is blocking work, and the index lock is not held while it runs.
        let scanned = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                crate::agent::index::SymbolIndex::scan(&path, &rope)
            })
            .await
        };
        if let (Ok(found), Some(index)) = (scanned, state.index.lock().as_mut()) {
            index.set_file(&path, found);
        }
    });
}
