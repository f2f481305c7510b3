//! The LSP side of the job engine's editor port: versioned `workspace/applyEdit`s, `$/progress`
//! (through `progress`), review findings as diagnostics, and `tandem/jobFinished`. Every request here has a bound; the engine owns the job's life.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;

use super::convert;
use super::server::State;
use crate::agent::engine::{
    Change, EditAnswer, EditRequest, EditTarget, Editor, JobReport, JobResult, Progress, Question,
    StepReport, TextEdit,
};
use crate::agent::jobs::{JobId, JobStatus};
use crate::agent::review::Finding;
use crate::model::UsageTotals;
use crate::text::char_to_position;
use crate::workspace::DocUri;

/// When an unanswered edit gets a nudge (see [`send_apply_edit`]), counted from the previous one.
const EDIT_NUDGES: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1500)];
/// The change annotation of preview edits (of the first file; others get `tandem-1`, …).
const PREVIEW_ANNOTATION: &str = "tandem";

/// `tandem/jobFinished`.
pub enum JobFinished {}

impl lsp::Notification for JobFinished {
    type Params = Value;
    const METHOD: lsp::LspNotificationMethod<'static> =
        lsp::LspNotificationMethod::Custom("tandem/jobFinished");
    const MESSAGE_DIRECTION: lsp::MessageDirection = lsp::MessageDirection::ServerToClient;
}

/// The editor, as the engine sees it, when it is an LSP client.
#[derive(Clone)]
pub struct LspEditor(pub Arc<State>);

impl Editor for LspEditor {
    async fn apply_edit(&self, request: EditRequest) -> EditAnswer {
        let params = match apply_params(&self.0, &request) {
            Ok(params) => params,
            Err(why) => return EditAnswer::Error(why),
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            let edit = serde_json::to_string(&params.edit).unwrap_or_default();
            tracing::debug!(job = request.job, "workspace/applyEdit {edit}");
        }
        match send_apply_edit(&self.0, params).await {
            Ok(result) if result.applied => EditAnswer::Applied,
            Ok(result) => EditAnswer::Refused(result.failure_reason),
            Err(error) if says_stale(&error.message) => EditAnswer::Stale {
                have: version_had(&error.message),
                why: error.message.into(),
            },
            Err(error) => EditAnswer::Error(error.to_string()),
        }
    }

    async fn progress(&self, job: JobId, progress: Progress<'_>) {
        let state = &self.0;
        match progress {
            Progress::Begin { title } => state.progress.begin(state, job, title),
            Progress::Report(message) => state.progress.report(state, job, message).await,
            Progress::End(message) => state.progress.end(state, job, message).await,
        }
    }

    async fn show_findings(&self, doc: &DocUri, rope: &ropey::Rope, findings: Vec<Finding>) {
        self.0.findings.replace(doc, rope, findings);
        super::diagnostics::publish_now(&self.0, doc).await;
    }

    fn logs_edits(&self) -> bool {
        self.0.flags().logs_edits
    }

    async fn job_step(&self, job: JobId, step: &StepReport) {
        super::task::announce_step(&self.0, job, step).await;
    }

    async fn ask(&self, question: Question) -> Option<usize> {
        super::acp::ask(&self.0, question).await
    }

    async fn job_finished(&self, report: JobReport) {
        let state = &self.0;
        if report.action.edits() && state.engine.documents.is_open(&report.doc) {
            // Syntax errors in the region were held back while it streamed: show them now.
            super::diagnostics::publish_now(state, &report.doc).await;
        }
        let mut params = json!({
            "jobId": report.id,
            "action": report.action.name(),
            "uri": &*report.doc,
            "status": report.status.as_str(),
        });
        if let Some(message) = &report.message {
            params["message"] = json!(message);
        }
        if let Some(result) = &report.result {
            params["result"] = result_json(state, result);
        }
        if let Some(usage) = &report.usage {
            params["usage"] = usage_json(usage);
        }
        if !state.flags().job_finished {
            // A client without Tandem's plugin ignores `tandem/jobFinished`: the user learns
            // how the job ended from a message every client shows (sent first, so a client
            // that sees the notification has seen the message).
            let (kind, said) = ended_in_words(&report);
            state.client.show_message(kind, said).await;
        }
        state.client.send_notification::<JobFinished>(params).await;
    }
}

