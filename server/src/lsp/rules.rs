//! The learning loop at the protocol edge: signals into the workspace's store while
//! `learn.enabled`, a rule asked of the model once enough corrections agree (announced with
//! `tandem/ruleProposed`), and the `tandem.rules*` commands; an approved rule is written into
//! `.tandem/rules.md` through `workspace/applyEdit`, so the person sees it and the team commits it.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ropey::Rope;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::Result;

use super::commands::{failed, invalid};
use super::convert;
use super::server::State;
use crate::agent::findings::Stored as Finding;
use crate::agent::proposals::{Answer, add_rule, parse_answer, request, same_rule};
use crate::agent::signals::{Fate, Signal, SignalSink};
use crate::agent::team_rules::{self, RULES_FILE};
use crate::learn::{Decision, Proposal, Store, StoreSignals};
use crate::model::{Message, ModelRequest};
use crate::text::char_to_position;
use crate::workspace::DocUri;

/// How long a command waits for the store.
const STORE_WAIT: Duration = Duration::from_secs(2);
/// How long the editor has to apply the edit that writes an approved rule.
const EDIT_WAIT: Duration = Duration::from_secs(10);
/// The longest rule the model may phrase.
const RULE_TOKENS: u32 = 200;

pub const COMMANDS: [&str; 5] = [
    "tandem.rules",
    "tandem.rules.approve",
    "tandem.rules.reject",
    "tandem.rules.propose",
    "tandem.rules.forget",
];

/// `tandem/ruleProposed`.
enum RuleProposed {}

impl lsp::Notification for RuleProposed {
    type Params = Value;
    const METHOD: lsp::LspNotificationMethod<'static> =
        lsp::LspNotificationMethod::Custom("tandem/ruleProposed");
    const MESSAGE_DIRECTION: lsp::MessageDirection = lsp::MessageDirection::ServerToClient;
}

/// Signals go to the store while `learn.enabled`; a correction may make a rule.
struct Learning {
    state: Weak<State>,
    store: StoreSignals,
}

impl SignalSink for Learning {
    fn enabled(&self) -> bool {
        self.state
            .upgrade()
            .is_some_and(|state| state.config.lock().settings().learn.enabled)
    }

    fn save(&self, signal: &Signal) {
        self.store.save(signal);
        if signal.correction().is_none() {
            return;
        }
        if let (Some(state), Ok(runtime)) =
            (self.state.upgrade(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                if let Err(why) = propose(&state, false).await {
                    tracing::warn!("no rule proposed: {why}");
                }
            });
        }
    }
}

/// A review finding the user fixed or dismissed, as a signal.
pub fn record_finding(
    state: &State,
    doc: &DocUri,
    finding: &Finding,
    fate: Fate,
    reason: Option<String>,
) {
    let (path, language) = state.engine.describe(doc);
    let signal = Signal::of_finding(finding, path, language, fate, reason);
    state.engine.signals.record(&signal);
}

/// Records the engine's signals in `store` from now on.
pub fn record_into(state: &Arc<State>, store: &Store) {
    let sink = Learning {
        state: Arc::downgrade(state),
        store: StoreSignals::new(store.clone()),
    };
    state.engine.signals.set_sink(Some(Arc::new(sink)));
}

