//! `tandem exec`'s editor: the engine's [`Editor`] port on files. The open document is a buffer
//! whose every edit goes back to the engine as a change (as an editor's `didChange` would);
//! other files (a test file next to the source) are kept in memory; nothing reaches the disk
//! here: exec writes what a job left once it is done.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use ropey::Rope;
use tokio::sync::mpsc;

use crate::agent::engine::{
    Change, EditAnswer, EditRequest, EditTarget, Editor, Engine, JobReport, Progress, StepReport,
    TextEdit,
};
use crate::agent::jobs::JobId;
use crate::agent::review::Finding;
use crate::text::{PositionEncoding, Range, TextChange, char_to_position};
use crate::workspace::DocUri;

/// The encoding of the changes the buffer reports: characters, as the engine's offsets count.
const ENCODING: PositionEncoding = PositionEncoding::Utf32;

/// What the editor shows while a job runs; exec writes it on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown {
    Report(String),
    /// A task's step, in words: kept on its own line.
    Step(String),
    End,
}

/// A file other than the open document, as the job left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherFile {
    /// Its text before the job; `None` when it did not exist.
    pub before: Option<String>,
    /// Its text now; `None` when it does not exist (any more).
    pub after: Option<Rope>,
}

/// What a job left once it ended.
pub struct Ended {
    /// How it ended; `None` only if the engine never said.
    pub report: Option<JobReport>,
    /// The open document's text.
    pub text: Rope,
    /// The other files it touched, by path.
    pub files: BTreeMap<PathBuf, OtherFile>,
    /// A review's findings and the text their lines count in.
    pub findings: Option<(Rope, Vec<Finding>)>,
}

/// The editor of one file. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct FileEditor(Arc<Inner>);

struct Inner {
    engine: Arc<Engine>,
    doc: DocUri,
    /// The open document's file.
    path: PathBuf,
    buffer: Mutex<Buffer>,
    files: Mutex<BTreeMap<PathBuf, OtherFile>>,
    findings: Mutex<Option<(Rope, Vec<Finding>)>>,
    report: Mutex<Option<JobReport>>,
    shown: mpsc::UnboundedSender<Shown>,
}

/// The open document as this editor holds it.
struct Buffer {
    rope: Rope,
    version: i32,
}

impl FileEditor {
    /// An editor of `doc` (the file at `path`), open in the engine at `version` with `rope`.
    /// What it shows arrives on the receiver.
    pub fn new(
        engine: Arc<Engine>,
        doc: DocUri,
        path: PathBuf,
        rope: Rope,
        version: i32,
    ) -> (Self, mpsc::UnboundedReceiver<Shown>) {
        let (shown, receiver) = mpsc::unbounded_channel();
        let inner = Inner {
            engine,
            doc,
            path,
            buffer: Mutex::new(Buffer { rope, version }),
            files: Mutex::default(),
            findings: Mutex::default(),
            report: Mutex::default(),
            shown,
        };
        (Self(Arc::new(inner)), receiver)
    }

    /// What the job left (call it once the job has run).
    pub fn ended(&self) -> Ended {
        Ended {
            report: self.0.report.lock().take(),
            text: self.0.buffer.lock().rope.clone(),
            files: std::mem::take(&mut *self.0.files.lock()),
            findings: self.0.findings.lock().take(),
        }
    }

