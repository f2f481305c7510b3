//! `tandem exec`: one agent action on a file without an editor. The job engine runs it as it
//! would in an editor (same settings, context, checks); the file editor (`files`) is the
//! editor. Progress goes to stderr; when the job is done its files are written (or shown as
//! unified diffs with `--diff`), an explanation or a review's findings printed; the exit code
//! says how it went.
//!
//! - `files`: the engine's editor port on files.
//! - `output`: findings as lines, changed files written or diffed.
//! - `task`: `tandem exec task`, the agent across files.

mod files;
mod output;
mod task;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;
use tokio::sync::mpsc;

use crate::agent::actions::Action;
use crate::agent::engine::{self, Engine, JobInput, JobResult};
use crate::agent::index::SymbolIndex;
use crate::agent::jobs::JobStatus;
use crate::config::{ConfigStore, Environment, Severity};
use crate::logging::Verbosity;
use crate::model::ModelClient;
use crate::workspace::{DocUri, Workspace, WorkspaceOptions};
use files::{Ended, FileEditor, Shown};
use output::Names;

/// What `tandem exec` was asked.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    pub action: String,
    /// Required, except for `task`.
    pub file: Option<PathBuf>,
    /// `L1:C1-L2:C2` or `L:C`, 1-based lines and columns (columns in characters).
    pub range: Option<String>,
    pub instruction: Option<String>,
    pub diff: bool,
    /// Quiet: no progress on `err`, only warnings and the failure. (Verbose only changes the
    /// log level, which the binary sets.)
    pub verbosity: Verbosity,
    pub env: Environment,
    /// The user settings file; `None` means the default place.
    pub user_config: Option<PathBuf>,
}

/// Exit code: done (review: no findings).
const DONE: i32 = 0;
/// Exit code: the action failed (review: there are findings).
const FAILED_OR_FINDINGS: i32 = 1;
/// Exit code: bad usage (review: also the review failed, since 1 means findings there).
const USAGE_OR_REVIEW_FAILED: i32 = 2;

/// Files of the workspace the symbol index reads at most.
const INDEX_FILES: usize = 5_000;

/// Runs the action. The explanation, the findings or the diff go to `out`; progress, warnings
/// and errors to `err`. Returns the exit code: 0 done (review: no findings), 1 the action failed
/// (review: findings), 2 bad usage (review: also the review failed).
pub async fn run(options: &ExecOptions, out: &mut impl Write, err: &mut impl Write) -> i32 {
    let failed = if options.action == Action::Review.name() {
        USAGE_OR_REVIEW_FAILED
    } else {
        FAILED_OR_FINDINGS
    };
    let (code, why) = match execute(options, out, err).await {
        Ok(code) => return code,
        Err(Failure::Usage(why)) => (USAGE_OR_REVIEW_FAILED, why),
        Err(Failure::Action(why)) => (failed, why),
    };
    let _ = writeln!(err, "tandem exec: {why}");
    code
}

/// Why exec stops, in words.
enum Failure {
    /// The command line asks for something that cannot run (no such action or file, no target).
    Usage(String),
    /// The action ran and failed (the model, the review's answer, writing the file).
    Action(String),
}

