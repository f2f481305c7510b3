//! A task as a job: `tandem.task`'s instruction becomes the bounded tool-calling loop
//! (`agent::task::conversation`) with tools that read what the editor shows and change files
//! through it (`task_files`); its steps are reported, and accept, reject and cancel cover every
//! file it touched.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::Engine;
use super::across::{Ended, register_files, run_across};
use super::port::{Editor, JobReport, JobResult, Progress, StepReport};
use super::task_files::{Landed, TaskFiles, doc_of, land};
use super::task_undo::take_back;
use crate::agent::actions::Action;
use crate::agent::jobs::{JobError, JobHandle, JobId, JobStatus, Verdict};
use crate::agent::prompt::system_prompt;
use crate::agent::task::check::{
    CheckSpec, DEFAULT_MAX_OUTPUT_BYTES, Overlay, describe, run_check,
};
use crate::agent::task::conversation::{self, Limits, Step, TaskEnd, TaskTools, ToolOutput};
use crate::agent::task::prompt::{Spot, first_message};
use crate::agent::task::tools::{self, OpenBuffers, ToolOutcome};
use crate::agent::team_rules;
use crate::agent::workspace_files::agents_rules;
use crate::config::{EditMode, Settings};
use crate::model::{Message, Meter, ModelClient, ToolCall, ToolSpec};
use crate::workspace::{DocUri, Snapshot};

/// How many times an edit is planned again when the document moved under it.
pub(super) const REPLANS: usize = 3;

/// Tokens a task's conversation may hold when it is sent: room for the files it reads, within
/// the context of the models people run locally (older tool results are shortened to fit).
pub const TASK_BUDGET_TOKENS: usize = 32_000;

/// A `tandem.task` request, in editor terms.
pub struct TaskInput<'a> {
    pub instruction: &'a str,
    pub root: &'a Path,
    /// The document the user stands in and the selection (bytes), when the request said.
    pub at: Option<(&'a Snapshot, Option<Range<usize>>)>,
    pub settings: &'a Settings,
    pub client: Result<ModelClient, String>,
}

/// A registered task, ready to [`run_task`].
pub struct TaskJob {
    /// Where the user stood, or the workspace root.
    doc: DocUri,
    system: String,
    first: Message,
    root: PathBuf,
    limits: Limits,
    check: Option<CheckSpec>,
    preview: bool,
    client: Result<ModelClient, String>,
}

/// Builds the first prompt and registers the task.
pub fn start_task(engine: &Engine, input: TaskInput) -> Result<(JobHandle, TaskJob), String> {
    let instruction = input.instruction.trim();
    if instruction.is_empty() {
        return Err("tandem.task needs an instruction: say what to do".into());
    }
    let root = input.root;
    // A file outside the workspace is no place in it.
    let place = input
        .at
        .as_ref()
        .and_then(|(snapshot, range)| Spot::read(root, snapshot, range.clone()))
        .filter(|spot| spot.relative.is_some());
    let rules_at = place
        .as_ref()
        .map_or_else(|| root.join("."), |p| p.path.clone());
    let agents = agents_rules(root, &rules_at);
    let team = team_rules::for_path(root, &rules_at, |file| {
        engine.open_at(file).map(|open| open.rope.to_string())
    });
    let standing = place
        .as_ref()
        .map(|spot| spot.standing(spot.relative.as_deref().unwrap_or_default()));
    let first = first_message(instruction, root, standing.as_ref(), &agents, &team);
    let doc = match &input.at {
        Some((snapshot, _)) => snapshot.uri.clone(),
        None => doc_of(root).ok_or("the workspace root has no URI")?,
    };
    let agent = &input.settings.agent;
    let check = agent.check_command.clone().map(|command| CheckSpec {
        command,
        timeout: Duration::from_millis(agent.check_timeout_ms),
        max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
    });
    let handle = engine
        .jobs
        .start(Action::Task, doc.clone(), None)
        .map_err(|e| e.to_string())?;
    tracing::info!(job = handle.id, "task started");
    Ok((
        handle,
        TaskJob {
            doc,
            system: system_prompt(Action::Task),
            first,
            root: root.to_path_buf(),
            limits: Limits {
                max_steps: agent.max_steps,
                timeout: Duration::from_millis(agent.timeout_ms),
                budget_tokens: TASK_BUDGET_TOKENS,
            },
            check,
            preview: input.settings.edits.mode == EditMode::Preview,
            client: input.client,
        },
    ))
}

