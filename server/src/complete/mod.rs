//! Inline completion: a suggestion at the cursor, from the cache when the user is typing into
//! one, else from the model after a debounce, the previous request cancelled; what became of
//! each suggestion counted and kept for the learning store.
//!
//! Plain Rust: the LSP edge (`lsp::completion`) turns a `textDocument/inlineCompletion` into an
//! [`Ask`] and gives the [`Sources`] only it can reach.

mod block;
mod cache;
mod context;
mod fetch;
mod records;
mod shape;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use ropey::Rope;
use tokio_util::sync::CancellationToken;

use crate::agent::health::Health;
use crate::config::{CompletionRoute, CompletionSettings};
use crate::model::{FimRequest, ModelClient};
use crate::syntax::Language;
use crate::workspace::{DocUri, Snapshot};

pub use context::{Around, BUDGET, Budget, around};
pub use records::Counters;
use records::Records;

/// A request for a suggestion: the document as the editor has it and the cursor in it.
#[derive(Clone, Debug)]
pub struct Ask {
    pub doc: DocUri,
    pub version: i32,
    pub rope: Rope,
    /// The cursor, a char offset of `rope`.
    pub cursor: usize,
    pub language: Option<Language>,
    /// The file's path relative to the workspace, when it has one.
    pub path: Option<String>,
}

/// What only the caller can reach, asked once the debounce has passed.
pub trait Sources: Send + Sync + 'static {
    /// The document's text with its tree, now.
    fn parsed(&self, doc: &DocUri) -> impl Future<Output = Option<Snapshot>> + Send;
    /// Signatures from the rest of the workspace for these names (`path: signature`).
    fn signatures(&self, names: &[String]) -> Vec<String>;
    /// The team's rules for the file.
    fn rules(&self) -> Vec<String>;
}

/// A suggestion to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub id: u64,
    pub text: String,
}

/// Inline completion's state: one per server.
#[derive(Default)]
pub struct Completer {
    cache: Mutex<cache::Cache>,
    /// The request waiting on the model, cancelled by the next one.
    current: Mutex<Option<CancellationToken>>,
    records: Mutex<Records>,
    /// The completion endpoint's own health: its failures do not mark the chat model down.
    health: Health,
    client: Mutex<Option<(String, ModelClient)>>,
}

impl Completer {
    /// A suggestion for `ask`, or `None` (nothing worth showing, cancelled, the endpoint down).
    /// The future may be dropped at any time (`$/cancelRequest`): the model's stream goes with it.
    pub async fn suggest<S: Sources>(
        self: &Arc<Self>,
        ask: Ask,
        settings: &CompletionSettings,
        route: CompletionRoute,
        sources: S,
    ) -> Option<Suggestion> {
        let around = around(&ask.rope, ask.cursor, BUDGET, context::estimate_tokens);
        let hit = self
            .cache
            .lock()
            .get(&ask.doc, &around.prefix, &around.suffix);
        self.records
            .lock()
            .asked(&ask.doc, hit.as_ref().map(|h| h.continues));
        if let Some(hit) = hit {
            let id = self.records.lock().shown(&ask, &hit.text, true);
            return Some(Suggestion { id, text: hit.text });
        }
        let url = route.endpoint.base_url.clone();
        if self.health.recent_failure(&url).is_some() {
            // Known down: no request per keystroke; asked again once the backoff has passed.
            return None;
        }
        let client = self.client(&route)?;
        let cancel = CancellationToken::new();
        if let Some(older) = self.current.lock().replace(cancel.clone()) {
            older.cancel();
        }
        // Dropped with this future: the spawned work stops and its connection closes.
        let _guard = cancel.clone().drop_guard();
        let work = Work {
            ask: ask.clone(),
            around: around.clone(),
            max_tokens: settings.max_tokens,
            debounce: Duration::from_millis(settings.debounce_ms),
            route,
            client,
            sources,
            cancel: cancel.clone(),
            completer: self.clone(),
        };
        let text = tokio::spawn(work.run()).await.ok().flatten()?;
        let id = self.records.lock().shown(&ask, &text, false);
        self.cache
            .lock()
            .put(&ask.doc, &around.prefix, &around.suffix, &text, id);
        Some(Suggestion { id, text })
    }