    /// Applies a workspace edit: all of it, or none of it with the reason.
    fn apply(&self, request: EditRequest) -> Result<(), EditAnswer> {
        let inner = &self.0;
        let error = |why: String| EditAnswer::Error(why);
        // The other files change on a copy, kept only when the whole edit applies.
        let mut files = inner.files.lock().clone();
        let mut document = Vec::new();
        for change in request.changes {
            match change {
                // The open document exists: it is left as it is.
                Change::CreateFile { path } if path == inner.path => {}
                Change::CreateFile { path } => {
                    let file = other_file(&mut files, &path).map_err(error)?;
                    file.after.get_or_insert_with(Rope::new);
                }
                Change::DeleteFile { path } if path == inner.path => {
                    return Err(error(format!(
                        "{} is the file the job works on; it is not deleted",
                        path.display()
                    )));
                }
                Change::DeleteFile { path } => {
                    other_file(&mut files, &path).map_err(error)?.after = None;
                }
                Change::Text(edit) => match &edit.target {
                    EditTarget::Open { doc, .. } if *doc != inner.doc => {
                        return Err(error(format!("{doc} is not open")));
                    }
                    EditTarget::Open { .. } => document.push(edit),
                    EditTarget::File { path } if *path == inner.path => {
                        return Err(error(format!(
                            "{} is open: its edits name the version they count in",
                            path.display()
                        )));
                    }
                    EditTarget::File { path } => {
                        let file = other_file(&mut files, path).map_err(error)?;
                        let Some(text) = file.after.as_mut() else {
                            return Err(error(format!("{} does not exist", path.display())));
                        };
                        if *text != edit.rope {
                            return Err(EditAnswer::Refused(Some(format!(
                                "{} changed since the job read it",
                                path.display()
                            ))));
                        }
                        replace(text, &edit);
                    }
                },
            }
        }
        if !document.is_empty() {
            self.edit_document(document)?;
        }
        *inner.files.lock() = files;
        Ok(())
    }

    /// Applies text edits to the open document, all counted in the text at their version (as a
    /// `workspace/applyEdit` does), and reports the change to the engine.
    fn edit_document(&self, mut edits: Vec<TextEdit>) -> Result<(), EditAnswer> {
        let inner = &self.0;
        let mut buffer = inner.buffer.lock();
        for edit in &edits {
            if let EditTarget::Open { version, .. } = edit.target
                && version != buffer.version
            {
                return Err(EditAnswer::Refused(Some(format!(
                    "the document is at version {}, not {version}",
                    buffer.version
                ))));
            }
        }
        // From the last to the first: each range still counts in the text the previous ones
        // left, so the changes can be reported in that order.
        edits.sort_by_key(|edit| Reverse(edit.chars.start));
        let mut rope = buffer.rope.clone();
        let mut changes = Vec::with_capacity(edits.len());
        for edit in &edits {
            let (start, end) = clamp(&rope, &edit.chars);
            changes.push(TextChange {
                range: Some(Range::new(
                    char_to_position(&rope, start, ENCODING),
                    char_to_position(&rope, end, ENCODING),
                )),
                text: edit.text.clone(),
            });
            replace(&mut rope, edit);
        }
        let version = buffer.version + 1;
        inner
            .engine
            .did_change(&inner.doc, version, &changes, ENCODING)
            .map_err(|e| EditAnswer::Error(format!("the engine did not take the change: {e}")))?;
        *buffer = Buffer { rope, version };
        Ok(())
    }
}

impl Editor for FileEditor {
    async fn apply_edit(&self, request: EditRequest) -> EditAnswer {
        // Preview mode asks for a confirmation: running `tandem exec` was it.
        match self.apply(request) {
            Ok(()) => EditAnswer::Applied,
            Err(answer) => answer,
        }
    }

    async fn progress(&self, _job: JobId, progress: Progress<'_>) {
        let shown = match progress {
            // exec said what it runs before the job began.
            Progress::Begin { .. } => return,
            Progress::Report(message) => Shown::Report(message.to_owned()),
            // How it ended is exec's to say, once.
            Progress::End(_) => Shown::End,
        };
        let _ = self.0.shown.send(shown);
    }

    async fn job_step(&self, _job: JobId, step: &StepReport) {
        let line = match &step.path {
            Some(path) => format!("step {}: {} {path}: {}", step.step, step.tool, step.summary),
            None => format!("step {}: {}: {}", step.step, step.tool, step.summary),
        };
        let _ = self.0.shown.send(Shown::Step(line));
    }

    async fn show_findings(&self, _doc: &DocUri, rope: &Rope, findings: Vec<Finding>) {
        *self.0.findings.lock() = Some((rope.clone(), findings));
    }

    async fn job_finished(&self, report: JobReport) {
        *self.0.report.lock() = Some(report);
    }
}

