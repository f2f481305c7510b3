//! Publishes the syntax worker's findings as LSP diagnostics, tagged with their version.

use std::sync::Weak;

use tokio::sync::mpsc;
use tower_lsp_server::gen_lsp_types as lsp;

use super::convert;
use super::server::State;
use crate::agent::review::Severity;
use crate::workspace::{DocUri, SyntaxEvent, SyntaxReport};

/// Diagnostics from Tandem carry this source, so clients can tell them from other servers'.
pub const SOURCE: &str = "tandem";

pub async fn publish_syntax_errors(
    state: Weak<State>,
    mut events: mpsc::UnboundedReceiver<SyntaxEvent>,
) {
    while let Some(SyntaxEvent::Parsed(report)) = events.recv().await {
        let Some(state) = state.upgrade() else {
            return;
        };
        // A report about a version the client has already moved past is not worth sending:
        // the worker will report the newer one.
        let current = state
            .engine
            .documents
            .snapshot(&report.uri)
            .is_some_and(|s| s.version == report.version);
        if !current {
            continue;
        }
        let Some(uri) = convert::lsp_uri(&report.uri) else {
            continue;
        };
        let version = state.flags().diagnostics_versions.then_some(report.version);
        let mut diagnostics = to_lsp(&state, &report);
        diagnostics.extend(findings_to_lsp(&state, &report.uri, &report.rope));
        state
            .client
            .publish_diagnostics(uri, diagnostics, version)
            .await;
    }
}

/// Publishes the document's syntax errors and review findings now (after a review, or a
/// finding dismissed), from the current text.
pub async fn publish_now(state: &State, doc: &DocUri) {
    let Some(snapshot) = state.engine.documents.snapshot_with_syntax(doc).await else {
        return;
    };
    let Some(uri) = convert::lsp_uri(doc) else {
        return;
    };
    let mut diagnostics = Vec::new();
    if let Some(tree) = snapshot.tree.as_ref() {
        let report = SyntaxReport {
            uri: doc.clone(),
            version: snapshot.version,
            rope: snapshot.rope.clone(),
            errors: crate::syntax::syntax_errors(tree, &snapshot.rope, 100),
        };
        diagnostics = to_lsp(state, &report);
    }
    diagnostics.extend(findings_to_lsp(state, doc, &snapshot.rope));
    let version = state
        .flags()
        .diagnostics_versions
        .then_some(snapshot.version);
    state
        .client
        .publish_diagnostics(uri, diagnostics, version)
        .await;
}

/// The review findings of a document as diagnostics; `data.findingId` names each for its quick
/// fixes.
fn findings_to_lsp(state: &State, doc: &DocUri, rope: &ropey::Rope) -> Vec<lsp::Diagnostic> {
    let encoding = state.encoding();
    state
        .findings
        .of(doc)
        .into_iter()
        .map(|finding| {
            let start = rope.char_to_byte(finding.region.start.min(rope.len_chars()));
            // The diagnostic ends at the end of the last line's text, not after its line end.
            let mut end = rope.char_to_byte(finding.region.end.min(rope.len_chars()));
            while end > start && matches!(rope.byte(end - 1), b'\n' | b'\r') {
                end -= 1;
            }
            lsp::Diagnostic {
                range: convert::lsp_range(rope, start..end, encoding),
                severity: Some(match finding.severity {
                    Severity::Error => lsp::DiagnosticSeverity::Error,
                    Severity::Warning => lsp::DiagnosticSeverity::Warning,
                    Severity::Info => lsp::DiagnosticSeverity::Information,
                    Severity::Hint => lsp::DiagnosticSeverity::Hint,
                }),
                source: Some(SOURCE.into()),
                code: Some(lsp::Code::String("review".into())),
                message: finding.message.clone().into(),
                data: Some(serde_json::json!({"findingId": finding.id})),
                ..Default::default()
            }
        })
        .collect()
}

/// The report's syntax errors as diagnostics, except those touching a region a job is still
/// streaming into: half-written code is not an error yet (they come once the job ends).
fn to_lsp(state: &State, report: &SyntaxReport) -> Vec<lsp::Diagnostic> {
    let encoding = state.encoding();
    let rope = &report.rope;
    let streaming: Vec<std::ops::Range<usize>> = state
        .engine
        .jobs
        .streaming_regions(&report.uri)
        .into_iter()
        .map(|r| {
            let len = rope.len_chars();
            rope.char_to_byte(r.start.min(len))..rope.char_to_byte(r.end.min(len))
        })
        .collect();
    report
        .errors
        .iter()
        .filter(|error| {
            let bytes = &error.byte_range;
            !streaming
                .iter()
                .any(|r| bytes.start <= r.end && r.start <= bytes.end)
        })
        .map(|error| lsp::Diagnostic {
            range: convert::lsp_range(&report.rope, error.byte_range.clone(), encoding),
            severity: Some(lsp::DiagnosticSeverity::Error),
            source: Some(SOURCE.into()),
            message: error.message.clone().into(),
            ..Default::default()
        })
        .collect()
}
