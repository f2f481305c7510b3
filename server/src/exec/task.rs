//! `tandem exec task --instruction TEXT [FILE] [--range R]`: a task without an editor, and
//! every action when an ACP agent runs the jobs. The files are the editor (nothing is open:
//! every change is a workspace edit kept in memory); each step is printed as it happens; once
//! the job is done its summary goes to stdout and the files are written (or diffed with
//! `--diff`), each with its added and removed lines.

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
use crate::agent::actions::Action;
use crate::agent::engine::{self, AcpAgents, AcpInput, Engine, JobResult, TaskInput};
use crate::config::Settings;
use crate::model::ModelClient;
use crate::workspace::{Snapshot, Workspace, WorkspaceOptions};

pub(super) async fn execute(
    options: &ExecOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    if options
        .instruction
        .as_deref()
        .is_none_or(|i| i.trim().is_empty())
    {
        return Err(Failure::Usage(
            "task needs an instruction: give --instruction TEXT saying what to do".into(),
        ));
    }
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
    let endpoint = config.endpoint();
    let client = ModelClient::new(endpoint.clone()).map_err(|e| e.to_string());
    let said = format!(
        "tandem: task with {} at {}",
        endpoint.model, endpoint.base_url
    );
    let across = Across {
        action: Action::Task,
        file: file.as_deref(),
        root: &root,
        settings: &settings,
    };
    run(options, across, Some((client, said)), out, err).await
}

/// A job across the workspace, run from the command line.
pub(super) struct Across<'a> {
    pub action: Action,
    /// The file the user names, if any.
    pub file: Option<&'a Path>,
    pub root: &'a Path,
    pub settings: &'a Settings,
}

/// Runs a task (with the model client and the line that says so), or, when `model.provider` is
/// `acp`, any action through the ACP agent. Nothing is open: every change is a workspace edit
/// the file editor keeps in memory, written (or diffed) once the job is done.
pub(super) async fn run(
    options: &ExecOptions,
    across: Across<'_>,
    model: Option<(Result<ModelClient, String>, String)>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    let Across {
        action,
        file,
        root,
        settings,
    } = across;
    let (events, _syntax_events) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(Workspace::new(
        WorkspaceOptions::default(),
        events,
    )));
    let standing = match file {
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
            let (range, position) =
                parse_range(options.range.as_deref(), &snapshot.rope).map_err(Failure::Usage)?;
            let range = range.or(position.map(|p| p..p));
            Some((snapshot, range))
        }
        None => None,
    };
    let at = standing.as_ref().map(|(s, r)| (s, r.clone()));
    let mut quiet = std::io::sink();
    let root_doc = doc_uri(root)?;
    let (editor, shown) =
        FileEditor::new(engine.clone(), root_doc, root.to_path_buf(), Rope::new(), 0);
    match (&settings.model.acp, model) {
        (Some(command), _) => {
            let (handle, job) = engine::start_acp(
                &engine,
                AcpInput {
                    action,
                    instruction: options.instruction.as_deref(),
                    diagnostics: &[],
                    root,
                    at,
                    settings,
                },
            )
            .map_err(Failure::Usage)?;
            let program = command.first().map_or("", String::as_str);
            let said = format!("tandem: {} with the ACP agent {program}", action.name());
            let _ = writeln!(progress(options, err, &mut quiet), "{said}");
            let agents = Arc::new(AcpAgents::default());
            let job = engine::run_acp(engine.clone(), editor.clone(), agents.clone(), handle, job);
            show_progress(job, shown, &mut progress(options, err, &mut quiet)).await;
            agents.kill();
        }
        (None, Some((client, said))) => {
            let instruction = options.instruction.as_deref().unwrap_or_default();
            let (handle, task) = engine::start_task(
                &engine,
                TaskInput {
                    instruction,
                    root,
                    at,
                    settings,
                    client,
                },
            )
            .map_err(Failure::Usage)?;
            let _ = writeln!(progress(options, err, &mut quiet), "{said}");
            let job = engine::run_task(engine.clone(), editor.clone(), handle, task);
            show_progress(job, shown, &mut progress(options, err, &mut quiet)).await;
        }
        (None, None) => {
            return Err(Failure::Usage(format!(
                "{} runs across files only through an ACP agent",
                action.name()
            )));
        }
    }
    let ended = editor.ended();
    let concluded = conclude(options, root, &ended, out, err);
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
    let touched = match &report.result {
        Some(JobResult::Markdown(markdown)) => {
            // An answer in words (explain, review): nothing to write.
            let _ = writeln!(out, "{}", markdown.trim_end());
            return Ok(DONE);
        }
        Some(JobResult::Task { markdown, files }) => {
            let _ = writeln!(out, "{}", markdown.trim_end());
            files.as_slice()
        }
        _ => &[],
    };
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
    // Files an ACP agent wrote on disk itself are there already.
    for file in touched
        .iter()
        .filter(|f| !ended.files.contains_key(&f.path))
    {
        let shown = file.path.strip_prefix(root).unwrap_or(&file.path).display();
        let _ = writeln!(progress, "tandem: {shown} was written by the agent itself");
    }
    // When the agent wrote it all itself (and that was said), exec has nothing to write.
    let agent_wrote_all = ended.files.is_empty() && !touched.is_empty();
    if options.diff && !agent_wrote_all {
        output::diffs(out, &mut progress, &names, "", ended);
    } else if !agent_wrote_all {
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
