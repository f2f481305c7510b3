//! The running and finished jobs: ids, cancellation, each job's streaming session, and routing
//! every `didChange` to the sessions of that document. Plain state behind one short-held lock;
//! the engine (`agent::engine`) runs the jobs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::actions::Action;
use crate::edits::{ChangeOutcome, Region, StreamSession};
use crate::model::UsageTotals;
use crate::workspace::{Applied, DocUri};

pub use super::job_types::{Counters, Decided, JobError, JobId, JobStatus, JobSummary, Verdict};

struct Entry {
    action: Action,
    uri: DocUri,
    session: Option<StreamSession>,
    cancel: CancellationToken,
    wake: Arc<Notify>,
    status: JobStatus,
    /// Why the job must stop, when something other than its owner stopped it.
    stop_reason: Option<String>,
    /// The stop is a failure (the editor stopped answering), not a cancel.
    stop_failed: bool,
    verdict: Verdict,
    /// Why the editor refused the job's last refused edit, when it said.
    refusal: Option<String>,
    /// The task this job is one document's edits of: it is not shown or counted on its own,
    /// and is forgotten with its task.
    part_of: Option<JobId>,
    /// Its edits are in its parts and in files that were not open (a task, an ACP agent's
    /// job): what it changed is known to whoever ran it, not to a session here.
    across_files: bool,
}

/// Handles the runner needs for one job.
#[derive(Clone, Debug)]
pub struct JobHandle {
    pub id: JobId,
    pub cancel: CancellationToken,
    pub wake: Arc<Notify>,
}

const KEEP_FINISHED: usize = 64;

#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    entries: Mutex<HashMap<JobId, Entry>>,
    counters: Mutex<Counters>,
}

impl Jobs {
    pub fn new() -> Self {
        Self {
            next: AtomicU64::new(1),
            ..Self::default()
        }
    }

    /// Registers a job. A job with a session is refused when its region overlaps the region of
    /// a running job in the same document (touching regions do not overlap).
    pub fn start(
        &self,
        action: Action,
        uri: DocUri,
        session: Option<StreamSession>,
    ) -> Result<JobHandle, JobError> {
        self.register(action, uri, session, None, action == Action::Task)
    }

    /// Registers a job whose edits go across files, in parts ([`Self::start_part`]) and in
    /// files that are not open, whatever its action (an ACP agent's fix can edit any file).
    pub fn start_across_files(&self, action: Action, uri: DocUri) -> Result<JobHandle, JobError> {
        self.register(action, uri, None, None, true)
    }

    /// Registers one document's edits of task `task` as a job of its own (a part): its edits
    /// converge like any job's; it is decided, and forgotten, with the task.
    pub fn start_part(
        &self,
        task: JobId,
        uri: DocUri,
        session: StreamSession,
    ) -> Result<JobHandle, JobError> {
        self.register(Action::Task, uri, Some(session), Some(task), false)
    }

    /// Gives part `id` a new session (the task edits its document again) and a fresh handle:
    /// whatever stopped it before (the user typing inside) is behind it.
    pub fn restart_part(&self, id: JobId, session: StreamSession) -> Option<JobHandle> {
        let mut entries = self.entries.lock();
        let entry = entries.get_mut(&id).filter(|e| e.part_of.is_some())?;
        entry.session = Some(session);
        entry.cancel = CancellationToken::new();
        entry.stop_reason = None;
        entry.stop_failed = false;
        entry.refusal = None;
        Some(JobHandle {
            id,
            cancel: entry.cancel.clone(),
            wake: entry.wake.clone(),
        })
    }

    /// Whether job `id` is still remembered (running, or finished among the last few).
    pub fn knows(&self, id: JobId) -> bool {
        self.entries.lock().contains_key(&id)
    }

