//! Jobs on the LSP edge when `model.provider` is `acp`: an action or a task becomes a job of
//! the ACP agent (see `agent::engine::acp_job`), on the one agent the server keeps; its
//! permission questions become `window/showMessageRequest`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::Result;

use super::commands::invalid;
use super::jobs::LspEditor;
use super::server::State;
use crate::agent::actions::Action;
use crate::agent::engine::{self, AcpInput, Question};
use crate::config::Settings;
use crate::workspace::Snapshot;

/// What an action or a task asks the agent for.
pub struct AcpRequest<'a> {
    pub action: Action,
    pub instruction: Option<&'a str>,
    pub diagnostics: &'a [String],
    /// The document and the selection (bytes).
    pub at: Option<(&'a Snapshot, Option<Range<usize>>)>,
}

/// Starts the job and answers `{jobId}` at once.
pub fn start(
    state: &Arc<State>,
    settings: &Settings,
    request: AcpRequest,
    token: Option<lsp::ProgressToken>,
) -> Result<Value> {
    // The session's cwd: the workspace, else the file's folder.
    let root = state.root.get().cloned().flatten().or_else(|| {
        let (snapshot, _) = request.at.as_ref()?;
        let path = url::Url::parse(&snapshot.uri).ok()?.to_file_path().ok()?;
        path.parent().map(std::path::Path::to_path_buf)
    });
    let root = root.ok_or_else(|| invalid("an ACP agent needs a workspace folder: open one"))?;
    let (handle, job) = engine::start_acp(
        &state.engine,
        AcpInput {
            action: request.action,
            instruction: request.instruction,
            diagnostics: request.diagnostics,
            root: &root,
            at: request.at,
            settings,
        },
    )
    .map_err(invalid)?;
    let id = handle.id;
    if let Some(token) = token {
        state.progress.use_client_token(id, token);
    }
    tokio::spawn(engine::run_acp(
        state.engine.clone(),
        LspEditor(state.clone()),
        state.acp.clone(),
        handle,
        job,
    ));
    Ok(json!({"jobId": id}))
}

/// `window/showMessageRequest` with the answers as its actions. A client that cannot answer
/// (an error) is told, in a message, that the question was answered for it.
pub async fn ask(state: &State, question: Question) -> Option<usize> {
    let actions = question
        .choices
        .iter()
        .map(|choice| lsp::MessageActionItem {
            title: choice.clone(),
            properties: HashMap::new(),
        })
        .collect();
    let asked = state
        .client
        .show_message_request(lsp::MessageType::Warning, &question.message, Some(actions))
        .await;
    match asked {
        Ok(Some(item)) => question.choices.iter().position(|c| *c == item.title),
        Ok(None) => None,
        Err(error) => {
            let said = format!(
                "{}: answered \"reject\" for you, as the editor cannot answer questions ({})",
                question.message, error.message
            );
            state
                .client
                .show_message(lsp::MessageType::Warning, said)
                .await;
            None
        }
    }
}