/// Asks the model for the rule the corrections no rule covers yet share, when there are at
/// least `learn.minEvidence` of them (or any, when `now`). One request at a time. Once the
/// model found no new rule in some, it is asked again (unless `now`) when `learn.minEvidence`
/// others have come: each new correction alone would ask it about nearly the same evidence.
async fn propose(state: &Arc<State>, now: bool) -> std::result::Result<Option<Proposal>, String> {
    let mut no_rule_in = state.proposing.lock().await;
    let store = state
        .store
        .get()
        .ok_or("learning needs a workspace folder")?;
    let corrections = store
        .corrections(STORE_WAIT)
        .await
        .ok_or("the store did not answer")?;
    let needed = state.config.lock().settings().learn.min_evidence;
    let unasked = corrections
        .iter()
        .filter(|c| !no_rule_in.contains(&c.signal))
        .count();
    if corrections.is_empty() || (!now && u64::try_from(unasked).unwrap_or(u64::MAX) < needed) {
        return Ok(None);
    }
    let mut known = store.decided_rules(STORE_WAIT).await.unwrap_or_default();
    known.extend(approved(state).into_iter().map(|rule| rule.text));
    let shown: Vec<_> = corrections.iter().map(|c| c.correction.clone()).collect();
    let (system, user) = request(&shown, &known);
    let client = state.model_client()?;
    let asked = ModelRequest {
        system: Some(system),
        messages: vec![Message::user(user)],
        max_output_tokens: Some(RULE_TOKENS),
        tools: Vec::new(),
        prediction: None,
    };
    let answer = client
        .stream(&asked, CancellationToken::new())
        .complete()
        .await
        .map_err(|e| e.to_string())?;
    let (text, scope) = match parse_answer(&answer.text) {
        Answer::Rule { text, scope } if !known.iter().any(|k| same_rule(k, &text)) => (text, scope),
        Answer::NoRule | Answer::Rule { .. } => {
            no_rule_in.extend(corrections.iter().map(|c| c.signal));
            return Ok(None);
        }
    };
    // Its corrections are covered now: none of them is asked about again.
    no_rule_in.clear();
    let id = store
        .add_proposal(&text, scope.as_deref(), &corrections, STORE_WAIT)
        .await
        .ok_or("the store did not keep the proposal")?;
    let proposal = store
        .proposal(id, STORE_WAIT)
        .await
        .ok_or("the store lost the proposal")?;
    tracing::info!(id, rule = %proposal.text, "rule proposed");
    state
        .client
        .send_notification::<RuleProposed>(serde_json::to_value(&proposal).unwrap_or_default())
        .await;
    Ok(Some(proposal))
}

/// The rules in `.tandem/rules.md` (the editor's buffer when open, else the file).
fn approved(state: &State) -> Vec<team_rules::TeamRule> {
    let Some(root) = state.root.get().cloned().flatten() else {
        return Vec::new();
    };
    team_rules::all(&root, |file| {
        state.engine.open_at(file).map(|open| open.rope.to_string())
    })
}

