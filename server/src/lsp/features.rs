//! Answers that come from syntax alone: document symbols and the structural part of hover.

use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::convert;
use super::server::State;
use crate::agent::actions::Action;
use crate::agent::explanations::{Key, Lookup, Outcome};
use crate::agent::prompt::{self, PromptParts};
use crate::model::ModelRequest;
use crate::syntax::{self, Item, ItemKind};

/// Document symbols, computed on a blocking thread: they cost the size of the file (seconds
/// for megabytes), which must not hold the runtime's workers and so every other request. The
/// work gives up, answering `ContentModified`, as soon as the document moves on.
pub async fn document_symbols(
    state: &State,
    uri: &lsp::Uri,
) -> Result<Option<lsp::DocumentSymbolResponse>> {
    let doc_uri = convert::doc_uri(uri);
    let Some(snapshot) = state.engine.documents.snapshot_with_syntax(&doc_uri).await else {
        return Ok(None);
    };
    let (Some(language), Some(tree)) = (snapshot.language, snapshot.tree.clone()) else {
        return Ok(Some(lsp::DocumentSymbolResponse::DocumentSymbolList(
            Vec::new(),
        )));
    };
    let documents = state.engine.documents.clone();
    let encoding = state.encoding();
    let hierarchical = state.flags().hierarchical_symbols;
    let uri = uri.clone();
    let work = tokio::task::spawn_blocking(move || {
        let moved_on = || documents.version(&doc_uri) != Some(snapshot.version);
        if moved_on() {
            return None;
        }
        let rope = &snapshot.rope;
        let items = syntax::items_unless(language, &tree, rope, &moved_on)?;
        let mut left = MAX_SYMBOLS;
        let symbols = symbols(&items, rope, encoding, &mut left);
        if left == 0 {
            let all = syntax::count_items(&items);
            tracing::info!(
                uri = uri.as_str(),
                all,
                "documentSymbol: only the first {MAX_SYMBOLS} of {all} symbols sent"
            );
        }
        if hierarchical {
            return Some(lsp::DocumentSymbolResponse::DocumentSymbolList(symbols));
        }
        // Clients without hierarchical support get a flat list with container names.
        Some(lsp::DocumentSymbolResponse::SymbolInformationList(flatten(
            &symbols, &uri,
        )))
    });
    match work.await {
        Ok(Some(response)) => Ok(Some(response)),
        Ok(None) => Err(Error {
            code: ErrorCode::ContentModified,
            message: "the document changed while its symbols were computed; ask again".into(),
            data: None,
        }),
        // A panic is the request's, reported where every handler's panic is.
        Err(join) => match join.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(join) => Err(Error {
                code: ErrorCode::InternalError,
                message: format!("document symbols were not computed: {join}").into(),
                data: None,
            }),
        },
    }
}

/// The most symbols one `documentSymbol` answer holds: the first ones in document order. Past
/// this an outline is no use to anyone, and its answer (about 200 bytes a symbol) would take
/// seconds to serialize and send, holding up every answer queued behind it (a 5 MB line of
/// minified code has 625,000 functions).
const MAX_SYMBOLS: usize = 20_000;

/// `items` as symbols, in document order, while `left` lasts (each symbol takes one).
fn symbols(
    items: &[Item],
    rope: &ropey::Rope,
    encoding: crate::text::PositionEncoding,
    left: &mut usize,
) -> Vec<lsp::DocumentSymbol> {
    let mut out = Vec::new();
    for item in items {
        if *left == 0 {
            break;
        }
        *left -= 1;
        out.push(symbol(item, rope, encoding, left));
    }
    out
}

/// One item as a symbol, with as many of its children as `left` allows. Items nest at most
/// `syntax::MAX_ITEM_DEPTH` deep, so the recursion here is bounded.
fn symbol(
    item: &Item,
    rope: &ropey::Rope,
    encoding: crate::text::PositionEncoding,
    left: &mut usize,
) -> lsp::DocumentSymbol {
    let children = symbols(&item.children, rope, encoding, left);
    #[expect(
        deprecated,
        reason = "the field is required by the type; we never set it"
    )]
    lsp::DocumentSymbol {
        name: item.name.clone(),
        detail: (!item.signature.is_empty()).then(|| item.signature.clone()),
        kind: symbol_kind(item.kind),
        tags: None,
        deprecated: None,
        range: convert::lsp_range(rope, item.range.clone(), encoding),
        selection_range: convert::lsp_range(rope, item.name_range.clone(), encoding),
        children: (!children.is_empty()).then_some(children),
    }
}

