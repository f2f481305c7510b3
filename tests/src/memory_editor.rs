//! An in-memory editor for the job engine's tests: implements the engine's `Editor` port over
//! buffers held here, applies the engine's edits the way a chosen real client does, reports
//! every change back through `Engine::did_change`, and records everything it was sent.
//!
//! No JSON and no process: a test drives the engine directly, with the scripted model server
//! playing the model. Waits are on events (a change of the record), never on sleeps; the one timer
//! here is the simulated Neovim's debounce, which is the behaviour being simulated.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ropey::Rope;
use tandem::agent::actions::Action;
use tandem::agent::engine::{
    self, Change, EditAnswer, EditRequest, EditTarget, Editor, Engine, JobInput, JobReport,
    Progress, TextEdit,
};
use tandem::agent::jobs::JobId;
use tandem::agent::review::Finding;
use tandem::config::{ConfigStore, EditMode, Environment, Settings};
use tandem::model::{Endpoint, ModelClient};
use tandem::text::{PositionEncoding, TextChange, char_to_position};
use tandem::workspace::{DocUri, Workspace, WorkspaceOptions};
use tokio::sync::watch;

/// How the editor treats the engine's edits, after real clients (see `edits/sim.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Refuses a versioned edit whose version is not the buffer's; otherwise applies it,
    /// reports the change at once with the next version, then answers.
    VsCode,
    /// Drops a stale edit silently yet answers `Applied`; reports its edits late, each as a
    /// minimal diff of the buffer, with a version (changedtick) that jumps: after
    /// [`NEOVIM_DEBOUNCE`] (unless held), or in one `didChange` with the user's next keystroke.
    Neovim,
    /// Like Vim's ALE: applies an edit at the buffer's version (drops a stale one), reports
    /// it at once, and never answers.
    NeverAnswers,
    /// Neither applies nor answers: a hung client.
    NeverApplies,
    /// Like Emacs' eglot: refuses a versioned edit whose version is not the buffer's (with an
    /// error naming the version it has: `Stale`), otherwise applies it and answers; reports its changes, its own and the user's,
    /// only while reports are not held (eglot sends them once the user pauses for 0.5 s).
    Eglot,
    /// Like kak-lsp: applies an edit whatever version it names (at its lines and columns) and
    /// answers `Applied`, but never reports the edits it applied (the user's own changes it does, with
    /// the next version; use it with `whole_text`, as kak-lsp sends).
    NeverEchoes,
    /// Refuses every edit: the user said no in the preview.
    Declines,
}

/// How long the simulated Neovim waits before reporting its changes. The real one debounces
/// about 150 ms; shorter keeps the tests fast, and the order of events is the same.
pub const NEOVIM_DEBOUNCE: Duration = Duration::from_millis(20);
/// How long a test waits for anything before it fails saying what it waited for.
const WAIT: Duration = Duration::from_secs(30);
/// How much Neovim's changedtick grows for one applied edit.
const TICKS_PER_EDIT: i32 = 3;

/// What the editor is and how its jobs run.
#[derive(Clone, Debug)]
pub struct Options {
    pub behavior: Behavior,
    /// The model every job asks.
    pub endpoint: Endpoint,
    /// `edits.mode`.
    pub mode: EditMode,
    /// Every `didChange` carries the whole text instead of ranges (kak-lsp, Vim's ALE).
    pub whole_text: bool,
}

impl Options {
    pub fn new(behavior: Behavior, endpoint: Endpoint) -> Self {
        Self {
            behavior,
            endpoint,
            mode: EditMode::Stream,
            whole_text: false,
        }
    }
}

/// Where an action is asked for, in the document as the editor holds it.
#[derive(Clone, Debug)]
pub enum At {
    /// Whole lines: `lines.start` up to (not including) `lines.end`.
    Lines(Range<usize>),
    /// A cursor, as a char offset.
    Position(usize),
    /// Nothing selected (the whole document, for review).
    Document,
}

/// One open buffer as the editor holds it.
#[derive(Clone, Debug)]
pub struct Buffer {
    pub text: Rope,
    /// Its version (Neovim: its changedtick).
    pub version: i32,
    /// Changes the engine has not heard of yet, in order (Neovim's debounce).
    queued: Vec<TextChange>,
}

