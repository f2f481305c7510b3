//! The LSP handlers: state changes from notifications at once, requests guarded against panics.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use futures::FutureExt;
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::{Client, LanguageServer};

use super::{
    capabilities, code_actions, commands, convert, diagnostics, features, learning, settings,
};
use crate::agent::engine::Engine;
use crate::agent::signals::Fate;
use crate::config::{ConfigStore, Environment};
use crate::text::{PositionEncoding, SyncError};
use crate::workspace::{ChangeError, DocUri, Workspace, WorkspaceOptions};

/// What the client said about itself at `initialize` that changes how we answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientFlags {
    pub diagnostics_versions: bool,
    pub hierarchical_symbols: bool,
    pub hover_markdown: bool,
    /// The client answers `workspace/configuration`.
    pub configuration: bool,
    /// The client accepts `window/workDoneProgress/create`.
    pub work_done_progress: bool,
    /// The client resolves code actions lazily (`codeAction/resolve` for `command`).
    pub code_action_resolve: bool,
    /// The client shows `tandem/jobFinished` itself (`experimental.tandem.jobFinished`, which
    /// Tandem's own clients declare); others are told how a job ended with `showMessage`.
    pub job_finished: bool,
    /// The client prints a line for every edit it applies (Emacs' eglot): a job's edits are
    /// spaced out so that one job fits on a screen (see `capabilities::logs_edits`).
    pub logs_edits: bool,
}

/// Server state shared by the handlers and the background tasks.
pub struct State {
    pub client: Client,
    /// The open documents, the jobs and the endpoint's health: what the job engine works with.
    pub engine: Arc<Engine>,
    pub progress: super::progress::ProgressTokens,
    /// The workspace symbol index, once built.
    pub index: parking_lot::Mutex<Option<crate::agent::index::SymbolIndex>>,
    /// The model client of the endpoint in force, kept so its connections are reused.
    model_client: parking_lot::Mutex<Option<(String, crate::model::ModelClient)>>,
    /// The context sizes of the last prompt sent, for `tandem.status`.
    pub last_prompt: parking_lot::Mutex<Option<crate::agent::prompt::ContextSizes>>,
    /// Review findings per document.
    pub findings: crate::agent::findings::Findings,
    /// Inline completion: its cache, the request in flight, what became of its suggestions.
    pub completer: Arc<crate::complete::Completer>,
    /// Hover explanations, cached by item text and model.
    pub explanations: Arc<crate::agent::explanations::Explanations>,
    /// The ACP agent behind jobs when `model.provider` is `acp`, once one was started.
    pub acp: Arc<crate::agent::engine::AcpAgents<super::jobs::LspEditor>>,
    /// The workspace's learning store, opened at `initialized` when there is a root.
    pub store: OnceLock<crate::learn::Store>,
    /// Held while the model is asked for a rule: one request at a time. Holds the corrections
    /// (their signals) the model found no new rule in since the last proposal.
    pub proposing: tokio::sync::Mutex<std::collections::HashSet<i64>>,
    /// Becomes true once the index is built (or known not to be built: no workspace root).
    pub index_ready: tokio::sync::watch::Sender<bool>,
    /// The settings in force and their layers. Held only for short synchronous sections.
    pub config: parking_lot::Mutex<ConfigStore>,
    /// The workspace root, from `initialize`.
    pub root: OnceLock<Option<std::path::PathBuf>>,
    encoding: OnceLock<PositionEncoding>,
    flags: OnceLock<ClientFlags>,
    shutdown_requested: AtomicBool,
}

impl State {
    pub fn encoding(&self) -> PositionEncoding {
        self.encoding.get().copied().unwrap_or_default()
    }

    pub fn flags(&self) -> ClientFlags {
        self.flags.get().copied().unwrap_or_default()
    }

