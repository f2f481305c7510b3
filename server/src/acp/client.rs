//! One agent process and its ACP connection: requests out, updates and the agent's requests in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::v1::schema::{
    AuthMethod, AuthenticateRequest, CancelNotification, ClientCapabilities, CloseSessionRequest,
    FileSystemCapabilities, Implementation, InitializeRequest, NewSessionRequest, PromptRequest,
    ReadTextFileRequest, ReadTextFileResponse, RequestPermissionOutcome, RequestPermissionRequest,
    RequestPermissionResponse, SelectedPermissionOutcome, SessionNotification,
    WriteTextFileRequest, WriteTextFileResponse,
};
use agent_client_protocol::{Agent, ByteStreams, Client};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};
use tokio_util::sync::CancellationToken;

use super::process::{self, AgentProcess};
use super::{AcpError, AcpHost, PromptBlock, TurnEnd, Update, convert};

/// How long `initialize` and `session/new` may take: agents started through `npx` download
/// themselves on first use.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// After a request failed, how long to wait for the process's exit to tell why.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A running ACP agent with an initialized connection. Dropping it kills the agent's process
/// group.
pub struct AcpClient {
    process: AgentProcess,
    connection: ConnectionTo<Agent>,
    sessions: Arc<Sessions>,
    root: PathBuf,
    driver: tokio::task::JoinHandle<()>,
    /// The ways to sign in the agent offered at `initialize`.
    auth: Vec<SignInWay>,
    /// How the agent calls itself (`agentInfo`'s title or name), else its program.
    name: String,
}

/// One way to sign in the agent offered.
struct SignInWay {
    id: String,
    name: String,
    /// Its name and description, where a key's variable is named; empty for a way a person
    /// runs in a terminal, never through `authenticate`.
    words: String,
}

/// A session the agent created, and the updates it sends for it.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub updates: mpsc::UnboundedReceiver<Update>,
}

/// Where each session's updates go, and the token that ends its current turn's questions.
#[derive(Default)]
struct Sessions(Mutex<HashMap<String, SessionState>>);

struct SessionState {
    updates: mpsc::UnboundedSender<Update>,
    turn: CancellationToken,
}

impl Sessions {
    fn route(&self, notification: SessionNotification) {
        let id = notification.session_id.0.to_string();
        let Some(update) = convert::update(notification.update) else {
            return;
        };
        let mut sessions = self.0.lock();
        if let Some(state) = sessions.get(&id)
            && state.updates.send(update).is_err()
        {
            // Nobody listens to this session any more.
            sessions.remove(&id);
        }
    }

    /// The current turn's token: cancelled by `cancel`, so open questions answer "cancelled".
    fn turn(&self, id: &str) -> CancellationToken {
        self.0
            .lock()
            .get(id)
            .map_or_else(CancellationToken::new, |state| state.turn.clone())
    }
}

impl AcpClient {
    /// Starts `command` in `root` and initializes it, advertising `fs.readTextFile` and
    /// `fs.writeTextFile`; the agent's requests go to `host`.
    pub async fn start<H: AcpHost>(
        command: &[String],
        root: &Path,
        host: Arc<H>,
    ) -> Result<Self, AcpError> {
        let (process, stdin, stdout) = process::spawn(command, root)?;
        let transport = ByteStreams::new(stdin.compat_write(), stdout.compat());
        let sessions = Arc::new(Sessions::default());
        let (connected, connection) = oneshot::channel();
        let builder = handlers(Arc::clone(&sessions), host);
        let program = process.program.clone();
        let driver = tokio::spawn(async move {
            let result = builder
                .connect_with(transport, async move |connection: ConnectionTo<Agent>| {
                    let _ = connected.send(connection.clone());
                    connection.incoming_closed().await;
                    Ok(())
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(agent = %program, "ACP connection ended: {error}");
            }
        });
        let Ok(connection) = connection.await else {
            let status = process.exited().await;
            return Err(process.exited_error(status));
        };
        let mut client = AcpClient {
            process,
            connection,
            sessions,
            root: root.to_path_buf(),
            driver,
            auth: Vec::new(),
            name: String::new(),
        };
        let capabilities = ClientCapabilities::new().fs(FileSystemCapabilities::new()
            .read_text_file(true)
            .write_text_file(true));
        let initialize = InitializeRequest::new(ProtocolVersion::V1)
            .client_capabilities(capabilities)
            .client_info(Implementation::new("tandem", env!("CARGO_PKG_VERSION")));
        let request = client.connection.send_request(initialize).block_task();
        let initialized = client
            .finish("initialize", Some(SETUP_TIMEOUT), request)
            .await?;
        client.name = initialized
            .agent_info
            .as_ref()
            .map(|info| info.title.clone().unwrap_or_else(|| info.name.clone()))
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| client.process.program.clone());
        client.auth = initialized
            .auth_methods
            .iter()
            .map(|method| SignInWay {
                id: method.id().0.to_string(),
                name: method.name().to_owned(),
                words: match method {
                    AuthMethod::Terminal(_) => String::new(),
                    _ => format!("{} {}", method.name(), method.description().unwrap_or("")),
                },
            })
            .collect();
        Ok(client)
    }

