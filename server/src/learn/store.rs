//! A workspace's store: one thread owns the SQLite connection; callers send it commands, so
//! no read or write ever runs on the typing path or an async worker. Writes are fire and
//! forget; reads wait a bounded time. Any failure (corrupt, locked, unwritable, not a
//! database) is reported once and pauses the store, which then answers as an empty one.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::StableHash;
use super::schema::{MIGRATIONS, MigrationError};

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
        let mut worker = Worker {
            path: path.clone(),
            db: Db::Closed,
            state: state.clone(),
            on_failure,
            reported: false,
            puts_since_trim: 0,
        };
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

enum Db {
    /// No file yet, or forgotten: reads find nothing (until another process makes the file); a
    /// write makes it.
    Closed,
    Open(Connection),
    Paused,
}

struct Worker {
    path: PathBuf,
    db: Db,
    state: Arc<Mutex<StoreState>>,
    on_failure: OnFailure,
    reported: bool,
    puts_since_trim: u32,
}

impl Worker {
    fn run(&mut self, commands: &mpsc::Receiver<Command>) {
        self.guarded(|worker| {
            worker.open_if_made();
            if matches!(worker.db, Db::Closed) {
                *worker.state.lock() = StoreState::Absent;
            }
        });
        while let Ok(command) = commands.recv() {
            self.guarded(|worker| {
                worker.open_if_made();
                worker.handle(command);
            });
        }
    }

    /// Opens the file when there is none open and it exists (made by an earlier run or another
    /// process).
    fn open_if_made(&mut self) {
        if matches!(self.db, Db::Closed) && self.path.exists() {
            self.writable();
        }
    }

    /// Runs one piece of work; a panic in it pauses the store instead of ending the thread.
    fn guarded(&mut self, work: impl FnOnce(&mut Worker)) {
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| work(self))) {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            self.fail(StoreError::Panic(what));
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::PutExplanation {
                model,
                item,
                item_len,
                explanation,
            } => {
                if let Some(conn) = self.writable() {
                    let written = conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO explanations
                             (model, item_hash, item_text_len, explanation)
                             VALUES (?1, ?2, ?3, ?4)",
                        )
                        .and_then(|mut insert| {
                            insert.execute(params![
                                model,
                                item.hex(),
                                len_sql(item_len),
                                explanation
                            ])
                        });
                    self.check(written);
                    self.puts_since_trim += 1;
                }
                if self.puts_since_trim >= TRIM_EVERY
                    && let Some(conn) = self.readable()
                {
                    let trimmed = trim_explanations(conn, MAX_EXPLANATIONS);
                    self.puts_since_trim = 0;
                    self.check(trimmed);
                }
            }
            Command::GetExplanation {
                model,
                item,
                item_len,
                reply,
            } => {
                let found = self.readable().map(|conn| {
                    conn.prepare_cached(
                        "SELECT explanation FROM explanations
                         WHERE model = ?1 AND item_hash = ?2 AND item_text_len = ?3",
                    )
                    .and_then(|mut select| {
                        select
                            .query_row(params![model, item.hex(), len_sql(item_len)], |row| {
                                row.get(0)
                            })
                            .optional()
                    })
                });
                let _ = reply.send(self.check_read(found).flatten());
            }
            Command::Counts(reply) => {
                let counts = self.readable().map(count_rows);
                let counts = match self.db {
                    Db::Open(_) => self.check_read(counts),
                    Db::Closed | Db::Paused => Some(StoreCounts::default()),
                };
                let _ = reply.send(counts);
            }
            Command::Write(write) => {
                if let Some(conn) = self.writable() {
                    let written = write(conn);
                    self.check(written);
                }
            }
            Command::Read(read) => {
                let done = read(self.readable());
                self.check(done);
            }
            Command::Flush(reply) => {
                let _ = reply.send(());
            }
            Command::Forget(reply) => {
                let _ = reply.send(self.forget());
            }
        }
    }

    fn forget(&mut self) -> Result<(), String> {
        // Closing first: SQLite removes `-wal` and `-shm` itself on a clean close.
        if let Db::Open(conn) = std::mem::replace(&mut self.db, Db::Closed)
            && let Err((_, error)) = conn.close()
        {
            tracing::warn!(path = %self.path.display(), "closing the store: {error}");
        }
        self.reported = false;
        *self.state.lock() = StoreState::Forgotten;
        let mut failed = Vec::new();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => failed.push(format!("{}: {error}", Path::new(&file).display())),
            }
        }
        tracing::info!(path = %self.path.display(), "store forgotten");
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("could not delete {}", failed.join("; ")))
        }
    }

    /// The open connection, if there is one.
    fn readable(&self) -> Option<&Connection> {
        match &self.db {
            Db::Open(conn) => Some(conn),
            Db::Closed | Db::Paused => None,
        }
    }

    /// The open connection, opening the file if it is closed; `None` when paused.
    fn writable(&mut self) -> Option<&Connection> {
        if matches!(self.db, Db::Closed) {
            match connect(&self.path) {
                Ok(conn) => {
                    tracing::info!(path = %self.path.display(), "store open");
                    self.db = Db::Open(conn);
                    *self.state.lock() = StoreState::Open;
                }
                Err(error) => self.fail(error),
            }
        }
        self.readable()
    }

    fn check<T>(&mut self, result: rusqlite::Result<T>) {
        if let Err(error) = result {
            self.fail(error.into());
        }
    }

    fn check_read<T>(&mut self, result: Option<rusqlite::Result<T>>) -> Option<T> {
        match result? {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(error.into());
                None
            }
        }
    }

    /// Pauses the store: logs, closes the connection, tells the user the first time.
    fn fail(&mut self, error: StoreError) {
        let message = error.to_string();
        tracing::warn!(path = %self.path.display(), "store paused: {message}");
        self.db = Db::Paused;
        *self.state.lock() = StoreState::Paused(message.clone());
        if !self.reported {
            self.reported = true;
            (self.on_failure)(&Failure {
                path: self.path.clone(),
                message,
            });
        }
    }
}

/// Opens (creating) the database in WAL mode and brings its schema up to date.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|e| StoreError::Folder(folder.into(), e))?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The first statement that reads the file: a corrupt one fails here.
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "the store could not use WAL");
    }
    // With WAL, NORMAL loses at most the last writes on a power cut, never the file.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    super::schema::migrate(&mut conn, MIGRATIONS)?;
    Ok(conn)
}

/// Deletes all but the `keep` newest explanations.
fn trim_explanations(conn: &Connection, keep: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM explanations WHERE (model, item_hash) IN
         (SELECT model, item_hash FROM explanations
          ORDER BY created_at DESC LIMIT -1 OFFSET ?1)",
        [keep],
    )
}

/// SQLite integers are signed; a text is never 2^63 bytes long.
fn len_sql(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn count_rows(conn: &Connection) -> rusqlite::Result<StoreCounts> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(StoreCounts {
        signals: count("signals")?,
        proposals: count("proposals")?,
        explanations: count("explanations")?,
        completions: count("completions")?,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