/// Runs a task to its announced end. Spawn it.
pub async fn run_task<E: Editor>(
    engine: Arc<Engine>,
    editor: E,
    handle: JobHandle,
    mut task: TaskJob,
) {
    let id = handle.id;
    // Every turn of the conversation is counted here.
    let meter = Meter::default();
    if let Ok(client) = &mut task.client {
        *client = client.metered(&meter);
    }
    let files = register_files(&engine, id, Action::Task);
    let work = work(&engine, &editor, &handle, &task, &files);
    let (status, message, markdown) =
        run_across(&engine, &editor, id, &files, task.preview, work).await;
    let usage = meter.total().await;
    if let Some(usage) = usage {
        engine.jobs.count_usage(usage);
    }
    tracing::info!(
        job = id,
        status = status.as_str(),
        prompt_tokens = usage.map(|u| u.prompt_tokens),
        output_tokens = usage.map(|u| u.output_tokens),
        "task finished"
    );
    let result = markdown.map(|markdown| JobResult::Task {
        markdown,
        files: files.touched(),
    });
    editor
        .job_finished(JobReport {
            id,
            action: Action::Task,
            doc: task.doc.clone(),
            status,
            message,
            result,
            usage,
        })
        .await;
}

async fn work<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    handle: &JobHandle,
    task: &TaskJob,
    files: &Arc<TaskFiles>,
) -> Ended {
    let client = match &task.client {
        Ok(client) => client,
        Err(why) => return (JobStatus::Failed, Some(why.clone()), None),
    };
    let toolbox = Toolbox {
        engine: engine.clone(),
        editor: editor.clone(),
        task: handle.clone(),
        root: task.root.clone(),
        files: files.clone(),
        check: task.check.clone(),
        preview: task.preview,
    };
    // Steps are shown in order by one forwarder, so the loop never waits on the editor.
    let (steps, mut queue) = tokio::sync::mpsc::unbounded_channel::<Step>();
    let shower = {
        let editor = editor.clone();
        let id = handle.id;
        tokio::spawn(async move {
            while let Some(step) = queue.recv().await {
                editor
                    .progress(id, Progress::Report(&in_words(&step)))
                    .await;
                let report = StepReport {
                    step: step.step,
                    tool: step.tool,
                    path: step.path,
                    summary: step.summary,
                };
                editor.job_step(id, &report).await;
            }
        })
    };
    let end = conversation::run(
        client,
        &task.system,
        task.first.clone(),
        &toolbox,
        task.limits,
        &handle.cancel,
        |step| {
            let _ = steps.send(step.clone());
        },
    )
    .await;
    drop(steps);
    let _ = shower.await;
    let reason = || engine.jobs.stop_reason(handle.id).map(|(r, _)| r);
    let (status, message, markdown) = match end {
        TaskEnd::Done(summary) => (JobStatus::Done, None, Some(summary)),
        TaskEnd::StepLimit(steps) => {
            let said = format!(
                "stopped after {steps} steps (agent.maxSteps) before the model was done; what it changed is kept for you to accept or reject"
            );
            (JobStatus::Done, Some(said.clone()), Some(said))
        }
        TaskEnd::TimedOut(after) => {
            let said = format!(
                "stopped after {} s (agent.timeoutMs) before the model was done; what it changed is kept for you to accept or reject",
                after.as_secs()
            );
            (JobStatus::Done, Some(said.clone()), Some(said))
        }
        TaskEnd::Cancelled => (
            JobStatus::Cancelled,
            Some(reason().unwrap_or_else(|| "cancelled".into())),
            None,
        ),
        TaskEnd::Failed(why) => (JobStatus::Failed, Some(why), None),
    };
    (status, message, markdown)
}

/// A step in a few words, for `$/progress`.
fn in_words(step: &Step) -> String {
    let path = step.path.as_deref().unwrap_or("a file");
    match step.tool.as_str() {
        "read_file" => format!("reading {path}"),
        "edit_file" => format!("editing {path}"),
        "create_file" => format!("creating {path}"),
        "list_files" => "listing files".to_owned(),
        "search" => "searching the workspace".to_owned(),
        "run_check" => "running the check".to_owned(),
        other => format!("calling {other}"),
    }
}

/// `tandem.accept` of a task: everything it changed is kept.
pub fn accept_task(engine: &Engine, id: JobId) -> Result<(), JobError> {
    engine.jobs.decide(id, Verdict::Accepted)?;
    if let Some(files) = engine.tasks.lock().get(&id).cloned() {
        for part in files.parts() {
            let _ = engine.jobs.decide(part, Verdict::Accepted);
            engine.read_fate(part, crate::agent::signals::Reading::Accepted);
        }
    }
    Ok(())
}

