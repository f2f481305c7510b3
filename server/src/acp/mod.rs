//! The client side of the Agent Client Protocol: any ACP agent as a process on our stdio pipes.
//!
//! [`AcpClient::start`] spawns the agent (its own process group, killed with it when the client
//! is dropped), runs `initialize` advertising `fs.readTextFile` and `fs.writeTextFile`, and then
//! serves sessions: [`AcpClient::new_session`] (`session/new` with the workspace root as cwd),
//! [`AcpClient::prompt`] (`session/prompt`), [`AcpClient::cancel`] (`session/cancel`). A session's
//! `session/update` notifications arrive as [`Update`]s on its [`Session::updates`] channel, in
//! the agent's order, all of them before the turn's [`TurnEnd`]. The agent's own requests (read a
//! file, write a file, ask permission) are answered by the caller's [`AcpHost`].
//!
//! Plain Rust: no LSP type crosses this module; the SDK's types stay inside it.

mod client;
mod convert;
mod process;

use std::future::Future;
use std::path::PathBuf;

pub use client::{AcpClient, Session};

/// What the caller implements to answer the agent's requests. Each answer may take long (a
/// permission waits for the user, a write for the editor): they run off the connection's loop, so
/// updates and other requests keep flowing meanwhile.
pub trait AcpHost: Send + Sync + 'static {
    /// `fs/read_text_file`: the file's text (from the editor's buffer if it is open), from
    /// `line` (1-based) on, at most `limit` lines, when they are given.
    fn read_text_file(
        &self,
        session: String,
        path: PathBuf,
        line: Option<u32>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<String, FsError>> + Send;

    /// `fs/write_text_file`: make the file's text `content`; answer once it has landed (or failed).
    fn write_text_file(
        &self,
        session: String,
        path: PathBuf,
        content: String,
    ) -> impl Future<Output = Result<(), FsError>> + Send;

    /// `session/request_permission`: the id of the chosen option, or `None` for "cancelled"
    /// (nobody answered, or the turn was cancelled).
    fn request_permission(
        &self,
        session: String,
        tool_call: ToolCallInfo,
        options: Vec<PermissionChoice>,
    ) -> impl Future<Output = Option<String>> + Send;
}

/// Why a host could not read or write a file; becomes the JSON-RPC error the agent sees.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FsError {
    #[error("{} not found", .0.display())]
    NotFound(PathBuf),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Failed(String),
}

/// One block of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptBlock {
    Text(String),
    /// A file the agent may read, as a `resource_link` with its `file://` URI; the path must be
    /// absolute.
    File(PathBuf),
}

/// One `session/update`, in plain terms. Updates this module does not use (available commands,
/// modes, session info) are left out.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A piece of the agent's answer (text blocks only; other content is described in words).
    Message(String),
    /// A piece of the agent's reasoning.
    Thought(String),
    /// A tool call begins (or is announced whole).
    ToolCall(ToolCallInfo),
    /// Fields of an earlier tool call changed; `None` means unchanged.
    ToolCallUpdate {
        id: String,
        title: Option<String>,
        status: Option<ToolStatus>,
        paths: Vec<PathBuf>,
    },
    /// The agent's whole plan, as it stands now.
    Plan(Vec<PlanStep>),
    /// How much of its context window the agent has used.
    ContextUsage { used: u64, size: u64 },
}

/// A tool call as the agent describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallInfo {
    pub id: String,
    pub title: String,
    /// `read`, `edit`, `delete`, `move`, `search`, `execute`, `think`, `fetch`, `other`, ...
    pub kind: String,
    pub status: ToolStatus,
    /// The files it touches, if the agent said.
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolStatus {
    Pending,
    InProgress,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub content: String,
    pub status: StepStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    InProgress,
    Completed,
}

/// One answer the agent offers to a permission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionChoice {
    pub id: String,
    pub name: String,
    pub kind: PermissionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionKind {
    AllowOnce,
    AllowAlways,
    RejectOnce,
    RejectAlways,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnEnd {
    pub stop: StopReason,
    /// Tokens the agent reported for the turn, if it did.
    pub usage: Option<TokenUsage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    MaxTurnRequests,
    Refusal,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub total: u64,
}

/// What went wrong talking to the agent.
#[derive(Debug, thiserror::Error)]
pub enum AcpError {
    #[error("model.command is empty: set it to the agent's command, e.g. [\"codex-acp\"]")]
    NoCommand,
    #[error(
        "the ACP agent `{program}` could not be started: {error}. Is it installed and on the \
         PATH the server sees? Set model.command to change it"
    )]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error(
        "the ACP agent `{program}` needs a sign-in first ({ways}): set the key's variable in the \
         environment the editor starts Tandem with, or sign in with the agent's own command"
    )]
    SignIn { program: String, ways: String },
    #[error("the ACP agent `{program}` exited ({status})")]
    Exited { program: String, status: String },
    #[error("the ACP agent `{program}` answered {method} with an error: {message}")]
    Protocol {
        program: String,
        method: &'static str,
        message: String,
    },
}