    /// A client for the endpoint the settings name now: the same one while they do not change.
    pub fn model_client(&self) -> std::result::Result<crate::model::ModelClient, String> {
        let endpoint = self.config.lock().endpoint();
        // `Debug` leaves the key out; the key comes from the environment, which does not change.
        let key = format!("{endpoint:?}");
        let mut cached = self.model_client.lock();
        if let Some((have, client)) = cached.as_ref()
            && *have == key
        {
            return Ok(client.clone());
        }
        let client = crate::model::ModelClient::new(endpoint).map_err(|e| e.to_string())?;
        *cached = Some((key, client.clone()));
        Ok(client)
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }
}

pub struct Backend {
    state: Arc<State>,
}

impl Backend {
    /// Builds the server and starts its background tasks (they need a Tokio runtime).
    pub fn new(client: Client) -> Self {
        let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
        let workspace = Workspace::new(WorkspaceOptions::default(), events_tx);
        let state = Arc::new(State {
            client,
            engine: Arc::new(Engine::new(workspace)),
            progress: super::progress::ProgressTokens::default(),
            index: parking_lot::Mutex::new(None),
            index_ready: tokio::sync::watch::Sender::new(false),
            explanations: Arc::default(),
            acp: Arc::default(),
            completer: Arc::default(),
            store: OnceLock::new(),
            proposing: tokio::sync::Mutex::default(),
            findings: crate::agent::findings::Findings::default(),
            model_client: parking_lot::Mutex::new(None),
            last_prompt: parking_lot::Mutex::new(None),
            config: parking_lot::Mutex::new(ConfigStore::new(Environment::from_process())),
            root: OnceLock::new(),
            encoding: OnceLock::new(),
            flags: OnceLock::new(),
            shutdown_requested: AtomicBool::new(false),
        });
        tokio::spawn(diagnostics::publish_syntax_errors(
            Arc::downgrade(&state),
            events_rx,
        ));
        Self { state }
    }

    /// `window/workDoneProgress/cancel` (the framework has no handler for it).
    pub async fn work_done_progress_cancel(&self, params: lsp::WorkDoneProgressCancelParams) {
        guard_sync("window/workDoneProgress/cancel", None, || {
            commands::cancel_progress(&self.state, &params.token);
        });
    }

    /// The transport refused a `didChange` it could not decode (see `transport::LOST_CHANGE`):
    /// the document lags the editor now, so it is marked out of sync, and the user told once.
    pub async fn lost_change(&self, params: LostChangeParams) {
        let mut desync = None;
        guard_sync(super::transport::LOST_CHANGE, Some(&params.uri), || {
            let uri = convert::doc_uri(&params.uri);
            if self.state.engine.mark_out_of_sync(&uri) == Some(true) {
                tracing::warn!(%uri, version = params.version, "document out of sync: a change could not be decoded");
                desync = Some(format!(
                    "Tandem: {uri} is out of sync (its change to version {} could not be decoded). Close and reopen it, or send its full text.",
                    params.version
                ));
            }
        });
        if let Some(message) = desync {
            let client = self.state.client.clone();
            tokio::spawn(async move {
                client.log_message(lsp::MessageType::Warning, message).await;
            });
        }
    }

    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Test hook: a request that panics, to prove a panic is contained. Only registered when
    /// `TANDEM_TEST_HOOKS=1` is set in the server's environment.
    pub async fn test_panic(&self, _params: serde_json::Value) -> Result<serde_json::Value> {
        guard("tandem/testPanic", None, async {
            panic!("deliberate panic requested by a test");
        })
        .await
    }
}

/// The params of `transport::LOST_CHANGE`.
#[derive(serde::Deserialize)]
pub struct LostChangeParams {
    pub uri: lsp::Uri,
    pub version: i32,
}

/// Runs a request handler, turning a panic into an internal error that names the method and
/// the document, so one bad request never takes the server down.
pub async fn guard<T>(
    method: &str,
    uri: Option<&lsp::Uri>,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            let doc = uri.map_or("-", |u| u.as_str());
            tracing::error!(method, document = doc, "handler panicked: {what}");
            Err(Error {
                code: ErrorCode::InternalError,
                message: format!("tandem: internal error in {method} ({doc}): {what}").into(),
                data: None,
            })
        }
    }
}