/// Everything the editor holds and was sent, in order.
#[derive(Default)]
pub struct Record {
    pub buffers: HashMap<String, Buffer>,
    /// Files that are not open, by path.
    pub files: BTreeMap<PathBuf, String>,
    pub edits: Vec<EditRequest>,
    /// When the first edit arrived, on Tokio's clock (which a test may have paused since).
    pub first_edit_at: Option<tokio::time::Instant>,
    /// The answers given so far (an edit never answered has none).
    pub answers: Vec<EditAnswer>,
    /// Progress as `begin <title>`, `report <message>`, `end <message>`.
    pub progress: Vec<(JobId, String)>,
    pub findings: Vec<(String, Vec<Finding>)>,
    pub reports: Vec<JobReport>,
    /// Changes the engine refused to apply: the editor and the engine disagree on a text.
    pub sync_errors: Vec<String>,
    /// Neovim's debounce is held (see [`MemoryEditor::hold_reports`]).
    reports_held: bool,
    /// Edits wait at arrival until released (see [`MemoryEditor::hold_edits`]).
    holding: bool,
    releases: u64,
}

struct Inner {
    engine: Arc<Engine>,
    options: Options,
    settings: Settings,
    /// Every change of the record wakes the waits.
    record: watch::Sender<Record>,
}

/// The editor. Clones share everything.
#[derive(Clone)]
pub struct MemoryEditor(Arc<Inner>);

impl MemoryEditor {
    /// An editor with an engine of its own. Call inside a Tokio runtime.
    pub fn new(options: Options) -> Self {
        let (events, mut syntax_reports) = tokio::sync::mpsc::unbounded_channel();
        // Syntax reports are for diagnostics, which these tests do not look at.
        tokio::spawn(async move { while syntax_reports.recv().await.is_some() {} });
        let engine = Arc::new(Engine::new(Workspace::new(
            WorkspaceOptions::default(),
            events,
        )));
        let mut settings = ConfigStore::new(Environment::default()).settings().clone();
        settings.edits.mode = options.mode;
        settings.model.name.clone_from(&options.endpoint.model);
        Self(Arc::new(Inner {
            engine,
            options,
            settings,
            record: watch::Sender::new(Record::default()),
        }))
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.0.engine
    }

    /// Reads the record.
    pub fn record<R>(&self, read: impl FnOnce(&Record) -> R) -> R {
        read(&self.0.record.borrow())
    }

    /// Opens a document at version 1 (its language comes from the URI's extension).
    pub fn open(&self, uri: &str, text: &str) {
        self.modify(|record| {
            self.0.engine.documents.open(uri.into(), "", 1, text);
            let text = Rope::from_str(text);
            let buffer = Buffer {
                text,
                version: 1,
                queued: Vec::new(),
            };
            record.buffers.insert(uri.to_owned(), buffer);
        });
    }

    /// Closes a document (its jobs are cancelled).
    pub fn close(&self, uri: &str) {
        self.modify(|record| {
            record.buffers.remove(uri);
            self.0.engine.did_close(&uri.into());
        });
    }

    /// A file that is not open, as the editor would find it on disk.
    pub fn put_file(&self, path: impl Into<PathBuf>, text: &str) {
        self.modify(|record| record.files.insert(path.into(), text.to_owned()));
    }

    pub fn file(&self, path: impl Into<PathBuf>) -> Option<String> {
        self.record(|r| r.files.get(&path.into()).cloned())
    }

    /// The buffer's text as the editor holds it.
    pub fn text(&self, uri: &str) -> String {
        let text = self.record(|r| r.buffers.get(uri).map(|b| b.text.to_string()));
        text.unwrap_or_else(|| panic!("{uri} is not open"))
    }

    /// The user types: chars `start..end` of the buffer become `text`, reported at once (by a
    /// Neovim in one `didChange` with the changes it had not reported yet).
    pub fn type_at(&self, uri: &str, start: usize, end: usize, text: &str) {
        self.modify(|record| {
            let buffer = record.buffers.get_mut(uri);
            let buffer = buffer.unwrap_or_else(|| panic!("{uri} is not open"));
            let typed = text_change(&buffer.text, start..end, text);
            buffer.queued.push(typed);
            buffer.text.remove(start..end);
            buffer.text.insert(start, text);
            buffer.version += 1;
            let held = self.0.options.behavior == Behavior::Eglot && record.reports_held;
            if !held {
                self.flush_in(record, uri);
            }
        });
    }

