//! `textDocument/inlineCompletion` (LSP 3.18) and the commands that say what became of a
//! suggestion (`tandem.completion.accept`, `tandem.completion.dismiss`).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::{Error, Result};

use super::convert;
use super::server::State;
use crate::agent::{team_rules, workspace_files};
use crate::complete::{Ask, Sources};
use crate::workspace::{DocUri, Snapshot};

pub const ACCEPT: &str = "tandem.completion.accept";
pub const DISMISS: &str = "tandem.completion.dismiss";
pub const COMMANDS: [&str; 2] = [ACCEPT, DISMISS];

/// Workspace signatures sent with a request, at most.
const MAX_SIGNATURES: usize = 4;

/// Answers with at most one suggestion at the cursor, or none. Never an error for a model
/// that is down or slow: the editor would show it on every keystroke.
pub async fn inline_completion(
    state: &Arc<State>,
    params: lsp::InlineCompletionParams,
) -> Result<Option<lsp::InlineCompletionResponse>> {
    let at = params.text_document_position_params;
    let none = || Ok(Some(lsp::InlineCompletionList { items: Vec::new() }.into()));
    let (settings, route) = {
        let config = state.config.lock();
        let settings = config.settings().completion.clone();
        let route = settings.route(config.environment());
        (settings, route)
    };
    if !settings.enabled {
        return none();
    }
    let doc = convert::doc_uri(&at.text_document.uri);
    let Some(snapshot) = state.engine.documents.snapshot(&doc) else {
        return none();
    };
    let root = state.root.get().cloned().flatten();
    let path = at.text_document.uri.to_file_path().ok();
    // An ignored or secret file's text never reaches the model.
    if path
        .as_deref()
        .is_some_and(|p| workspace_files::refused(root.as_deref(), p).is_some())
    {
        return none();
    }
    let encoding = state.encoding();
    let rope = &snapshot.rope;
    let byte = convert::byte_offset(rope, at.position, encoding);
    let cursor = rope.byte_to_char(byte);
    let shown_path = path.as_deref().map(|p| {
        root.as_deref()
            .and_then(|r| p.strip_prefix(r).ok())
            .unwrap_or(p)
            .display()
            .to_string()
    });
    let ask = Ask {
        doc,
        version: snapshot.version,
        rope: snapshot.rope.clone(),
        cursor,
        language: snapshot.language,
        path: shown_path,
    };
    let sources = Found {
        state: state.clone(),
        root,
        path,
    };
    let suggestion = state
        .completer
        .suggest(ask, &settings, route, sources)
        .await;
    record(state);
    let Some(suggestion) = suggestion else {
        return none();
    };
    let position = at.position;
    let item = lsp::InlineCompletionItem {
        insert_text: suggestion.text.into(),
        filter_text: None,
        range: Some(lsp::Range::new(position, position)),
        command: Some(lsp::Command {
            title: "Tandem: suggestion accepted".into(),
            tooltip: None,
            command: ACCEPT.into(),
            arguments: Some(vec![json!({"id": suggestion.id})]),
        }),
    };
    Ok(Some(lsp::InlineCompletionList { items: vec![item] }.into()))
}

/// What the completer asks of the server once the debounce has passed.
struct Found {
    state: Arc<State>,
    root: Option<PathBuf>,
    path: Option<PathBuf>,
}

impl Sources for Found {
    async fn parsed(&self, doc: &DocUri) -> Option<Snapshot> {
        self.state.engine.documents.snapshot_with_syntax(doc).await
    }

    fn signatures(&self, names: &[String]) -> Vec<String> {
        let (Some(root), Some(path)) = (&self.root, &self.path) else {
            return Vec::new();
        };
        let index = self.state.index.lock();
        let Some(index) = index.as_ref() else {
            return Vec::new();
        };
        index
            .signatures_for(names.iter().map(String::as_str), path, MAX_SIGNATURES)
            .into_iter()
            .map(|item| {
                let shown = item.path.strip_prefix(root).unwrap_or(&item.path);
                format!("{}: {}", shown.display(), item.signature)
            })
            .collect()
    }

    fn rules(&self) -> Vec<String> {
        let (Some(root), Some(path)) = (&self.root, &self.path) else {
            return Vec::new();
        };
        let engine = &self.state.engine;
        team_rules::for_path(root, path, |file| {
            engine.open_at(file).map(|open| open.rope.to_string())
        })
        .into_iter()
        .map(|rule| rule.text)
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FateArgs {
    id: u64,
    /// The part accepted, when only part was.
    accepted_text: Option<String>,
}

/// `tandem.completion.accept {id, acceptedText?}` and `tandem.completion.dismiss {id}`.
pub fn execute(state: &State, command: &str, argument: Value) -> Result<Value> {
    let args: FateArgs = serde_json::from_value(argument)
        .map_err(|e| Error::invalid_params(format!("{command} takes {{id}}: {e}")))?;
    let known = if command == ACCEPT {
        state
            .completer
            .accepted(args.id, args.accepted_text.as_deref())
    } else {
        state.completer.dismissed(args.id)
    };
    record(state);
    Ok(json!({"known": known}))
}

/// Suggestions whose fate is known go to the learning store.
fn record(state: &State) {
    let records = state.completer.take_records();
    if records.is_empty() {
        return;
    }
    let learning = state.config.lock().settings().learn.enabled;
    if let (true, Some(store)) = (learning, state.store.get()) {
        for record in records {
            store.record_completion(record);
        }
    }
}
