//! A job's refused edits: a refusal the editor's newer text explains never counts; one it does
//! not explain within a grace is retried, and a few of those in a row end the job.

use std::time::Duration;

use super::Engine;
use super::converge::EDIT_TIMEOUT;
use crate::agent::jobs::JobId;

/// How long a refusal waits for the editor's newer text (Neovim reports ~150 ms late) before it
/// counts as unexplained and the edit is retried against the text as it is.
const REFUSAL_GRACE: Duration = Duration::from_millis(300);
/// How many unexplained refusals in a row end the job.
const MAX_REFUSALS: u32 = 3;

/// Watches a job's refused edits: a refusal the editor's newer text explains never counts; one
/// it does not explain within [`REFUSAL_GRACE`] is retried, and [`MAX_REFUSALS`] of those in a
/// row end the job.
#[derive(Default)]
pub(super) struct Refusals {
    /// Since when the session has been waiting for newer text after a refusal.
    since: Option<tokio::time::Instant>,
}

impl Refusals {
    /// Retries a refusal left unexplained for long enough. `Ok` carries when to look again
    /// (while one waits); `Err` the job's failure.
    pub(super) fn check(
        &mut self,
        engine: &Engine,
        id: JobId,
    ) -> Result<Option<tokio::time::Instant>, String> {
        let (awaiting, assumed) = engine
            .jobs
            .with_session(id, |s| (s.awaiting_change(), s.expects_report()))
            .unwrap_or_default();
        if !awaiting {
            self.since = None;
            return Ok(None);
        }
        // With edits taken as landed, or a refusal that said the editor is ahead, the editor has
        // reports to send (eglot holds them while the user types): wait for them as for an
        // edit's answer.
        let grace = if assumed { EDIT_TIMEOUT } else { REFUSAL_GRACE };
        let since = *self.since.get_or_insert_with(tokio::time::Instant::now);
        if since.elapsed() < grace {
            return Ok(Some(since + grace));
        }
        self.since = None;
        let refused = engine
            .jobs
            .with_session(id, |s| s.retry_refused())
            .unwrap_or(0);
        if refused >= MAX_REFUSALS {
            let why = engine
                .jobs
                .refusal(id)
                .map_or_else(String::new, |reason| format!(" ({reason})"));
            return Err(format!(
                "the editor refused the edit {refused} times while its text stayed the same{why}"
            ));
        }
        Ok(None)
    }
}
