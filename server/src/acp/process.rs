//! The agent's process: spawned in a process group of its own, watched until it exits, killed
//! with its whole group when its [`AgentProcess`] is dropped.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

use super::AcpError;

/// A running agent. Dropping it kills the agent and everything it started in its group.
#[derive(Debug)]
pub(super) struct AgentProcess {
    pub(super) program: String,
    pid: Option<u32>,
    /// `None` while the agent runs; how it ended once it has.
    exit: watch::Receiver<Option<String>>,
}

/// Starts `command` in `root`, its stdin and stdout piped to us, its stderr logged.
pub(super) fn spawn(
    command: &[String],
    root: &Path,
) -> Result<(AgentProcess, ChildStdin, ChildStdout), AcpError> {
    let Some((program, args)) = command.split_first() else {
        return Err(AcpError::NoCommand);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|error| AcpError::Spawn {
        program: program.clone(),
        error,
    })?;
    let pid = child.id();
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(AcpError::Spawn {
            program: program.clone(),
            error: std::io::Error::other("its stdio could not be piped"),
        });
    };
    if let Some(stderr) = child.stderr.take() {
        let name = program.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(agent = %name, "{line}");
            }
        });
    }
    let (exit_tx, exit) = watch::channel(None);
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => status.to_string(),
            Err(error) => format!("its status could not be read: {error}"),
        };
        let _ = exit_tx.send(Some(status));
    });
    let process = AgentProcess {
        program: program.clone(),
        pid,
        exit,
    };
    Ok((process, stdin, stdout))
}

impl AgentProcess {
    pub(super) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// How the agent ended, if it has.
    pub(super) fn exit_status(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Resolves once the agent has exited, with how.
    pub(super) async fn exited(&self) -> String {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(status) => status.clone().unwrap_or_default(),
            // The watcher task is gone only when the runtime shuts down.
            Err(_) => "its watcher stopped".to_owned(),
        }
    }

    pub(super) fn exited_error(&self, status: String) -> AcpError {
        AcpError::Exited {
            program: self.program.clone(),
            status,
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl AgentProcess {
    /// SIGKILL to the whole group: the agent and whatever it started (tools, shells), also after
    /// the agent itself has died, since what it started may live on. The group's id is the
    /// agent's pid, which the kernel does not hand out again while the group has members.
    pub(super) fn kill(&self) {
        #[cfg(unix)]
        {
            use rustix::process::{Pid, Signal, kill_process_group};
            let pid = self
                .pid
                .and_then(|id| Pid::from_raw(i32::try_from(id).ok()?));
            // `kill(-1)` would reach every process we may signal: never.
            if let Some(pid) = pid.filter(|pid| !pid.is_init()) {
                let _ = kill_process_group(pid, Signal::KILL);
            }
        }
    }
}
