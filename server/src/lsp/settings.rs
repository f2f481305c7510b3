//! Settings from the client: the workspace root, `initializationOptions`,
//! `workspace/didChangeConfiguration` and `workspace/configuration` (section `tandem`), merged by
//! `config::ConfigStore`; problems reported to the user in words.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::gen_lsp_types as lsp;

use super::server::State;
use crate::config::{ConfigMessage, Severity};

/// How long we wait for the client to answer `workspace/configuration`.
const CONFIGURATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The workspace root: the first workspace folder, else the deprecated `rootUri`; only `file:`
/// URIs name a folder we can read.
#[expect(deprecated, reason = "rootUri is what older clients send")]
pub fn workspace_root(params: &lsp::InitializeParams) -> Option<PathBuf> {
    let folders = params
        .workspace_folders_initialize_params
        .workspace_folders
        .as_ref();
    let first = match folders {
        Some(lsp::WorkspaceFolders::WorkspaceFolderList(list)) => {
            list.first().map(|f| f.uri.clone())
        }
        _ => None,
    };
    first
        .or_else(|| params.root_uri.clone())?
        .to_file_path()
        .ok()
}

/// Tells the user about settings problems: errors in one message they see (one pop-up per
/// change, not one per mistake), warnings in the log.
pub fn report(state: &Arc<State>, messages: Vec<ConfigMessage>) {
    if messages.is_empty() {
        return;
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for message in messages {
        tracing::warn!("Tandem settings: {message}");
        match message.severity {
            Severity::Error => errors.push(message.text),
            Severity::Warning => warnings.push(message.text),
        }
    }
    let client = state.client.clone();
    tokio::spawn(async move {
        for warning in warnings {
            client
                .log_message(
                    lsp::MessageType::Warning,
                    format!("Tandem settings: {warning}"),
                )
                .await;
        }
        if !errors.is_empty() {
            let text = format!("Tandem settings: {}", errors.join(". "));
            client.show_message(lsp::MessageType::Error, text).await;
        }
    });
}

/// Asks the client for section `tandem` (when it supports `workspace/configuration`) and applies
/// the answer. Spawned: never blocks a handler.
pub fn pull(state: &Arc<State>) {
    if !state.flags().configuration {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let item = lsp::ConfigurationItem {
            scope_uri: None,
            section: Some("tandem".into()),
        };
        let answer = tokio::time::timeout(
            CONFIGURATION_TIMEOUT,
            state.client.configuration(vec![item]),
        )
        .await;
        match answer {
            Ok(Ok(mut values)) if !values.is_empty() => {
                let value = values.swap_remove(0);
                let messages = state.config.lock().set_client_configuration(value);
                report(&state, messages);
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!("workspace/configuration failed: {err}"),
            Err(_) => tracing::warn!(
                "the client did not answer workspace/configuration within {CONFIGURATION_TIMEOUT:?}"
            ),
        }
    });
}
