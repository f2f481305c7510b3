//! `tandem.task` on the LSP edge: the request becomes a task job (see `agent::engine::task`),
//! and each of its steps is announced as `tandem/jobStep`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::Result;

use super::commands::invalid;
use super::convert;
use super::jobs::LspEditor;
use super::server::State;
use crate::agent::actions::Action;
use crate::agent::engine::{self, StepReport, TaskInput};
use crate::agent::jobs::JobId;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskArgs {
    instruction: Option<String>,
    uri: Option<lsp::Uri>,
    range: Option<lsp::Range>,
}

/// `tandem/jobStep`.
pub enum JobStep {}

impl lsp::Notification for JobStep {
    type Params = Value;
    const METHOD: lsp::LspNotificationMethod<'static> =
        lsp::LspNotificationMethod::Custom("tandem/jobStep");
    const MESSAGE_DIRECTION: lsp::MessageDirection = lsp::MessageDirection::ServerToClient;
}

/// Announces one step of task `job`.
pub async fn announce_step(state: &State, job: JobId, step: &StepReport) {
    let mut params = json!({
        "jobId": job,
        "step": step.step,
        "tool": step.tool,
        "summary": step.summary,
    });
    if let Some(path) = &step.path {
        params["path"] = json!(path);
    }
    state.client.send_notification::<JobStep>(params).await;
}

/// `tandem.task {instruction, uri?, range?}`: starts the task and answers `{jobId}` at once.
pub async fn start(
    state: &Arc<State>,
    argument: Value,
    token: Option<lsp::ProgressToken>,
) -> Result<Value> {
    let args: TaskArgs = serde_json::from_value(argument)
        .map_err(|e| invalid(format!("bad argument for tandem.task: {e}")))?;
    let instruction = args.instruction.unwrap_or_default();
    let root = state
        .root
        .get()
        .cloned()
        .flatten()
        .ok_or_else(|| invalid("a task needs a workspace folder: open one"))?;
    let snapshot = match &args.uri {
        Some(uri) => Some(
            state
                .engine
                .documents
                .snapshot(&convert::doc_uri(uri))
                .ok_or_else(|| invalid(format!("{} is not open; open it first", uri.as_str())))?,
        ),
        None => None,
    };
    let encoding = state.encoding();
    let at = snapshot.as_ref().map(|snapshot| {
        let rope = &snapshot.rope;
        let range = args.range.map(|r| {
            let start = convert::byte_offset(rope, r.start, encoding);
            let end = convert::byte_offset(rope, r.end, encoding);
            start.min(end)..start.max(end)
        });
        (snapshot, range)
    });
    let settings = state.config.lock().settings().clone();
    if settings.model.acp.is_some() {
        let request = super::acp::AcpRequest {
            action: Action::Task,
            instruction: Some(&instruction),
            diagnostics: &[],
            at,
        };
        return super::acp::start(state, &settings, request, token);
    }
    let (handle, task) = engine::start_task(
        &state.engine,
        TaskInput {
            instruction: &instruction,
            root: &root,
            at,
            settings: &settings,
            client: state.model_client(),
        },
    )
    .map_err(invalid)?;
    let id = handle.id;
    if let Some(token) = token {
        state.progress.use_client_token(id, token);
    }
    tokio::spawn(engine::run_task(
        state.engine.clone(),
        LspEditor(state.clone()),
        handle,
        task,
    ));
    Ok(json!({"jobId": id}))
}