/// `tandem.reject` of a task: every file it touched is put back exactly; files it created are
/// deleted. Returns when the editor did it (or what it could not do).
pub async fn reject_task<E: Editor>(
    engine: &Arc<Engine>,
    editor: &E,
    id: JobId,
) -> Result<(), String> {
    engine
        .jobs
        .decide(id, Verdict::Rejected)
        .map_err(|e| e.to_string())?;
    let files = engine
        .tasks
        .lock()
        .get(&id)
        .cloned()
        .ok_or("the task's files were forgotten")?;
    for part in files.parts() {
        let _ = engine.jobs.decide(part, Verdict::Rejected);
    }
    let (engine, editor) = (engine.clone(), editor.clone());
    // The edits go out from a spawned task: whoever asked never waits on the editor itself.
    tokio::spawn(async move { take_back(&engine, &editor, id, &files).await })
        .await
        .map_err(|join| format!("reject failed: {join}"))?
}

/// The tools as the task's model calls them: reads from what the editor shows, changes through
/// the editor.
struct Toolbox<E> {
    engine: Arc<Engine>,
    editor: E,
    task: JobHandle,
    root: PathBuf,
    files: Arc<TaskFiles>,
    check: Option<CheckSpec>,
    preview: bool,
}

impl<E: Editor> Toolbox<E> {
    fn buffers(&self) -> Buffers {
        Buffers {
            engine: self.engine.clone(),
            overlay: self.files.overlay().into_iter().collect(),
        }
    }

    async fn check(&self) -> ToolOutput {
        let Some(spec) = &self.check else {
            return Err("run_check is not offered: agent.checkCommand is not set".into());
        };
        let buffers = self.buffers();
        let overlays: Vec<Overlay> = buffers
            .paths()
            .into_iter()
            .filter(|path| path.starts_with(&self.root))
            .filter_map(|path| {
                let text = buffers.text(&path)?;
                Some(Overlay { path, text })
            })
            .collect();
        let outcome = run_check(&self.root, &overlays, spec, &self.task.cancel).await?;
        let said = describe(&outcome);
        match outcome.exit_code {
            Some(0) => Ok(said),
            _ => Err(said),
        }
    }
}

impl<E: Editor> TaskTools for Toolbox<E> {
    fn specs(&self) -> Vec<ToolSpec> {
        tools::specs(self.check.is_some())
    }

    async fn call(&self, call: &ToolCall) -> ToolOutput {
        let arguments = call.arguments.clone().unwrap_or(Value::Null);
        let name = call.name.clone();
        let outcome = if matches!(name.as_str(), "list_files" | "search") {
            // These walk the workspace: off the async threads.
            let (root, buffers) = (self.root.clone(), self.buffers());
            tokio::task::spawn_blocking(move || tools::call(&root, &buffers, &name, &arguments))
                .await
                .unwrap_or_else(|e| ToolOutcome::Error(format!("the tool failed: {e}")))
        } else {
            tools::call(&self.root, &self.buffers(), &name, &arguments)
        };
        let mut outcome = outcome;
        // A document the editor opened or changed between planning the edit and landing it
        // (the user typing): planned again over its text now, a few times.
        for _ in 0..REPLANS {
            let ToolOutcome::Change(plan) = outcome else {
                break;
            };
            match land(
                &self.engine,
                &self.editor,
                &self.task,
                &self.files,
                plan,
                self.preview,
            )
            .await
            {
                Landed::Done(said) => return Ok(said),
                Landed::Failed(why) => return Err(why),
                Landed::Moved => {
                    let arguments = call.arguments.clone().unwrap_or(Value::Null);
                    outcome = tools::call(&self.root, &self.buffers(), &call.name, &arguments);
                }
            }
        }
        match outcome {
            ToolOutcome::Text(text) => Ok(text),
            ToolOutcome::Error(error) => Err(error),
            ToolOutcome::Change(plan) => Err(format!(
                "{} kept changing while the edit was prepared (the user is typing in it); read it again and retry",
                plan.path.relative
            )),
            ToolOutcome::RunCheck => self.check().await,
        }
    }
}

/// The editor's open documents, and over them what the task wrote to files the editor does
/// not have open.
pub(super) struct Buffers {
    pub(super) engine: Arc<Engine>,
    pub(super) overlay: HashMap<PathBuf, String>,
}

impl OpenBuffers for Buffers {
    fn text(&self, path: &Path) -> Option<String> {
        self.engine
            .open_at(path)
            .map(|open| open.rope.to_string())
            .or_else(|| self.overlay.get(path).cloned())
    }

    fn paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .engine
            .documents
            .uris()
            .iter()
            .filter_map(|uri| url::Url::parse(uri).ok()?.to_file_path().ok())
            .collect();
        for path in self.overlay.keys() {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
        }
        paths
    }
}