    /// The model client for the route, kept while the route stays the same (its connections
    /// are reused).
    fn client(&self, route: &CompletionRoute) -> Option<ModelClient> {
        let e = &route.endpoint;
        let key = format!(
            "{}|{}|{}|{:?}|{}",
            e.provider.as_str(),
            e.base_url,
            e.model,
            e.api_key_env,
            e.api_key.is_some()
        );
        let mut kept = self.client.lock();
        if let Some((k, client)) = kept.as_ref()
            && *k == key
        {
            return Some(client.clone());
        }
        match ModelClient::new(route.endpoint.clone()) {
            Ok(client) => {
                *kept = Some((key, client.clone()));
                Some(client)
            }
            Err(error) => {
                tracing::warn!("inline completion: {error}");
                None
            }
        }
    }

    /// The user accepted suggestion `id`, all of it or (`accepted_text`) its first part.
    /// Returns whether it was known.
    pub fn accepted(&self, id: u64, accepted_text: Option<&str>) -> bool {
        self.records.lock().accepted(id, accepted_text)
    }

    /// Suggestion `id` was hidden without being accepted.
    pub fn dismissed(&self, id: u64) -> bool {
        self.records.lock().dismissed(id)
    }

    /// The document closed: its suggestions are forgotten.
    pub fn closed(&self, doc: &DocUri) {
        self.cache.lock().forget(doc);
        self.records.lock().closed(doc);
    }

    pub fn counters(&self) -> Counters {
        self.records.lock().counters()
    }

    /// Suggestions whose fate became known since the last call, for the learning store.
    pub fn take_records(&self) -> Vec<crate::learn::CompletionRecord> {
        self.records.lock().take()
    }
}

/// The part of a request that runs in its own task: the debounce, the syntax, the context and
/// the model.
struct Work<S> {
    ask: Ask,
    around: Around,
    max_tokens: u32,
    debounce: Duration,
    route: CompletionRoute,
    client: ModelClient,
    sources: S,
    cancel: CancellationToken,
    completer: Arc<Completer>,
}

impl<S: Sources> Work<S> {
    async fn run(self) -> Option<String> {
        let cancelled = || self.completer.records.lock().cancelled();
        tokio::select! {
            () = self.cancel.cancelled() => {
                cancelled();
                return None;
            }
            // No timer for no debounce: the timer's tick alone is a millisecond.
            () = sleep_unless_zero(self.debounce) => {}
        }
        // The text may have moved on while the debounce ran: a newer request asks for it.
        let parsed = self.sources.parsed(&self.ask.doc).await?;
        if parsed.version != self.ask.version {
            cancelled();
            return None;
        }
        let mut at = self.around.cursor.clone();
        let byte = parsed
            .rope
            .char_to_byte(self.ask.cursor.min(parsed.rope.len_chars()));
        at.block = block::begins(parsed.language, parsed.tree.as_ref(), &parsed.rope, byte);
        let names = context::names_near(&self.around.prefix, &at.line_after);
        let header = context::header(
            self.ask.language,
            self.ask.path.as_deref(),
            &self.sources.signatures(&names),
            &self.sources.rules(),
        );
        let request = FimRequest {
            prefix: format!("{header}{}", self.around.prefix),
            suffix: self.around.suffix.clone(),
            max_tokens: self.max_tokens,
            // One line: the model stops at its end.
            stop: if at.block {
                Vec::new()
            } else {
                vec!["\n".into()]
            },
            language: self.ask.language.map(|l| l.name().to_owned()),
        };
        self.completer.records.lock().model_call();
        let url = &self.route.endpoint.base_url;
        let health = &self.completer.health;
        match fetch::fetch(
            &self.client,
            self.route.fim,
            &request,
            &at,
            self.cancel.clone(),
        )
        .await
        {
            Ok(text) => {
                health.ok(url);
                (!text.is_empty()).then_some(text)
            }
            Err(fetch::Failed::Cancelled) => {
                cancelled();
                None
            }
            Err(fetch::Failed::Model(error)) => {
                // Said once per outage: the backoff keeps the next keystrokes quiet.
                tracing::warn!(url, "inline completion failed: {error}");
                health.failed(url, error.to_string());
                self.completer.records.lock().failed();
                None
            }
        }
    }
}

async fn sleep_unless_zero(debounce: Duration) {
    if !debounce.is_zero() {
        tokio::time::sleep(debounce).await;
    }
}
