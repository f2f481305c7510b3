//! The agent's LSP surface: `textDocument/codeAction`, `workspace/executeCommand` (`tandem.*`),
//! and cancelling a job's progress. Each action command answers `{jobId}` at once and runs the
//! job in the background.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};

use super::convert;
use super::jobs::{self, JobRequest};
use super::server::State;
use crate::agent::actions::{Action, Situation, is_unfinished, offers};
use crate::agent::context::{enclosing_item, imports, referenced_names};
use crate::agent::jobs::{JobHandle, Verdict};
use crate::agent::prompt::{self, Prompt, PromptParts};
use crate::agent::workspace_files::{agents_rules, is_ignored};
use crate::edits::{Region, StreamSession};
use crate::model::ModelClient;
use crate::model::tokens::context_window;
use crate::syntax::{Item, items, items_at, syntax_errors};
use crate::workspace::Snapshot;

/// The actions this server runs today; `tests` and `review` are not offered yet.
pub const ACTIONS: [Action; 5] = [
    Action::Explain,
    Action::Fix,
    Action::Implement,
    Action::Document,
    Action::Edit,
];

/// Every command, as advertised in `executeCommandProvider`.
pub fn command_names() -> Vec<String> {
    let mut names: Vec<String> = ACTIONS.iter().map(|a| a.command()).collect();
    names.extend(
        [
            "tandem.accept",
            "tandem.reject",
            "tandem.cancel",
            "tandem.status",
        ]
        .map(String::from),
    );
    names
}

/// How long an action waits for the workspace index still being built.
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Signatures from the workspace index at most this many per prompt.
const MAX_SIGNATURES: usize = 30;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionArgs {
    uri: lsp::Uri,
    range: Option<lsp::Range>,
    position: Option<lsp::Position>,
    instruction: Option<String>,
    #[serde(default)]
    diagnostics: Vec<lsp::Diagnostic>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobArgs {
    job_id: u64,
}

fn invalid(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: format!("tandem: {}", message.into()).into(),
        data: None,
    }
}

