//! What the server advertises at `initialize`, and what it reads from the client's capabilities.

use tower_lsp_server::gen_lsp_types as lsp;

use super::convert;
use super::server::ClientFlags;
use crate::text::PositionEncoding;

/// Exactly what works: incremental sync, hover, hierarchical document symbols. Syntax
/// diagnostics are pushed with `publishDiagnostics`, which needs no capability.
pub fn initialize_result(encoding: PositionEncoding) -> lsp::InitializeResult {
    let capabilities = lsp::ServerCapabilities {
        position_encoding: Some(convert::encoding_kind(encoding)),
        text_document_sync: Some(lsp::TextDocumentSync::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::Incremental),
                save: Some(lsp::Save::Bool(true)),
                ..Default::default()
            },
        )),
        hover_provider: Some(lsp::HoverProvider::Bool(true)),
        inline_completion_provider: Some(lsp::InlineCompletionProvider::Bool(true)),
        document_symbol_provider: Some(lsp::DocumentSymbolProvider::Bool(true)),
        code_action_provider: Some(lsp::CodeActionProvider::CodeActionOptions(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![
                    lsp::CodeActionKind::QuickFix,
                    lsp::CodeActionKind::RefactorRewrite,
                    lsp::CodeActionKind::Empty,
                ]),
                resolve_provider: Some(true),
                ..Default::default()
            },
        )),
        execute_command_provider: Some(lsp::ExecuteCommandOptions {
            commands: super::commands::command_names(),
            ..Default::default()
        }),
        ..Default::default()
    };
    lsp::InitializeResult {
        capabilities,
        server_info: Some(lsp::ServerInfo {
            name: "tandem".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    }
}

pub fn client_flags(caps: &lsp::ClientCapabilities) -> ClientFlags {
    let text = caps.text_document.as_ref();
    ClientFlags {
        diagnostics_versions: text
            .and_then(|t| t.publish_diagnostics.as_ref())
            .and_then(|d| d.version_support)
            .unwrap_or(false),
        hierarchical_symbols: text
            .and_then(|t| t.document_symbol.as_ref())
            .and_then(|d| d.hierarchical_document_symbol_support)
            .unwrap_or(false),
        hover_markdown: text
            .and_then(|t| t.hover.as_ref())
            .and_then(|h| h.content_format.as_ref())
            .is_none_or(|formats| formats.contains(&lsp::MarkupKind::Markdown)),
        configuration: caps
            .workspace
            .as_ref()
            .and_then(|w| w.configuration)
            .unwrap_or(false),
        work_done_progress: caps
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false),
        code_action_resolve: text
            .and_then(|t| t.code_action.as_ref())
            .and_then(|c| c.resolve_support.as_ref())
            .is_some_and(|r| r.properties.iter().any(|p| p == "command")),
        job_finished: caps
            .experimental
            .as_ref()
            .and_then(|e| e.pointer("/tandem/jobFinished"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        logs_edits: false,
    }
}

/// Whether the client is Emacs' eglot, which prints two lines to `*Messages*` for every edit it
/// applies: by its `clientInfo` (eglot 1.12 and later), or, when it sends none (the eglot 1.9 of
/// Debian 12), by the name of the process it gives as `processId` (Linux).
pub fn logs_edits(params: &lsp::InitializeParams) -> bool {
    match &params.client_info {
        Some(info) => info.name.eq_ignore_ascii_case("eglot"),
        None => params.process_id.is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.trim_end().starts_with("emacs"))
        }),
    }
}
