//! One ACP job's answers to its agent: files read from what the editor shows, writes landed as
//! the job's converging edits (merged over what the user typed since the agent read the file),
//! permission questions put to the user, and the steps the user is shown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::Engine;
use super::port::{Editor, Question, StepReport};
use super::task::{Buffers, REPLANS};
use super::task_files::{Landed, TaskFiles, land};
use crate::acp::{FsError, PermissionChoice, PermissionKind, ToolCallInfo};
use crate::agent::jobs::JobHandle;
use crate::agent::task::tools::list::slashed;
use crate::agent::task::tools::{PlannedChange, WorkspacePath, current_text, paths};
use crate::edits::merge3;

/// How long a permission question waits for the user before it is answered "reject".
const PERMISSION_WAIT: Duration = Duration::from_secs(120);

/// What the user is shown of a job as it runs, in order.
pub(super) enum Shown {
    /// A step: `$/progress` and `tandem/jobStep`.
    Step(StepReport),
    /// Only `$/progress` (thinking, writing the answer).
    Progress(String),
}

/// Numbers the job's steps and hands them to the job's forwarder.
pub(super) struct Steps {
    count: AtomicU32,
    queue: mpsc::UnboundedSender<Shown>,
}

impl Steps {
    pub(super) fn new(queue: mpsc::UnboundedSender<Shown>) -> Self {
        Self {
            count: AtomicU32::new(0),
            queue,
        }
    }

    pub(super) fn step(&self, tool: &str, path: Option<String>, summary: String) {
        let step = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.queue.send(Shown::Step(StepReport {
            step,
            tool: tool.to_owned(),
            path,
            summary,
        }));
    }

    pub(super) fn progress(&self, text: impl Into<String>) {
        let _ = self.queue.send(Shown::Progress(text.into()));
    }
}

/// The job a session's requests are answered for.
pub(super) struct SessionJob<E: Editor> {
    pub engine: Arc<Engine>,
    pub editor: E,
    pub handle: JobHandle,
    pub root: PathBuf,
    pub files: Arc<TaskFiles>,
    pub preview: bool,
    /// Why writes are refused (explain and review change no file), if they are.
    pub read_only: Option<String>,
    /// The agent's program, as the user's questions name it.
    pub agent: String,
    pub steps: Arc<Steps>,
    /// What the agent last saw of each file (read, or written), by absolute path: the base its
    /// next write of that file is merged from.
    seen: Mutex<HashMap<PathBuf, String>>,
}