    /// Neovim's debounce reports nothing until [`Self::release_reports`]; a keystroke still
    /// sends what is queued, with itself.
    pub fn hold_reports(&self) {
        self.modify(|record| record.reports_held = true);
    }

    /// Reports what is queued, and lets the debounce report again.
    pub fn release_reports(&self) {
        self.modify(|record| {
            record.reports_held = false;
            let uris: Vec<String> = record.buffers.keys().cloned().collect();
            for uri in uris {
                self.flush_in(record, &uri);
            }
        });
    }

    /// From now on edits wait at arrival (recorded, not applied nor answered) until
    /// [`Self::release_edits`]: the user can type while an edit is on its way.
    pub fn hold_edits(&self) {
        self.modify(|record| record.holding = true);
    }

    /// Lets the edits held so far through; later ones are held again.
    pub fn release_held(&self) {
        self.modify(|record| record.releases += 1);
    }

    /// Lets the held edits (and every later one) through.
    pub fn release_edits(&self) {
        self.modify(|record| {
            record.holding = false;
            record.releases += 1;
        });
    }

    /// Waits until the buffer holds `needle` somewhere.
    pub async fn shows(&self, uri: &str, needle: &str) {
        let what = format!("{uri} to show {needle:?}");
        let shown = |r: &Record| {
            r.buffers
                .get(uri)?
                .text
                .to_string()
                .contains(needle)
                .then_some(())
        };
        self.until(&what, shown).await;
    }

    /// Starts an action and runs its job; returns its id, or why it could not start.
    pub async fn start(
        &self,
        action: Action,
        uri: &str,
        at: At,
        instruction: Option<&str>,
    ) -> Result<JobId, String> {
        let engine = &self.0.engine;
        let doc: DocUri = uri.into();
        let snapshot = engine
            .documents
            .snapshot_with_syntax(&doc)
            .await
            .ok_or_else(|| format!("{uri} is not open"))?;
        let rope = &snapshot.rope;
        let byte = |line: usize| rope.line_to_byte(line.min(rope.len_lines()));
        let (range, position) = match at {
            At::Lines(lines) => (Some(byte(lines.start)..byte(lines.end)), None),
            At::Position(char) => (None, Some(rope.char_to_byte(char))),
            At::Document => (None, None),
        };
        let path = uri.strip_prefix("file://").map(PathBuf::from);
        let started = engine::start(
            engine,
            JobInput {
                action,
                snapshot: &snapshot,
                range,
                position,
                instruction,
                diagnostics: Vec::new(),
                root: None,
                path: path.as_deref(),
                index: None,
                settings: &self.0.settings,
                client: ModelClient::new(self.0.options.endpoint.clone())
                    .map_err(|e| e.to_string()),
            },
        )?;
        let id = started.handle.id;
        tokio::spawn(engine::run(
            engine.clone(),
            self.clone(),
            started.handle,
            started.job,
        ));
        Ok(id)
    }

    /// Waits for the job's end and returns its report.
    pub async fn report(&self, job: JobId) -> JobReport {
        let what = format!("job {job} to finish");
        self.until(&what, |r| r.reports.iter().find(|r| r.id == job).cloned())
            .await
    }

    /// `tandem.reject`.
    pub async fn reject(&self, job: JobId) -> Result<(), String> {
        engine::reject(&self.0.engine, self, job).await
    }

    /// `tandem.cancel`, with the reason "cancelled by the test".
    pub fn cancel(&self, job: JobId) {
        let reason = Some("cancelled by the test".into());
        let cancelled = self.0.engine.jobs.cancel(job, reason);
        cancelled.unwrap_or_else(|e| panic!("cancel: {e}"));
    }

    /// Changes the record, then wakes the waits.
    fn modify<R>(&self, change: impl FnOnce(&mut Record) -> R) -> R {
        let mut changed = None;
        self.0
            .record
            .send_modify(|record| changed = Some(change(record)));
        changed.expect("send_modify runs its closure")
    }