    /// `session/new` with the workspace root as cwd and no MCP servers. An agent that wants a
    /// sign-in first is signed in with a method whose key is in the environment, if it offered
    /// one (`authenticate`), and asked again.
    pub async fn new_session(&self) -> Result<Session, AcpError> {
        let request = NewSessionRequest::new(self.root.clone());
        let sent = self.connection.send_request(request.clone()).block_task();
        let response = match self.finish("session/new", Some(SETUP_TIMEOUT), sent).await {
            Err(AcpError::SignIn { .. }) if self.sign_in().await? => {
                let sent = self.connection.send_request(request).block_task();
                self.finish("session/new", Some(SETUP_TIMEOUT), sent)
                    .await?
            }
            other => other?,
        };
        let id = response.session_id.0.to_string();
        let (sender, updates) = mpsc::unbounded_channel();
        let state = SessionState {
            updates: sender,
            turn: CancellationToken::new(),
        };
        self.sessions.0.lock().insert(id.clone(), state);
        Ok(Session { id, updates })
    }

    /// `session/prompt`: runs one turn and tells how it ended. Every update of the turn is on
    /// the session's channel before this returns.
    pub async fn prompt(
        &self,
        session: &str,
        blocks: Vec<PromptBlock>,
    ) -> Result<TurnEnd, AcpError> {
        if let Some(state) = self.sessions.0.lock().get_mut(session) {
            state.turn = CancellationToken::new();
        }
        let blocks = blocks.into_iter().map(convert::prompt_block).collect();
        let request = PromptRequest::new(session.to_owned(), blocks);
        let request = self.connection.send_request(request).block_task();
        let response = self.finish("session/prompt", None, request).await?;
        Ok(convert::turn_end(response))
    }

    /// `session/close`: the agent may free what it keeps for the session (a job's session is
    /// not used again). Agents without it answer an error, which is ignored; the answer is not
    /// awaited for long.
    pub async fn close(&self, session: &str) {
        self.sessions.0.lock().remove(session);
        let request = CloseSessionRequest::new(session.to_owned());
        let sent = self.connection.send_request(request).block_task();
        if let Ok(Err(error)) = tokio::time::timeout(EXIT_GRACE, sent).await {
            tracing::debug!(agent = %self.name, "session/close: {error}");
        }
    }

    /// `session/cancel`: the agent stops the turn soon and ends it with `Cancelled`; the turn's
    /// open permission questions are answered "cancelled" at once.
    pub fn cancel(&self, session: &str) -> Result<(), AcpError> {
        self.sessions.turn(session).cancel();
        self.connection
            .send_notification(CancelNotification::new(session.to_owned()))
            .map_err(|error| self.protocol_error("session/cancel", &error))
    }

    /// Kills the agent's process group now (as dropping the last handle does): for the server's
    /// exit, which does not wait for handles held elsewhere to drop.
    pub fn kill(&self) {
        self.process.kill();
    }

    /// Signs in with the first method the agent offered whose words name an environment
    /// variable that is set (`Use OPENAI_API_KEY`): whether one was accepted.
    async fn sign_in(&self) -> Result<bool, AcpError> {
        for SignInWay { id, words, .. } in &self.auth {
            if !names_a_set_variable(words) {
                continue;
            }
            let sent = self
                .connection
                .send_request(AuthenticateRequest::new(id.clone()))
                .block_task();
            match self.finish("authenticate", Some(SETUP_TIMEOUT), sent).await {
                Ok(_) => {
                    tracing::info!(agent = %self.process.program, method = %id, "signed in");
                    return Ok(true);
                }
                Err(error @ AcpError::Exited { .. }) => return Err(error),
                Err(error) => tracing::warn!("{error}"),
            }
        }
        Ok(false)
    }

    /// How the agent calls itself, for the user: its `agentInfo` title or name, else its
    /// program.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The agent's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// `Some(how)` once the agent's process has exited: start a new client to go on.
    pub fn exit_status(&self) -> Option<String> {
        self.process.exit_status()
    }

    /// Resolves once the agent's process has exited, with how.
    pub async fn exited(&self) -> String {
        self.process.exited().await
    }