async fn execute(
    options: &ExecOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    let action = Action::from_name(&options.action).ok_or_else(|| {
        let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        Failure::Usage(format!(
            "unknown action `{}`; one of: {}",
            options.action,
            names.join(", ")
        ))
    })?;
    if action == Action::Task {
        return task::execute(options, out, err).await;
    }
    let given = options
        .file
        .as_deref()
        .ok_or_else(|| Failure::Usage(format!("{} needs a file to work on", action.name())))?;
    let file = std::fs::canonicalize(given)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", given.display())))?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", given.display())))?;
    let root = workspace_root(&file);
    let config = load_config(options, &root, err);
    let settings = config.settings().clone();
    if settings.model.acp.is_some() {
        let across = task::Across {
            action,
            file: Some(&file),
            root: &root,
            settings: &settings,
        };
        return task::run(options, across, None, out, err).await;
    }

    // The file is an open document of the engine, as an editor would have it.
    let doc = doc_uri(&file)?;
    let (events, _syntax_events) = mpsc::unbounded_channel();
    let workspace = Workspace::new(WorkspaceOptions::default(), events);
    workspace.open(doc.clone(), "", 1, &text);
    let engine = Arc::new(Engine::new(workspace));
    let snapshot = engine
        .documents
        .snapshot_with_syntax(&doc)
        .await
        .ok_or_else(|| Failure::Action("the document closed before the job began".into()))?;
    let rope = &snapshot.rope;
    let (range, position) = parse_range(options.range.as_deref(), rope).map_err(Failure::Usage)?;
    // Without a range or a position, explain and fix take the whole file.
    let range = range.or_else(|| {
        (position.is_none() && matches!(action, Action::Explain | Action::Fix))
            .then(|| 0..rope.len_bytes())
    });
    needs(action, options, position).map_err(Failure::Usage)?;
    let index = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || SymbolIndex::build(&root, INDEX_FILES))
            .await
            .ok()
    };
    let endpoint = config.endpoint();
    let said = format!(
        "tandem: {} with {} at {}",
        action.name(),
        endpoint.model,
        endpoint.base_url
    );
    let started = engine::start(
        &engine,
        JobInput {
            action,
            snapshot: &snapshot,
            range,
            position,
            instruction: options.instruction.as_deref(),
            diagnostics: Vec::new(),
            root: Some(&root),
            path: Some(&file),
            index: index.as_ref(),
            settings: &settings,
            client: ModelClient::new(endpoint).map_err(|e| e.to_string()),
        },
    )
    .map_err(|why| match &options.range {
        // Name what was tried: the engine only knows "the position".
        Some(spec) => Failure::Usage(format!("{why} (--range {spec})")),
        None => Failure::Usage(why),
    })?;
    let mut quiet = std::io::sink();
    let _ = writeln!(progress(options, err, &mut quiet), "{said}");

    let (editor, shown) = FileEditor::new(
        engine.clone(),
        doc.clone(),
        file.clone(),
        snapshot.rope.clone(),
        snapshot.version,
    );
    let job = engine::run(engine.clone(), editor.clone(), started.handle, started.job);
    show_progress(job, shown, &mut progress(options, err, &mut quiet)).await;
    engine.did_close(&doc);
    let names = Names {
        given,
        canonical: &file,
    };
    let ended = editor.ended();
    let concluded = conclude(options, action, &names, &text, &ended, out, err);
    output::usage(&mut progress(options, err, &mut quiet), &ended);
    concluded
}

/// What exec says and does once the job ended: the failure, or the explanation, the findings,
/// the files written (or their diffs). Returns the exit code.
fn conclude(
    options: &ExecOptions,
    action: Action,
    names: &Names,
    original: &str,
    ended: &Ended,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    let report = done(ended)?;
    match action {
        Action::Explain => {
            if let Some(JobResult::Markdown(markdown)) = &report.result {
                let _ = writeln!(out, "{}", markdown.trim_end());
            }
            Ok(DONE)
        }
        Action::Review => {
            let Some((rope, found)) = &ended.findings else {
                return Err(Failure::Action(
                    "the review ended without showing its findings".into(),
                ));
            };
            output::findings(out, names, rope, found);
            Ok(if found.is_empty() {
                DONE
            } else {
                FAILED_OR_FINDINGS
            })
        }
        _ => {
            // Done, with what is still wrong with the result (syntax errors after one retry).
            if let Some(message) = &report.message {
                let _ = writeln!(err, "tandem: warning: {message}");
            }
            let mut quiet = std::io::sink();
            let mut progress = progress(options, err, &mut quiet);
            if options.diff {
                output::diffs(out, &mut progress, names, original, ended);
            } else {
                output::write(&mut progress, names, original, ended).map_err(Failure::Action)?;
            }
            Ok(DONE)
        }
    }
}

/// The settings for the workspace at `root` (and the user file the options name), their
/// messages said on `err`.
fn load_config(options: &ExecOptions, root: &Path, err: &mut impl Write) -> ConfigStore {
    let (mut config, messages) = ConfigStore::load(options.env.clone(), Some(root));
    if let Some(user) = &options.user_config {
        let more = config.set_user_file(user);
        report(err, &more);
    }
    report(err, &messages);
    config
}

/// How the job ended, when it is done; why it is not, else.
fn done(ended: &Ended) -> Result<&crate::agent::engine::JobReport, Failure> {
    let report = ended
        .report
        .as_ref()
        .ok_or_else(|| Failure::Action("the job ended without saying how".into()))?;
    if report.status != JobStatus::Done {
        let why = report
            .message
            .clone()
            .unwrap_or_else(|| report.status.as_str().to_owned());
        return Err(Failure::Action(why));
    }
    Ok(report)
}

/// Where progress goes: `err`, or nowhere when quiet.
fn progress<'a>(
    options: &ExecOptions,
    err: &'a mut impl Write,
    quiet: &'a mut std::io::Sink,
) -> &'a mut dyn Write {
    if options.verbosity == Verbosity::Quiet {
        quiet
    } else {
        err
    }
}

