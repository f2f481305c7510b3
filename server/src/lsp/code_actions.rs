//! `textDocument/codeAction` and `codeAction/resolve`: the agent actions that apply at a range,
//! and the quick fixes of review findings; never calls the model.

use std::sync::Arc;

use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::Result;

use super::commands::ACTIONS;
use super::convert;
use super::server::State;
use crate::agent::actions::{Action, Situation, offers};
use crate::syntax::items_around;

/// `textDocument/codeAction`: the actions that apply at the range; never calls the model.
pub async fn code_actions(
    state: &Arc<State>,
    params: lsp::CodeActionParams,
) -> Result<Option<Vec<lsp::CodeActionResponse>>> {
    let doc = convert::doc_uri(&params.text_document.uri);
    let Some(snapshot) = state.engine.documents.snapshot_with_syntax(&doc).await else {
        return Ok(None);
    };
    let rope = &snapshot.rope;
    let encoding = state.encoding();
    let start = convert::byte_offset(rope, params.range.start, encoding);
    let end = convert::byte_offset(rope, params.range.end, encoding);
    // Only the items around the range: listing stays fast on big files.
    let found = match (snapshot.language, snapshot.tree.as_ref()) {
        (Some(language), Some(tree)) => {
            items_around(language, tree, rope, start.min(end)..start.max(end))
        }
        _ => Vec::new(),
    };
    let diagnostics = params.context.diagnostics;
    let situation = Situation {
        language: snapshot.language,
        rope,
        tree: snapshot.tree.as_ref(),
        items: &found,
        range: start.min(end)..start.max(end),
        has_diagnostics: !diagnostics.is_empty(),
    };
    let uri = params.text_document.uri;
    let actions = offers(&situation)
        .into_iter()
        .filter(|offer| match offer.action {
            // Both need the user's instruction: only Tandem's own clients ask for it.
            Action::Edit => false,
            Action::Task => state.flags().job_finished,
            action => ACTIONS.contains(&action),
        })
        .map(|offer| {
            let argument = match offer.action {
                Action::Implement | Action::Document | Action::Tests => {
                    json!({"uri": uri, "position": params.range.start})
                }
                Action::Fix => {
                    json!({"uri": uri, "range": params.range, "diagnostics": diagnostics})
                }
                Action::Review => json!({"uri": uri}),
                _ => json!({"uri": uri, "range": params.range}),
            };
            let command = lsp::Command {
                title: offer.title.clone(),
                command: offer.action.command(),
                arguments: Some(vec![argument]),
                tooltip: None,
            };
            let kind = match offer.action {
                Action::Fix => lsp::CodeActionKind::QuickFix,
                Action::Explain => lsp::CodeActionKind::Empty,
                _ => lsp::CodeActionKind::RefactorRewrite,
            };
            let lazy = state.flags().code_action_resolve;
            lsp::CodeActionResponse::CodeAction(lsp::CodeAction {
                title: offer.title,
                kind: Some(kind),
                diagnostics: (offer.action == Action::Fix && !diagnostics.is_empty())
                    .then(|| diagnostics.clone()),
                // With resolve support the command is filled in by codeAction/resolve.
                data: lazy.then(|| serde_json::to_value(&command).unwrap_or(Value::Null)),
                command: (!lazy).then_some(command),
                ..Default::default()
            })
        })
        .collect::<Vec<_>>();
    let mut actions = actions;
    actions.splice(
        0..0,
        finding_fixes(state, &doc, &uri, &snapshot, start.min(end)..start.max(end)),
    );
    Ok(Some(actions))
}

/// The two quick fixes of each review finding the range touches: apply its replacement (a
/// versioned edit of its lines) and dismiss it.
fn finding_fixes(
    state: &State,
    doc: &crate::workspace::DocUri,
    uri: &lsp::Uri,
    snapshot: &crate::workspace::Snapshot,
    bytes: std::ops::Range<usize>,
) -> Vec<lsp::CodeActionResponse> {
    let rope = &snapshot.rope;
    let encoding = state.encoding();
    let mut out = Vec::new();
    for finding in state.findings.of(doc) {
        let start = rope.char_to_byte(finding.region.start.min(rope.len_chars()));
        let end = rope.char_to_byte(finding.region.end.min(rope.len_chars()));
        if bytes.end < start || bytes.start > end {
            continue;
        }
        if let Some(replacement) = &finding.replacement {
            let edit = lsp::TextEdit {
                range: convert::lsp_range(rope, start..end, encoding),
                new_text: replacement.clone(),
            };
            let workspace_edit = lsp::WorkspaceEdit {
                document_changes: Some(vec![lsp::DocumentChange::TextDocumentEdit(
                    lsp::TextDocumentEdit {
                        text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                            version: Some(snapshot.version),
                            text_document_identifier: lsp::TextDocumentIdentifier {
                                uri: uri.clone(),
                            },
                        },
                        edits: vec![lsp::Edit::TextEdit(edit)],
                    },
                )]),
                ..Default::default()
            };
            out.push(lsp::CodeActionResponse::CodeAction(lsp::CodeAction {
                title: format!("Tandem: Apply suggestion ({})", finding.message),
                kind: Some(lsp::CodeActionKind::QuickFix),
                edit: Some(workspace_edit),
                is_preferred: Some(true),
                ..Default::default()
            }));
        }
        out.push(lsp::CodeActionResponse::CodeAction(lsp::CodeAction {
            title: format!("Tandem: Dismiss ({})", finding.message),
            kind: Some(lsp::CodeActionKind::QuickFix),
            command: Some(lsp::Command {
                title: "Dismiss".into(),
                command: "tandem.dismiss".into(),
                arguments: Some(vec![json!({"uri": uri, "findingId": finding.id})]),
                tooltip: None,
            }),
            ..Default::default()
        }));
    }
    out
}

/// `codeAction/resolve`: fills in the command kept in `data`.
pub fn resolve(mut action: lsp::CodeAction) -> lsp::CodeAction {
    if action.command.is_none()
        && let Some(data) = action.data.take()
    {
        action.command = serde_json::from_value(data).ok();
    }
    action
}