    /// Waits for a request's answer; an exit of the agent meanwhile is the error.
    async fn finish<T>(
        &self,
        method: &'static str,
        timeout: Option<Duration>,
        request: impl Future<Output = Result<T, agent_client_protocol::Error>>,
    ) -> Result<T, AcpError> {
        let answer = async {
            match timeout {
                Some(limit) => tokio::time::timeout(limit, request).await.ok(),
                None => Some(request.await),
            }
        };
        let result = tokio::select! {
            answer = answer => answer,
            status = self.process.exited() => return Err(self.process.exited_error(status)),
        };
        match result {
            Some(Ok(response)) => Ok(response),
            Some(Err(error)) if error.code == agent_client_protocol::ErrorCode::AUTH_REQUIRED => {
                let ways: Vec<&str> = self.auth.iter().map(|way| way.name.as_str()).collect();
                Err(AcpError::SignIn {
                    program: self.process.program.clone(),
                    ways: if ways.is_empty() {
                        "its own sign-in".to_owned()
                    } else {
                        ways.join("; ")
                    },
                })
            }
            Some(Err(error)) => {
                // A closed pipe fails the request before the exit is seen: give it a moment.
                match tokio::time::timeout(EXIT_GRACE, self.process.exited()).await {
                    Ok(status) => Err(self.process.exited_error(status)),
                    Err(_) => Err(self.protocol_error(method, &error)),
                }
            }
            None => Err(AcpError::Protocol {
                program: self.process.program.clone(),
                method,
                message: format!(
                    "no answer within {} s",
                    timeout.unwrap_or_default().as_secs()
                ),
            }),
        }
    }

    fn protocol_error(
        &self,
        method: &'static str,
        error: &agent_client_protocol::Error,
    ) -> AcpError {
        AcpError::Protocol {
            program: self.process.program.clone(),
            method,
            message: error.to_string(),
        }
    }
}

impl Drop for AcpClient {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl std::fmt::Debug for AcpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcpClient")
            .field("process", &self.process)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// The connection's handlers: updates are routed at once, in order; the agent's requests are
/// answered off the loop (the host may take long), each from its own task.
fn handlers<H: AcpHost>(
    sessions: Arc<Sessions>,
    host: Arc<H>,
) -> agent_client_protocol::v1::Builder<Client, impl agent_client_protocol::HandleDispatchFrom<Agent>>
{
    let reads = Arc::clone(&host);
    let writes = Arc::clone(&host);
    let questions = Arc::clone(&sessions);
    Client
        .v1()
        .name("tandem")
        .on_receive_notification(
            async move |notification: SessionNotification, _connection| {
                sessions.route(notification);
                Ok(())
            },
            agent_client_protocol::on_receive_notification!(),
        )
        .on_receive_request(
            async move |request: ReadTextFileRequest, responder, connection| {
                let host = Arc::clone(&reads);
                connection.spawn(async move {
                    let session = request.session_id.0.to_string();
                    let read =
                        host.read_text_file(session, request.path, request.line, request.limit);
                    match read.await {
                        Ok(content) => responder.respond(ReadTextFileResponse::new(content)),
                        Err(error) => responder.respond_with_error(convert::fs_error(error)),
                    }
                })
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: WriteTextFileRequest, responder, connection| {
                let host = Arc::clone(&writes);
                connection.spawn(async move {
                    let session = request.session_id.0.to_string();
                    let write = host.write_text_file(session, request.path, request.content);
                    match write.await {
                        Ok(()) => responder.respond(WriteTextFileResponse::new()),
                        Err(error) => responder.respond_with_error(convert::fs_error(error)),
                    }
                })
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |request: RequestPermissionRequest, responder, connection| {
                let host = Arc::clone(&host);
                let session = request.session_id.0.to_string();
                let turn = questions.turn(&session);
                connection.spawn(async move {
                    let tool_call = convert::tool_call_from_update(request.tool_call);
                    let options = request.options.into_iter().map(convert::permission_choice);
                    let ask = host.request_permission(session, tool_call, options.collect());
                    let chosen = tokio::select! {
                        chosen = ask => chosen,
                        () = turn.cancelled() => None,
                    };
                    let outcome = match chosen {
                        Some(id) => {
                            RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(id))
                        }
                        None => RequestPermissionOutcome::Cancelled,
                    };
                    responder.respond(RequestPermissionResponse::new(outcome))
                })
            },
            agent_client_protocol::on_receive_request!(),
        )
}

/// Whether `words` name an environment variable (an upper-case word with `_`, like
/// `OPENAI_API_KEY`) that is set and not empty here, and so in the agent's environment.
fn names_a_set_variable(words: &str) -> bool {
    words
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| {
            word.len() > 3
                && word.contains('_')
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}