/// `workspace/executeCommand`.
pub async fn execute(
    state: &Arc<State>,
    params: lsp::ExecuteCommandParams,
) -> Result<Option<Value>> {
    let command = params.command.as_str();
    let arguments = params.arguments.unwrap_or_default();
    let argument = match arguments.as_slice() {
        [one] => one.clone(),
        [] if command == "tandem.status" => json!({}),
        _ => {
            return Err(invalid(format!(
                "{command} takes exactly one argument, an object"
            )));
        }
    };
    let token = params.work_done_progress_params.work_done_token;
    match command {
        "tandem.status" => Ok(Some(status(state))),
        "tandem.cancel" => {
            let args: JobArgs = parse(command, argument)?;
            state
                .jobs
                .cancel(args.job_id, Some("cancelled by tandem.cancel".into()))
                .map_err(|e| invalid(e.to_string()))?;
            Ok(Some(json!({"jobId": args.job_id})))
        }
        "tandem.accept" => {
            let args: JobArgs = parse(command, argument)?;
            state
                .jobs
                .decide(args.job_id, Verdict::Accepted)
                .map_err(|e| invalid(e.to_string()))?;
            tracing::info!(job = args.job_id, "accepted");
            Ok(Some(json!({"jobId": args.job_id})))
        }
        "tandem.reject" => {
            let args: JobArgs = parse(command, argument)?;
            reject(state, args.job_id).await?;
            Ok(Some(json!({"jobId": args.job_id})))
        }
        _ => {
            let Some(action) = command
                .strip_prefix("tandem.")
                .and_then(Action::from_name)
                .filter(|a| ACTIONS.contains(a))
            else {
                return Err(invalid(format!("unknown command {command}")));
            };
            let args: ActionArgs = parse(command, argument)?;
            start(state, action, args, token).await.map(Some)
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(command: &str, argument: Value) -> Result<T> {
    serde_json::from_value(argument)
        .map_err(|e| invalid(format!("bad argument for {command}: {e}")))
}

/// Prepares the job (target, context, prompt, session) and starts it; answers `{jobId}`.
async fn start(
    state: &Arc<State>,
    action: Action,
    args: ActionArgs,
    token: Option<lsp::ProgressToken>,
) -> Result<Value> {
    let doc = convert::doc_uri(&args.uri);
    let snapshot = state
        .workspace
        .snapshot_with_syntax(&doc)
        .await
        .ok_or_else(|| invalid(format!("{} is not open; open it first", args.uri.as_str())))?;
    let path = args.uri.to_file_path().ok();
    let root = state.root.get().cloned().flatten();
    if let (Some(root), Some(path)) = (&root, &path)
        && is_ignored(root, path)
    {
        return Err(invalid(format!(
            "{} is ignored by .gitignore or .tandemignore; Tandem does not send it to a model",
            path.display()
        )));
    }
    let target = Target::new(state, action, &args, &snapshot)?;
    // Right after start the workspace index may still be building: wait a little for it, so
    // the first action's prompt has the signatures too.
    let mut ready = state.index_ready.subscribe();
    let _ = tokio::time::timeout(INDEX_WAIT, ready.wait_for(|built| *built)).await;
    let prompt = build_prompt(
        state,
        action,
        &args,
        &snapshot,
        &target,
        root.as_deref(),
        path.as_deref(),
    )?;
    let session = action.edits().then(|| {
        let rope = &snapshot.rope;
        let region = Region::new(
            rope.byte_to_char(target.bytes.start),
            rope.byte_to_char(target.bytes.end),
        );
        StreamSession::new(rope, snapshot.version, region)
    });
    let handle = state
        .jobs
        .start(action, doc.clone(), session)
        .map_err(|e| invalid(e.to_string()))?;
    let (endpoint, preview) = {
        let config = state.config.lock();
        (
            config.endpoint(),
            config.settings().edits.mode == crate::config::EditMode::Preview,
        )
    };
    let client = ModelClient::new(endpoint).map_err(|e| e.to_string());
    let region_text = snapshot.rope.byte_slice(target.bytes.clone()).to_string();
    let request = JobRequest {
        action,
        uri: args.uri.clone(),
        doc,
        prompt,
        work_done_token: token,
        crlf: uses_crlf(&snapshot.rope),
        region_ends_with_newline: region_text.ends_with('\n') || region_text.is_empty(),
        preview,
        client,
    };
    tracing::info!(
        job = handle.id,
        action = action.name(),
        uri = args.uri.as_str(),
        "job started"
    );
    let id = handle.id;
    tokio::spawn(jobs::run(state.clone(), handle, request));
    Ok(json!({"jobId": id}))
}

/// What an action works on, in bytes of the snapshot.
struct Target {
    bytes: Range<usize>,
    /// The item around the target, when the target is only part of it.
    enclosing: Option<Range<usize>>,
    /// Problems to fix, in words.
    problems: Vec<String>,
}

impl Target {
    fn new(state: &State, action: Action, args: &ActionArgs, snapshot: &Snapshot) -> Result<Self> {
        let rope = &snapshot.rope;
        let encoding = state.encoding();
        let found = match (snapshot.language, snapshot.tree.as_ref()) {
            (Some(language), Some(tree)) => items(language, tree, rope),
            _ => Vec::new(),
        };
        let range = args.range.map(|r| {
            let start = convert::byte_offset(rope, r.start, encoding);
            let end = convert::byte_offset(rope, r.end, encoding);
            start.min(end)..start.max(end)
        });
        let position = args
            .position
            .map(|p| convert::byte_offset(rope, p, encoding))
            .or(range.as_ref().map(|r| r.start));
        let innermost = |byte: usize| items_at(&found, byte).last().copied();
        let whole_item =
            |item: &Item| line_start_if_indented(rope, item.range.start)..item.range.end;
        let bytes = match action {
            Action::Implement => {
                let at = position.ok_or_else(|| invalid("tandem.implement needs a position"))?;
                let language = snapshot
                    .language
                    .ok_or_else(|| invalid("this language has no grammar to find a body in"))?;
                let item = items_at(&found, at)
                    .into_iter()
                    .rev()
                    .find(|item| is_unfinished(language, item, rope))
                    .ok_or_else(|| invalid("there is no unfinished body (todo!(), pass, TODO, an empty body) at the position"))?;
                whole_item(item)
            }
            Action::Document => {
                let at = position.ok_or_else(|| invalid("tandem.document needs a position"))?;
                let item = innermost(at).ok_or_else(|| {
                    invalid("there is no item (function, type, …) at the position")
                })?;
                whole_item(item)
            }
            Action::Edit => {
                let range = range.ok_or_else(|| invalid("tandem.edit needs a range"))?;
                if args
                    .instruction
                    .as_deref()
                    .is_none_or(|i| i.trim().is_empty())
                {
                    return Err(invalid(
                        "tandem.edit needs an instruction: say what to change",
                    ));
                }
                range
            }
            Action::Explain | Action::Fix | Action::Tests | Action::Review => {
                let range = range
                    .or(position.map(|p| p..p))
                    .ok_or_else(|| invalid("a range is needed"))?;
                if range.is_empty() {
                    match innermost(range.start) {
                        Some(item) => whole_item(item),
                        None => line_of(rope, range.start),
                    }
                } else {
                    range
                }
            }
        };
        let enclosing = enclosing_item(&found, &bytes)
            .filter(|item| item.range != bytes)
            .map(|item| item.range.clone());
        let mut problems: Vec<String> = args
            .diagnostics
            .iter()
            .map(|d| {
                let message = match &d.message {
                    lsp::Message::String(text) => text.clone(),
                    lsp::Message::MarkupContent(markup) => markup.value.clone(),
                };
                format!("line {}: {message}", d.range.start.line + 1)
            })
            .collect();
        if action == Action::Fix {
            if let Some(tree) = snapshot.tree.as_ref() {
                for error in syntax_errors(tree, rope, 50) {
                    if error.byte_range.start >= bytes.start && error.byte_range.start <= bytes.end
                    {
                        problems.push(format!(
                            "line {}: {}",
                            rope.byte_to_line(error.byte_range.start) + 1,
                            error.message
                        ));
                    }
                }
            }
            if problems.is_empty() {
                return Err(invalid(
                    "there is nothing to fix in the range: no diagnostics were given and it has no syntax errors",
                ));
            }
        }
        Ok(Self {
            bytes,
            enclosing,
            problems,
        })
    }
}

fn build_prompt(
    state: &State,
    action: Action,
    args: &ActionArgs,
    snapshot: &Snapshot,
    target: &Target,
    root: Option<&Path>,
    path: Option<&Path>,
) -> Result<Prompt> {
    let rope = &snapshot.rope;
    let text = |range: &Range<usize>| rope.byte_slice(range.clone()).to_string();
    let target_text = text(&target.bytes);
    let enclosing_text = target.enclosing.as_ref().map(text);
    let (import_lines, names) = match (snapshot.language, snapshot.tree.as_ref()) {
        (Some(language), Some(tree)) => (
            imports(language, tree, rope),
            referenced_names(language, tree, rope, &target.bytes),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let index = state.index.lock();
    let this_file = path.map(Path::to_path_buf).unwrap_or_default();
    let signatures = index
        .as_ref()
        .map(|index| {
            index.signatures_for(names.iter().map(String::as_str), &this_file, MAX_SIGNATURES)
        })
        .unwrap_or_default();
    let rules = match (root, path) {
        (Some(root), Some(path)) => agents_rules(root, path),
        _ => Vec::new(),
    };
    let shown_path = match (root, path) {
        (Some(root), Some(path)) => path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string(),
        (None, Some(path)) => path.display().to_string(),
        _ => args.uri.as_str().to_owned(),
    };
    let language = snapshot.language.map_or("text", |l| l.name());
    let parts = PromptParts {
        language,
        path: &shown_path,
        target: &target_text,
        target_line: rope.byte_to_line(target.bytes.start) + 1,
        enclosing: enclosing_text.as_deref(),
        imports: &import_lines,
        signatures: &signatures,
        diagnostics: &target.problems,
        rules: &rules,
        instruction: args.instruction.as_deref(),
        ..PromptParts::default()
    };
    let settings = state.config.lock().settings().clone();
    let window = context_window(&settings.model.name).unwrap_or(32_000);
    let tokens = window
        .saturating_sub(settings.model.max_output_tokens as usize)
        .max(2_000);
    // About three characters per token for code: a conservative budget.
    let budget = tokens.saturating_mul(3).min(400_000);
    prompt::build(action, &parts, budget).map_err(|e| invalid(e.to_string()))
}

/// `tandem.reject`: puts back exactly the text the job replaced.
async fn reject(state: &Arc<State>, id: u64) -> Result<()> {
    let (doc, handle): (_, JobHandle) = state
        .jobs
        .decide(id, Verdict::Rejected)
        .map_err(|e| invalid(e.to_string()))?;
    let uri =
        convert::lsp_uri(&doc).ok_or_else(|| invalid("the job's document has no valid URI"))?;
    let request = JobRequest {
        action: Action::Edit,
        uri,
        doc,
        prompt: Prompt {
            system: String::new(),
            user: String::new(),
            sizes: Default::default(),
        },
        work_done_token: None,
        crlf: false,
        region_ends_with_newline: true,
        preview: false,
        client: Err("a reject asks no model".into()),
    };
    let state = state.clone();
    // The edits go out from a spawned task: a request handler never waits on the client itself.
    let done = tokio::spawn(async move { jobs::reject(&state, &handle, &request).await });
    match done.await {
        Ok(Ok(())) => {
            tracing::info!(job = id, "rejected");
            Ok(())
        }
        Ok(Err(why)) => Err(Error {
            code: ErrorCode::InternalError,
            message: format!("tandem: {why}").into(),
            data: None,
        }),
        Err(join) => Err(Error {
            code: ErrorCode::InternalError,
            message: format!("tandem: reject failed: {join}").into(),
            data: None,
        }),
    }
}

/// `tandem.status`.
fn status(state: &State) -> Value {
    let (settings, url) = {
        let config = state.config.lock();
        (
            serde_json::to_value(config.settings()).unwrap_or(Value::Null),
            config.endpoint().base_url.clone(),
        )
    };
    let jobs: Vec<Value> = state
        .jobs
        .summaries()
        .into_iter()
        .map(|j| json!({"jobId": j.id, "action": j.action.name(), "uri": j.uri.as_ref(), "status": j.status.as_str()}))
        .collect();
    json!({
        "settings": settings,
        "endpoint": {"url": url, "state": state.endpoint_health.state(&url)},
        "jobs": jobs,
        "counters": state.jobs.counters(),
    })
}

/// `textDocument/codeAction`: the actions that apply at the range; never calls the model.
pub async fn code_actions(
    state: &Arc<State>,
    params: lsp::CodeActionParams,
) -> Result<Option<Vec<lsp::CodeActionResponse>>> {
    let doc = convert::doc_uri(&params.text_document.uri);
    let Some(snapshot) = state.workspace.snapshot_with_syntax(&doc).await else {
        return Ok(None);
    };
    let rope = &snapshot.rope;
    let encoding = state.encoding();
    let start = convert::byte_offset(rope, params.range.start, encoding);
    let end = convert::byte_offset(rope, params.range.end, encoding);
    let found = match (snapshot.language, snapshot.tree.as_ref()) {
        (Some(language), Some(tree)) => items(language, tree, rope),
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
        .filter(|offer| ACTIONS.contains(&offer.action) && offer.action != Action::Edit)
        .map(|offer| {
            let argument = match offer.action {
                Action::Implement | Action::Document => {
                    json!({"uri": uri, "position": params.range.start})
                }
                Action::Fix => {
                    json!({"uri": uri, "range": params.range, "diagnostics": diagnostics})
                }
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
        .collect();
    Ok(Some(actions))
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

/// `window/workDoneProgress/cancel`: cancelling a job's progress cancels the job.
pub fn cancel_progress(state: &State, token: &lsp::ProgressToken) {
    if let Some(id) = state.progress.job_of(token) {
        let _ = state
            .jobs
            .cancel(id, Some("cancelled from its progress".into()));
    }
}

/// Builds the workspace symbol index in the background.
pub fn index_workspace(state: &Arc<State>) {
    let Some(root) = state.root.get().cloned().flatten() else {
        state.index_ready.send_replace(true);
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        let built = tokio::task::spawn_blocking(move || {
            crate::agent::index::SymbolIndex::build(&root, 5_000)
        })
        .await;
        match built {
            Ok(index) => {
                tracing::info!(files = index.file_count(), "workspace symbol index built");
                *state.index.lock() = Some(index);
            }
            Err(err) => tracing::error!("building the symbol index failed: {err}"),
        }
        state.index_ready.send_replace(true);
    });
}

/// Keeps the index current with a saved file.
pub fn reindex_file(state: &State, path: PathBuf, rope: &Rope) {
    if let Some(index) = state.index.lock().as_mut() {
        index.update_file(&path, rope);
    }
}

fn uses_crlf(rope: &Rope) -> bool {
    rope.lines().take(50).any(|line| {
        let n = line.len_chars();
        n >= 2 && line.char(n - 1) == '\n' && line.char(n - 2) == '\r'
    })
}

/// `byte`, or the start of its line when only indentation precedes it there.
fn line_start_if_indented(rope: &Rope, byte: usize) -> usize {
    let line = rope.byte_to_line(byte);
    let start = rope.line_to_byte(line);
    let before = rope.byte_slice(start..byte);
    if before.chars().all(|c| c == ' ' || c == '\t') {
        start
    } else {
        byte
    }
}

/// The line holding `byte`, without its line end.
fn line_of(rope: &Rope, byte: usize) -> Range<usize> {
    let line = rope.byte_to_line(byte);
    let start = rope.line_to_byte(line);
    let text = rope.line(line).to_string();
    start..start + text.trim_end_matches(['\n', '\r']).len()
}
