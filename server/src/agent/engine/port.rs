//! The port through which the job engine reaches "the editor": apply an edit to a document at a
//! version (its answer comes back here, its echo through [`Engine::did_change`]), create or
//! delete a file, report progress, show review findings, announce a job's end. The LSP edge
//! implements it with requests and notifications, `tandem exec` on files, tests in memory.
//!
//! [`Engine::did_change`]: super::Engine::did_change

use std::future::Future;
use std::ops::Range;
use std::path::PathBuf;

use ropey::Rope;

use crate::agent::actions::Action;
use crate::agent::jobs::{JobId, JobStatus};
use crate::agent::review::Finding;
use crate::model::UsageTotals;
use crate::workspace::DocUri;

/// Where a text edit goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditTarget {
    /// An open document, at the version the edit was computed against: an editor that has
    /// moved past it refuses (or drops, or misapplies) the edit; the engine copes with each.
    Open { doc: DocUri, version: i32 },
    /// A file that is not open: changed by the editor without a version, or written on disk.
    File { path: PathBuf },
}

/// Replace `chars` of `rope` with `text`.
#[derive(Clone, Debug)]
pub struct TextEdit {
    pub target: EditTarget,
    /// The text the offsets count in: the document at `version`, or the file as it was read.
    pub rope: Rope,
    /// Char offsets into `rope`.
    pub chars: Range<usize>,
    pub text: String,
}

/// One change of a workspace edit, in the order they apply.
#[derive(Clone, Debug)]
pub enum Change {
    /// Creates an empty file; one that exists already is left as it is.
    CreateFile {
        path: PathBuf,
    },
    /// Deletes a file; one that is missing is no error.
    DeleteFile {
        path: PathBuf,
    },
    Text(TextEdit),
}

/// One workspace edit of a job.
#[derive(Clone, Debug)]
pub struct EditRequest {
    pub job: JobId,
    /// The edit is labelled `Tandem: <action>`.
    pub action: Action,
    pub changes: Vec<Change>,
    /// Preview mode: the user confirms the edit before it lands; declining refuses it.
    pub confirm: bool,
    /// The job's first edit (or one to confirm): the editor may say so by its label. Later
    /// streamed edits are not announced, so editors that print every label stay quiet.
    pub announce: bool,
}

/// What the editor said about an edit. A hint, not proof: the document's text as the editor
/// reports it is the truth (an editor may answer `Applied` for an edit it dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditAnswer {
    Applied,
    /// Declined (a stale version, the user said no), with the editor's reason when it gave one.
    Refused(Option<String>),
    /// Declined because the editor's text is newer than the version the edit names, and the
    /// editor says so (Emacs' eglot: "… require version 7, you have 12") though it has not
    /// reported that text yet. With the editor's words, and the version it has when it says:
    /// the job's next edit may go at that version (see `edits::blind`), else it waits for the
    /// report.
    Stale {
        why: String,
        have: Option<i32>,
    },
    /// The request itself failed; the reason in words.
    Error(String),
}

/// A job's progress, as the editor shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress<'a> {
    /// The job started; `title` is `Tandem: <action>`.
    Begin {
        title: &'a str,
    },
    Report(&'a str),
    /// The job ended; always sent once for every begun job, with how it ended.
    End(&'a str),
}

/// What a finished job returns, beside its status.
#[derive(Clone, Debug)]
pub enum JobResult {
    /// An explanation.
    Markdown(String),
    /// Where the action's text now stands: `chars` of `rope` (the document when the job ended,
    /// or the file as written).
    Region {
        target: EditTarget,
        rope: Rope,
        chars: Range<usize>,
    },
    /// A review: how many findings were shown.
    Findings(usize),
    /// A task: the model's summary, and every file it changed or created.
    Task {
        markdown: String,
        files: Vec<TouchedFile>,
    },
}

/// A file a task changed or created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TouchedFile {
    pub path: PathBuf,
    pub created: bool,
}

/// One step of a task, as it is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// 1-based: the model turn it belongs to.
    pub step: u32,
    pub tool: String,
    /// The file it read or changed (relative to the workspace root), when it has one.
    pub path: Option<String>,
    pub summary: String,
}

/// A question for the user on behalf of a job (an ACP agent asking permission), with the
/// answers they may choose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub job: JobId,
    pub message: String,
    pub choices: Vec<String>,
}

/// How a job ended, announced once.
#[derive(Clone, Debug)]
pub struct JobReport {
    pub id: JobId,
    pub action: Action,
    pub doc: DocUri,
    pub status: JobStatus,
    /// Why it failed or was cancelled, or what is still wrong with a done result; in words.
    pub message: Option<String>,
    pub result: Option<JobResult>,
    /// The tokens of the job's model calls, summed (estimated for calls whose endpoint
    /// reported none); `None` when no call answered anything.
    pub usage: Option<UsageTotals>,
}

/// "The editor", as the engine sees it. Every call is bounded by the engine (an editor that
/// never answers costs a timeout, not a hang); implementations answer as soon as they know.
pub trait Editor: Clone + Send + Sync + 'static {
    /// Applies one workspace edit and answers how it went. The document's new text reaches
    /// the engine separately, through [`Engine::did_change`](super::Engine::did_change), when
    /// the editor reports it (before or after this answer, or never).
    fn apply_edit(&self, request: EditRequest) -> impl Future<Output = EditAnswer> + Send;

    /// Shows a job's progress.
    fn progress(&self, job: JobId, progress: Progress<'_>) -> impl Future<Output = ()> + Send;

    /// Shows a review's findings on the document (replacing earlier ones); `rope` is the text
    /// their lines count in.
    fn show_findings(
        &self,
        doc: &DocUri,
        rope: &Rope,
        findings: Vec<Finding>,
    ) -> impl Future<Output = ()> + Send;

    /// Shows one step of a task (after its `Progress::Report`). Editors with no way to show
    /// steps have seen the report.
    fn job_step(&self, _job: JobId, _step: &StepReport) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Asks the user to choose one of the question's answers: its index, or `None` when the
    /// editor cannot ask, the user dismissed the question, or nobody answered. The engine
    /// bounds the wait.
    fn ask(&self, _question: Question) -> impl Future<Output = Option<usize>> + Send {
        async { None }
    }

    /// Announces how a job ended.
    fn job_finished(&self, report: JobReport) -> impl Future<Output = ()> + Send;

    /// Whether the editor prints a line for every edit it applies (Emacs' eglot): a job then
    /// sends fewer, larger edits, further apart as it goes on.
    fn logs_edits(&self) -> bool {
        false
    }
}