/// The same for notifications, whose work is synchronous: a panic is logged and dropped.
fn guard_sync(method: &str, uri: Option<&lsp::Uri>, work: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(work)) {
        let doc = uri.map_or("-", |u| u.as_str());
        tracing::error!(
            method,
            document = doc,
            "handler panicked: {}",
            panic_message(panic.as_ref())
        );
    }
}

use crate::agent::engine::panic_message;

impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        guard("initialize", None, async {
            let caps = &params.capabilities;
            let encoding = convert::negotiate_encoding(
                caps.general
                    .as_ref()
                    .and_then(|g| g.position_encodings.as_deref()),
            );
            let _ = self.state.encoding.set(encoding);
            let mut flags = capabilities::client_flags(caps);
            flags.logs_edits = capabilities::logs_edits(&params);
            let _ = self.state.flags.set(flags);
            let root = settings::workspace_root(&params);
            let (store, mut messages) =
                ConfigStore::load(Environment::from_process(), root.as_deref());
            *self.state.config.lock() = store;
            if let Some(options) = params.initialization_options.clone() {
                messages.extend(self.state.config.lock().set_initialization_options(options));
            }
            let _ = self.state.root.set(root);
            settings::report(&self.state, messages);
            tracing::info!(
                client = params
                    .client_info
                    .as_ref()
                    .map_or("unknown", |c| c.name.as_str()),
                ?encoding,
                "initialize"
            );
            Ok(capabilities::initialize_result(encoding))
        })
        .await
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        settings::pull(&self.state);
        commands::index_workspace(&self.state);
        learning::open_store(&self.state);
        // The token counter's vocabulary (about 50 MB) is not built here: a task builds it in
        // the background when it starts and waits for it only once its conversation may be
        // over budget, and a job's usage is estimated with it off the async threads.
    }

    async fn did_save(&self, params: lsp::DidSaveTextDocumentParams) {
        let uri = params.text_document.uri;
        guard_sync("textDocument/didSave", Some(&uri), || {
            let doc = convert::doc_uri(&uri);
            self.state.engine.did_save(&doc);
            if let (Some(snapshot), Ok(path)) = (
                self.state.engine.documents.snapshot(&doc),
                uri.to_file_path(),
            ) {
                commands::reindex_file(&self.state, path, snapshot.rope);
            }
        });
    }

    async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> Result<Option<Vec<lsp::CodeActionResponse>>> {
        let uri = params.text_document.uri.clone();
        guard(
            "textDocument/codeAction",
            Some(&uri),
            code_actions::code_actions(&self.state, params),
        )
        .await
    }

    async fn code_action_resolve(&self, params: lsp::CodeAction) -> Result<lsp::CodeAction> {
        guard("codeAction/resolve", None, async {
            Ok(code_actions::resolve(params))
        })
        .await
    }

    async fn execute_command(
        &self,
        params: lsp::ExecuteCommandParams,
    ) -> Result<Option<serde_json::Value>> {
        guard(
            "workspace/executeCommand",
            None,
            commands::execute(&self.state, params),
        )
        .await
    }

    async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
        let mut ask = false;
        guard_sync("workspace/didChangeConfiguration", None, || {
            // A client that sends `null` (or nothing for our section) wants to be asked.
            let settings = params.settings;
            let has_ours = settings.as_object().is_some_and(|o| !o.is_empty());
            if has_ours {
                let messages = self.state.config.lock().set_client_configuration(settings);
                settings::report(&self.state, messages);
            } else {
                ask = true;
            }
        });
        if ask {
            settings::pull(&self.state);
        }
    }

    async fn shutdown(&self) -> Result<()> {
        self.state.shutdown_requested.store(true, Ordering::SeqCst);
        tracing::info!("shutdown requested");
        learning::flush(&self.state).await;
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let item = params.text_document;
        guard_sync("textDocument/didOpen", Some(&item.uri), || {
            let uri = convert::doc_uri(&item.uri);
            self.state.engine.documents.open(
                uri,
                item.language_id.as_str(),
                item.version,
                &item.text,
            );
        });
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        let doc = params.text_document;
        let uri_lsp = doc.text_document_identifier.uri;
        let mut desync = None;
        guard_sync("textDocument/didChange", Some(&uri_lsp), || {
            let uri = convert::doc_uri(&uri_lsp);
            let changes: Vec<_> = params
                .content_changes
                .into_iter()
                .map(convert::text_change)
                .collect();
            let encoding = self.state.encoding();
            if tracing::enabled!(tracing::Level::DEBUG) {
                tracing::debug!(%uri, version = doc.version, "didChange {changes:?}");
            }
            match self
                .state
                .engine
                .did_change(&uri, doc.version, &changes, encoding)
            {
                Ok(applied) => {
                    let fixed = self.state.findings.on_did_change(&uri, &applied.changes);
                    for finding in &fixed {
                        super::rules::record_finding(
                            &self.state,
                            &uri,
                            finding,
                            Fate::Accepted,
                            None,
                        );
                    }
                }
                Err(ChangeError::NotOpen) => {
                    tracing::warn!(%uri, "didChange for a document that is not open; ignored");
                }
                Err(ChangeError::OutOfSync(err @ SyncError::OutOfSync { .. })) => {
                    // Already told the user when it went out of sync; do not repeat per keystroke.
                    tracing::debug!(%uri, version = doc.version, "change ignored: {err}");
                }
                Err(ChangeError::OutOfSync(err)) => {
                    tracing::warn!(%uri, version = doc.version, "document out of sync: {err}");
                    desync = Some(format!(
                        "Tandem: {} is out of sync ({err}). Close and reopen it, or send its full text.",
                        uri
                    ));
                }
            }
        });
        // Telling the user is the only awaited work, after the state change above.
        if let Some(message) = desync {
            let client = self.state.client.clone();
            tokio::spawn(async move {
                client.log_message(lsp::MessageType::Warning, message).await;
            });
        }
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        let uri_lsp = params.text_document.uri;
        let uri: DocUri = convert::doc_uri(&uri_lsp);
        let mut was_open = false;
        guard_sync("textDocument/didClose", Some(&uri_lsp), || {
            was_open = self.state.engine.did_close(&uri);
            self.state.completer.closed(&uri);
        });
        if was_open {
            // Clear what we published: the client keeps diagnostics of closed files otherwise.
            let client = self.state.client.clone();
            tokio::spawn(async move {
                client.publish_diagnostics(uri_lsp, Vec::new(), None).await;
            });
        }
    }

    async fn hover(&self, params: lsp::HoverParams) -> Result<Option<lsp::Hover>> {
        let at = params.text_document_position_params;
        guard(
            "textDocument/hover",
            Some(&at.text_document.uri),
            features::hover(&self.state, &at.text_document.uri, at.position),
        )
        .await
    }

    async fn inline_completion(
        &self,
        params: lsp::InlineCompletionParams,
    ) -> Result<Option<lsp::InlineCompletionResponse>> {
        let uri = params
            .text_document_position_params
            .text_document
            .uri
            .clone();
        guard(
            "textDocument/inlineCompletion",
            Some(&uri),
            super::completion::inline_completion(&self.state, params),
        )
        .await
    }

    async fn document_symbol(
        &self,
        params: lsp::DocumentSymbolParams,
    ) -> Result<Option<lsp::DocumentSymbolResponse>> {
        let uri = params.text_document.uri;
        guard(
            "textDocument/documentSymbol",
            Some(&uri),
            features::document_symbols(&self.state, &uri),
        )
        .await
    }
}
