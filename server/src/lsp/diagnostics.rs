//! Publishes the syntax worker's findings as LSP diagnostics, tagged with their version.

use std::sync::Weak;

use tokio::sync::mpsc;
use tower_lsp_server::gen_lsp_types as lsp;

use super::convert;
use super::server::State;
use crate::workspace::{SyntaxEvent, SyntaxReport};

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
            .workspace
            .snapshot(&report.uri)
            .is_some_and(|s| s.version == report.version);
        if !current {
            continue;
        }
        let Some(uri) = convert::lsp_uri(&report.uri) else {
            continue;
        };
        let version = state.flags().diagnostics_versions.then_some(report.version);
        let diagnostics = to_lsp(&report, state.encoding());
        state
            .client
            .publish_diagnostics(uri, diagnostics, version)
            .await;
    }
}

fn to_lsp(report: &SyntaxReport, encoding: crate::text::PositionEncoding) -> Vec<lsp::Diagnostic> {
    report
        .errors
        .iter()
        .map(|error| lsp::Diagnostic {
            range: convert::lsp_range(&report.rope, error.byte_range.clone(), encoding),
            severity: Some(lsp::DiagnosticSeverity::Error),
            source: Some(SOURCE.into()),
            message: error.message.clone().into(),
            ..Default::default()
        })
        .collect()
}
