//! `tandem exec task --instruction TEXT [FILE] [--range R]`: a task without an editor. The
//! files are the editor (nothing is open: every change is a workspace edit kept in memory);
//! each step is printed as it happens; once the task is done its summary goes to stdout and
//! the files are written (or diffed with `--diff`), each with its added and removed lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;
use tokio::sync::mpsc;

use super::files::{Ended, FileEditor};
use super::output::{self, Names};
use super::{
    DONE, ExecOptions, Failure, doc_uri, done, load_config, parse_range, progress, show_progress,
    workspace_root,
};
use crate::agent::engine::{self, Engine, JobResult, TaskInput};
use crate::model::ModelClient;
use crate::workspace::{Snapshot, Workspace, WorkspaceOptions};

pub(super) async fn execute(
    options: &ExecOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    let instruction = options
        .instruction
        .as_deref()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| {
            Failure::Usage(
                "task needs an instruction: give --instruction TEXT saying what to do".into(),
            )
        })?;
    let file = match &options.file {
        Some(given) => Some(
            std::fs::canonicalize(given)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", given.display())))?,
        ),
        None => None,
    };
    let here = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| Failure::Usage(format!("cannot tell the current folder: {e}")))?;
    // The root is found from a file in the folder: the folder itself counts.
    let root = workspace_root(&file.clone().unwrap_or_else(|| here.join("_")));
    let config = load_config(options, &root, err);
    let settings = config.settings().clone();

    // Nothing is open: the task's changes are workspace edits the file editor keeps in memory.
    let (events, _syntax_events) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(Workspace::new(
        WorkspaceOptions::default(),
        events,
    )));
    let standing = match &file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
            // Where the user stands, as a document that is not kept open.
            let snapshot = Snapshot {
                uri: doc_uri(file)?,
                version: 1,
                rope: Rope::from_str(&text),
                language: None,
                tree: None,
            };
            let (range, _) =
                parse_range(options.range.as_deref(), &snapshot.rope).map_err(Failure::Usage)?;
            Some((snapshot, range))
        }
        None => None,
    };
    let endpoint = config.endpoint();
    let said = format!(
        "tandem: task with {} at {}",
        endpoint.model, endpoint.base_url
    );
    let (handle, task) = engine::start_task(
        &engine,
        TaskInput {
            instruction,
            root: &root,
            at: standing.as_ref().map(|(s, r)| (s, r.clone())),
            settings: &settings,
            client: ModelClient::new(endpoint).map_err(|e| e.to_string()),
        },
    )
    .map_err(Failure::Usage)?;
    let mut quiet = std::io::sink();
    let _ = writeln!(progress(options, err, &mut quiet), "{said}");
    let root_doc = doc_uri(&root)?;
    let (editor, shown) = FileEditor::new(engine.clone(), root_doc, root.clone(), Rope::new(), 0);
    let job = engine::run_task(engine.clone(), editor.clone(), handle, task);
    show_progress(job, shown, &mut progress(options, err, &mut quiet)).await;
    let ended = editor.ended();
    let concluded = conclude(options, &root, &ended, out, err);
    output::usage(&mut progress(options, err, &mut quiet), &ended);
    concluded
}

/// The summary on `out`; the files written (or diffed), each with its line counts.
fn conclude(
    options: &ExecOptions,
    root: &Path,
    ended: &Ended,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    let report = done(ended)?;
    if let Some(message) = &report.message {
        let _ = writeln!(err, "tandem: warning: {message}");
    }
    if let Some(JobResult::Task { markdown, .. }) = &report.result {
        let _ = writeln!(out, "{}", markdown.trim_end());
    }
    // Paths are named relative to the root: the root stands in for "the given file".
    let canonical: PathBuf = root.join(".tandem-exec-task");
    let names = Names {
        given: Path::new(".tandem-exec-task"),
        canonical: &canonical,
    };
    let mut quiet = std::io::sink();
    let mut progress = progress(options, err, &mut quiet);
    for (path, file) in &ended.files {
        let after = file.after.as_ref().map(ToString::to_string);
        if file.before == after {
            continue;
        }
        let (added, removed) = line_counts(
            file.before.as_deref().unwrap_or(""),
            after.as_deref().unwrap_or(""),
        );
        let shown = path.strip_prefix(root).unwrap_or(path).display();
        let _ = writeln!(progress, "tandem: {shown} +{added} -{removed}");
    }
    if options.diff {
        output::diffs(out, &mut progress, &names, "", ended);
    } else {
        output::write(&mut progress, &names, "", ended).map_err(Failure::Action)?;
    }
    Ok(DONE)
}

/// Lines added and removed between two texts.
fn line_counts(before: &str, after: &str) -> (usize, usize) {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut counts = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => counts.0 += 1,
            similar::ChangeTag::Delete => counts.1 += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    counts
}
