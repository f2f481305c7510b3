use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::{Failure, MAX_EXPLANATIONS, Store, StoreCounts, StoreState, TRIM_EVERY};
use crate::learn::StableHash;

const WAIT: Duration = Duration::from_secs(5);

/// A store at `path` and the failures it reported.
fn open(path: &Path) -> (Store, Arc<Mutex<Vec<Failure>>>) {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let sink = reported.clone();
    let store = Store::open(
        path.to_path_buf(),
        Box::new(move |failure| sink.lock().push(failure.clone())),
    );
    (store, reported)
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("tandem").join("w-0123.sqlite3")
}

fn item(text: &str) -> (StableHash, usize) {
    (StableHash::of(text.as_bytes()), text.len())
}

#[tokio::test]
async fn explanations_are_kept_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (store, reported) = open(&path);
    let (hash, len) = item("fn add() {}");
    assert_eq!(store.explanation("m", hash, len, WAIT).await, None);
    store.put_explanation("m", hash, len, "Adds.");
    assert_eq!(
        store.explanation("m", hash, len, WAIT).await.as_deref(),
        Some("Adds.")
    );
    // Another model, or another text of the same hash's length, is another explanation.
    assert_eq!(store.explanation("other", hash, len, WAIT).await, None);
    assert_eq!(store.explanation("m", hash, len + 1, WAIT).await, None);
    assert_eq!(store.state(), StoreState::Open);
    assert!(store.flush(WAIT).await);
    drop(store);

    let (again, _) = open(&path);
    assert_eq!(
        again.explanation("m", hash, len, WAIT).await.as_deref(),
        Some("Adds.")
    );
    assert_eq!(
        again.counts(WAIT).await,
        Some(StoreCounts {
            explanations: 1,
            ..StoreCounts::default()
        })
    );
    assert!(reported.lock().is_empty());
}

#[tokio::test]
async fn no_file_is_made_until_something_is_recorded_and_one_made_meanwhile_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (store, reported) = open(&path);
    let (hash, len) = item("fn add() {}");
    assert_eq!(store.explanation("m", hash, len, WAIT).await, None);
    assert_eq!(store.counts(WAIT).await, Some(StoreCounts::default()));
    assert_eq!(store.state(), StoreState::Absent);
    assert!(!path.exists() && !path.parent().unwrap().exists());

    // Another server on the same workspace records an explanation: this one reads it.
    let (other, _) = open(&path);
    other.put_explanation("m", hash, len, "Adds.");
    assert!(other.flush(WAIT).await);
    assert_eq!(
        store.explanation("m", hash, len, WAIT).await.as_deref(),
        Some("Adds.")
    );
    assert_eq!(store.state(), StoreState::Open);
    assert!(reported.lock().is_empty());
}

#[tokio::test]
async fn a_database_at_version_0_is_migrated_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (7);")
            .unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 0);
    }
    let (store, reported) = open(&path);
    assert_eq!(store.counts(WAIT).await, Some(StoreCounts::default()));
    drop(store);
    assert!(reported.lock().is_empty());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, crate::learn::schema::MIGRATIONS.len() as i64);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let kept: i64 = conn
        .query_row("SELECT x FROM unrelated", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 7, "what was there is kept");
}

#[tokio::test]
async fn a_corrupt_file_is_reported_once_and_the_store_answers_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let (store, reported) = open(&path);
    let (hash, len) = item("fn a() {}");
    store.put_explanation("m", hash, len, "A.");
    assert_eq!(store.explanation("m", hash, len, WAIT).await, None);
    assert_eq!(store.counts(WAIT).await, Some(StoreCounts::default()));
    store.put_explanation("m", hash, len, "A again.");
    assert!(store.flush(WAIT).await);
    let failures = reported.lock().clone();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path, path);
    assert!(
        failures[0].message.contains("not a database"),
        "{}",
        failures[0].message
    );
    assert!(matches!(store.state(), StoreState::Paused(m) if m.contains("not a database")));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file is left as it was"
    );

    // Forgetting deletes it, and the store starts afresh.
    store.forget(WAIT).await.unwrap();
    assert!(!path.exists());
    store.put_explanation("m", hash, len, "A, anew.");
    assert_eq!(
        store.explanation("m", hash, len, WAIT).await.as_deref(),
        Some("A, anew.")
    );
    assert_eq!(reported.lock().len(), 1);
}