/// The file at `path` as the job left it so far, read from disk the first time.
fn other_file<'a>(
    files: &'a mut BTreeMap<PathBuf, OtherFile>,
    path: &Path,
) -> Result<&'a mut OtherFile, String> {
    match files.entry(path.to_owned()) {
        Entry::Occupied(entry) => Ok(entry.into_mut()),
        Entry::Vacant(entry) => {
            let before = match std::fs::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            };
            let after = before.as_deref().map(Rope::from_str);
            Ok(entry.insert(OtherFile { before, after }))
        }
    }
}

/// `chars` within `rope`, never inverted.
fn clamp(rope: &Rope, chars: &std::ops::Range<usize>) -> (usize, usize) {
    let start = chars.start.min(rope.len_chars());
    (start, chars.end.clamp(start, rope.len_chars()))
}

fn replace(rope: &mut Rope, edit: &TextEdit) {
    let (start, end) = clamp(rope, &edit.chars);
    rope.remove(start..end);
    rope.insert(start, &edit.text);
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use ropey::Rope;

    use super::{FileEditor, OtherFile};
    use crate::agent::actions::Action;
    use crate::agent::engine::{Change, EditAnswer, EditRequest, EditTarget, Engine, TextEdit};
    use crate::workspace::{DocUri, Workspace, WorkspaceOptions};

    fn request(changes: Vec<Change>) -> EditRequest {
        EditRequest {
            job: 1,
            action: Action::Tests,
            changes,
            confirm: false,
            announce: true,
        }
    }

    fn in_document(version: i32, rope: &str, chars: std::ops::Range<usize>, text: &str) -> Change {
        Change::Text(TextEdit {
            target: EditTarget::Open {
                doc: DocUri::from("file:///a.rs"),
                version,
            },
            rope: Rope::from_str(rope),
            chars,
            text: text.into(),
        })
    }

    fn in_file(path: &Path, text: &str) -> Change {
        Change::Text(TextEdit {
            target: EditTarget::File {
                path: path.to_owned(),
            },
            rope: Rope::new(),
            chars: 0..0,
            text: text.into(),
        })
    }

    #[test]
    fn edits_reach_the_engine_stale_ones_are_refused_and_nothing_applies_by_halves() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (events, _keep) = tokio::sync::mpsc::unbounded_channel();
        let workspace = Workspace::new(WorkspaceOptions::default(), events);
        let doc = DocUri::from("file:///a.rs");
        workspace.open(doc.clone(), "rust", 1, "ab\n");
        let engine = Arc::new(Engine::new(workspace));
        let (editor, _shown) = FileEditor::new(
            engine.clone(),
            doc.clone(),
            dir.path().join("a.rs"),
            Rope::from_str("ab\n"),
            1,
        );

        // Applied to the buffer and reported to the engine, one version later.
        assert_eq!(
            editor.apply(request(vec![in_document(1, "ab\n", 0..1, "X😀")])),
            Ok(())
        );
        let now = engine.documents.snapshot(&doc).expect("open");
        assert_eq!((now.rope.to_string(), now.version), ("X😀b\n".into(), 2));

        // An edit computed against an older version is refused, as VS Code does.
        assert!(matches!(
            editor.apply(request(vec![in_document(1, "ab\n", 0..1, "Y")])),
            Err(EditAnswer::Refused(Some(_)))
        ));

        // A new file and a refused document edit in one request: neither applies.
        let new = dir.path().join("test_a.py");
        let both = vec![
            Change::CreateFile { path: new.clone() },
            in_file(&new, "def test(): pass\n"),
            in_document(1, "ab\n", 2..2, "c"),
        ];
        assert!(editor.apply(request(both)).is_err());

        // Alone, the new file is kept in memory; nothing is on disk.
        let create = vec![
            Change::CreateFile { path: new.clone() },
            in_file(&new, "def test(): pass\n"),
        ];
        assert_eq!(editor.apply(request(create)), Ok(()));
        assert!(!new.exists());
        let ended = editor.ended();
        assert_eq!(ended.text.to_string(), "X😀b\n");
        assert_eq!(
            ended.files.into_iter().collect::<Vec<_>>(),
            [(
                new,
                OtherFile {
                    before: None,
                    after: Some(Rope::from_str("def test(): pass\n")),
                }
            )]
        );
    }
}
