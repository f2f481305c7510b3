//! A scripted ACP agent for tests: a real ACP peer on stdio (the SDK's agent side) whose turns
//! follow a JSON script in `TANDEM_ACP_SCRIPT` (or in the file `TANDEM_ACP_SCRIPT_FILE` names).
//!
//! The script is `{"turns": [{"steps": [...], "usage": [input, output]}]}`; turn n of the session
//! plays `turns[n]` (the last one again when there are fewer). Steps, one key each:
//! `{"message": "text"}`, `{"thought": "text"}`, `{"plan": ["step", ...]}`,
//! `{"tool_call": {"id", "title", "kind", "path"}}` (pending), `{"tool_done": "id"}` (that call
//! completed), `"echo_prompt"` (a message describing the
//! prompt's blocks and the session's cwd), `{"read": {"path", "line", "limit"}}` and
//! `{"write": {"path", "content"}}` through the client, `{"permission": "title"}`,
//! `{"disk_write": {"path", "content"}}` straight to disk, `"spawn_child"` (a `sleep` in the
//! agent's process group; its pid as a message), `"wait_cancel"`, `{"exit": code}`,
//! `{"wait_file": path}` (until the file exists: a test's gate), `"malformed"` (a line that is
//! not JSON on stdout), `"hang"` (never answers, not even a cancel), `"pid"` (its pid as a
//! message), `"closed"` (the sessions closed so far, as a message). Sessions are `session-1`, `session-2`, ... and turns count across them. With
//! `TANDEM_ACP_STAMPS` set, the time each write request is sent is appended to that file. What a
//! request to the client returned comes back as a message ("read: ...", "wrote ...",
//! "permission: <option id>" or "permission: cancelled", "... error: ..."). A `session/cancel`
//! ends the turn with `cancelled` before the next step.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::v1::schema::{
    AgentCapabilities, CancelNotification, ClientCapabilities, CloseSessionRequest,
    CloseSessionResponse, ContentBlock, ContentChunk, InitializeRequest, InitializeResponse,
    NewSessionRequest, NewSessionResponse, PermissionOption, PermissionOptionKind, Plan, PlanEntry,
    PlanEntryPriority, PlanEntryStatus, PromptRequest, PromptResponse, ReadTextFileRequest,
    RequestPermissionOutcome, RequestPermissionRequest, SessionNotification, SessionUpdate,
    StopReason, TextContent, ToolCall, ToolCallLocation, ToolCallStatus, ToolCallUpdate,
    ToolCallUpdateFields, ToolKind, Usage, WriteTextFileRequest,
};
use agent_client_protocol::{Agent, Client, Stdio};
use serde::Deserialize;
use tokio::sync::Notify;

#[derive(Deserialize, Clone)]
struct Script {
    turns: Vec<Turn>,
}

#[derive(Deserialize, Clone, Default)]
struct Turn {
    steps: Vec<Step>,
    #[serde(default)]
    usage: Option<(u64, u64)>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "snake_case")]
enum Step {
    Message(String),
    Thought(String),
    Plan(Vec<String>),
    ToolCall {
        id: String,
        title: String,
        kind: ToolKind,
        path: Option<PathBuf>,
    },
    ToolDone(String),
    EchoPrompt,
    Read {
        path: PathBuf,
        line: Option<u32>,
        limit: Option<u32>,
    },
    Write {
        path: PathBuf,
        content: String,
    },
    Permission(String),
    DiskWrite {
        path: PathBuf,
        content: String,
    },
    SpawnChild,
    WaitCancel,
    Exit(i32),
    WaitFile(PathBuf),
    Malformed,
    Hang,
    Pid,
    Closed,
}