impl<E: Editor> SessionJob<E> {
    #[expect(
        clippy::too_many_arguments,
        reason = "the job's parts, named at its start"
    )]
    pub(super) fn new(
        engine: Arc<Engine>,
        editor: E,
        handle: JobHandle,
        root: PathBuf,
        files: Arc<TaskFiles>,
        preview: bool,
        read_only: Option<String>,
        agent: String,
        steps: Arc<Steps>,
    ) -> Self {
        Self {
            engine,
            editor,
            handle,
            root,
            files,
            preview,
            read_only,
            agent,
            steps,
            seen: Mutex::default(),
        }
    }

    fn buffers(&self) -> Buffers {
        Buffers {
            engine: self.engine.clone(),
            overlay: self.files.overlay().into_iter().collect(),
        }
    }

    /// A path the agent named: inside the workspace, not ignored, not a secret.
    fn resolve(&self, path: &Path) -> Result<WorkspacePath, FsError> {
        let given = path
            .to_str()
            .ok_or_else(|| FsError::Denied(format!("{} is not UTF-8", path.display())))?;
        paths::resolve(&self.root, given).map_err(FsError::Denied)
    }

    /// `fs/read_text_file`: the editor's buffer when the file is open, else what the job wrote
    /// to it, else the disk's; from `line` (1-based) on, at most `limit` lines.
    pub(super) fn read(
        &self,
        path: &Path,
        line: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, FsError> {
        let file = self.resolve(path)?;
        let text = current_text(&self.buffers(), &file)
            .map_err(FsError::Failed)?
            .ok_or_else(|| FsError::NotFound(path.to_path_buf()))?;
        let part = lines(&text, line, limit);
        self.seen.lock().insert(file.absolute, text);
        Ok(part)
    }

    /// `fs/write_text_file`: the file becomes `content` through the editor (the user's typing
    /// since the agent read it kept); answered once the edit has landed, or why not.
    pub(super) async fn write(&self, path: &Path, content: String) -> Result<(), FsError> {
        if let Some(why) = &self.read_only {
            return Err(FsError::Denied(why.clone()));
        }
        let file = self.resolve(path)?;
        for _ in 0..REPLANS {
            let now = current_text(&self.buffers(), &file).map_err(FsError::Failed)?;
            let base = self.seen.lock().get(&file.absolute).cloned();
            let new_text = match (&base, &now) {
                (Some(base), Some(now)) if base != now => {
                    merge3(base, &content, now).map_err(|line| {
                        FsError::Failed(format!(
                            "{} changed at line {line} in the editor since you read it, where you \
                             wrote too (the user is editing it): read it again and write again",
                            file.relative
                        ))
                    })?
                }
                _ => content.clone(),
            };
            let plan = PlannedChange {
                path: file.clone(),
                created: now.is_none(),
                old_text: now.unwrap_or_default(),
                new_text,
            };
            if !plan.created && plan.old_text == plan.new_text {
                self.seen.lock().insert(file.absolute, content);
                return Ok(());
            }
            let landed = land(
                &self.engine,
                &self.editor,
                &self.handle,
                &self.files,
                plan,
                self.preview,
            )
            .await;
            match landed {
                Landed::Done(said) => {
                    self.seen.lock().insert(file.absolute, content);
                    self.steps.step("write", Some(file.relative), said);
                    return Ok(());
                }
                Landed::Failed(why) => return Err(FsError::Failed(why)),
                Landed::Moved => {}
            }
        }
        Err(FsError::Failed(format!(
            "{} kept changing while the write was prepared (the user is typing in it): read it \
             again and write again",
            file.relative
        )))
    }

    /// `session/request_permission`: the user's choice, or the agent's "reject" option when the
    /// editor cannot ask, the question was dismissed, or nobody answered in time.
    pub(super) async fn permission(
        &self,
        call: ToolCallInfo,
        options: Vec<PermissionChoice>,
    ) -> Option<String> {
        let what = if call.title.is_empty() {
            call.kind.clone()
        } else {
            call.title.clone()
        };
        let places: Vec<String> = call.paths.iter().map(|p| self.relative(p)).collect();
        let at = if places.is_empty() {
            String::new()
        } else {
            format!(" ({})", places.join(", "))
        };
        let question = Question {
            job: self.handle.id,
            message: format!("Tandem: {} asks to {what}{at}", self.agent),
            choices: options.iter().map(|o| o.name.clone()).collect(),
        };
        self.steps
            .progress(format!("waiting for your answer: {what}"));
        let asked = tokio::time::timeout(PERMISSION_WAIT, self.editor.ask(question))
            .await
            .ok()
            .flatten();
        if let Some(chosen) = asked.and_then(|i| options.get(i)) {
            self.steps
                .step("permission", None, format!("{what}: {}", chosen.name));
            return Some(chosen.id.clone());
        }
        let reject = [PermissionKind::RejectOnce, PermissionKind::RejectAlways]
            .into_iter()
            .find_map(|kind| options.iter().find(|o| o.kind == kind));
        self.steps.step(
            "permission",
            None,
            format!(
                "{what}: rejected, as nobody answered (the editor cannot ask, or the question was \
                 dismissed)"
            ),
        );
        reject.map(|o| o.id.clone())
    }

    /// `path` relative to the root when it is inside it.
    pub(super) fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .map_or_else(|_| path.display().to_string(), slashed)
    }
}

/// `text` from line `line` (1-based) on, at most `limit` lines.
fn lines(text: &str, line: Option<u32>, limit: Option<u32>) -> String {
    if line.is_none() && limit.is_none() {
        return text.to_owned();
    }
    let skip = line.map_or(0, |l| l.saturating_sub(1) as usize);
    let take = limit.map_or(usize::MAX, |l| l as usize);
    text.split_inclusive('\n').skip(skip).take(take).collect()
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn a_read_takes_the_lines_asked_for() {
        let text = "one\ntwo\nthree\n";
        let cases = [
            (None, None, "one\ntwo\nthree\n"),
            (Some(2), None, "two\nthree\n"),
            (Some(2), Some(1), "two\n"),
            (None, Some(2), "one\ntwo\n"),
            (Some(9), None, ""),
            (Some(0), Some(1), "one\n"),
        ];
        for (line, limit, expected) in cases {
            assert_eq!(lines(text, line, limit), expected, "{line:?} {limit:?}");
        }
    }
}