/// The symbols in document order (each before its children), with their container's name.
fn flatten(symbols: &[lsp::DocumentSymbol], uri: &lsp::Uri) -> Vec<lsp::SymbolInformation> {
    let mut out = Vec::new();
    let mut stack: Vec<(&lsp::DocumentSymbol, Option<&str>)> =
        symbols.iter().rev().map(|s| (s, None)).collect();
    while let Some((s, container)) = stack.pop() {
        #[expect(
            deprecated,
            reason = "the field is required by the type; we never set it"
        )]
        out.push(lsp::SymbolInformation {
            deprecated: None,
            location: lsp::Location {
                uri: uri.clone(),
                range: s.range,
            },
            base_symbol_information: lsp::BaseSymbolInformation {
                name: s.name.clone(),
                kind: s.kind,
                tags: None,
                container_name: container.map(str::to_string),
            },
        });
        if let Some(children) = &s.children {
            stack.extend(children.iter().rev().map(|c| (c, Some(s.name.as_str()))));
        }
    }
    out
}

pub fn symbol_kind(kind: ItemKind) -> lsp::SymbolKind {
    match kind {
        ItemKind::Function => lsp::SymbolKind::Function,
        ItemKind::Method => lsp::SymbolKind::Method,
        ItemKind::Struct | ItemKind::Union => lsp::SymbolKind::Struct,
        ItemKind::Enum => lsp::SymbolKind::Enum,
        ItemKind::Trait | ItemKind::Interface => lsp::SymbolKind::Interface,
        ItemKind::Impl | ItemKind::Class => lsp::SymbolKind::Class,
        ItemKind::TypeAlias => lsp::SymbolKind::TypeParameter,
        ItemKind::Module => lsp::SymbolKind::Module,
        ItemKind::Constant => lsp::SymbolKind::Constant,
        ItemKind::Field => lsp::SymbolKind::Field,
        ItemKind::Variant => lsp::SymbolKind::EnumMember,
        ItemKind::Macro => lsp::SymbolKind::Function,
        ItemKind::Type => lsp::SymbolKind::Class,
    }
}

/// The word users know for an item's kind ("type alias", not "type_alias").
pub fn kind_word(kind: ItemKind) -> String {
    kind.as_str().replace('_', " ")
}

/// Hover's structural part: the innermost item under the cursor, its kind, signature and doc.
pub async fn hover(
    state: &State,
    uri: &lsp::Uri,
    position: lsp::Position,
) -> Result<Option<lsp::Hover>> {
    let Some(snapshot) = state
        .engine
        .documents
        .snapshot_with_syntax(&convert::doc_uri(uri))
        .await
    else {
        return Ok(None);
    };
    let (Some(language), Some(tree)) = (snapshot.language, snapshot.tree.as_ref()) else {
        return Ok(None);
    };
    let encoding = state.encoding();
    let byte = convert::byte_offset(&snapshot.rope, position, encoding);
    let items = syntax::items_around(language, tree, &snapshot.rope, byte..byte);
    let Some(item) = syntax::items_at(&items, byte).last().copied() else {
        return Ok(None);
    };
    let mut markdown = structural_markdown(item, language.name());
    let (enabled, timeout) = {
        let config = state.config.lock();
        let hover = &config.settings().hover;
        (hover.enabled, Duration::from_millis(hover.timeout_ms))
    };
    // An ignored or secret file's text never reaches the model: its hover is structural only.
    let root = state.root.get().cloned().flatten();
    let refused = uri
        .to_file_path()
        .ok()
        .and_then(|path| crate::agent::workspace_files::refused(root.as_deref(), &path));
    if enabled && state.flags().hover_markdown && refused.is_none() {
        let item_text = snapshot.rope.byte_slice(item.range.clone()).to_string();
        let note = match explanation(state, language, uri, &item_text, timeout).await {
            Some(Ok(text)) => format!("**Tandem:** {}", text.trim()),
            Some(Err(why)) => format!("*No explanation from the model: {why}*"),
            None => "*Tandem is preparing an explanation; hover again to see it.*".to_owned(),
        };
        markdown.push_str("\n\n---\n\n");
        markdown.push_str(&note);
    }
    let contents = if state.flags().hover_markdown {
        lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value: markdown,
        }
    } else {
        lsp::MarkupContent {
            kind: lsp::MarkupKind::PlainText,
            value: plain_text(item),
        }
    };
    Ok(Some(lsp::Hover {
        contents: lsp::Contents::MarkupContent(contents),
        range: Some(convert::lsp_range(
            &snapshot.rope,
            item.name_range.clone(),
            encoding,
        )),
    }))
}