    /// Waits until `found` finds something in the record; fails the test after [`WAIT`],
    /// saying what it waited for.
    pub async fn until<R>(&self, what: &str, found: impl FnMut(&Record) -> Option<R>) -> R {
        match tokio::time::timeout(WAIT, self.wait(found)).await {
            Ok(found) => found,
            Err(_) => panic!(
                "waited {WAIT:?} for {what}; {:?}",
                self.0.record.borrow().reports
            ),
        }
    }

    async fn wait<R>(&self, mut found: impl FnMut(&Record) -> Option<R>) -> R {
        let mut wanted = None;
        // The sender lives in `self`, so the channel stays open while this waits.
        let _ = self
            .0
            .record
            .subscribe()
            .wait_for(|record| {
                wanted = found(record);
                wanted.is_some()
            })
            .await;
        wanted.expect("wait_for returns once it was found")
    }

    /// Tells the engine about the buffer's queued changes in one `didChange` (the record
    /// stays locked meanwhile, so reports reach it in the order the buffer changed).
    fn flush_in(&self, record: &mut Record, uri: &str) {
        let Some(buffer) = record.buffers.get_mut(uri) else {
            return;
        };
        if buffer.queued.is_empty() {
            return;
        }
        let (mut changes, version) = (std::mem::take(&mut buffer.queued), buffer.version);
        if self.0.options.whole_text {
            changes = vec![TextChange {
                range: None,
                text: buffer.text.to_string(),
            }];
        }
        let engine = &self.0.engine;
        if let Err(e) = engine.did_change(&uri.into(), version, &changes, PositionEncoding::Utf32) {
            record.sync_errors.push(format!("{uri} at {version}: {e}"));
        }
    }

    /// Applies a workspace edit as the behaviour says; `None` when it is never answered.
    fn apply(&self, request: &EditRequest) -> Option<EditAnswer> {
        let behavior = self.0.options.behavior;
        match behavior {
            Behavior::Declines => return Some(EditAnswer::Refused(Some("declined".into()))),
            Behavior::NeverApplies => return None,
            Behavior::VsCode
            | Behavior::Neovim
            | Behavior::NeverAnswers
            | Behavior::NeverEchoes
            | Behavior::Eglot => {}
        }
        let changes = &request.changes;
        let applied = self.modify(|r| changes.iter().try_for_each(|c| self.apply_change(r, c)));
        match applied {
            Err(answer) => Some(answer),
            Ok(()) => (behavior != Behavior::NeverAnswers).then_some(EditAnswer::Applied),
        }
    }

    /// One change of a workspace edit; an error ends the edit with that answer.
    fn apply_change(&self, record: &mut Record, change: &Change) -> Result<(), EditAnswer> {
        let edit = match change {
            Change::CreateFile { path } => {
                record.files.entry(path.clone()).or_default();
                return Ok(());
            }
            Change::DeleteFile { path } => {
                record.files.remove(path);
                return Ok(());
            }
            Change::Text(edit) => edit,
        };
        let (doc, version) = match &edit.target {
            EditTarget::Open { doc, version } => (doc, *version),
            EditTarget::File { path } => {
                let file = record
                    .files
                    .get_mut(path)
                    .filter(|f| edit.rope == f.as_str());
                let file = file.ok_or_else(|| {
                    let why = format!("{} is missing or changed since it was read", path.display());
                    EditAnswer::Error(why)
                })?;
                let mut text = edit.rope.clone();
                apply_to(&mut text, edit);
                *file = text.to_string();
                return Ok(());
            }
        };
        let behavior = self.0.options.behavior;
        let buffer = record.buffers.get_mut(&**doc);
        let buffer = buffer.ok_or_else(|| EditAnswer::Error(format!("{doc} is not open")))?;
        if version != buffer.version && behavior != Behavior::NeverEchoes {
            let why = format!("version {version} is not the buffer's {}", buffer.version);
            return match behavior {
                Behavior::VsCode => Err(EditAnswer::Refused(Some(why))),
                Behavior::Eglot => Err(EditAnswer::Stale {
                    why: format!(
                        "Edits require version {version}, you have {}",
                        buffer.version
                    ),
                    have: Some(buffer.version),
                }),
                _ => Ok(()), // Dropped silently.
            };
        }
        let before = buffer.text.clone();
        let chars = apply_to(&mut buffer.text, edit);
        if behavior == Behavior::NeverEchoes {
            return Ok(());
        }
        if behavior != Behavior::Neovim {
            let applied = text_change(&before, chars, &edit.text);
            buffer.queued.push(applied);
            buffer.version += 1;
            if !(behavior == Behavior::Eglot && record.reports_held) {
                self.flush_in(record, doc);
            }
            return Ok(());
        }
        // Reported late, as a diff of the buffer (which may be smaller than what was sent).
        buffer.queued.push(diff(&before, &buffer.text));
        buffer.version += TICKS_PER_EDIT;
        let (editor, uri) = (self.clone(), doc.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(NEOVIM_DEBOUNCE).await;
            editor.modify(|record| {
                if !record.reports_held {
                    editor.flush_in(record, &uri);
                }
            });
        });
        Ok(())
    }
}

