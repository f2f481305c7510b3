//! The job engine: one job's life (model stream, converging edits, self-correction, settle,
//! take-back, accept/reject) in editor terms, for every action, whoever the editor is. It reaches
//! the editor only through the [`Editor`] port; the LSP edge and `tandem exec` implement it.
//!
//! - `port`: the [`Editor`] trait and the plain types it speaks.
//! - `start`: an action request → a registered job (target, prompt, streaming session).
//! - `run`: a job from its start to `job_finished`; the actions that do not stream.
//! - `converge`: streaming the model's code into a region, settling, taking it back.
//! - `task`, `task_files`, `task_undo`: a task across files, its files, taking them back;
//!   `across`: what a task and an ACP agent's job share (their files, their end).
//! - `acp_job`, `acp_turn`, `acp_session`, `acp_agent`, `acp_prompt`: actions and tasks run by
//!   an ACP agent.

mod acp_agent;
mod acp_job;
mod acp_prompt;
mod acp_session;
mod acp_turn;
mod across;
mod blocks;
mod converge;
mod pace;
pub mod port;
mod refusals;
mod reject;
mod run;
mod start;
mod stream_code;
mod task;
mod task_files;
mod task_undo;

use std::path::Path;
use std::sync::Arc;

pub use acp_agent::AcpAgents;
pub use acp_job::{AcpInput, AcpJob, run_acp, start_acp};
pub use port::{
    Change, EditAnswer, EditRequest, EditTarget, Editor, JobReport, JobResult, Progress, Question,
    StepReport, TextEdit, TouchedFile,
};
pub use reject::reject;
pub use run::{Job, panic_message, run};
pub use start::{JobInput, Started, start};
pub use task::{
    TASK_BUDGET_TOKENS, TaskInput, TaskJob, accept_task, reject_task, run_task, start_task,
};
pub use task_files::TaskFiles;

use super::health::Health;
use super::jobs::{JobId, Jobs};
use super::signals::{Reading, Signal, Signals};
use crate::edits::{minimal_edits, to_sequential};
use crate::text::{PositionEncoding, TextChange};
use crate::workspace::{Applied, ChangeError, DocUri, Workspace};

/// Why a document's jobs fail when it goes out of sync: what the server takes to be its text is
/// not the editor's, so no edit of theirs can be placed, nor taken back.
const OUT_OF_SYNC: &str =
    "the document went out of sync (a change was lost); reopen it or send its full text";

/// What every job works with: the documents as the editor last reported them, the jobs, and
/// what is known of the model endpoint. Shared by the editor's side (which reports changes)
/// and the running jobs.
pub struct Engine {
    pub documents: Arc<Workspace>,
    pub jobs: Jobs,
    pub health: Arc<Health>,
    /// What became of the jobs that edited (recorded only while learning is on).
    pub signals: Signals,
    /// The files of each task, for its accept or reject.
    pub tasks: parking_lot::Mutex<std::collections::HashMap<JobId, Arc<TaskFiles>>>,
}

/// A streaming answer's progress ("N lines received", "N lines written") is reported at most
/// this often: a reply in many small pieces is not a flood of messages.
const REPORT_GAP: std::time::Duration = std::time::Duration::from_millis(250);

/// When a streaming answer's last progress report went out.
#[derive(Default)]
struct Reported(Option<tokio::time::Instant>);

impl Reported {
    /// Whether a report may go now (at most one every [`REPORT_GAP`]); if so, it counts as sent.
    fn due(&mut self) -> bool {
        let due = self.0.is_none_or(|at| at.elapsed() >= REPORT_GAP);
        if due {
            self.0 = Some(tokio::time::Instant::now());
        }
        due
    }
}

/// "1 line written", "3 lines written": a progress report in words.
fn lines(count: usize, what: &str) -> String {
    let noun = if count == 1 { "line" } else { "lines" };
    format!("{count} {noun} {what}")
}

impl Engine {
    pub fn new(documents: Arc<Workspace>) -> Self {
        Self {
            documents,
            jobs: Jobs::new(),
            health: Arc::default(),
            signals: Signals::default(),
            tasks: parking_lot::Mutex::default(),
        }
    }

    /// Reads the fate of job `id` from its region's text now; the signal, when it became known.
    pub fn read_fate(&self, id: JobId, when: Reading) -> Option<Signal> {
        let current = self.jobs.with_session(id, |s| s.current());
        self.signals.read(id, current.as_deref(), when)
    }

    /// The editor saved a document: the fates of its jobs are read.
    pub fn did_save(&self, doc: &DocUri) {
        self.read_fates_of(doc);
    }

    fn read_fates_of(&self, doc: &DocUri) {
        for id in self.signals.watched_in(doc) {
            self.read_fate(id, Reading::SavedOrClosed);
        }
    }

    /// The document open at `path`, as the editor last reported it.
    pub fn open_at(&self, path: &Path) -> Option<crate::workspace::Snapshot> {
        let uri = url::Url::from_file_path(path).ok()?;
        self.documents.snapshot(&DocUri::from(uri.as_str()))
    }

    /// What a signal says of a document: its file path (its URI when it has none), and its
    /// language.
    pub fn describe(&self, doc: &DocUri) -> (String, Option<String>) {
        let path = url::Url::parse(doc)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .map_or_else(|| doc.to_string(), |p| p.display().to_string());
        let language = self
            .documents
            .snapshot(doc)
            .and_then(|s| s.language)
            .map(|l| l.name().to_owned());
        (path, language)
    }

    /// The editor reported a change of a document: applies it, and routes it to the document's
    /// jobs before returning, so no job computes an edit against text the editor moved past.
    /// This is how a job learns the echo of its own edits.
    pub fn did_change(
        &self,
        doc: &DocUri,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
    ) -> Result<Applied, ChangeError> {
        let mut applied = match self.documents.change(doc, version, changes, encoding) {
            Ok(applied) => applied,
            Err(error @ ChangeError::OutOfSync(_)) => {
                self.jobs.fail_document(doc, OUT_OF_SYNC);
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        if changes.iter().any(|c| c.range.is_none()) {
            // A client that sends the whole text (kak-lsp, Vim's ALE) says nothing of what
            // changed: the minimal diff does, so that the job's own edit is told from the
            // user's typing around it, and typing elsewhere is not read as a rewrite of all.
            applied.changes = to_sequential(&minimal_edits(
                &applied.before.to_string(),
                &applied.after.to_string(),
            ));
        }
        self.jobs.on_did_change(doc, &applied);
        Ok(applied)
    }

    /// A change to the document was lost (the transport could not decode it): it is out of sync,
    /// and its running jobs fail. `None` when it is not open, else whether it was in sync.
    pub fn mark_out_of_sync(&self, doc: &DocUri) -> Option<bool> {
        let was = self.documents.mark_out_of_sync(doc);
        if was.is_some() {
            self.jobs.fail_document(doc, OUT_OF_SYNC);
        }
        was
    }

    /// The editor closed a document: the fates of its jobs are read, and its running jobs are
    /// cancelled. Returns whether it was open.
    pub fn did_close(&self, doc: &DocUri) -> bool {
        self.read_fates_of(doc);
        self.jobs.cancel_document(doc, "the document was closed");
        self.documents.close(doc)
    }
}
