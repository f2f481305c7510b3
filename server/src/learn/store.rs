//! A workspace's store: one thread owns the SQLite connection; callers send it commands, so
//! no read or write ever runs on the typing path or an async worker. Writes are fire and
//! forget; reads wait a bounded time. Any failure (corrupt, locked, unwritable, not a
//! database) is reported once and pauses the store, which then answers as an empty one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::StableHash;
use super::schema::MigrationError;
use worker::Worker;

/// How long SQLite waits for another process's lock (a second Tandem on the same workspace)
/// before a statement fails with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// Explanations kept on disk (about 1 KB each); the oldest go first.
const MAX_EXPLANATIONS: i64 = 10_000;
/// Writes between two trims to `MAX_EXPLANATIONS`: a trim sorts the table, a write does not.
const TRIM_EVERY: u32 = 64;

/// Why the store paused, for the one message the user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub path: PathBuf,
    pub message: String,
}

/// Called once, on the store's thread, the first time the store fails (again after `forget`).
pub type OnFailure = Box<dyn Fn(&Failure) + Send>;

/// Where the store stands, for `tandem.status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreState {
    /// The thread has not looked at the file yet.
    Opening,
    /// No file yet: nothing was recorded in this workspace. The first record makes it.
    Absent,
    Open,
    /// Failed: answers as an empty store until `forget` or a restart.
    Paused(String),
    /// Deleted by `forget`; the next write makes a new file.
    Forgotten,
}

impl StoreState {
    pub fn as_str(&self) -> &'static str {
        match self {
            StoreState::Opening => "opening",
            StoreState::Absent => "none",
            StoreState::Open => "open",
            StoreState::Paused(_) => "paused",
            StoreState::Forgotten => "forgotten",
        }
    }
}

/// Rows per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCounts {
    pub signals: u64,
    pub proposals: u64,
    pub explanations: u64,
    pub completions: u64,
}

#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error("cannot create the folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store's thread could not start: {0}")]
    Thread(std::io::Error),
    #[error("the store's thread panicked: {0}")]
    Panic(String),
}

/// A write of another module, run on the store's thread with the open connection.
type WriteJob = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;
/// A read of another module, run on the store's thread (`None`: no open file).
type ReadJob = Box<dyn FnOnce(Option<&Connection>) -> rusqlite::Result<()> + Send>;

enum Command {
    PutExplanation {
        model: String,
        item: StableHash,
        item_len: usize,
        explanation: String,
    },
    GetExplanation {
        model: String,
        item: StableHash,
        item_len: usize,
        reply: oneshot::Sender<Option<String>>,
    },
    Counts(oneshot::Sender<Option<StoreCounts>>),
    /// A write of another module (signals, proposals), run on the store's thread.
    Write(WriteJob),
    /// A read of another module; it answers through its own channel. `None` without an open
    /// file (the store then reads as empty).
    Read(ReadJob),
    /// Answers once every command sent before it is done.
    Flush(oneshot::Sender<()>),
    Forget(oneshot::Sender<Result<(), String>>),
}

/// A handle on a workspace's store; clones share it. The thread ends with the last handle.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    commands: mpsc::Sender<Command>,
    state: Arc<Mutex<StoreState>>,
}

impl Store {
    /// Starts the store's thread on the database at `path`, which it opens (and migrates)
    /// before anything else when the file exists; otherwise the first write makes it and its
    /// folder, so a workspace where nothing is recorded leaves no file. Returns at once.
    pub fn open(path: PathBuf, on_failure: OnFailure) -> Store {
        let (commands, receiver) = mpsc::channel();
        let state = Arc::new(Mutex::new(StoreState::Opening));
        let mut worker = Worker::new(path.clone(), state.clone(), on_failure);
        let spawned = std::thread::Builder::new()
            .name("tandem-store".into())
            .spawn(move || worker.run(&receiver));
        if let Err(error) = spawned {
            // The worker went down with the closure: report from here, once.
            let failure = Failure {
                path: path.clone(),
                message: StoreError::Thread(error).to_string(),
            };
            tracing::warn!(path = %path.display(), "store paused: {}", failure.message);
            *state.lock() = StoreState::Paused(failure.message.clone());
        }
        Store {
            shared: Arc::new(Shared {
                path,
                commands,
                state,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    pub fn state(&self) -> StoreState {
        self.shared.state.lock().clone()
    }

    /// Keeps an explanation of the item with this hash and length, by this model.
    pub fn put_explanation(
        &self,
        model: &str,
        item: StableHash,
        item_len: usize,
        explanation: &str,
    ) {
        if matches!(self.state(), StoreState::Paused(_)) {
            return;
        }
        let _ = self.shared.commands.send(Command::PutExplanation {
            model: model.to_owned(),
            item,
            item_len,
            explanation: explanation.to_owned(),
        });
    }

    /// The kept explanation, if the store has it and answers within `wait`.
    pub async fn explanation(
        &self,
        model: &str,
        item: StableHash,
        item_len: usize,
        wait: Duration,
    ) -> Option<String> {
        let model = model.to_owned();
        self.ask(wait, |reply| Command::GetExplanation {
            model,
            item,
            item_len,
            reply,
        })
        .await
        .flatten()
    }

    /// Rows per table, if the store answers within `wait`; zeros when paused or forgotten.
    pub async fn counts(&self, wait: Duration) -> Option<StoreCounts> {
        self.ask(wait, Command::Counts).await.flatten()
    }

    /// Waits (at most `wait`) until every write sent so far is on disk; false if it was not.
    pub async fn flush(&self, wait: Duration) -> bool {
        self.ask(wait, Command::Flush).await.is_some()
    }

    /// Closes the database and deletes its files (the database, `-wal` and `-shm`). A paused
    /// store starts afresh: the next write makes a new file.
    pub async fn forget(&self, wait: Duration) -> Result<(), String> {
        self.ask(wait, Command::Forget).await.unwrap_or_else(|| {
            Err(format!(
                "the store did not answer within {} ms",
                wait.as_millis()
            ))
        })
    }

    /// Runs `write` on the store's thread, opening the file if needed; fire and forget.
    pub(super) fn write(
        &self,
        write: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) {
        if matches!(self.state(), StoreState::Paused(_)) {
            return;
        }
        let _ = self.shared.commands.send(Command::Write(Box::new(write)));
    }

    /// Runs `read` on the store's thread and waits (at most `wait`) for its answer; `read` gets
    /// `None` when there is no open file. `None` when it failed or did not answer in time.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        wait: Duration,
        read: impl FnOnce(Option<&Connection>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Option<T> {
        self.ask(wait, |reply| {
            Command::Read(Box::new(move |conn| {
                let value = read(conn)?;
                let _ = reply.send(value);
                Ok(())
            }))
        })
        .await
    }

    async fn ask<T>(
        &self,
        wait: Duration,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.shared.commands.send(command(reply)).ok()?;
        tokio::time::timeout(wait, answer).await.ok()?.ok()
    }
}

#[path = "store_worker.rs"]
mod worker;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