/// What the agent keeps between messages.
#[derive(Default)]
struct State {
    client: Mutex<Option<ClientCapabilities>>,
    cwd: Mutex<PathBuf>,
    turn: AtomicUsize,
    sessions: AtomicUsize,
    closed: Mutex<Vec<String>>,
    cancelled: AtomicBool,
    cancel: Notify,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let script = match std::env::var_os("TANDEM_ACP_SCRIPT_FILE") {
        Some(path) => std::fs::read_to_string(path)?,
        None => std::env::var("TANDEM_ACP_SCRIPT")?,
    };
    let script: Script = serde_json::from_str(&script)?;
    let state = Arc::new(State::default());
    let (on_init, on_session, on_prompt) = (state.clone(), state.clone(), state.clone());
    let on_close = state.clone();
    Agent
        .v1()
        .name("scripted")
        .on_receive_request(
            async move |request: InitializeRequest, responder, _connection| {
                *on_init
                    .client
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(request.client_capabilities);
                responder.respond(
                    InitializeResponse::new(request.protocol_version)
                        .agent_capabilities(AgentCapabilities::new()),
                )
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: NewSessionRequest, responder, _connection| {
                *on_session
                    .cwd
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = request.cwd;
                let n = on_session.sessions.fetch_add(1, Ordering::SeqCst) + 1;
                responder.respond(NewSessionResponse::new(format!("session-{n}")))
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: CloseSessionRequest, responder, _connection| {
                on_close
                    .closed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(request.session_id.0.to_string());
                responder.respond(CloseSessionResponse::new())
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: PromptRequest, responder, connection| {
                let state = on_prompt.clone();
                let n = state.turn.fetch_add(1, Ordering::SeqCst);
                let turn = script.turns.get(n).or(script.turns.last()).cloned();
                state.cancelled.store(false, Ordering::SeqCst);
                let task = connection.clone();
                connection.spawn(async move {
                    let stop = play(&task, &state, &request, turn.unwrap_or_default()).await?;
                    responder.respond(stop)
                })
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_notification(
            async move |_cancel: CancelNotification, _connection| {
                state.cancelled.store(true, Ordering::SeqCst);
                state.cancel.notify_waiters();
                Ok(())
            },
            agent_client_protocol::on_receive_notification!(),
        )
        .connect_to(Stdio::new())
        .await?;
    Ok(())
}

/// Plays one turn's steps and says how it ended.
async fn play(
    client: &ConnectionTo<Client>,
    state: &State,
    prompt: &PromptRequest,
    turn: Turn,
) -> Result<PromptResponse, agent_client_protocol::Error> {
    let session = prompt.session_id.clone();
    let say = |text: String| {
        let chunk = ContentChunk::new(ContentBlock::Text(TextContent::new(text)));
        let update = SessionUpdate::AgentMessageChunk(chunk);
        client.send_notification(SessionNotification::new(session.clone(), update))
    };
    let fs = state
        .client
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_default()
        .fs;
    for step in turn.steps {
        if state.cancelled.load(Ordering::SeqCst) {
            return Ok(PromptResponse::new(StopReason::Cancelled));
        }
        match step {
            Step::Message(text) => say(text)?,
            Step::Thought(text) => {
                let chunk = ContentChunk::new(ContentBlock::Text(TextContent::new(text)));
                let update = SessionUpdate::AgentThoughtChunk(chunk);
                client.send_notification(SessionNotification::new(session.clone(), update))?;
            }
            Step::Plan(steps) => {
                let entries = steps.into_iter().enumerate().map(|(i, content)| {
                    let status = if i == 0 {
                        PlanEntryStatus::InProgress
                    } else {
                        PlanEntryStatus::Pending
                    };
                    PlanEntry::new(content, PlanEntryPriority::Medium, status)
                });
                let update = SessionUpdate::Plan(Plan::new(entries.collect()));
                client.send_notification(SessionNotification::new(session.clone(), update))?;
            }
            Step::ToolCall {
                id,
                title,
                kind,
                path,
            } => {
                let locations = path.into_iter().map(ToolCallLocation::new).collect();
                let call = ToolCall::new(id, title).kind(kind).locations(locations);
                let update = SessionUpdate::ToolCall(call);
                client.send_notification(SessionNotification::new(session.clone(), update))?;
            }
            Step::ToolDone(id) => {
                let fields = ToolCallUpdateFields::new().status(ToolCallStatus::Completed);
                let update = SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(id, fields));
                client.send_notification(SessionNotification::new(session.clone(), update))?;
            }
            Step::EchoPrompt => {
                let blocks: Vec<String> = prompt.prompt.iter().map(describe).collect();
                let cwd = state
                    .cwd
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .display()
                    .to_string();
                say(format!("prompt: {} | cwd: {cwd}", blocks.join(" | ")))?;
            }
            Step::Read { path, line, limit } => {
                if !fs.read_text_file {
                    say("read refused: the client has no fs.readTextFile".to_owned())?;
                    continue;
                }
                let request = ReadTextFileRequest::new(session.clone(), path)
                    .line(line)
                    .limit(limit);
                match client.send_request(request).block_task().await {
                    Ok(read) => say(format!("read: {}", read.content))?,
                    Err(error) => say(format!("read error: {}", error.message))?,
                }
            }
            Step::Write { path, content } => {
                if !fs.write_text_file {
                    say("write refused: the client has no fs.writeTextFile".to_owned())?;
                    continue;
                }
                let shown = path.display().to_string();
                let request = WriteTextFileRequest::new(session.clone(), path, content);
                stamp();
                match client.send_request(request).block_task().await {
                    Ok(_) => say(format!("wrote {shown}"))?,
                    Err(error) => say(format!("write error: {}", error.message))?,
                }
            }
            Step::Permission(title) => {
                let fields = ToolCallUpdateFields::new()
                    .title(title)
                    .kind(ToolKind::Edit);
                let options = vec![
                    PermissionOption::new("allow-once", "Allow", PermissionOptionKind::AllowOnce),
                    PermissionOption::new(
                        "allow-always",
                        "Always allow",
                        PermissionOptionKind::AllowAlways,
                    ),
                    PermissionOption::new(
                        "reject-once",
                        "Reject",
                        PermissionOptionKind::RejectOnce,
                    ),
                ];
                let tool_call = ToolCallUpdate::new("permission-1", fields);
                let request = RequestPermissionRequest::new(session.clone(), tool_call, options);
                match client.send_request(request).block_task().await {
                    Ok(answer) => match answer.outcome {
                        RequestPermissionOutcome::Selected(selected) => {
                            say(format!("permission: {}", selected.option_id.0))?;
                        }
                        _ => say("permission: cancelled".to_owned())?,
                    },
                    Err(error) => say(format!("permission error: {}", error.message))?,
                }
            }
            Step::DiskWrite { path, content } => match std::fs::write(&path, content) {
                Ok(()) => say(format!("wrote to disk {}", path.display()))?,
                Err(error) => say(format!("disk write error: {error}"))?,
            },
            Step::SpawnChild => match std::process::Command::new("sleep").arg("600").spawn() {
                Ok(child) => say(format!("child: {}", child.id()))?,
                Err(error) => say(format!("spawn error: {error}"))?,
            },
            Step::WaitCancel => {
                while !state.cancelled.load(Ordering::SeqCst) {
                    let notified = state.cancel.notified();
                    if state.cancelled.load(Ordering::SeqCst) {
                        break;
                    }
                    notified.await;
                }
            }
            Step::Exit(code) => std::process::exit(code),
            Step::WaitFile(path) => {
                while !path.exists() {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
            Step::Malformed => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(b"this is not JSON {\n");
                let _ = out.flush();
            }
            Step::Hang => std::future::pending::<()>().await,
            Step::Pid => say(format!("pid: {}", std::process::id()))?,
            Step::Closed => {
                let closed = state
                    .closed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .join(", ");
                say(format!("closed: {closed}"))?;
            }
        }
    }
    if state.cancelled.load(Ordering::SeqCst) {
        return Ok(PromptResponse::new(StopReason::Cancelled));
    }
    let usage = turn
        .usage
        .map(|(input, output)| Usage::new(input + output, input, output));
    Ok(PromptResponse::new(StopReason::EndTurn).usage(usage))
}

/// With `TANDEM_ACP_STAMPS` set (a bench), the time a write request is sent, in microseconds
/// since the epoch, as one line appended to that file.
fn stamp() {
    use std::io::Write;
    let Some(path) = std::env::var_os("TANDEM_ACP_STAMPS") else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{now}");
    }
}

fn describe(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => format!("text:{}", text.text),
        ContentBlock::ResourceLink(link) => format!("link:{}", link.uri),
        _ => "other".to_owned(),
    }
}
