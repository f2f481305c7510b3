//! The learning loop's rows in the store: each job's signal, saved again as its fate becomes
//! known; the corrections no rule covers yet; the rules proposed from them and what the team
//! decided.

use std::time::Duration;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::agent::actions::Action;
use crate::agent::proposals::Correction;
use crate::agent::signals::{Signal, SignalSink};

/// The most corrections one request for a rule shows the model (the newest).
const MAX_CORRECTIONS: i64 = 20;

/// Signals of this server run go into `store`.
pub struct StoreSignals {
    store: Store,
    /// Tells this run's jobs from those of earlier runs (job ids start again at each start).
    run: String,
}

impl StoreSignals {
    pub fn new(store: Store) -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let run = format!("{}-{}", std::process::id(), started.as_nanos());
        Self { store, run }
    }
}

impl SignalSink for StoreSignals {
    fn save(&self, signal: &Signal) {
        // A review finding's id is not a job's: its rows are apart.
        let run = if signal.action == Action::Review {
            format!("{}/findings", self.run)
        } else {
            self.run.clone()
        };
        let signal = signal.clone();
        self.store.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO signals (run, job_id, action, language, path, before_text,
                     agent_text, fate, reason, kept_text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (run, job_id) DO UPDATE SET fate = excluded.fate,
                     reason = excluded.reason, kept_text = excluded.kept_text,
                     updated_at = unixepoch()",
            )?
            .execute(params![
                run,
                i64::try_from(signal.job_id).unwrap_or(i64::MAX),
                signal.action.name(),
                signal.language,
                signal.path,
                signal.before,
                signal.agent,
                signal.fate.as_str(),
                signal.reason,
                signal.kept,
            ])
            .map(drop)
        });
    }
}

/// A correction kept in the store, with its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCorrection {
    pub signal: i64,
    pub correction: Correction,
}

/// What a proposal shows as its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub job_id: u64,
    pub path: String,
    pub diff: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a dismissed review finding said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

impl From<&Correction> for Evidence {
    fn from(c: &Correction) -> Self {
        Evidence {
            job_id: c.job_id,
            path: c.path.clone(),
            diff: c.diff.clone(),
            reason: c.reason.clone(),
            finding: c.finding.clone(),
        }
    }
}