/// How a job ended, as one message line: "Tandem: edit done", "Tandem: edit failed: …".
fn ended_in_words(report: &JobReport) -> (lsp::MessageType, String) {
    let action = report.action.name();
    let status = report.status.as_str();
    let kind = match report.status {
        JobStatus::Failed => lsp::MessageType::Error,
        JobStatus::Cancelled => lsp::MessageType::Warning,
        JobStatus::Done | JobStatus::Running => lsp::MessageType::Info,
    };
    let said = match &report.message {
        Some(message) => format!("Tandem: {action} {status}: {message}"),
        None => format!("Tandem: {action} {status}"),
    };
    (kind, said)
}

/// What `tandem/jobFinished` carries as `usage`: `cachedPromptTokens` only where an endpoint
/// said.
fn usage_json(usage: &UsageTotals) -> Value {
    let mut json = json!({
        "promptTokens": usage.prompt_tokens,
        "outputTokens": usage.output_tokens,
    });
    if let Some(cached) = usage.cached_prompt_tokens {
        json["cachedPromptTokens"] = json!(cached);
    }
    json
}

/// What `tandem/jobFinished` carries as `result`.
fn result_json(state: &State, result: &JobResult) -> Value {
    match result {
        JobResult::Markdown(markdown) => json!({"markdown": markdown}),
        JobResult::Findings(count) => json!({"findings": count}),
        JobResult::Task { markdown, files } => {
            let files: Vec<Value> = files
                .iter()
                .filter_map(|file| {
                    let uri = lsp::Uri::from_file_path(&file.path).ok()?;
                    Some(json!({"uri": uri.as_str(), "created": file.created}))
                })
                .collect();
            json!({"markdown": markdown, "files": files})
        }
        JobResult::Region {
            target,
            rope,
            chars,
        } => {
            let encoding = state.encoding();
            let at = |c: usize| convert::lsp_position(char_to_position(rope, c, encoding));
            let range = json!({"start": at(chars.start), "end": at(chars.end)});
            match target {
                EditTarget::Open { .. } => json!({"range": range}),
                EditTarget::File { path } => match lsp::Uri::from_file_path(path) {
                    Ok(uri) => json!({"uri": uri.as_str(), "range": range}),
                    Err(_) => json!({"range": range}),
                },
            }
        }
    }
}

fn file_uri(path: &std::path::Path) -> Result<lsp::Uri, String> {
    lsp::Uri::from_file_path(path)
        .map_err(|_| format!("{} is not a path an editor can open", path.display()))
}

