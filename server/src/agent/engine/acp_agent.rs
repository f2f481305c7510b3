//! The ACP agent behind jobs when `model.provider` is `acp`: one process, started on the first
//! job, kept between jobs, started again when it died or its command changed, killed on exit;
//! and the host that answers its requests, each for the job whose session asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::acp_session::SessionJob;
use super::port::Editor;
use crate::acp::{AcpClient, AcpError, AcpHost, FsError, PermissionChoice, ToolCallInfo};

/// The agent process jobs share, and the jobs its sessions belong to.
pub struct AcpAgents<E: Editor> {
    /// The running agent and the command and root it was started with.
    running: Mutex<Option<Running>>,
    /// Held while an agent starts, so that two jobs starting together start one agent. An
    /// async lock: the start (spawn, `initialize`) is awaited under it, and nothing else is.
    starting: tokio::sync::Mutex<()>,
    router: Arc<Router<E>>,
}

struct Running {
    command: Vec<String>,
    root: PathBuf,
    client: Arc<AcpClient>,
}

impl<E: Editor> Default for AcpAgents<E> {
    fn default() -> Self {
        Self {
            running: Mutex::new(None),
            starting: tokio::sync::Mutex::new(()),
            router: Arc::new(Router {
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl<E: Editor> AcpAgents<E> {
    /// The agent `command` runs in `root`, started (again) when none runs, the one running has
    /// exited, or it was started with another command or root.
    pub(super) async fn client(
        &self,
        command: &[String],
        root: &Path,
    ) -> Result<Arc<AcpClient>, AcpError> {
        if let Some(client) = self.alive(command, root) {
            return Ok(client);
        }
        let _starting = self.starting.lock().await;
        if let Some(client) = self.alive(command, root) {
            return Ok(client);
        }
        if let Some(old) = self.running.lock().take() {
            old.client.kill();
        }
        let client = Arc::new(AcpClient::start(command, root, self.router.clone()).await?);
        tracing::info!(agent = ?command, pid = client.pid(), "ACP agent started");
        *self.running.lock() = Some(Running {
            command: command.to_vec(),
            root: root.to_path_buf(),
            client: client.clone(),
        });
        Ok(client)
    }

    fn alive(&self, command: &[String], root: &Path) -> Option<Arc<AcpClient>> {
        let running = self.running.lock();
        let running = running.as_ref()?;
        (running.command == command
            && running.root == root
            && running.client.exit_status().is_none())
        .then(|| running.client.clone())
    }

    /// The agent's process id, while one runs.
    pub fn pid(&self) -> Option<u32> {
        let running = self.running.lock();
        running.as_ref().and_then(|r| r.client.pid())
    }

    /// Kills the agent's process group, if one runs: the server is exiting.
    pub fn kill(&self) {
        if let Some(running) = self.running.lock().take() {
            running.client.kill();
        }
    }

    /// Routes session `id`'s requests to `job` until [`Self::leave`].
    pub(super) fn join(&self, id: &str, job: Arc<SessionJob<E>>) {
        self.router.sessions.lock().insert(id.to_owned(), job);
    }

    pub(super) fn leave(&self, id: &str) {
        self.router.sessions.lock().remove(id);
    }
}

/// Answers the agent's requests for the job whose session asked.
struct Router<E: Editor> {
    sessions: Mutex<HashMap<String, Arc<SessionJob<E>>>>,
}

impl<E: Editor> Router<E> {
    fn job(&self, session: &str) -> Option<Arc<SessionJob<E>>> {
        self.sessions.lock().get(session).cloned()
    }
}

/// A request for a session no job runs in (it ended): refused.
fn no_job(session: &str) -> FsError {
    FsError::Denied(format!(
        "session {session} has no Tandem job running: its job has ended"
    ))
}

impl<E: Editor> AcpHost for Router<E> {
    async fn read_text_file(
        &self,
        session: String,
        path: PathBuf,
        line: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, FsError> {
        let job = self.job(&session).ok_or_else(|| no_job(&session))?;
        job.read(&path, line, limit)
    }

    async fn write_text_file(
        &self,
        session: String,
        path: PathBuf,
        content: String,
    ) -> Result<(), FsError> {
        let job = self.job(&session).ok_or_else(|| no_job(&session))?;
        job.write(&path, content).await
    }

    async fn request_permission(
        &self,
        session: String,
        tool_call: ToolCallInfo,
        options: Vec<PermissionChoice>,
    ) -> Option<String> {
        let job = self.job(&session)?;
        job.permission(tool_call, options).await
    }
}
