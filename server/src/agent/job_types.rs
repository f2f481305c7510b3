//! What the job table tells the rest of the server about a job: its id, how it ended, its
//! owner's verdict, its summary for `tandem.status`, the totals, and why an operation on it
//! failed.

use super::actions::Action;
use super::jobs::JobHandle;
use crate::workspace::DocUri;

pub type JobId = u64;

/// How a job ended, as `tandem/jobFinished` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// What a finished job's owner may still do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pending,
    Accepted,
    Rejected,
}

impl Verdict {
    /// The verdict's name in `tandem.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pending => "pending",
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
        }
    }
}

/// A job as `tandem.status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSummary {
    pub id: JobId,
    pub action: Action,
    pub uri: DocUri,
    pub status: JobStatus,
    /// Whether its owner accepted or rejected it yet.
    pub verdict: Verdict,
}

/// A finished job that was just accepted or rejected.
#[derive(Clone, Debug)]
pub struct Decided {
    pub doc: DocUri,
    pub action: Action,
    /// A fresh handle (the job's own token was used up) to run a reject with.
    pub handle: JobHandle,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    #[error(
        "job {other} ({action}) is already working on that part of the document; wait for it or cancel it"
    )]
    Overlap { other: JobId, action: &'static str },
    #[error("there is no job {0}")]
    Unknown(JobId),
    #[error("job {0} is still running; cancel it instead")]
    StillRunning(JobId),
    #[error("job {0} did not change the document")]
    NoEdit(JobId),
    #[error("job {0} was already {1}")]
    AlreadyDecided(JobId, &'static str),
}

/// Totals since start, for `tandem.status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub started: u64,
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// The tokens of finished jobs' model calls (see [`UsageTotals`]); cached prompt tokens
    /// are counted where the endpoint said, and are part of the prompt tokens.
    pub prompt_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub output_tokens: u64,
}