/// The engine's edit as `workspace/applyEdit` parameters (`documentChanges`).
fn apply_params(
    state: &State,
    request: &EditRequest,
) -> Result<lsp::ApplyWorkspaceEditParams, String> {
    let encoding = state.encoding();
    let label = request.action.edit_label();
    // Preview: one change annotation per file, so that the user confirms each file.
    let files = std::cell::RefCell::new(Vec::<(String, String)>::new());
    let annotate = |uri: &lsp::Uri| -> Option<String> {
        if !request.confirm {
            return None;
        }
        let mut files = files.borrow_mut();
        let known = files
            .iter()
            .find(|(_, u)| u == uri.as_str())
            .map(|(id, _)| id.clone());
        Some(known.unwrap_or_else(|| {
            let id = match files.len() {
                0 => PREVIEW_ANNOTATION.to_owned(),
                n => format!("{PREVIEW_ANNOTATION}-{n}"),
            };
            files.push((id.clone(), uri.as_str().to_owned()));
            id
        }))
    };
    let mut changes = Vec::new();
    for change in &request.changes {
        changes.push(match change {
            Change::CreateFile { path } => {
                let uri = file_uri(path)?;
                lsp::DocumentChange::CreateFile(lsp::CreateFile {
                    annotation_id: annotate(&uri),
                    uri,
                    options: Some(lsp::CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(true),
                    }),
                })
            }
            Change::DeleteFile { path } => {
                let uri = file_uri(path)?;
                lsp::DocumentChange::DeleteFile(lsp::DeleteFile {
                    annotation_id: annotate(&uri),
                    uri,
                    options: Some(lsp::DeleteFileOptions {
                        recursive: Some(false),
                        ignore_if_not_exists: Some(true),
                    }),
                })
            }
            Change::Text(TextEdit {
                target,
                rope,
                chars,
                text,
            }) => {
                let (uri, version) = match target {
                    EditTarget::Open { doc, version } => (
                        convert::lsp_uri(doc).ok_or("the document has no valid URI")?,
                        Some(*version),
                    ),
                    EditTarget::File { path } => (file_uri(path)?, None),
                };
                let at = |c: usize| convert::lsp_position(char_to_position(rope, c, encoding));
                let text_edit = lsp::TextEdit {
                    range: lsp::Range {
                        start: at(chars.start),
                        end: at(chars.end),
                    },
                    new_text: text.clone(),
                };
                let edit = match annotate(&uri) {
                    Some(annotation_id) => lsp::Edit::AnnotatedTextEdit(lsp::AnnotatedTextEdit {
                        annotation_id,
                        text_edit,
                    }),
                    None => lsp::Edit::TextEdit(text_edit),
                };
                lsp::DocumentChange::TextDocumentEdit(lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                        version,
                        text_document_identifier: lsp::TextDocumentIdentifier { uri },
                    },
                    edits: vec![edit],
                })
            }
        });
    }
    let annotations = request.confirm.then(|| {
        files
            .into_inner()
            .into_iter()
            .map(|(id, uri)| {
                let file = uri.rsplit('/').next().unwrap_or(&uri).to_owned();
                let annotation = lsp::ChangeAnnotation {
                    label: label.clone(),
                    needs_confirmation: Some(true),
                    description: Some(format!(
                        "The model's proposal for `{}` in {file}",
                        request.action.name()
                    )),
                };
                (id, annotation)
            })
            .collect::<HashMap<_, _>>()
    });
    Ok(lsp::ApplyWorkspaceEditParams {
        // Only the first edit of a job carries the label: Neovim's stock client prints every
        // label it gets, once per streamed edit otherwise.
        label: request.announce.then_some(label),
        edit: lsp::WorkspaceEdit {
            document_changes: Some(changes),
            change_annotations: annotations,
            ..Default::default()
        },
        metadata: None,
    })
}

/// Sends one `workspace/applyEdit` and waits for its answer (the engine bounds the wait).
///
/// While it waits, a `window/logMessage` (type Log) goes out after [`EDIT_NUDGES`]: clients that
/// read a burst of frames and stop at a reply their code was waiting for (Emacs 28's jsonrpc
/// throws out of its process filter there) leave the edit's request unread until more bytes
/// arrive, so the server sends some.
/// Whether an error answering `workspace/applyEdit` says the editor is past the edit's version:
/// eglot's "Edits on `…' require version 7, you have 12".
fn says_stale(message: &str) -> bool {
    message.contains("require version") && message.contains("you have")
}

/// The version an editor says it has in a stale refusal ("… you have 12").
fn version_had(message: &str) -> Option<i32> {
    let (_, rest) = message.rsplit_once("you have")?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

async fn send_apply_edit(
    state: &State,
    params: lsp::ApplyWorkspaceEditParams,
) -> tower_lsp_server::jsonrpc::Result<lsp::ApplyWorkspaceEditResult> {
    let request = state
        .client
        .send_request::<lsp::ApplyWorkspaceEditRequest>(params);
    let nudges = async {
        for delay in EDIT_NUDGES {
            tokio::time::sleep(delay).await;
            state
                .client
                .log_message(
                    lsp::MessageType::Log,
                    "tandem: waiting for the editor to answer workspace/applyEdit",
                )
                .await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        biased;
        answer = request => answer,
        () = nudges => unreachable!("the nudges never end"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn eglots_stale_version_error_is_recognised() {
        // As Emacs 28's eglot 1.9 words it (`eglot--apply-text-edits`).
        assert!(super::says_stale(
            "Edits on `double.rs' require version 7, you have 12"
        ));
        assert!(!super::says_stale("Request workspace/applyEdit failed"));
        assert_eq!(
            super::version_had("Edits on `double.rs' require version 7, you have 12"),
            Some(12)
        );
        assert_eq!(super::version_had("… require version 7, you have"), None);
    }
}