/// What the action needs from the command line that it was not given, said as what to give.
fn needs(action: Action, options: &ExecOptions, position: Option<usize>) -> Result<(), String> {
    let name = action.name();
    match action {
        Action::Implement | Action::Document | Action::Tests if position.is_none() => Err(format!(
            "{name} needs a position: give --range LINE:COLUMN inside the item (1-based, e.g. --range 12:5)"
        )),
        Action::Edit if options.range.is_none() => Err(format!(
            "{name} needs a range: give --range L1:C1-L2:C2 (1-based) and --instruction TEXT"
        )),
        Action::Edit
            if options
                .instruction
                .as_deref()
                .is_none_or(|i| i.trim().is_empty()) =>
        {
            Err(format!(
                "{name} needs an instruction: give --instruction TEXT saying what to change"
            ))
        }
        _ => Ok(()),
    }
}

/// Runs the job to its end, showing its progress on one line of `err`, rewritten in place.
async fn show_progress(
    job: impl Future<Output = ()>,
    mut shown: mpsc::UnboundedReceiver<Shown>,
    err: &mut impl Write,
) {
    let mut width: usize = 0;
    let mut show = |shown: Shown, err: &mut dyn Write| match shown {
        Shown::Report(message) => {
            let line = format!("tandem: {message}");
            let len = line.chars().count();
            // Blank out what a longer line before it left.
            let _ = write!(err, "\r{line}{:pad$}", "", pad = width.saturating_sub(len));
            width = len;
        }
        Shown::End if width > 0 => {
            let _ = writeln!(err);
            width = 0;
        }
        Shown::End => {}
        Shown::Step(line) => {
            // A step stays on its own line; the in-place line starts again under it.
            let blank = if width > 0 { "\r" } else { "" };
            let _ = writeln!(
                err,
                "{blank}tandem: {line}{:pad$}",
                "",
                pad = width.saturating_sub(line.len() + 8)
            );
            width = 0;
        }
    };
    tokio::pin!(job);
    loop {
        tokio::select! {
            () = &mut job => break,
            Some(next) = shown.recv() => show(next, err),
        }
    }
    while let Ok(next) = shown.try_recv() {
        show(next, err);
    }
}

fn report(err: &mut impl Write, messages: &[crate::config::ConfigMessage]) {
    for message in messages {
        let level = match message.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(err, "tandem: settings {level}: {message}");
    }
}

/// The document's name: the `file://` URI an editor would open the file under.
fn doc_uri(file: &Path) -> Result<DocUri, Failure> {
    url::Url::from_file_path(file)
        .map(|uri| DocUri::from(uri.as_str()))
        .map_err(|()| Failure::Usage(format!("{} has no file:// URI", file.display())))
}

/// The nearest folder above the file holding `.git` or `.tandem`, else the file's folder.
fn workspace_root(file: &Path) -> PathBuf {
    let folder = file.parent().unwrap_or(Path::new("/"));
    folder
        .ancestors()
        .find(|dir| dir.join(".git").exists() || dir.join(".tandem").exists())
        .unwrap_or(folder)
        .to_path_buf()
}

/// `L1:C1-L2:C2` (a range) or `L:C` (a position), 1-based, columns in characters, as bytes.
fn parse_range(
    spec: Option<&str>,
    rope: &Rope,
) -> Result<(Option<std::ops::Range<usize>>, Option<usize>), String> {
    let Some(spec) = spec else {
        return Ok((None, None));
    };
    let point = |text: &str| -> Result<usize, String> {
        let (line, column) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not LINE:COLUMN"))?;
        let line: usize = line
            .trim()
            .parse()
            .map_err(|_| format!("bad line in `{text}`"))?;
        let column: usize = column
            .trim()
            .parse()
            .map_err(|_| format!("bad column in `{text}`"))?;
        if line == 0 || column == 0 {
            return Err(format!("`{text}`: lines and columns start at 1"));
        }
        let line = (line - 1).min(rope.len_lines().saturating_sub(1));
        let start = rope.line_to_char(line);
        let len = rope.line(line).len_chars();
        Ok(rope.char_to_byte(start + (column - 1).min(len)))
    };
    match spec.split_once('-') {
        Some((a, b)) => {
            let (start, end) = (point(a)?, point(b)?);
            Ok((Some(start.min(end)..start.max(end)), Some(start.min(end))))
        }
        None => {
            let at = point(spec)?;
            Ok((None, Some(at)))
        }
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::parse_range;

    #[test]
    fn ranges_are_one_based_lines_and_character_columns() {
        let rope = Rope::from_str("ab\nc😀d\n");
        assert_eq!(
            parse_range(Some("2:2-2:3"), &rope),
            Ok((Some(4..8), Some(4)))
        );
        assert_eq!(parse_range(Some("1:1"), &rope), Ok((None, Some(0))));
        assert_eq!(parse_range(None, &rope), Ok((None, None)));
        assert!(parse_range(Some("0:1"), &rope).is_err());
        assert!(parse_range(Some("x"), &rope).is_err());
    }
}