impl Editor for MemoryEditor {
    async fn apply_edit(&self, request: EditRequest) -> EditAnswer {
        let held = self.modify(|record| {
            record.edits.push(request.clone());
            record
                .first_edit_at
                .get_or_insert_with(tokio::time::Instant::now);
            record.holding.then_some(record.releases)
        });
        if let Some(releases) = held {
            self.wait(|r| (r.releases > releases).then_some(())).await;
        }
        let answer = self.apply(&request);
        match answer {
            Some(answer) => self.modify(|record| {
                record.answers.push(answer.clone());
                answer
            }),
            None => std::future::pending().await,
        }
    }

    async fn progress(&self, job: JobId, progress: Progress<'_>) {
        let event = match progress {
            Progress::Begin { title } => format!("begin {title}"),
            Progress::Report(message) => format!("report {message}"),
            Progress::End(message) => format!("end {message}"),
        };
        self.modify(|record| record.progress.push((job, event)));
    }

    async fn show_findings(&self, doc: &DocUri, _rope: &Rope, findings: Vec<Finding>) {
        self.modify(|record| record.findings.push((doc.to_string(), findings)));
    }

    async fn job_finished(&self, report: JobReport) {
        self.modify(|record| record.reports.push(report));
    }
}

/// Applies `edit` as a real editor does: at the lines and columns its offsets are in the text it
/// was computed against (`edit.rope`), wherever those are in `text` (typing the editor has not
/// reported may have moved them). The chars of `text` it replaced.
fn apply_to(text: &mut Rope, edit: &TextEdit) -> Range<usize> {
    let at = |offset: usize| {
        let line = edit.rope.char_to_line(offset);
        let column = offset - edit.rope.line_to_char(line);
        (text.line_to_char(line.min(text.len_lines() - 1)) + column).min(text.len_chars())
    };
    let (start, end) = (at(edit.chars.start), at(edit.chars.end));
    text.remove(start..end.max(start));
    text.insert(start, &edit.text);
    start..end.max(start)
}

/// `chars` of `before` replaced with `text`, as a `didChange` content change.
fn text_change(before: &Rope, chars: Range<usize>, text: &str) -> TextChange {
    let at = |c: usize| char_to_position(before, c, PositionEncoding::Utf32);
    TextChange {
        range: Some(tandem::text::Range::new(at(chars.start), at(chars.end))),
        text: text.to_owned(),
    }
}

/// One change from `old` to `new`, common prefix trimmed first (as Neovim reports a buffer
/// that changed: an insertion beside equal text slides right).
fn diff(old: &Rope, new: &Rope) -> TextChange {
    let (old_chars, new_chars): (Vec<char>, Vec<char>) =
        (old.chars().collect(), new.chars().collect());
    let prefix = old_chars
        .iter()
        .zip(&new_chars)
        .take_while(|(a, b)| a == b)
        .count();
    let (old_rest, new_rest) = (&old_chars[prefix..], &new_chars[prefix..]);
    let same = |(a, b): &(&char, &char)| a == b;
    let suffix = old_rest
        .iter()
        .rev()
        .zip(new_rest.iter().rev())
        .take_while(same)
        .count();
    let text: String = new_rest[..new_rest.len() - suffix].iter().collect();
    text_change(old, prefix..old_chars.len() - suffix, &text)
}
