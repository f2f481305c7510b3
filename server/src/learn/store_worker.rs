//! The store's thread: it owns the SQLite connection, runs the commands the handles send, and
//! pauses the store (telling the user once) at the first failure.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    BUSY_TIMEOUT, Command, Failure, MAX_EXPLANATIONS, OnFailure, StoreCounts, StoreError,
    StoreState, TRIM_EVERY,
};
use crate::learn::schema::{self, MIGRATIONS};

enum Db {
    /// No file yet, or forgotten: reads find nothing (until another process makes the file); a
    /// write makes it.
    Closed,
    Open(Connection),
    Paused,
}

pub(super) struct Worker {
    path: PathBuf,
    db: Db,
    state: Arc<Mutex<StoreState>>,
    on_failure: OnFailure,
    reported: bool,
    puts_since_trim: u32,
}

impl Worker {
    pub(super) fn new(path: PathBuf, state: Arc<Mutex<StoreState>>, on_failure: OnFailure) -> Self {
        Worker {
            path,
            db: Db::Closed,
            state,
            on_failure,
            reported: false,
            puts_since_trim: 0,
        }
    }

    pub(super) fn run(&mut self, commands: &mpsc::Receiver<Command>) {
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
    schema::migrate(&mut conn, MIGRATIONS)?;
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