/// A rule proposed from corrections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    pub id: i64,
    pub text: String,
    pub scope: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// What the team decided about a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Store {
    /// The corrections no rule covers yet (changes to the agent's text, rejections with a
    /// reason), newest first, at most [`MAX_CORRECTIONS`].
    pub async fn corrections(&self, wait: Duration) -> Option<Vec<StoredCorrection>> {
        self.read(wait, |conn| {
            let Some(conn) = conn else {
                return Ok(Vec::new());
            };
            let mut select = conn.prepare_cached(
                "SELECT id, job_id, path, agent_text, kept_text, reason, action FROM signals
                 WHERE rule_id IS NULL
                   AND (fate = 'changed' OR (fate = 'rejected' AND reason IS NOT NULL))
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = select.query_map([MAX_CORRECTIONS], |row| {
                let path: Option<String> = row.get(2)?;
                let agent: String = row.get(3)?;
                let kept: Option<String> = row.get(4)?;
                let path = path.unwrap_or_default();
                let action: String = row.get(6)?;
                let finding = (action == Action::Review.name()).then(|| agent.clone());
                let diff = kept
                    .and_then(|kept| crate::agent::proposals::correction_diff(&path, &agent, &kept))
                    .unwrap_or_default();
                Ok(StoredCorrection {
                    signal: row.get(0)?,
                    correction: Correction {
                        job_id: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                        path,
                        diff,
                        reason: row.get(5)?,
                        finding,
                    },
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Keeps a proposal and marks the signals it came from as covered; its id.
    pub async fn add_proposal(
        &self,
        text: &str,
        scope: Option<&str>,
        evidence: &[StoredCorrection],
        wait: Duration,
    ) -> Option<i64> {
        let text = text.to_owned();
        let scope = scope.unwrap_or_default().to_owned();
        let shown: Vec<Evidence> = evidence.iter().map(|e| (&e.correction).into()).collect();
        let json = serde_json::to_string(&shown).unwrap_or_else(|_| "[]".into());
        let covered: Vec<i64> = evidence.iter().map(|e| e.signal).collect();
        self.read(wait, move |conn| {
            let Some(conn) = conn else {
                return Ok(None);
            };
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO proposals (text, scope, evidence) VALUES (?1, ?2, ?3)",
                params![text, scope, json],
            )?;
            let id = tx.last_insert_rowid();
            for signal in covered {
                tx.execute(
                    "UPDATE signals SET rule_id = ?1 WHERE id = ?2",
                    params![id, signal],
                )?;
            }
            tx.commit()?;
            Ok(Some(id))
        })
        .await
        .flatten()
    }

    /// The proposals not decided yet, oldest first.
    pub async fn proposals(&self, wait: Duration) -> Option<Vec<Proposal>> {
        self.read(wait, |conn| match conn {
            Some(conn) => select_proposals(conn, None),
            None => Ok(Vec::new()),
        })
        .await
    }

    /// One proposal not decided yet.
    pub async fn proposal(&self, id: i64, wait: Duration) -> Option<Proposal> {
        self.read(wait, move |conn| match conn {
            Some(conn) => Ok(select_proposals(conn, Some(id))?.pop()),
            None => Ok(None),
        })
        .await
        .flatten()
    }

    /// The texts of the rules the team approved or rejected: never proposed again.
    pub async fn decided_rules(&self, wait: Duration) -> Option<Vec<String>> {
        self.read(wait, |conn| {
            let Some(conn) = conn else {
                return Ok(Vec::new());
            };
            let mut select =
                conn.prepare_cached("SELECT text FROM proposals WHERE status <> 'proposed'")?;
            let rows = select.query_map([], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }

    /// Records the team's decision on a proposal (with the text approved, which the person may
    /// have reworded). False when it was not a pending proposal.
    pub async fn decide(
        &self,
        id: i64,
        decision: Decision,
        text: Option<&str>,
        wait: Duration,
    ) -> bool {
        let text = text.map(str::to_owned);
        let status = match decision {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        };
        self.read(wait, move |conn| {
            let Some(conn) = conn else {
                return Ok(false);
            };
            let changed = conn.execute(
                "UPDATE proposals SET status = ?1, text = coalesce(?2, text)
                 WHERE id = ?3 AND status = 'proposed'",
                params![status, text, id],
            )?;
            Ok(changed == 1)
        })
        .await
        .unwrap_or(false)
    }
}

fn select_proposals(conn: &Connection, id: Option<i64>) -> rusqlite::Result<Vec<Proposal>> {
    let mut select = conn.prepare_cached(
        "SELECT id, text, scope, evidence FROM proposals
         WHERE status = 'proposed' AND (?1 IS NULL OR id = ?1) ORDER BY id",
    )?;
    let rows = select.query_map([id], |row| {
        let scope: String = row.get(2)?;
        let evidence: String = row.get(3)?;
        Ok(Proposal {
            id: row.get(0)?,
            text: row.get(1)?,
            scope: (!scope.is_empty()).then_some(scope),
            evidence: serde_json::from_str(&evidence).unwrap_or_default(),
        })
    })?;
    rows.collect()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests {
    use super::*;
    use crate::agent::actions::Action;
    use crate::agent::signals::Fate;

    const WAIT: Duration = Duration::from_secs(5);

    fn signal(job_id: u64, fate: Fate, kept: Option<&str>, reason: Option<&str>) -> Signal {
        Signal {
            job_id,
            action: Action::Edit,
            language: Some("rust".into()),
            path: format!("/w/src/{job_id}.rs"),
            before: "let x = f();\n".into(),
            agent: "let x = f().unwrap();\n".into(),
            fate,
            reason: reason.map(str::to_owned),
            kept: kept.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn corrections_become_a_proposal_that_is_decided_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), Box::new(|_| {}));
        let sink = StoreSignals::new(store.clone());
        sink.save(&signal(1, Fate::Pending, None, None));
        sink.save(&signal(1, Fate::Changed, Some("let x = f()?;\n"), None));
        sink.save(&signal(2, Fate::Rejected, None, Some("we never unwrap")));
        sink.save(&signal(3, Fate::Rejected, None, None));
        sink.save(&signal(4, Fate::Undone, None, None));
        let found = store.corrections(WAIT).await.unwrap();
        let jobs: Vec<u64> = found.iter().map(|c| c.correction.job_id).collect();
        assert_eq!(
            jobs,
            [2, 1],
            "newest first, corrections only, saved once each"
        );
        assert!(found[1].correction.diff.contains("+let x = f()?;"));
        assert_eq!(
            found[0].correction.reason.as_deref(),
            Some("we never unwrap")
        );

        let id = store
            .add_proposal("Return errors with `?`.", None, &found, WAIT)
            .await
            .unwrap();
        assert!(store.corrections(WAIT).await.unwrap().is_empty(), "covered");
        let proposals = store.proposals(WAIT).await.unwrap();
        assert_eq!(proposals.len(), 1);
        assert_eq!(proposals[0].evidence.len(), 2);
        assert_eq!(proposals[0].scope, None);
        assert_eq!(
            store.proposal(id, WAIT).await.unwrap().text,
            "Return errors with `?`."
        );

        assert!(
            store
                .decide(id, Decision::Approved, Some("Use `?`."), WAIT)
                .await
        );
        assert!(
            !store.decide(id, Decision::Rejected, None, WAIT).await,
            "decided once"
        );
        assert!(store.proposals(WAIT).await.unwrap().is_empty());
        assert_eq!(store.decided_rules(WAIT).await.unwrap(), ["Use `?`."]);
    }

    #[tokio::test]
    async fn a_later_run_keeps_its_own_jobs_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let first = Store::open(path.clone(), Box::new(|_| {}));
        StoreSignals::new(first.clone()).save(&signal(1, Fate::Rejected, None, Some("a")));
        assert!(first.flush(WAIT).await);
        drop(first);
        let second = Store::open(path, Box::new(|_| {}));
        let sink = StoreSignals::new(second.clone());
        sink.save(&signal(1, Fate::Rejected, None, Some("b")));
        let found = second.corrections(WAIT).await.unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
