//! The store's schema and its migrations, counted by SQLite's `PRAGMA user_version`.

use rusqlite::Connection;

/// Migration `n` (from 1) takes a database from `user_version` n-1 to n. Append only: a
/// released migration never changes, since users' files were made by it.
pub const MIGRATIONS: &[&str] = &[
    // 1: the team's signals (what became of the agent's edits), the rules proposed from them,
    // and hover explanations.
    "CREATE TABLE signals (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL,
        action TEXT NOT NULL,
        language TEXT,
        path TEXT,
        before_text TEXT NOT NULL,
        agent_text TEXT NOT NULL,
        fate TEXT NOT NULL
            CHECK (fate IN ('accepted', 'rejected', 'undone', 'changed', 'pending')),
        reason TEXT,
        kept_text TEXT,
        created_at INTEGER NOT NULL DEFAULT (unixepoch()),
        updated_at INTEGER NOT NULL DEFAULT (unixepoch()),
        rule_id INTEGER REFERENCES proposals (id) ON DELETE SET NULL
    );
    CREATE INDEX signals_by_fate ON signals (fate, created_at);
    CREATE TABLE proposals (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        scope TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'proposed'
            CHECK (status IN ('proposed', 'approved', 'rejected')),
        evidence TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(evidence)),
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    );
    CREATE TABLE explanations (
        model TEXT NOT NULL,
        item_hash TEXT NOT NULL,
        item_text_len INTEGER NOT NULL,
        explanation TEXT NOT NULL,
        created_at INTEGER NOT NULL DEFAULT (unixepoch()),
        PRIMARY KEY (model, item_hash)
    ) WITHOUT ROWID;",
    // 2: a signal is saved again as its fate becomes known: it is found by the server run that
    // recorded it (job ids start again at each start) and its job.
    "ALTER TABLE signals ADD COLUMN run TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX signals_by_job ON signals (run, job_id);",
    // 3: what became of inline suggestions: accepted (whole or partly) or dismissed.
    "CREATE TABLE completions (
        id INTEGER PRIMARY KEY,
        language TEXT,
        path TEXT,
        suggestion TEXT NOT NULL,
        fate TEXT NOT NULL CHECK (fate IN ('accepted', 'partly', 'dismissed')),
        accepted_text TEXT,
        created_at INTEGER NOT NULL DEFAULT (unixepoch())
    );",
];

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the database is at schema version {found}, newer than this Tandem knows ({known}); update Tandem"
    )]
    Newer { found: i64, known: usize },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Brings the database up to the last of `migrations`, each in its own transaction, so a
/// failed one leaves the database at the version before it.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), MigrationError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let start = usize::try_from(found).unwrap_or(usize::MAX);
    if start > migrations.len() {
        return Err(MigrationError::Newer {
            found,
            known: migrations.len(),
        });
    }
    for (done, sql) in migrations.iter().enumerate().skip(start) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(done + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(version = done + 1, "store schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{MIGRATIONS, MigrationError, migrate};

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_database_gets_every_table_and_the_last_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(version(&conn), 0);
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        for table in ["signals", "proposals", "explanations"] {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        // The checks hold: a fate or a status outside the lists is refused.
        let bad_fate = conn.execute(
            "INSERT INTO signals (job_id, action, before_text, agent_text, fate) VALUES (1, 'fix', '', '', 'liked')",
            [],
        );
        assert!(bad_fate.is_err());
        let bad_evidence = conn.execute(
            "INSERT INTO proposals (text, scope, evidence) VALUES ('t', 'workspace', 'not json')",
            [],
        );
        assert!(bad_evidence.is_err());
        // Migrating again changes nothing.
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
    }

    #[test]
    fn only_the_missing_migrations_run_in_order_and_a_failed_one_is_rolled_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &["CREATE TABLE a (x)"]).unwrap();
        conn.execute("INSERT INTO a VALUES (1)", []).unwrap();
        // Migration 1 does not run again (it would fail: the table exists).
        migrate(&mut conn, &["CREATE TABLE a (x)", "CREATE TABLE b (y)"]).unwrap();
        assert_eq!(version(&conn), 2);
        let failing = migrate(
            &mut conn,
            &["", "", "CREATE TABLE c (z); INSERT INTO nowhere VALUES (1)"],
        );
        assert!(matches!(failing, Err(MigrationError::Sqlite(_))));
        assert_eq!(version(&conn), 2);
        let c_exists: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'c'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(c_exists, 0, "the failed migration left nothing behind");
        let kept: i64 = conn.query_row("SELECT x FROM a", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 1);
    }

    #[test]
    fn a_database_from_a_newer_tandem_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let refused = migrate(&mut conn, MIGRATIONS);
        assert!(
            matches!(refused, Err(MigrationError::Newer { found: 99, .. })),
            "{refused:?}"
        );
    }
}