#[derive(Deserialize)]
struct Approve {
    id: i64,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Reject {
    id: i64,
}

/// Runs one of [`COMMANDS`].
pub async fn execute(state: &Arc<State>, command: &str, argument: Value) -> Result<Value> {
    let store = || {
        state
            .store
            .get()
            .ok_or_else(|| invalid("learning needs a workspace folder (no rules without one)"))
    };
    match command {
        "tandem.rules" => {
            let proposed = store()?.proposals(STORE_WAIT).await.unwrap_or_default();
            let approved: Vec<Value> = approved(state)
                .into_iter()
                .map(|rule| json!({"text": rule.text, "scope": rule.scope}))
                .collect();
            Ok(json!({"proposed": proposed, "approved": approved}))
        }
        "tandem.rules.approve" => {
            let args: Approve = serde_json::from_value(argument)
                .map_err(|e| invalid(format!("bad argument for {command}: {e}")))?;
            approve(state, store()?, args).await
        }
        "tandem.rules.reject" => {
            let args: Reject = serde_json::from_value(argument)
                .map_err(|e| invalid(format!("bad argument for {command}: {e}")))?;
            if !store()?
                .decide(args.id, Decision::Rejected, None, STORE_WAIT)
                .await
            {
                return Err(invalid(format!("there is no proposed rule {}", args.id)));
            }
            tracing::info!(id = args.id, "rule rejected");
            Ok(Value::Null)
        }
        "tandem.rules.propose" => {
            store()?;
            let proposal = propose(state, true).await.map_err(failed)?;
            Ok(serde_json::to_value(proposal).unwrap_or(Value::Null))
        }
        "tandem.rules.forget" => {
            store()?.forget(STORE_WAIT).await.map_err(failed)?;
            state.explanations.forget();
            state.proposing.lock().await.clear();
            Ok(Value::Null)
        }
        _ => Err(invalid(format!("unknown command {command}"))),
    }
}

/// Writes the rule (or the person's rewording) into `.tandem/rules.md` through the editor, then
/// marks it approved.
async fn approve(state: &Arc<State>, store: &Store, args: Approve) -> Result<Value> {
    let proposal = store
        .proposal(args.id, STORE_WAIT)
        .await
        .ok_or_else(|| invalid(format!("there is no proposed rule {}", args.id)))?;
    let text = args
        .text
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or(proposal.text);
    let root = state
        .root
        .get()
        .cloned()
        .flatten()
        .ok_or_else(|| invalid("no workspace folder to keep .tandem/rules.md in"))?;
    let file = root.join(RULES_FILE);
    let edit = rules_edit(state, &file, &text, proposal.scope.as_deref())?;
    let client = state.client.clone();
    let params = lsp::ApplyWorkspaceEditParams {
        label: Some("Tandem: approve a rule".into()),
        edit,
        metadata: None,
    };
    let applied = tokio::spawn(async move {
        let asked = client.send_request::<lsp::ApplyWorkspaceEditRequest>(params);
        tokio::time::timeout(EDIT_WAIT, asked).await
    })
    .await;
    match applied {
        Ok(Ok(Ok(answer))) if answer.applied => {}
        Ok(Ok(Ok(answer))) => {
            let why = answer
                .failure_reason
                .unwrap_or_else(|| "no reason given".into());
            return Err(failed(format!(
                "the editor did not write {RULES_FILE}: {why}"
            )));
        }
        Ok(Ok(Err(error))) => {
            return Err(failed(format!(
                "the editor did not write {RULES_FILE}: {}",
                error.message
            )));
        }
        Ok(Err(_)) | Err(_) => {
            return Err(failed(format!(
                "the editor did not write {RULES_FILE} in time"
            )));
        }
    }
    if !store
        .decide(args.id, Decision::Approved, Some(&text), STORE_WAIT)
        .await
    {
        tracing::warn!(id = args.id, "the approved rule was decided meanwhile");
    }
    tracing::info!(id = args.id, rule = %text, "rule approved");
    Ok(json!({"text": text}))
}

/// The edit that adds `rule` to the rules file: at the version of its open buffer, or (not open)
/// to the file as it is on disk, created when missing.
fn rules_edit(
    state: &State,
    file: &PathBuf,
    rule: &str,
    scope: Option<&str>,
) -> Result<lsp::WorkspaceEdit> {
    let uri = lsp::Uri::from_file_path(file).map_err(|_| {
        failed(format!(
            "{} is not a path an editor can open",
            file.display()
        ))
    })?;
    let open = state.engine.open_at(file);
    let (text, version, exists) = match &open {
        Some(snapshot) => (snapshot.rope.to_string(), Some(snapshot.version), true),
        None => match std::fs::read_to_string(file) {
            Ok(text) => (text, None, true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                (String::new(), None, false)
            }
            Err(error) => return Err(failed(format!("cannot read {RULES_FILE}: {error}"))),
        },
    };
    let insertion = add_rule(&text, rule, scope);
    let rope = Rope::from_str(&text);
    let at = rope.byte_to_char(insertion.at.min(text.len()));
    let position = convert::lsp_position(char_to_position(&rope, at, state.encoding()));
    let mut changes = Vec::new();
    if !exists {
        changes.push(lsp::DocumentChange::CreateFile(lsp::CreateFile {
            uri: uri.clone(),
            options: Some(lsp::CreateFileOptions {
                overwrite: Some(false),
                ignore_if_exists: Some(true),
            }),
            annotation_id: None,
        }));
    }
    changes.push(lsp::DocumentChange::TextDocumentEdit(
        lsp::TextDocumentEdit {
            text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                version,
                text_document_identifier: lsp::TextDocumentIdentifier { uri },
            },
            edits: vec![lsp::Edit::TextEdit(lsp::TextEdit {
                range: lsp::Range {
                    start: position,
                    end: position,
                },
                new_text: insertion.text,
            })],
        },
    ));
    Ok(lsp::WorkspaceEdit {
        document_changes: Some(changes),
        ..Default::default()
    })
}