/// How long a hover waits for the store on disk before asking the model instead: a read takes
/// well under a millisecond; this bounds a disk or a machine that stalls.
const STORE_WAIT: Duration = Duration::from_millis(100);

/// The model's explanation of an item: from the cache (memory, then disk), or generated (in the background, so a
/// slow model never holds the hover) and awaited for at most `timeout`. `None` when not ready.
async fn explanation(
    state: &State,
    language: crate::syntax::Language,
    uri: &lsp::Uri,
    item_text: &str,
    timeout: Duration,
) -> Option<Outcome> {
    let endpoint = state.config.lock().endpoint();
    let url = endpoint.base_url.clone();
    if let Some(why) = state.engine.health.recent_failure(&url) {
        // Known down: answer at once rather than wait on it.
        return Some(Err(why));
    }
    let key = Key::new(
        &format!("{}|{}", endpoint.base_url, endpoint.model),
        item_text,
    );
    let stored_wait = timeout.min(STORE_WAIT);
    let mut waiting = match state.explanations.lookup_or_load(&key, stored_wait).await {
        Lookup::Ready(text) => return Some(Ok(text)),
        Lookup::Pending(rx) => rx,
        Lookup::Start(tx, rx) => {
            let parts = PromptParts {
                language: language.name(),
                path: uri.as_str(),
                target: item_text,
                target_line: 1,
                ..PromptParts::default()
            };
            let explanations = state.explanations.clone();
            let health = state.engine.health.clone();
            match (
                prompt::build(Action::Explain, &parts, 200_000),
                state.model_client(),
            ) {
                (Ok(prompt), Ok(client)) => {
                    let request = ModelRequest {
                        messages: vec![prompt.message()],
                        system: Some(prompt.system),
                        max_output_tokens: None,
                        tools: Vec::new(),
                        prediction: None,
                    };
                    tokio::spawn(async move {
                        let stream = client.stream(&request, CancellationToken::new());
                        match stream.complete().await {
                            Ok(done) => {
                                health.ok(&url);
                                explanations.finish(&key, done.text, &tx);
                            }
                            Err(error) => {
                                health.failed(&url, error.to_string());
                                explanations.fail(&key, error.to_string(), &tx);
                            }
                        }
                    });
                }
                (Err(error), _) => explanations.fail(&key, error.to_string(), &tx),
                (_, Err(error)) => explanations.fail(&key, error.to_string(), &tx),
            }
            rx
        }
    };
    let outcome = tokio::time::timeout(timeout, waiting.wait_for(Option::is_some)).await;
    match outcome {
        Ok(Ok(value)) => value.clone(),
        _ => None,
    }
}

/// "```rust\nfn add(a: i32) -> i32\n```\n\n*function* `add`\n\nAdds."
pub fn structural_markdown(item: &Item, language: &str) -> String {
    let mut out = format!(
        "```{}\n{}\n```\n\n*{}* `{}`",
        language.to_ascii_lowercase(),
        item.signature,
        kind_word(item.kind),
        item.name
    );
    if let Some(doc) = item.doc.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str("\n\n---\n\n");
        out.push_str(doc.trim());
    }
    out
}

fn plain_text(item: &Item) -> String {
    let mut out = format!("{} {}\n{}", kind_word(item.kind), item.name, item.signature);
    if let Some(doc) = item.doc.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str("\n\n");
        out.push_str(doc.trim());
    }
    out
}