#[tokio::test]
async fn an_unwritable_folder_pauses_the_store() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: creating the folder fails, even for root.
    std::fs::write(dir.path().join("tandem"), b"a file").unwrap();
    let (store, reported) = open(&db_path(&dir));
    let (hash, len) = item("fn f() {}");
    store.put_explanation("m", hash, len, "Does nothing.");
    assert_eq!(store.counts(WAIT).await, Some(StoreCounts::default()));
    let failures = reported.lock().clone();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("cannot create the folder"),
        "{}",
        failures[0].message
    );
}

#[tokio::test]
async fn forget_deletes_the_files_and_reads_find_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (store, reported) = open(&path);
    let (hash, len) = item("struct S;");
    store.put_explanation("m", hash, len, "A unit struct.");
    assert!(store.flush(WAIT).await);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(path.exists() && wal.exists(), "WAL mode keeps a -wal file");
    store.forget(WAIT).await.unwrap();
    assert_eq!(store.state(), StoreState::Forgotten);
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        assert!(!file.exists(), "{} is left", file.display());
    }
    // Nothing is read back, and reading makes no file.
    assert_eq!(store.explanation("m", hash, len, WAIT).await, None);
    assert_eq!(store.counts(WAIT).await, Some(StoreCounts::default()));
    assert!(!path.exists());
    assert!(reported.lock().is_empty());
}

#[tokio::test]
async fn a_locked_database_pauses_the_store_instead_of_waiting_forever() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (store, reported) = open(&path);
    let (first, first_len) = item("fn first() {}");
    store.put_explanation("m", first, first_len, "First.");
    assert!(store.flush(WAIT).await);
    // Another process holds the write lock for longer than the busy timeout.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (hash, len) = item("fn locked() {}");
    store.put_explanation("m", hash, len, "Locked.");
    assert!(store.flush(Duration::from_secs(10)).await);
    let failures = reported.lock().clone();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("locked"),
        "{}",
        failures[0].message
    );
    other.execute_batch("ROLLBACK").unwrap();
}

#[tokio::test]
async fn explanations_on_disk_are_bounded_and_the_newest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (store, _) = open(&path);
    // A first write makes the file and its tables.
    store.write(|_| Ok(()));
    assert!(store.flush(WAIT).await);
    {
        // An old explanation, then the limit's worth of newer ones, written directly.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "BEGIN;
             INSERT INTO explanations (model, item_hash, item_text_len, explanation, created_at)
             VALUES ('m', 'old', 1, 'Old.', 1);",
        )
        .unwrap();
        for i in 0..MAX_EXPLANATIONS {
            conn.execute(
                "INSERT INTO explanations (model, item_hash, item_text_len, explanation, created_at)
                 VALUES ('m', ?1, 1, 'New.', 2)",
                [format!("new{i}")],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let counts = |n| StoreCounts {
        explanations: n,
        ..StoreCounts::default()
    };
    let limit = MAX_EXPLANATIONS as u64;
    assert_eq!(store.counts(WAIT).await, Some(counts(limit + 1)));
    for i in 0..TRIM_EVERY {
        let (hash, len) = item(&format!("fn f{i}() {{}}"));
        store.put_explanation("m", hash, len, "Newest.");
    }
    assert_eq!(store.counts(WAIT).await, Some(counts(limit)));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let old: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM explanations WHERE item_hash = 'old'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "the oldest went first");
    let newest = item("fn f0() {}");
    assert_eq!(
        store
            .explanation("m", newest.0, newest.1, WAIT)
            .await
            .as_deref(),
        Some("Newest.")
    );
}