    /// The parts of task `task`, oldest first.
    pub fn parts(&self, task: JobId) -> Vec<JobId> {
        let mut parts: Vec<JobId> = self
            .entries
            .lock()
            .iter()
            .filter(|(_, e)| e.part_of == Some(task))
            .map(|(id, _)| *id)
            .collect();
        parts.sort_unstable();
        parts
    }

    fn register(
        &self,
        action: Action,
        uri: DocUri,
        session: Option<StreamSession>,
        part_of: Option<JobId>,
        across_files: bool,
    ) -> Result<JobHandle, JobError> {
        let mut entries = self.entries.lock();
        if let Some(new) = session.as_ref().map(StreamSession::region) {
            for (other, entry) in entries.iter() {
                let Some(region) = entry.session.as_ref().map(StreamSession::region) else {
                    continue;
                };
                if entry.status == JobStatus::Running && entry.uri == uri && overlaps(new, region) {
                    return Err(JobError::Overlap {
                        other: *other,
                        action: entry.action.name(),
                    });
                }
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed).max(1);
        let handle = JobHandle {
            id,
            cancel: CancellationToken::new(),
            wake: Arc::new(Notify::new()),
        };
        entries.insert(
            id,
            Entry {
                action,
                uri,
                session,
                cancel: handle.cancel.clone(),
                wake: handle.wake.clone(),
                status: JobStatus::Running,
                stop_reason: None,
                stop_failed: false,
                verdict: Verdict::Pending,
                refusal: None,
                part_of,
                across_files,
            },
        );
        if part_of.is_none() {
            self.counters.lock().started += 1;
        }
        Ok(handle)
    }

    /// Routes one applied `didChange` to every session of the document, and wakes their jobs.
    /// A running job whose region the user edited inside is stopped (cancelled, with a reason).
    pub fn on_did_change(&self, uri: &DocUri, applied: &Applied) {
        let mut entries = self.entries.lock();
        for entry in entries.values_mut().filter(|e| &e.uri == uri) {
            let Some(session) = entry.session.as_mut() else {
                continue;
            };
            let outcome = if applied.whole_text {
                session.on_whole_text(&applied.before, &applied.after, applied.version)
            } else {
                session.on_did_change(
                    &applied.before,
                    &applied.changes,
                    &applied.after,
                    applied.version,
                )
            };
            if outcome == ChangeOutcome::UserEditedInside {
                Self::stop_for_typing(entry);
            }
            entry.wake.notify_one();
        }
    }

    /// Feeds an `applyEdit` answer to the job's session. An answer can confirm that the user
    /// typed inside the region (the echo reading); then the job stops as for a `didChange`.
    pub fn on_apply_answer(&self, id: JobId, edit: u64, applied: bool) {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(&id) else {
            return;
        };
        let Some(session) = entry.session.as_mut() else {
            return;
        };
        if session.on_apply_answer(edit, applied) == ChangeOutcome::UserEditedInside {
            Self::stop_for_typing(entry);
        }
        entry.wake.notify_one();
    }

    /// Keeps why the editor refused the job's edit, to say so if refusals end the job.
    pub fn note_refusal(&self, id: JobId, reason: Option<String>) {
        if let Some(entry) = self.entries.lock().get_mut(&id) {
            entry.refusal = reason;
        }
    }

    /// Why the editor last refused the job's edit, when it said.
    pub fn refusal(&self, id: JobId) -> Option<String> {
        self.entries.lock().get(&id)?.refusal.clone()
    }

    /// No answer to an edit came in time. Returns whether the job goes on: the edit showed up
    /// in a `didChange` (an editor that applies without answering); otherwise it failed.
    pub fn on_answer_timeout(&self, id: JobId, edit: u64) -> bool {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(&id) else {
            return true;
        };
        let Some(session) = entry.session.as_mut() else {
            return true;
        };
        let outcome = session.on_answer_timeout(edit);
        if outcome.is_some() {
            // It applies without answering: stop waiting for answers.
            session.set_client_answers(false);
        }
        if outcome == Some(ChangeOutcome::UserEditedInside) {
            Self::stop_for_typing(entry);
        }
        entry.wake.notify_one();
        outcome.is_some()
    }

    /// The edit `edit` of the job was answered `applied: true` and no `didChange` showed it in
    /// time: it counts as landed (see [`StreamSession::take_as_landed`]). Whether it was taken.
    pub fn take_as_landed(&self, id: JobId, edit: u64) -> bool {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(&id) else {
            return false;
        };
        let taken = entry
            .session
            .as_mut()
            .is_some_and(|session| session.take_as_landed(edit));
        if taken {
            entry.wake.notify_one();
        }
        taken
    }

    fn stop_for_typing(entry: &mut Entry) {
        if entry.status == JobStatus::Running {
            entry.stop_reason = Some(
                "stopped because you edited inside the region it was rewriting; your text is kept (tandem.reject puts the original back)"
                    .into(),
            );
            entry.cancel.cancel();
        }
    }

    /// Runs `f` on the job's session.
    pub fn with_session<R>(&self, id: JobId, f: impl FnOnce(&mut StreamSession) -> R) -> Option<R> {
        self.entries.lock().get_mut(&id)?.session.as_mut().map(f)
    }

    /// The regions (chars, as last reported) that running jobs are streaming into in the
    /// document: their text is half written, so its syntax errors are not worth showing.
    pub fn streaming_regions(&self, uri: &DocUri) -> Vec<Region> {
        self.entries
            .lock()
            .values()
            .filter(|e| &e.uri == uri && e.status == JobStatus::Running)
            .filter_map(|e| e.session.as_ref().map(StreamSession::region))
            .collect()
    }

    /// Whether another job's edit is in flight in the same document (one at a time per document).
    pub fn other_in_flight(&self, id: JobId) -> bool {
        let entries = self.entries.lock();
        let Some(uri) = entries.get(&id).map(|e| e.uri.clone()) else {
            return false;
        };
        entries.iter().any(|(other, e)| {
            *other != id
                && e.uri == uri
                && e.session.as_ref().is_some_and(|s| s.in_flight().is_some())
        })
    }

    /// Wakes the other jobs of the document (an edit of this one settled: theirs may go).
    pub fn wake_document(&self, uri: &DocUri) {
        for entry in self.entries.lock().values().filter(|e| &e.uri == uri) {
            entry.wake.notify_one();
        }
    }

    /// Why the job was stopped by someone other than its owner, if it was, and whether that
    /// is a failure (else a cancel).
    pub fn stop_reason(&self, id: JobId) -> Option<(String, bool)> {
        self.entries
            .lock()
            .get(&id)
            .and_then(|e| e.stop_reason.clone().map(|r| (r, e.stop_failed)))
    }

    /// Stops a running job as failed, with the reason.
    pub fn fail(&self, id: JobId, reason: String) {
        if let Some(entry) = self.entries.lock().get_mut(&id)
            && entry.status == JobStatus::Running
        {
            entry.stop_reason = Some(reason);
            entry.stop_failed = true;
            entry.cancel.cancel();
        }
    }

    /// Cancels a running job (`tandem.cancel`, progress cancelled, document closed).
    pub fn cancel(&self, id: JobId, reason: Option<String>) -> Result<(), JobError> {
        let mut entries = self.entries.lock();
        let entry = entries.get_mut(&id).ok_or(JobError::Unknown(id))?;
        if entry.status == JobStatus::Running {
            if entry.stop_reason.is_none() {
                entry.stop_reason = reason;
            }
            entry.cancel.cancel();
        }
        Ok(())
    }

    /// Cancels every running job of a document.
    pub fn cancel_document(&self, uri: &DocUri, reason: &str) {
        let mut entries = self.entries.lock();
        for entry in entries
            .values_mut()
            .filter(|e| &e.uri == uri && e.status == JobStatus::Running)
        {
            entry.stop_reason.get_or_insert_with(|| reason.to_owned());
            entry.cancel.cancel();
        }
    }

    /// Fails every running job of a document (it went out of sync: what the server takes to be
    /// its text is not the editor's, so no edit of theirs can be placed, nor taken back).
    pub fn fail_document(&self, uri: &DocUri, reason: &str) {
        let ids: Vec<JobId> = self
            .entries
            .lock()
            .iter()
            .filter(|(_, e)| &e.uri == uri && e.status == JobStatus::Running)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.fail(id, reason.to_owned());
        }
    }

    /// Records how the job ended. Finished jobs beyond the last few are forgotten.
    pub fn finish(&self, id: JobId, status: JobStatus) {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(&id) else {
            return;
        };
        entry.status = status;
        if entry.part_of.is_some() {
            return;
        }
        let mut counters = self.counters.lock();
        match status {
            JobStatus::Done => counters.done += 1,
            JobStatus::Failed => counters.failed += 1,
            JobStatus::Cancelled => counters.cancelled += 1,
            JobStatus::Running => {}
        }
        drop(counters);
        let mut finished: Vec<JobId> = entries
            .iter()
            .filter(|(_, e)| e.status != JobStatus::Running && e.part_of.is_none())
            .map(|(id, _)| *id)
            .collect();
        if finished.len() > KEEP_FINISHED {
            finished.sort_unstable();
            let old = &finished[..finished.len() - KEEP_FINISHED];
            entries
                .retain(|id, e| !old.contains(id) && !e.part_of.is_some_and(|t| old.contains(&t)));
        }
    }

    /// Marks a finished job accepted or rejected; a reject returns what it needs to run.
    pub fn decide(&self, id: JobId, verdict: Verdict) -> Result<Decided, JobError> {
        let mut entries = self.entries.lock();
        let entry = entries.get_mut(&id).ok_or(JobError::Unknown(id))?;
        if entry.status == JobStatus::Running {
            return Err(JobError::StillRunning(id));
        }
        // A task's edits are in its parts and in files that were not open: the task knows.
        if entry.session.is_none() && !entry.across_files {
            return Err(JobError::NoEdit(id));
        }
        match entry.verdict {
            Verdict::Accepted => return Err(JobError::AlreadyDecided(id, "accepted")),
            Verdict::Rejected => return Err(JobError::AlreadyDecided(id, "rejected")),
            Verdict::Pending => {}
        }
        entry.verdict = verdict;
        let mut counters = self.counters.lock();
        match verdict {
            Verdict::Accepted => counters.accepted += 1,
            Verdict::Rejected => counters.rejected += 1,
            Verdict::Pending => {}
        }
        Ok(Decided {
            doc: entry.uri.clone(),
            action: entry.action,
            handle: JobHandle {
                id,
                cancel: CancellationToken::new(),
                wake: entry.wake.clone(),
            },
        })
    }

    pub fn summaries(&self) -> Vec<JobSummary> {
        let mut out: Vec<JobSummary> = self
            .entries
            .lock()
            .iter()
            .filter(|(_, e)| e.part_of.is_none())
            .map(|(id, e)| JobSummary {
                id: *id,
                action: e.action,
                uri: e.uri.clone(),
                status: e.status,
                verdict: e.verdict,
            })
            .collect();
        out.sort_by_key(|s| s.id);
        out
    }

    pub fn counters(&self) -> Counters {
        *self.counters.lock()
    }

    /// Adds a finished job's tokens to the totals.
    pub fn count_usage(&self, usage: UsageTotals) {
        let mut counters = self.counters.lock();
        counters.prompt_tokens += usage.prompt_tokens;
        counters.cached_prompt_tokens += usage.cached_prompt_tokens.unwrap_or(0);
        counters.output_tokens += usage.output_tokens;
    }
}

fn overlaps(a: Region, b: Region) -> bool {
    a.start < b.end && b.start < a.end
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
